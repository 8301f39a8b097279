"""Render a model card (README.md with YAML front matter) from a manifest.

The metadata goes through ``huggingface_hub``'s ``ModelCardData`` so the front
matter is what the Hub expects. Rendering is deterministic: the same manifest
and version always give the same bytes, so the card digest identifies a card.
"""

from __future__ import annotations

import hashlib

from pipeline.manifest.schema import Manifest


def render_card(manifest: Manifest) -> str:
    """Return the README.md text of ``manifest``'s version."""
    from huggingface_hub import ModelCard, ModelCardData  # heavy import, needed only for plan and apply

    card = manifest.card
    data = ModelCardData(
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
    )
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
    if card.evaluation:
        sections += ["## Evaluation", card.evaluation]
    sections += ["## How to use", card.how_to_use]
    if manifest.migration:
        sections += [f"## Migrating to {manifest.release_version}", manifest.migration]
    sections += ["## Versions", _versions_text(manifest), "## License", _license_text(manifest)]
    body = "\n\n".join(section.strip() for section in sections)
    return str(ModelCard(f"---\n{data.to_yaml()}\n---\n\n{body}\n"))


def card_digest(text: str) -> str:
    return f"sha256:{hashlib.sha256(text.encode()).hexdigest()}"


def _versions_text(manifest: Manifest) -> str:
    """List this version as supported and every deprecated version with its end of support."""
    # NOTE: older versions that are still supported are not listed: the card must be reproducible from the
    # manifest alone, and only the ledger knows every release.
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
