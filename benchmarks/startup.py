"""Measure 6: start-up time of ``mrp --help`` and ``mrp validate``, and the heavy modules each imports."""

from __future__ import annotations

import logging
import statistics
import sys
from pathlib import Path

from benchmarks.child import mrp_command, run_child
from benchmarks.results import Results
from benchmarks.synthetic import create_project

logger = logging.getLogger(__name__)

# Imported by a command that needs them, never by --help.
FORBIDDEN_FOR_HELP = ("huggingface_hub", "replicate", "torch", "numpy")
HEAVY_MODULES = (*FORBIDDEN_FOR_HELP, "httpx", "httpx2", "pydantic", "git", "yaml", "ruamel", "rich", "picklescan")


def imported_heavy_modules(args: list[str], cwd: Path) -> list[str]:
    """Return the HEAVY_MODULES that ``python -X importtime -m pipeline ARGS`` imports."""
    result = run_child([sys.executable, "-X", "importtime", "-m", "pipeline", *args], cwd)
    names = set()
    for line in result.stderr.splitlines():
        if line.startswith("import time:") and line.count("|") == 2:
            names.add(line.rsplit("|", 1)[1].strip().split(".")[0])
    return [module for module in HEAVY_MODULES if module in names]


def median_wall_ms(args: list[str], cwd: Path, runs: int) -> float:
    walls = [run_child(mrp_command(*args), cwd).wall_s for _ in range(runs)]
    return round(statistics.median(walls) * 1000, 1)


def measure_startup(results: Results, work: Path, runs: int) -> None:
    project = create_project(work / "project-startup", 1)
    model = project.models[0].name
    help_ms = median_wall_ms(["--help"], project.root, runs)
    validate_ms = median_wall_ms(["validate", model], project.root, runs)
    help_modules = imported_heavy_modules(["--help"], project.root)
    validate_modules = imported_heavy_modules(["validate", model], project.root)
    results.add("startup", "help_median", help_ms, "ms")
    results.add("startup", "validate_one_median", validate_ms, "ms")
    results.add("startup", "runs", runs, "runs")
    results.add("startup", "help_heavy_imports", ", ".join(help_modules) or "none", "modules")
    results.add("startup", "help_forbidden_imports",
                len([module for module in help_modules if module in FORBIDDEN_FOR_HELP]), "modules")
    results.add("startup", "validate_heavy_imports", ", ".join(validate_modules) or "none", "modules")
    logger.info("mrp --help %.0f ms (imports %s); validate %.0f ms", help_ms, help_modules or "none", validate_ms)
