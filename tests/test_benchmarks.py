"""The benchmark suite at N=10 with no latency, and the digest cache it measures.

The suite's times are never asserted: they depend on the machine. The test
checks that every figure is present with a unit and that a no-op apply
writes nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline.digestcache import CACHE_PATH, RACY_WINDOW_NS, DigestCache, hash_file
from tests.conftest import REPO_ROOT

EXPECTED_FIGURES = {
    "noop_plan": ["wall_time", "requests", "requests_hub", "requests_replicate", "minimum_requests",
                  "minimum_hub", "minimum_replicate", "requests_over_minimum", "peak_memory"],
    "naive_baseline": ["wall_time", "requests", "speedup_of_plan"],
    "changed_plan": ["changed_models", "wall_time", "requests", "requests_per_changed_model"],
    "noop_apply": ["wall_time", "requests", "write_requests"],
    "promotion": ["wall_time", "hub_commits", "hub_lfs_bytes_uploaded", "hub_write_requests",
                  "replicate_deployment_updates", "replicate_write_requests"],
    "validate_released": ["wall_time"],
    "validate_unreleased": ["wall_time"],
    "plan_phases": ["load_and_validate", "read_live_state", "total_in_process"],
}
EXPECTED_SINGLE_FIGURES = {
    "artifact_digests": ["artifacts_size", "cold_full_hash", "first_run_with_cache", "warm_cache", "warm_over_cold"],
    "startup": ["help_median", "validate_one_median", "help_heavy_imports", "help_forbidden_imports",
                "validate_heavy_imports"],
}


@pytest.fixture(scope="module")
def benchmark_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, str]:
    """Run the suite once at N=10 without latency; return its JSON and its Markdown."""
    folder = tmp_path_factory.mktemp("benchmarks")
    args = [sys.executable, str(REPO_ROOT / "benchmarks" / "run.py"), "--sizes", "10", "--latency-ms", "0",
            "--artifact-mb", "8", "--runs", "1", "--json", str(folder / "figures.json"),
            "--markdown", str(folder / "BENCHMARKS.md")]
    done = subprocess.run(args, cwd=folder, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    figures = json.loads((folder / "figures.json").read_text(encoding="utf-8"))
    return figures, (folder / "BENCHMARKS.md").read_text(encoding="utf-8")


def _figures(payload: dict) -> dict[tuple[str, str, int | None], dict]:
    return {(item["measure"], item["metric"], item["size"]): item for item in payload["figures"]}


def test_benchmark_figures_present_with_units(benchmark_run):
    figures = _figures(benchmark_run[0])

    missing = [(measure, metric) for measure, metrics in EXPECTED_FIGURES.items() for metric in metrics
               if (measure, metric, 10) not in figures]
    missing += [(measure, metric) for measure, metrics in EXPECTED_SINGLE_FIGURES.items() for metric in metrics
                if (measure, metric, None) not in figures]
    assert missing == []
    assert [key for key, item in figures.items() if not item["unit"]] == []
    assert [key for key, item in figures.items() if item["value"] is None] == []


def test_benchmark_noop_apply_writes_nothing(benchmark_run):
    figures = _figures(benchmark_run[0])

    assert figures[("noop_apply", "write_requests", 10)]["value"] == 0
    assert figures[("promotion", "hub_lfs_bytes_uploaded", 10)]["value"] == 0
    assert figures[("promotion", "hub_commits", 10)]["value"] == 1
    assert figures[("promotion", "replicate_deployment_updates", 10)]["value"] == 1


def test_benchmark_plan_reads_no_more_than_minimum(benchmark_run):
    figures = _figures(benchmark_run[0])

    assert figures[("noop_plan", "requests", 10)]["value"] <= figures[("noop_plan", "minimum_requests", 10)]["value"]


def test_benchmark_help_imports_no_client(benchmark_run):
    figures = _figures(benchmark_run[0])

    assert figures[("startup", "help_forbidden_imports", None)]["value"] == 0


def test_benchmark_markdown_names_machine(benchmark_run):
    payload, markdown = benchmark_run

    assert markdown.startswith("# Benchmarks")
    assert "## Targets" in markdown
    assert payload["machine"]["cpu"] in markdown
    assert "python benchmarks/run.py --sizes 10" in markdown


# Digest cache


class CountingHash:
    """A hash function that counts its calls, to tell cache hits from misses."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, path: Path) -> str:
        self.calls += 1
        return hash_file(path)


def _old_file(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    return path


def _later_clock() -> int:
    """A clock past the racy window of files written just now."""
    return time.time_ns() + 2 * RACY_WINDOW_NS


def test_digest_cache_hit_after_reload(tmp_path: Path):
    file = _old_file(tmp_path / "weights.bin", b"\0weights")
    first = DigestCache(tmp_path / CACHE_PATH, clock_ns=_later_clock)
    digest = first.sha256(file)
    first.save()
    counting = CountingHash()

    second = DigestCache(tmp_path / CACHE_PATH, clock_ns=_later_clock)
    second.load()

    assert second.sha256(file, counting) == digest == hash_file(file)
    assert counting.calls == 0
    assert second.hits == 1


def test_digest_cache_same_size_and_mtime_rehashed(tmp_path: Path):
    file = _old_file(tmp_path / "weights.bin", b"\0weights-a")
    cache = DigestCache(tmp_path / CACHE_PATH, clock_ns=_later_clock)
    cache.sha256(file)
    status = file.stat()
    time.sleep(0.05)  # past the file system's timestamp tick, so that the rewrite gets another ctime
    file.write_bytes(b"\0weights-b")
    os.utime(file, ns=(status.st_atime_ns, status.st_mtime_ns))
    counting = CountingHash()

    digest = cache.sha256(file, counting)

    assert file.stat().st_mtime_ns == status.st_mtime_ns
    assert file.stat().st_size == status.st_size
    assert counting.calls == 1
    assert digest == hash_file(file)


def test_digest_cache_replaced_file_rehashed(tmp_path: Path):
    file = _old_file(tmp_path / "weights.bin", b"\0weights-a")
    cache = DigestCache(tmp_path / CACHE_PATH, clock_ns=_later_clock)
    cache.sha256(file)
    replacement = _old_file(tmp_path / "new.bin", b"\0weights-b")
    os.replace(replacement, file)
    counting = CountingHash()

    digest = cache.sha256(file, counting)

    assert counting.calls == 1
    assert digest == hash_file(file)


def test_digest_cache_racy_file_not_stored(tmp_path: Path):
    file = _old_file(tmp_path / "weights.bin", b"\0weights")
    cache = DigestCache(tmp_path / CACHE_PATH)
    counting = CountingHash()

    cache.sha256(file, counting)
    cache.sha256(file, counting)

    assert counting.calls == 2
    assert len(cache) == 0


@pytest.mark.parametrize("content", [
    b"not json",
    b'{"version": 99, "entries": {}}',
    b'["a list"]',
])
def test_digest_cache_unreadable_file_ignored(tmp_path: Path, content: bytes):
    path = tmp_path / CACHE_PATH
    path.parent.mkdir(parents=True)
    path.write_bytes(content)

    cache = DigestCache.for_project(tmp_path)

    assert len(cache) == 0


def test_digest_cache_malformed_entries_dropped(tmp_path: Path):
    file = _old_file(tmp_path / "weights.bin", b"\0weights")
    status = file.stat()
    key = [status.st_size, status.st_mtime_ns, status.st_ctime_ns, status.st_ino, status.st_dev]
    path = tmp_path / CACHE_PATH
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"version": 1, "entries": {
        str(file): [*key, "not-a-digest"],
        str(tmp_path / "short"): key,
        str(tmp_path / "text"): [*key[:4], "1", "a" * 64],
    }}), encoding="utf-8")
    counting = CountingHash()

    cache = DigestCache.for_project(tmp_path)

    assert len(cache) == 0
    assert cache.sha256(file, counting) == hash_file(file)
    assert counting.calls == 1


def test_digest_cache_bounded_drops_least_recent(tmp_path: Path):
    files = [_old_file(tmp_path / f"file-{index}.bin", bytes([0, index])) for index in range(3)]
    cache = DigestCache(tmp_path / CACHE_PATH, max_entries=2, clock_ns=_later_clock)
    for file in files:
        cache.sha256(file)
    cache.sha256(files[0])
    cache.save()

    reloaded = DigestCache(tmp_path / CACHE_PATH, clock_ns=_later_clock)
    reloaded.load()
    counting = CountingHash()

    assert len(reloaded) == 2
    reloaded.sha256(files[0], counting)
    reloaded.sha256(files[2], counting)
    assert counting.calls == 0
    reloaded.sha256(files[1], counting)
    assert counting.calls == 1


def test_digest_cache_save_leaves_no_temporary_file(tmp_path: Path):
    file = _old_file(tmp_path / "weights.bin", b"\0weights")
    cache = DigestCache(tmp_path / CACHE_PATH, clock_ns=_later_clock)
    cache.sha256(file)

    cache.save()

    assert [path.name for path in (tmp_path / CACHE_PATH).parent.iterdir()] == ["digests.json"]


def test_digest_cache_save_skipped_without_new_entries(tmp_path: Path):
    cache = DigestCache(tmp_path / CACHE_PATH)

    cache.save()

    assert not (tmp_path / CACHE_PATH).exists()
