"""Run a model's benchmark, write the evidence, and check evidence before a promotion."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.config import Project
from pipeline.errors import MrpError
from pipeline.gates import evidence as evidence_files
from pipeline.gates.benchmark import judge
from pipeline.gates.hardware import gpu_model, is_gpu
from pipeline.gates.metrics import label_of, task_metrics
from pipeline.gates.results import GateResult, Status
from pipeline.gates.runners import CogRunner, CommandRunner, Measurement
from pipeline.gates.stats import percentile
from pipeline.gates.transformers_runner import TransformersRunner
from pipeline.manifest.load import LoadedManifest

logger = logging.getLogger(__name__)
MAX_EVAL_ITEMS = 100_000
# A maintainer adds this label to a fork's pull request after reviewing its code.
TRUSTED_LABEL = "safe-to-bench"


@dataclass(frozen=True)
class BenchReport:
    path: Path
    evidence: dict[str, Any]
    results: list[GateResult]


def refuse_untrusted(environ: dict[str, str] | os._Environ = os.environ) -> None:
    """Raise unless the code being benchmarked is trusted: never a pull request from a fork."""
    event_path = environ.get("GITHUB_EVENT_PATH")
    if environ.get("GITHUB_EVENT_NAME") not in ("pull_request", "pull_request_target") or not event_path:
        return
    try:
        event = json.loads(Path(event_path).read_text(encoding="utf-8"))
        head = event["pull_request"]["head"]["repo"]["full_name"]
        base = event["pull_request"]["base"]["repo"]["full_name"]
        labels = {label["name"] for label in event["pull_request"].get("labels", [])}
    except (OSError, KeyError, TypeError, json.JSONDecodeError) as error:
        raise MrpError("cannot tell whether this pull request comes from a fork; refusing to run its model code") \
            from error
    if head != base and TRUSTED_LABEL in labels:
        logger.warning("benchmarking code from the fork %s: a maintainer added the %s label", head, TRUSTED_LABEL)
    elif head != base:
        raise MrpError(f"refusing to run model code from the fork {head}: only trusted branches are benchmarked. "
                       f"A maintainer who reviewed the change can add the {TRUSTED_LABEL} label")


def read_eval_set(project: Project, relative: str) -> tuple[list[dict[str, Any]], list[Any]]:
    path = project.root / relative
    inputs, expected = [], []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise MrpError(f"{relative}: cannot read the eval set ({error.strerror}); fix gates.benchmark.dataset") \
            from error
    for number, line in enumerate(lines[:MAX_EVAL_ITEMS], start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            inputs.append(dict(item["input"]))
            expected.append(item.get("expected"))
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
            raise MrpError(f"{relative}:{number}: expected a JSON object with input and expected ({error})") \
                from error
    if not inputs:
        raise MrpError(f"{relative}: the eval set is empty")
    return inputs, expected


def run_bench(project: Project, loaded: LoadedManifest, channel: str | None = None) -> BenchReport:
    manifest = loaded.manifest
    settings = manifest.gates.benchmark
    if settings is None:
        raise MrpError(f"{loaded.display}: gates.benchmark is not set; add the hardware and eval set to measure on")
    refuse_untrusted()
    inputs, expected = read_eval_set(project, settings.dataset)

    measurement = _runner(project, loaded).measure(inputs, settings.warmup, settings.concurrency)
    info = evidence_files.hardware_info()
    hardware_class = evidence_files.hardware_class(info, measurement.device)
    metrics = _metrics(measurement, expected)
    previous = evidence_files.previous_release_evidence(project.ledger_dir, manifest.name,
                                                        manifest.release_version, hardware_class)
    results = judge(manifest.gates, metrics, measurement.samples_ms, previous)

    evidence = evidence_files.base_evidence(manifest.name, manifest.release_version, loaded.artifacts.digest,
                                            manifest.gates.model_dump(mode="json"))
    evidence.update({
        "runner": settings.runner,
        "for_channel": channel,
        "hardware_class": hardware_class,
        "hardware": info,
        "eval_set": settings.dataset,
        "eval_set_digest": evidence_files.eval_set_digest(project.root / settings.dataset),
        "eval_items": len(inputs),
        "metrics": metrics,
        "results": {result.gate: {"status": str(result.status), "message": result.message} for result in results},
        "samples_ms": [round(sample, 6) for sample in measurement.samples_ms],
    })
    path = evidence_files.evidence_path(project.ledger_dir, manifest.name, manifest.release_version, hardware_class)
    evidence_files.write_evidence(path, evidence)
    logger.info("wrote benchmark evidence %s", path)
    return BenchReport(path, evidence, results)


def _runner(project: Project, loaded: LoadedManifest) -> CogRunner | CommandRunner | TransformersRunner:
    manifest = loaded.manifest
    settings = manifest.gates.benchmark
    if settings.runner == "cog":
        if manifest.interface.predictor is None:
            raise MrpError(f"{loaded.display}: the cog runner needs interface.predictor, e.g. predict.py:Predictor")
        return CogRunner(loaded.artifacts.root, manifest.interface.predictor)
    if settings.runner == "command":
        if not settings.command:
            raise MrpError(f"{loaded.display}: runner command needs gates.benchmark.command")
        env = {**os.environ, "MRP_ARTIFACTS": str(loaded.artifacts.root),
               "MRP_EVAL_SET": str(project.root / settings.dataset)}
        return CommandRunner(settings.command, project.root, env)
    task = settings.task or manifest.card.pipeline_tag
    if task is None:
        raise MrpError(f"{loaded.display}: the transformers runner needs a pipeline task; set gates.benchmark.task "
                       f"or card.pipeline_tag, e.g. image-classification")
    return TransformersRunner(loaded.artifacts.root, task, (project.root / settings.dataset).parent, project.root,
                              settings.batch_size)


def _metrics(measurement: Measurement, expected: list[Any]) -> dict[str, float]:
    samples = measurement.samples_ms
    metrics = {
        "setup_s": measurement.setup_s,
        "latency_p50_ms": percentile(samples, 50),
        "latency_p95_ms": percentile(samples, 95),
        "latency_p99_ms": percentile(samples, 99),
        "throughput_per_s": measurement.throughput_per_s,
        "peak_memory_mb": measurement.peak_memory_mb,
        **measurement.extra,
    }
    if measurement.outputs and all(value is not None for value in expected):
        metrics.update(task_metrics([label_of(output) for output in measurement.outputs], expected))
    return {key: float(value) for key, value in metrics.items()}


def satisfies(gate_hardware: str, hardware_class: str) -> bool:
    """Return True when evidence from ``hardware_class`` counts for a gate on ``gate_hardware``."""
    if not is_gpu(gate_hardware):
        return hardware_class == "cpu"
    model = gpu_model(gate_hardware)
    return hardware_class.startswith("gpu:") and model is not None and model in hardware_class.upper()


def promotion_gates(project: Project, loaded: LoadedManifest) -> list[GateResult]:
    """Judge the recorded evidence for this version's exact bytes on the hardware its gate names."""
    manifest = loaded.manifest
    settings = manifest.gates.benchmark
    if settings is None:
        return []
    command = f"mrp bench {manifest.name}"
    records = [item for item in evidence_files.read_all(project.ledger_dir, manifest.name)
               if str(item["version"]) == manifest.release_version]
    matching = [item for item in records if satisfies(settings.hardware, str(item.get("hardware_class")))]
    if not matching:
        other = ", ".join(sorted({str(item.get("hardware_class")) for item in records}))
        detail = f" (evidence from {other} does not satisfy a {settings.hardware} gate)" if other else ""
        return [GateResult("benchmark", Status.MISSING,
                           f"no evidence for {manifest.release_version} on {settings.hardware}{detail}; run "
                           f"`{command}` on {settings.hardware}")]
    item = max(matching, key=lambda record: str(record.get("measured_at")))
    if item.get("artifacts_digest") != loaded.artifacts.digest:
        return [GateResult("benchmark", Status.FAIL,
                           f"the evidence measured artifacts {item.get('artifacts_digest')}, but version "
                           f"{manifest.release_version} has {loaded.artifacts.digest}; run `{command}` again")]
    eval_digest = evidence_files.eval_set_digest(project.root / settings.dataset)
    if item.get("eval_set_digest") != eval_digest:
        measured = item.get("eval_set_digest") or "an unrecorded eval set"
        return [GateResult("benchmark", Status.FAIL,
                           f"the evidence measured {measured}, but the eval set {settings.dataset} is now "
                           f"{eval_digest or 'missing'}; run `{command}` again")]
    previous = evidence_files.previous_release_evidence(project.ledger_dir, manifest.name, manifest.release_version,
                                                        str(item["hardware_class"]))
    return judge(manifest.gates, item["metrics"], item["samples_ms"], previous)


def measured_p95(project: Project, loaded: LoadedManifest) -> float | None:
    settings = loaded.manifest.gates.benchmark
    for item in evidence_files.read_all(project.ledger_dir, loaded.name):
        if (str(item["version"]) == loaded.manifest.release_version
                and item.get("artifacts_digest") == loaded.artifacts.digest
                and (settings is None or satisfies(settings.hardware, str(item.get("hardware_class"))))):
            return float(item["metrics"]["latency_p95_ms"])
    return None
