"""A release: one manifest with its scanned artifacts and rendered card, ready to plan."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.artifacts import ArtifactSet
from pipeline.cards import card_digest, render_card
from pipeline.manifest.load import LoadedManifest
from pipeline.manifest.schema import Manifest


@dataclass(frozen=True)
class Release:
    loaded: LoadedManifest
    card: str
    card_digest: str

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


def build_release(loaded: LoadedManifest) -> Release:
    card = render_card(loaded.manifest)
    return Release(loaded=loaded, card=card, card_digest=card_digest(card))
