"""Measures 1 to 4 and 7 at one size N: plans, the naive baseline, applies, validation and peak memory.

Each ``mrp`` command runs in a child process, as CI runs it, so its wall time
includes interpreter start-up and its peak memory is its own. Request counts
come from the emulators' logs, cleared before each command.
"""

from __future__ import annotations

import json
import logging
import statistics
from dataclasses import dataclass
from pathlib import Path

from benchmarks.child import ChildResult, mrp_command, run_child
from benchmarks.emulated import (
    HUB_COMMIT_ROUTE,
    REPLICATE_DEPLOYMENT_ROUTE,
    Platforms,
    RequestCounts,
)
from benchmarks.results import Results
from benchmarks.synthetic import SyntheticModel, SyntheticProject, create_project

logger = logging.getLogger(__name__)

TARGETS = ("--target", "huggingface", "--target", "replicate")
EXIT_NO_CHANGES, EXIT_CHANGES = 0, 2
NAIVE_SCRIPT = Path(__file__).resolve().parent / "naive.py"
PHASES_SCRIPT = Path(__file__).resolve().parent / "phases.py"


@dataclass
class SizeRun:
    """One size's project, emulators and results, passed to every measure of that size."""

    size: int
    project: SyntheticProject
    platforms: Platforms
    results: Results
    latency_s: float
    work: Path

    @property
    def env(self) -> dict[str, str]:
        return self.platforms.environment()

    def mrp(self, *args: str, expect: tuple[int, ...] = (0,)) -> ChildResult:
        return run_child(mrp_command(*args), self.project.root, self.env, expect=expect)

    def measured(self, *args: str, expect: tuple[int, ...] = (0,)) -> tuple[ChildResult, RequestCounts]:
        """Run ``mrp ARGS`` with the injected latency and return its result and the requests it sent."""
        self.platforms.set_latency(self.latency_s)
        self.platforms.clear_logs()
        result = self.mrp(*args, expect=expect)
        return result, self.platforms.counts()

    def add(self, measure: str, metric: str, value: float | int | str, unit: str) -> None:
        self.results.add(measure, metric, value, unit, self.size)


def measure_size(size: int, latency_s: float, work: Path, results: Results, validate_runs: int,
                 profile: bool) -> None:
    """Build the state of ``size`` models, then run every measure that depends on N."""
    project = create_project(work / f"project-{size}", size)
    with Platforms(latency_s) as platforms:
        run = SizeRun(size, project, platforms, results, latency_s, work)
        # Before the first release every model falls back to git history, which is slow; one run shows it.
        measure_validate(run, "validate_unreleased", 1)
        set_up(run)
        measure_noop_plan(run)
        measure_naive(run)
        measure_changed_plan(run)
        measure_noop_apply(run)
        measure_promotion(run)
        measure_validate(run, "validate_released", validate_runs)
        if profile:
            profile_plan(run)


# Setup


def set_up(run: SizeRun) -> None:
    """Publish every model, then give the first one 1.0.0 on staging and 1.1.0 on dev, all with no latency.

    The first model's next promotion then moves an existing channel, which is
    one copy commit on the Hub and one deployment update on Replicate.
    """
    run.platforms.set_latency(0.0)
    first = run.project.models[0]
    logger.info("N=%d: publishing %d models (no latency)", run.size, run.size)
    published = run.mrp("apply", "--yes", *TARGETS)
    run.add("setup", "publish_wall", round(published.wall_s, 2), "s")

    run.project.edit(first, "channel: dev ", "channel: staging ")
    run.project.commit(f"promote {first.name} to staging")
    run.mrp("apply", "--yes", *TARGETS, first.name)

    (run.project.root / first.artifacts / "NOTES.md").write_text("retrained\n", encoding="utf-8")
    run.project.edit(first, "version: 1.0.0", "version: 1.1.0")
    run.project.edit(first, "channel: staging ", "channel: dev ")
    run.project.commit(f"release {first.name} 1.1.0 on dev")
    run.mrp("apply", "--yes", *TARGETS, first.name)
    logger.info("N=%d: state ready", run.size)


# 1. No-op plan


def measure_noop_plan(run: SizeRun) -> None:
    result, counts = run.measured("plan", *TARGETS, "--detailed-exitcode", expect=(EXIT_NO_CHANGES,))
    models = run.project.models
    minimum_hub = run.platforms.minimum_hub_reads([model.hub_repo for model in models])
    minimum_replicate = run.platforms.minimum_replicate_reads([model.replicate_model for model in models])
    minimum = minimum_hub + minimum_replicate
    run.add("noop_plan", "wall_time", round(result.wall_s, 3), "s")
    run.add("noop_plan", "requests", counts.total, "requests")
    run.add("noop_plan", "requests_hub", len(counts.hub), "requests")
    run.add("noop_plan", "requests_replicate", len(counts.replicate), "requests")
    run.add("noop_plan", "minimum_requests", minimum, "requests")
    run.add("noop_plan", "minimum_hub", minimum_hub, "requests")
    run.add("noop_plan", "minimum_replicate", minimum_replicate, "requests")
    run.add("noop_plan", "requests_over_minimum", round(counts.total / minimum, 3), "ratio")
    run.add("noop_plan", "peak_memory", round(result.max_rss_mib, 1), "MiB")
    run.results.notes.setdefault("noop_plan_routes", {})[str(run.size)] = counts.routes()
    logger.info("N=%d: no-op plan %.2f s, %d requests (minimum %d)", run.size, result.wall_s, counts.total, minimum)


# 2. Naive baseline


def measure_naive(run: SizeRun) -> None:
    models_file = run.work / f"naive-models-{run.size}.json"
    models_file.write_text(json.dumps({"hub": [model.hub_repo for model in run.project.models],
                                       "replicate": [model.replicate_model for model in run.project.models]}),
                           encoding="utf-8")
    run.platforms.set_latency(run.latency_s)
    run.platforms.clear_logs()
    logger.info("N=%d: naive baseline, one model after another", run.size)
    result = run_child([_python(), str(NAIVE_SCRIPT), str(models_file)], run.project.root, run.env)
    counts = run.platforms.counts()
    plan_wall = run.results.value("noop_plan", "wall_time", run.size)
    run.add("naive_baseline", "wall_time", round(result.wall_s, 3), "s")
    run.add("naive_baseline", "requests", counts.total, "requests")
    run.add("naive_baseline", "speedup_of_plan", round(result.wall_s / plan_wall, 2), "ratio")
    logger.info("N=%d: naive baseline %.2f s, %d requests", run.size, result.wall_s, counts.total)


def _python() -> str:
    import sys

    return sys.executable


# 3. Plan with 1% changed


def changed_models(models: tuple[SyntheticModel, ...]) -> list[SyntheticModel]:
    """Pick 1% of the models (at least one), spread over the list and never the promoted first model."""
    count = max(1, len(models) // 100)
    candidates = models[1:] or models
    step = max(1, len(candidates) // count)
    return list(candidates[::step][:count])


def measure_changed_plan(run: SizeRun) -> None:
    """Change hardware and gating of 1% of the models, plan with --changed-since HEAD, then restore them."""
    changed = changed_models(run.project.models)
    originals = {model: run.project.manifest_path(model).read_text(encoding="utf-8") for model in changed}
    for model in changed:
        run.project.edit(model, "max_instances: 1", "max_instances: 2")
        run.project.edit(model, "gated: false", "gated: auto")
    try:
        result, counts = run.measured("plan", *TARGETS, "--changed-since", "HEAD", "--detailed-exitcode",
                                      expect=(EXIT_CHANGES,))
    finally:
        for model, text in originals.items():
            run.project.manifest_path(model).write_text(text, encoding="utf-8")
    run.add("changed_plan", "changed_models", len(changed), "models")
    run.add("changed_plan", "wall_time", round(result.wall_s, 3), "s")
    run.add("changed_plan", "requests", counts.total, "requests")
    run.add("changed_plan", "requests_per_changed_model", round(counts.total / len(changed), 2), "requests/model")
    logger.info("N=%d: plan of %d changed models %.2f s, %d requests", run.size, len(changed), result.wall_s,
                counts.total)


# 4. No-op apply and one promotion


def measure_noop_apply(run: SizeRun) -> None:
    result, counts = run.measured("apply", "--yes", *TARGETS)
    if "No changes." not in result.stdout:
        raise RuntimeError(f"the no-op apply of N={run.size} found changes:\n{result.stdout[-2000:]}")
    run.add("noop_apply", "wall_time", round(result.wall_s, 3), "s")
    run.add("noop_apply", "requests", counts.total, "requests")
    run.add("noop_apply", "write_requests", counts.writes, "requests")


def measure_promotion(run: SizeRun) -> None:
    """Promote the first model's 1.1.0 from dev to staging, where 1.0.0 is, with a full apply."""
    first = run.project.models[0]
    run.project.edit(first, "channel: dev ", "channel: staging ")
    run.project.commit(f"promote {first.name} 1.1.0 to staging")
    result, counts = run.measured("apply", "--yes", *TARGETS)
    if "move channel staging" not in result.stdout:
        raise RuntimeError(f"the promotion of N={run.size} moved no channel:\n{result.stdout[-2000:]}")
    run.add("promotion", "wall_time", round(result.wall_s, 3), "s")
    run.add("promotion", "hub_commits", counts.hub_count("POST", HUB_COMMIT_ROUTE), "commits")
    run.add("promotion", "hub_lfs_bytes_uploaded", counts.hub_lfs_bytes(), "bytes")
    run.add("promotion", "hub_write_requests",
            sum(1 for entry in counts.hub if entry.method not in ("GET", "HEAD")), "requests")
    run.add("promotion", "replicate_deployment_updates",
            counts.replicate_count("PATCH", REPLICATE_DEPLOYMENT_ROUTE), "updates")
    run.add("promotion", "replicate_write_requests",
            sum(1 for entry in counts.replicate if entry.method not in ("GET", "HEAD", "QUERY")), "requests")
    run.results.notes.setdefault("promotion_writes", {})[str(run.size)] = [
        f"{name} {entry.method} {entry.path}" for name, entries in (("hub", counts.hub), ("replicate", counts.replicate))
        for entry in entries if entry.method not in ("GET", "HEAD", "QUERY")]


# 7. Validation


def measure_validate(run: SizeRun, measure: str, runs: int) -> None:
    """Time ``mrp validate`` of every manifest; the median of ``runs`` runs."""
    walls = [run.mrp("validate").wall_s for _ in range(runs)]
    run.add(measure, "wall_time", round(statistics.median(walls), 3), "s")
    logger.info("N=%d: %s %.2f s", run.size, measure, statistics.median(walls))


# Profile


def profile_plan(run: SizeRun) -> None:
    """Time the phases of a no-op plan and profile its main thread, in a child process like the others."""
    run.platforms.set_latency(run.latency_s)
    logger.info("N=%d: profiling the no-op plan", run.size)
    result = run_child([_python(), str(PHASES_SCRIPT), *TARGETS], run.project.root, run.env)
    report = json.loads(result.stdout)
    for phase, seconds in report["phases"].items():
        run.add("plan_phases", phase, round(seconds, 3), "s")
    run.results.notes["profile"] = {"size": run.size, "top_cumulative": report["top_cumulative"],
                                    "top_own": report["top_own"]}
