"""The ledger: ``releases/MODEL/VERSION.yaml`` records what was applied.

A record holds the model, version, artifacts and card digests, the commit of
this repository the release was applied from, where each target published it
(with the platform id), and every channel move onto the version.

Records are rewritten atomically (temporary file, then rename). After each
applied action the executor records it; ``reconcile`` also records what live
state shows but the ledger lacks, which closes the window where a process
died between a target write and its ledger write.
"""

from __future__ import annotations

import datetime
import logging
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import semver
import yaml

from pipeline.errors import LedgerError
from pipeline.plan.model import Action, LiveState
from pipeline.versioning import is_version

logger = logging.getLogger(__name__)
# libyaml's safe loader parses ledger records about twenty times faster than the pure-Python one.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# (model, version) -> the ledger fields of that release as it is being applied, or None.
ReleaseFields = Callable[[str, str], "dict[str, Any] | None"]


def utc_now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Ledger:
    def __init__(self, folder: Path, source_commit: str | None) -> None:
        self.folder = folder
        self.source_commit = source_commit

    def path(self, model: str, version: str) -> Path:
        return self.folder / model / f"{version}.yaml"

    def read(self, model: str, version: str) -> dict[str, Any] | None:
        path = self.path(model, version)
        if not path.exists():
            return None
        try:
            record = yaml.load(path.read_text(encoding="utf-8"), Loader=_YAML_LOADER)  # noqa: S506 - a safe loader
        except (yaml.YAMLError, UnicodeDecodeError) as error:
            raise LedgerError(f"{path}: the ledger record is not valid YAML ({error}); "
                              "restore it from git history") from error
        if not isinstance(record, dict):
            raise LedgerError(f"{path}: the ledger record is not a mapping; restore it from git history")
        return record

    def records(self, model: str) -> list[dict[str, Any]]:
        folder = self.folder / model
        if not folder.is_dir():
            return []
        return [record for file in sorted(folder.glob("*.yaml"))
                if (record := self.read(model, file.stem)) is not None]

    def record_version(self, model: str, version: str, target: str, platform_id: str | None,
                       fields: dict[str, Any]) -> bool:
        """Record that ``target`` published a version; return True when the ledger changed.

        ``fields`` contains the digests and, when known, the files, interface, task and
        card inputs that later version decisions compare against.
        """
        record = self.read(model, version)
        changed = record is None
        if record is None:
            record = {"model": model, "version": version, **fields, "source_commit": self.source_commit,
                      "released_at": utc_now(), "targets": {}, "channel_moves": []}
        else:
            missing = {key: value for key, value in fields.items() if record.get(key) is None and value is not None}
            record.update(missing)
            changed = bool(missing)
        targets = record.setdefault("targets", {})
        if targets.get(target, {}).get("id") != platform_id:
            targets[target] = {"id": platform_id, "tag": f"v{version}", "released_at": utc_now(),
                               "source_commit": self.source_commit}
            changed = True
        if changed:
            self._write(model, version, record)
        return changed

    def record_channel_move(self, model: str, target: str, channel: str, before: str | None, after: str,
                            rollback: bool) -> None:
        record = self.read(model, after)
        if record is None:
            record = {"model": model, "version": after, "targets": {}, "channel_moves": []}
        record.setdefault("channel_moves", []).append({
            "target": target,
            "channel": channel,
            "from": before,
            "to": after,
            "rollback": rollback,
            "at": utc_now(),
            "source_commit": self.source_commit,
        })
        self._write(model, after, record)

    def last_channel_version(self, model: str, target: str, channel: str) -> str | None:
        moves = [move for record in self.records(model) for move in record.get("channel_moves", [])
                 if move.get("target") == target and move.get("channel") == channel]
        moves.sort(key=lambda move: str(move.get("at")))
        return moves[-1]["to"] if moves else None

    def record_action(self, action: Action, platform_id: str | None, fields: dict[str, Any]) -> None:
        if action.resource == "version":
            self.record_version(action.model, action.key, action.target, platform_id, fields)
        elif action.resource == "channel":
            self.record_channel_move(action.model, action.target, action.key, action.before, action.after,
                                     action.rollback)

    def latest(self, model: str) -> dict[str, Any] | None:
        """Return the record of the highest released version of ``model`` by SemVer precedence."""
        records = [record for record in self.records(model) if is_version(str(record.get("version")))]
        if not records:
            return None
        return max(records, key=lambda record: semver.Version.parse(str(record["version"])))

    def reconcile(self, states: Iterable[LiveState], release_fields: ReleaseFields | None = None) -> int:
        """Record versions and channel positions that live state shows but the ledger lacks.

        ``release_fields(model, version)`` returns the ledger fields of the
        release being applied (files, interface, card inputs), or None. They
        are recorded when the live digests match, because later version checks
        compare against them, and a record with digests only cannot tell weights from code.
        """
        written = 0
        for state in states:
            if not state.readable or not state.exists:
                continue
            for version, live in state.versions.items():
                record = self.read(state.model, version)
                if record is None or state.target not in record.get("targets", {}):
                    fields = {"artifacts_digest": live.artifacts_digest, "card_digest": live.card_digest}
                    known = release_fields(state.model, version) if release_fields is not None else None
                    if known is not None and all(known.get(key) == value for key, value in fields.items()):
                        fields = known
                    self.record_version(state.model, version, state.target, live.ref, fields)
                    written += 1
            for channel, version in state.channels.items():
                if not is_version(version) or version not in state.versions:
                    continue
                last = self.last_channel_version(state.model, state.target, channel)
                if last != version:
                    self.record_channel_move(state.model, state.target, channel, last, version, rollback=False)
                    written += 1
        if written:
            logger.warning("recorded %d ledger entries that an interrupted apply left out", written)
        return written

    def _write(self, model: str, version: str, record: dict[str, Any]) -> None:
        """Replace the record atomically; an OS failure (disk full, permissions) is a LedgerError naming the file."""
        path = self.path(model, version)
        text = yaml.safe_dump(record, sort_keys=False, allow_unicode=True)
        temporary: str | None = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=f".{path.name}.", delete=False,
                                             encoding="utf-8") as handle:
                temporary = handle.name
                handle.write(text)
            os.replace(temporary, path)
        except OSError as error:
            if temporary is not None:
                Path(temporary).unlink(missing_ok=True)
            raise LedgerError(f"{path}: cannot write the ledger record ({error}). The change on the target was "
                              "made; fix the disk or permissions and run mrp apply again, which records it "
                              "from the live state") from error
