"""Judge benchmark metrics against the manifest's thresholds and against the previous release."""

from __future__ import annotations

from typing import Any

from pipeline.gates.results import GateResult, Status
from pipeline.gates.stats import median_ratio_interval, percentile
from pipeline.manifest.schema import Gates, Threshold

# Gate name in the manifest -> key in the evidence metrics.
METRIC_OF = {
    "latency_p50_ms": "latency_p50_ms",
    "latency_p95_ms": "latency_p95_ms",
    "latency_p99_ms": "latency_p99_ms",
    "throughput_per_s": "throughput_per_s",
    "peak_memory_mb": "peak_memory_mb",
    "accuracy": "accuracy",
}


def judge(gates: Gates, metrics: dict[str, float], samples_ms: list[float],
          previous: dict[str, Any] | None) -> list[GateResult]:
    results = [_threshold(name, getattr(gates, name), metrics.get(key))
               for name, key in METRIC_OF.items() if getattr(gates, name) is not None]
    if gates.task_metric is not None:
        results.append(_threshold(f"task_metric:{gates.task_metric.name}", gates.task_metric,
                                  metrics.get(gates.task_metric.name)))
    if gates.regression is not None:
        results.append(_regression(gates, samples_ms, previous))
    return results


def _threshold(name: str, threshold: Threshold, value: float | None) -> GateResult:
    if value is None:
        return GateResult(name, Status.MISSING, "the benchmark did not measure it; check the runner and eval set")
    if threshold.min is not None and value < threshold.min:
        return GateResult(name, Status.FAIL, f"{value:.4g} is below the minimum {threshold.min:g}")
    if threshold.max is not None and value > threshold.max:
        return GateResult(name, Status.FAIL, f"{value:.4g} is above the maximum {threshold.max:g}")
    bounds = " and ".join(part for part in (
        f">= {threshold.min:g}" if threshold.min is not None else "",
        f"<= {threshold.max:g}" if threshold.max is not None else "") if part)
    return GateResult(name, Status.PASS, f"{value:.4g} {bounds}")


def _regression(gates: Gates, samples_ms: list[float], previous: dict[str, Any] | None) -> GateResult:
    settings = gates.regression
    if previous is None:
        return GateResult("regression", Status.PASS, "no earlier release measured on this hardware to compare with")
    interval = median_ratio_interval(previous["samples_ms"], samples_ms, settings.confidence)
    numbers = (f"p50 latency ratio to {previous['version']} is {interval.ratio:.3f} "
               f"({settings.confidence:.0%} interval {interval.low:.3f}-{interval.high:.3f}), "
               f"accepted up to {settings.max_slowdown:g}")
    difference_ms = percentile(samples_ms, 50) - percentile(previous["samples_ms"], 50)
    if difference_ms <= settings.noise_floor_ms:
        return GateResult("regression", Status.PASS,
                          f"{numbers}; the median changed by {difference_ms:.3g} ms, within the noise floor of "
                          f"{settings.noise_floor_ms:g} ms")
    if interval.low > settings.max_slowdown:
        return GateResult("regression", Status.FAIL, numbers)
    if interval.high <= settings.max_slowdown:
        return GateResult("regression", Status.PASS, numbers)
    return GateResult("regression", Status.INCONCLUSIVE, numbers + "; measure with more eval items or rerun")
