"""The target protocol: what every platform a model is published on implements.

A target reads live state, applies one action at a time, and reports the
platform id of what it created. It never prints or exits; failures are
``TargetError`` values that name the target and the model.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from pipeline.manifest.schema import Manifest
from pipeline.plan.model import Action, DesiredState, LiveState
from pipeline.release import Release


def desired_state_of(target: str, release: Release, settings: dict[str, Any]) -> DesiredState:
    """Build a target's desired state of a release: the parts every target shares, plus its own settings."""
    return DesiredState(
        target=target,
        model=release.name,
        version=release.manifest.release_version,
        channel=release.manifest.channel,
        artifacts_digest=release.artifacts.digest,
        card_digest=release.card_digest,
        settings=settings,
        source=release.source,
    )


@dataclass(frozen=True)
class ActionResult:
    """What an applied action produced: the platform id, e.g. a commit or version id."""

    platform_id: str | None = None


class Target(Protocol):
    name: str

    def describes(self, manifest: Manifest) -> bool:
        """Return True when the manifest publishes the model on this target."""

    def desired_state(self, release: Release) -> DesiredState:
        """Translate a release into this target's desired state."""

    def read(self, releases: Sequence[Release]) -> list[LiveState]:
        """Read the live state of each release's model."""

    def lock(self, timeout_s: float) -> AbstractContextManager[None]:
        """Hold this target's apply lock, waiting up to ``timeout_s`` seconds."""

    def apply(self, action: Action, release: Release) -> ActionResult:
        """Carry out one action; an action already done is a no-op."""
