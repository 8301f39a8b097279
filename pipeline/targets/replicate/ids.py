"""Map Replicate version ids to semantic versions through the ledger.

A version id is an image digest and carries no semantic version, so the
ledger record ``releases/MODEL/VERSION.yaml`` stores it as
``targets.replicate.id`` when a push succeeds. An id the ledger does not know
is never guessed: a deployment on it reads as ``unknown version <id>``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import semver

from pipeline.ledger import Ledger
from pipeline.targets.replicate.api import TARGET

UNKNOWN_VERSION = "unknown version "


class VersionIds:
    """Read-only view of the ledger's Replicate ids; the executor writes the ledger after each action."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def records(self, model: str) -> dict[str, dict[str, Any]]:
        return {str(record["version"]): record for record in self.ledger.records(model) if "version" in record}

    def ids(self, model: str) -> dict[str, str]:
        """Return semantic version -> Replicate version id for every version the ledger records on Replicate."""
        found = {}
        for version, record in self.records(model).items():
            entry = (record.get("targets") or {}).get(TARGET) or {}
            if isinstance(entry.get("id"), str):
                found[version] = entry["id"]
        return found

    def id_of(self, model: str, version: str) -> str | None:
        """Return the id of a semantic version, or of an ``unknown version <id>`` as read from a deployment."""
        if version.startswith(UNKNOWN_VERSION):
            return version.removeprefix(UNKNOWN_VERSION)
        return self.ids(model).get(version)

    def version_of(self, model: str, channel: str, version_id: str, known: Mapping[str, str]) -> str:
        """Map a deployed id to its version.

        Versions that differ only in their card push the same image, so one id
        can belong to several versions. Then the channel's last recorded move
        decides, else the highest of them wins.
        """
        candidates = [version for version, known_id in known.items() if known_id == version_id]
        if not candidates:
            return f"{UNKNOWN_VERSION}{version_id}"
        last = self.ledger.last_channel_version(model, TARGET, channel)
        if last in candidates:
            return last
        return max(candidates, key=semver.Version.parse)
