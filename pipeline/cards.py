"""Render a model card (README.md with YAML front matter) from a manifest and its benchmark evidence.

The metadata goes through ``huggingface_hub``'s ``ModelCardData`` so the front
matter is what the Hub expects. The ``model-index`` and the results table come
from the evidence recorded by ``mrp bench`` for the version's exact artifacts,
never from typed numbers; a version released before it was measured has a card
without results, and keeps it, because released versions never change.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Any

from pipeline.manifest.schema import Manifest


# Evidence metric -> (model-index metric type, human name); only task metrics go into the model-index.
TASK_METRICS = {
    "accuracy": ("accuracy", "Accuracy"),
    "macro_f1": ("f1", "Macro F1"),
    "r2": ("r_squared", "R2"),
    "mae": ("mae", "Mean absolute error"),
    "rmse": ("rmse", "Root mean squared error"),
}


def card_front_matter(manifest: Manifest, evidence: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Return the metadata that the card's YAML front matter contains, without rendering the card."""
    return _card_data(manifest, evidence).to_dict()


def render_card(manifest: Manifest, evidence: Mapping[str, Any] | None = None) -> str:
    """Return the README.md text of ``manifest``'s version, with results when ``evidence`` is given."""
    from huggingface_hub import ModelCard  # heavy import, needed only for plan and apply

    card = manifest.card
    data = _card_data(manifest, evidence)
    sections = [
        f"# {manifest.name}",
        manifest.description,
        card.summary,
        f"**Version:** {manifest.release_version}",
        "## Intended use",
        card.intended_use,
        "## Limitations",
        card.limitations,
        "## Training data",
        card.training_data,
    ]
    if card.evaluation or evidence:
        sections += ["## Evaluation", card.evaluation or ""]
    if evidence:
        sections.append(_results_table(evidence))
    sections += ["## How to use", card.how_to_use]
    if manifest.migration:
        sections += [f"## Migrating to {manifest.release_version}", manifest.migration]
    sections += ["## Versions", _versions_text(manifest), "## License", _license_text(manifest)]
    body = "\n\n".join(section.strip() for section in sections)
    return str(ModelCard(f"---\n{data.to_yaml()}\n---\n\n{body}\n"))


def _card_data(manifest: Manifest, evidence: Mapping[str, Any] | None) -> Any:
    from huggingface_hub import ModelCardData

    card = manifest.card
    return ModelCardData(
        model_name=manifest.name,
        license=manifest.license,
        license_name=manifest.license_name,
        license_link=manifest.license_link,
        language=list(card.language) or None,
        tags=list(card.tags) or None,
        datasets=list(card.datasets) or None,
        metrics=list(card.metrics) or None,
        pipeline_tag=card.pipeline_tag,
        library_name=card.library_name,
        base_model=card.base_model,
        eval_results=_eval_results(manifest, evidence) or None,
    )


def _eval_results(manifest: Manifest, evidence: Mapping[str, Any] | None) -> list[Any]:
    from huggingface_hub import EvalResult

    if not evidence:
        return []
    metrics = evidence.get("metrics", {})
    dataset = manifest.gates.benchmark.dataset if manifest.gates.benchmark else "eval"
    dataset_type = manifest.card.datasets[0] if manifest.card.datasets else "custom"
    return [
        EvalResult(task_type=manifest.card.pipeline_tag or "other", dataset_type=dataset_type,
                   dataset_name=PurePosixPath(dataset).name, metric_type=metric_type, metric_name=name,
                   metric_value=round(float(metrics[key]), 6))
        for key, (metric_type, name) in TASK_METRICS.items()
        if key in metrics
    ]


def _results_table(evidence: Mapping[str, Any]) -> str:
    metrics = evidence.get("metrics", {})
    hardware = evidence.get("hardware_class", "?")
    rows = [f"| {name} | {metrics[key]:.4g} |" for key, (_, name) in TASK_METRICS.items() if key in metrics]
    rows += [f"| {label} | {metrics[key]:.4g} {unit} |" for key, label, unit in (
        ("latency_p50_ms", "Latency p50", "ms"), ("latency_p95_ms", "Latency p95", "ms"),
        ("latency_p99_ms", "Latency p99", "ms"), ("throughput_per_s", "Throughput", "per second"),
        ("peak_memory_mb", "Peak memory", "MB")) if key in metrics]
    header = (f"Measured by mrp bench on {hardware} ({evidence.get('eval_items', '?')} eval items, "
              f"{evidence.get('measured_at', '?')}):")
    return "\n".join([header, "", "| metric | value |", "| --- | --- |", *rows])


def _versions_text(manifest: Manifest) -> str:
    """List this version as supported and every deprecated version with its end of support."""
    # NOTE: older versions that are still supported are not listed: the card must be reproducible from the
    # manifest alone, and only the ledger records every release.
    lines = [f"Supported: {manifest.release_version} (this version)."]
    if manifest.deprecations:
        lines += ["", "| deprecated version | deprecated on | supported until | note |", "| --- | --- | --- | --- |"]
        lines += [f"| {item.version} | {item.deprecated_on} | {item.support_ends} | {item.note or ''} |"
                  for item in manifest.deprecations]
    return "\n".join(lines)


def _license_text(manifest: Manifest) -> str:
    if manifest.license == "other":
        return f"[{manifest.license_name}]({manifest.license_link})"
    return f"`{manifest.license}`"
