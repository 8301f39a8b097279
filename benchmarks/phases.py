"""Time the phases of one ``mrp plan`` in this process and profile its main thread.

Run in the project's root as ``python benchmarks/phases.py --target A --target B``.
Prints JSON: seconds per phase, and the top functions of a cProfile run by
cumulative and by own time. cProfile profiles only the main thread, so the
concurrent reads show up as the time ``read_live`` waits for them; the
phase timings cover those.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import sys
import time
from pathlib import Path

TOP = 15


def timed_plan(targets: list[str]) -> dict[str, float]:
    from pipeline import operations
    from pipeline.config import load_project
    from pipeline.plan import render
    from pipeline.plan.compute import compute_plan

    phases: dict[str, float] = {}
    started = time.perf_counter()
    project = load_project(Path.cwd(), targets=tuple(targets), registry=None)
    workspace = operations.open_workspace(project)
    phases["load_and_validate"] = time.perf_counter() - started

    mark = time.perf_counter()
    gates = operations.gate_results(workspace)
    desired = operations.desired_states(workspace)
    phases["gates_and_desired_state"] = time.perf_counter() - mark

    mark = time.perf_counter()
    live = operations.read_live(workspace)
    phases["read_live_state"] = time.perf_counter() - mark

    mark = time.perf_counter()
    plan = operations.with_bumps(compute_plan(desired, live, gates), workspace, gates)
    render.render_terminal(plan, io.StringIO())
    phases["compute_and_render"] = time.perf_counter() - mark
    phases["total_in_process"] = time.perf_counter() - started
    return phases


def top_functions(profiler: cProfile.Profile, key: str) -> list[str]:
    stream = io.StringIO()
    stats = pstats.Stats(profiler, stream=stream)
    stats.sort_stats(key).print_stats(TOP)
    lines = stream.getvalue().splitlines()
    start = next(index for index, line in enumerate(lines) if line.strip().startswith("ncalls"))
    return [line.rstrip() for line in lines[start:] if line.strip()]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--target", dest="targets", action="append", required=True)
    args = parser.parse_args(argv)
    phases = timed_plan(args.targets)
    profiler = cProfile.Profile()
    profiler.enable()
    timed_plan(args.targets)
    profiler.disable()
    print(json.dumps({"phases": phases, "top_cumulative": top_functions(profiler, "cumulative"),
                      "top_own": top_functions(profiler, "tottime")}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
