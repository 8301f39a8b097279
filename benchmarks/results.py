"""Every figure of a benchmark run, with its unit, and the machine it ran on."""

from __future__ import annotations

import datetime
import json
import os
import platform
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Figure:
    """One measured value: ``size`` is the number of models, or None for a measure that has no N."""

    measure: str
    metric: str
    size: int | None
    value: float | int | str
    unit: str


@dataclass
class Results:
    settings: dict[str, Any]
    machine: dict[str, Any] = field(default_factory=dict)
    figures: list[Figure] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)

    def add(self, measure: str, metric: str, value: float | int | str, unit: str, size: int | None = None) -> None:
        self.figures.append(Figure(measure, metric, size, value, unit))

    def get(self, measure: str, metric: str, size: int | None = None) -> Figure | None:
        for figure in self.figures:
            if (figure.measure, figure.metric, figure.size) == (measure, metric, size):
                return figure
        return None

    def value(self, measure: str, metric: str, size: int | None = None) -> Any:
        figure = self.get(measure, metric, size)
        return None if figure is None else figure.value

    def sizes(self, measure: str) -> list[int]:
        return sorted({figure.size for figure in self.figures if figure.measure == measure and figure.size is not None})

    def to_json(self) -> str:
        payload = {"settings": self.settings, "machine": self.machine,
                   "figures": [asdict(figure) for figure in self.figures], "notes": self.notes}
        return json.dumps(payload, indent=2) + "\n"

    @classmethod
    def read_json(cls, path: Path) -> Results:
        payload = json.loads(path.read_text(encoding="utf-8"))
        return cls(payload["settings"], payload["machine"], [Figure(**item) for item in payload["figures"]],
                   payload.get("notes", {}))

    def write_json(self, path: Path) -> None:
        path.write_text(self.to_json(), encoding="utf-8")


def describe_machine() -> dict[str, Any]:
    """Return the CPU model, core count, memory, OS, Python version and the UTC date of this run."""
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": _memory_gib(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": _git_commit(),
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def _git_commit() -> str | None:
    root = Path(__file__).resolve().parent.parent
    try:
        done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True,
                              check=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return done.stdout.strip() + ("-dirty" if dirty else "")


def python_command() -> str:
    return sys.executable
