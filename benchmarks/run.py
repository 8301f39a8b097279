"""Run the benchmark suite and write BENCHMARKS.md.

    python benchmarks/run.py [--quick] [--json FILE] [--latency-ms MS]

The full run (N = 10, 100, 1000) took 17 minutes on the 2-core machine named
in BENCHMARKS.md, most of it in the naive baseline (5 minutes) and the setup
at N = 1000, so CI runs ``--quick`` (N = 10 and 100, 128 MiB of artifacts).
Times are figures to compare, never asserted: tests check only that every
figure is present.
"""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from benchmarks.digests import measure_digests  # noqa: E402
from benchmarks.platform_measures import measure_size  # noqa: E402
from benchmarks.report import render  # noqa: E402
from benchmarks.results import Results, describe_machine  # noqa: E402
from benchmarks.startup import measure_startup  # noqa: E402

logger = logging.getLogger("benchmarks")

FULL_SIZES = (10, 100, 1000)
QUICK_SIZES = (10, 100)
FULL_ARTIFACT_MIB = 1024
QUICK_ARTIFACT_MIB = 128


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Benchmark mrp against the emulators and write BENCHMARKS.md.")
    parser.add_argument("--quick", action="store_true",
                        help="Stop at N=100 and hash 128 MiB instead of 1 GiB (a few minutes; for CI).")
    parser.add_argument("--json", type=Path, metavar="FILE", help="Also write every figure with its unit as JSON.")
    parser.add_argument("--latency-ms", type=float, default=50.0,
                        help="Latency injected into every emulator request, in milliseconds (default 50).")
    parser.add_argument("--markdown", type=Path, default=REPO_ROOT / "BENCHMARKS.md", help=argparse.SUPPRESS)
    parser.add_argument("--sizes", type=int, nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--artifact-mb", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--runs", type=int, default=7, help=argparse.SUPPRESS)
    # Render the Markdown again from a saved --json file, for example after editing benchmarks/analysis.md.
    parser.add_argument("--from-json", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.sizes is None:
        args.sizes = list(QUICK_SIZES if args.quick else FULL_SIZES)
    if args.artifact_mb is None:
        args.artifact_mb = QUICK_ARTIFACT_MIB if args.quick else FULL_ARTIFACT_MIB
    if args.latency_ms < 0 or any(size < 1 for size in args.sizes) or args.artifact_mb < 8 or args.runs < 1:
        parser.error("latency must be >= 0, sizes >= 1, artifact size >= 8 MiB and runs >= 1")
    return args


def run_suite(args: argparse.Namespace, command: str) -> Results:
    started = time.perf_counter()
    results = Results(settings={"sizes": sorted(args.sizes), "latency_ms": args.latency_ms,
                                "artifact_mib": args.artifact_mb, "runs": args.runs})
    results.machine = describe_machine()
    with tempfile.TemporaryDirectory(prefix="mrp-bench-") as temporary:
        work = Path(temporary)
        measure_startup(results, work, args.runs)
        measure_digests(results, args.artifact_mb)
        for size in sorted(args.sizes):
            logger.info("measuring N=%d", size)
            profile = size == max(args.sizes)
            measure_size(size, args.latency_ms / 1000, work, results, validate_runs=3, profile=profile)
    results.settings["runtime_s"] = round(time.perf_counter() - started, 1)
    logger.info("benchmarks finished in %.0f s", results.settings["runtime_s"])
    return results


def shown_command(argv: list[str]) -> str:
    """Return the command line for the report, without the hidden options that only name output files."""
    shown: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg in ("--markdown", "--from-json"):
            skip = True
        else:
            shown.append(arg)
    return "python benchmarks/run.py" + (" " + shlex.join(shown) if shown else "")


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", stream=sys.stderr)
    # The emulators log every error response they serve; 404s of absent deployments are expected here.
    logging.getLogger("pipeline").setLevel(logging.WARNING)
    args = parse_args(argv)
    if args.from_json is not None:
        results = Results.read_json(args.from_json)
        args.markdown.write_text(render(results, results.settings.get("command", shown_command(argv))),
                                 encoding="utf-8")
        logger.info("wrote %s from %s", args.markdown, args.from_json)
        return 0
    command = shown_command(argv)
    results = run_suite(args, command)
    results.settings["command"] = command
    if args.json is not None:
        results.write_json(args.json)
    args.markdown.write_text(render(results, command), encoding="utf-8")
    logger.info("wrote %s", args.markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
