"""Measure 5: the artifact digests of a model with large unchanged artifacts, cold and with the digest cache.

The files are written into a temporary project, then left alone for the
cache's racy window, as files checked out earlier would be. The cold figure
is the product's own ``scan_artifacts``, which hashes every byte. The cached
figures call ``pipeline.digestcache`` directly on the same files: the first
run hashes and fills the cache, the warm run loads it from disk as a new
process would and stats each file.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from pathlib import Path

from benchmarks.results import Results
from pipeline.artifacts import scan_artifacts
from pipeline.digestcache import RACY_WINDOW_NS, DigestCache, hash_file

logger = logging.getLogger(__name__)

FILES = 8
CHUNK = 8 * 1024 * 1024
MIB = 1024 * 1024


def write_artifacts(folder: Path, total_mib: int) -> None:
    """Write FILES files of random bytes adding up to ``total_mib`` MiB."""
    folder.mkdir(parents=True)
    per_file = total_mib * MIB // FILES
    for index in range(FILES):
        with (folder / f"model-{index:05d}-of-{FILES:05d}.safetensors").open("wb") as handle:
            remaining = per_file
            while remaining > 0:
                chunk = min(CHUNK, remaining)
                handle.write(os.urandom(chunk))
                remaining -= chunk


def measure_digests(results: Results, total_mib: int) -> None:
    with tempfile.TemporaryDirectory(prefix="mrp-bench-digests-") as temporary:
        root = Path(temporary)
        logger.info("writing %d MiB of artifacts", total_mib)
        write_artifacts(root / "artifacts" / "large", total_mib)
        time.sleep(RACY_WINDOW_NS / 1e9 + 0.1)
        _measure(results, root, total_mib)


def _measure(results: Results, root: Path, total_mib: int) -> None:
    started = time.perf_counter()
    scanned = scan_artifacts(root, "artifacts/large")
    cold_s = time.perf_counter() - started
    sources = [item.source for item in scanned.files]

    filling = DigestCache.for_project(root)
    started = time.perf_counter()
    filled = [filling.sha256(source, hash_file) for source in sources]
    filling.save()
    fill_s = time.perf_counter() - started

    started = time.perf_counter()
    warm_cache = DigestCache.for_project(root)
    warm = [warm_cache.sha256(source, hash_file) for source in sources]
    warm_cache.save()
    warm_s = time.perf_counter() - started

    expected = [item.sha256 for item in scanned.files]
    if filled != expected or warm != expected or warm_cache.hits != len(sources):
        raise RuntimeError(f"the digest cache returned other digests or missed: {warm_cache.hits} hits of "
                           f"{len(sources)} files")
    results.add("artifact_digests", "artifacts_size", total_mib, "MiB")
    results.add("artifact_digests", "files", len(sources), "files")
    results.add("artifact_digests", "cold_full_hash", round(cold_s, 3), "s")
    results.add("artifact_digests", "hash_throughput", round(total_mib / cold_s, 1), "MiB/s")
    results.add("artifact_digests", "first_run_with_cache", round(fill_s, 3), "s")
    results.add("artifact_digests", "warm_cache", round(warm_s * 1000, 3), "ms")
    results.add("artifact_digests", "warm_over_cold", round(100 * warm_s / cold_s, 4), "%")
    logger.info("digests of %d MiB: cold %.2f s, warm cache %.2f ms", total_mib, cold_s, warm_s * 1000)
