"""A release: one manifest with its scanned artifacts, interface and card, ready to plan."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cached_property
from collections.abc import Mapping
from typing import Any

from pipeline.artifacts import ArtifactSet
from pipeline.bump import Snapshot
from pipeline.cards import card_front_matter, render_card
from pipeline.manifest.load import LoadedManifest
from pipeline.manifest.schema import Manifest


@dataclass(frozen=True)
class Release:
    """A manifest's version ready to plan; its card is rendered only when a target publishes it.

    A plan of N unchanged models renders no card: rendering goes through
    PyYAML's pure-Python emitter, one of the largest local costs of a plan.
    """

    loaded: LoadedManifest
    evidence: Mapping[str, Any] | None
    card_digest: str

    @cached_property
    def card(self) -> str:
        """Return the README.md text, with results from the evidence measured on these exact artifacts."""
        return render_card(self.loaded.manifest, self.evidence)

    @cached_property
    def card_metadata(self) -> dict[str, Any]:
        """Return the metadata of the card's front matter, built without rendering the card."""
        return card_front_matter(self.loaded.manifest, self.evidence)

    @property
    def name(self) -> str:
        return self.loaded.name

    @property
    def manifest(self) -> Manifest:
        return self.loaded.manifest

    @property
    def artifacts(self) -> ArtifactSet:
        return self.loaded.artifacts

    @property
    def source(self) -> str:
        return self.loaded.display

    def snapshot(self) -> Snapshot:
        return snapshot_of(self.loaded)

    def ledger_fields(self) -> dict[str, Any]:
        """Return what the ledger keeps of this release for later version decisions."""
        snapshot = self.snapshot()
        return {
            "artifacts_digest": self.artifacts.digest,
            "card_digest": self.card_digest,
            "card_inputs": snapshot.card_inputs,
            "task": snapshot.task,
            "interface": dict(snapshot.interface),
            "files": dict(snapshot.files),
        }


def card_inputs_digest(manifest: Manifest) -> str:
    """Digest the manifest fields the card is rendered from, except the version itself."""
    fields = manifest.model_dump(
        mode="json",
        include={"name", "description", "license", "license_name", "license_link", "card", "deprecations",
                 "migration"},
    )
    payload = json.dumps(fields, sort_keys=True, separators=(",", ":"))
    return f"sha256:{hashlib.sha256(payload.encode()).hexdigest()}"


def snapshot_of(loaded: LoadedManifest) -> Snapshot:
    manifest = loaded.manifest
    return Snapshot(
        version=manifest.release_version,
        files={item.path: item.sha256 for item in loaded.artifacts.files},
        interface=loaded.interface.to_json(),
        task=manifest.card.pipeline_tag,
        card_inputs=card_inputs_digest(manifest),
    )


def build_release(loaded: LoadedManifest, evidence: Mapping[str, Any] | None = None) -> Release:
    """Prepare a release whose card gets results from ``evidence`` measured on these exact artifacts.

    The card digest covers the manifest's card fields, not the results, so a
    version measured after its release does not look changed.
    """
    return Release(loaded=loaded, evidence=evidence, card_digest=card_inputs_digest(loaded.manifest))
