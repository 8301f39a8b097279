"""The data of a plan: desired and live state per target and model, actions, and the plan itself.

Everything here is frozen and JSON-friendly, so ``compute_plan`` stays a pure
function and a plan can be saved to a file and loaded back unchanged.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class Resource(StrEnum):
    """The kind of thing an action changes, listed in the order apply runs them."""

    REPOSITORY = "repository"
    VERSION = "version"
    SETTING = "setting"
    CHANNEL = "channel"


PHASES = {resource: index for index, resource in enumerate(Resource)}


class Kind(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"


@dataclass(frozen=True)
class DesiredState:
    """The desired state of one model on one target, from its manifest and artifacts."""

    target: str
    model: str
    version: str
    channel: str
    artifacts_digest: str
    card_digest: str
    settings: Mapping[str, Any] = field(default_factory=dict)
    source: str = ""


@dataclass(frozen=True)
class LiveVersion:
    version: str
    artifacts_digest: str | None
    card_digest: str | None
    ref: str


@dataclass(frozen=True)
class LiveState:
    """The live state of one model on one target, as read through its API.

    ``readable`` is False when the state could not be read (no credentials, a
    private repository); then ``reason`` gives the cause, and nothing is planned for it.
    """

    target: str
    model: str
    readable: bool = True
    reason: str = ""
    exists: bool = False
    versions: Mapping[str, LiveVersion] = field(default_factory=dict)
    channels: Mapping[str, str | None] = field(default_factory=dict)
    settings: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["versions"] = {key: asdict(value) for key, value in sorted(self.versions.items())}
        data["channels"] = dict(sorted(self.channels.items()))
        data["settings"] = dict(sorted(self.settings.items()))
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LiveState:
        return cls(
            target=data["target"],
            model=data["model"],
            readable=data["readable"],
            reason=data["reason"],
            exists=data["exists"],
            versions={key: LiveVersion(**value) for key, value in data["versions"].items()},
            channels=dict(data["channels"]),
            settings=dict(data["settings"]),
        )


@dataclass(frozen=True)
class Action:
    """One change on one target; ``before`` and ``after`` are JSON values."""

    target: str
    model: str
    resource: Resource
    kind: Kind
    key: str
    before: Any
    after: Any
    reason: str
    rollback: bool = False
    cost_per_day: float = 0.0  # change of always-on hardware cost in USD per day; above 0 needs approval

    @property
    def phase(self) -> int:
        return PHASES[self.resource]

    def describe(self) -> str:
        if self.resource is Resource.REPOSITORY:
            return f"{self.kind} repository {self.key}"
        if self.resource is Resource.VERSION:
            return f"{self.kind} version {self.key}"
        if self.resource is Resource.SETTING:
            return f"{self.kind} setting {self.key}: {_short(self.before)} -> {_short(self.after)}"
        verb = "roll back" if self.rollback else "move"
        return f"{verb} channel {self.key}: {self.before or '(none)'} -> {self.after}"

    def cost_note(self) -> str:
        if not self.cost_per_day:
            return ""
        return f"cost {'+' if self.cost_per_day > 0 else '-'}${abs(self.cost_per_day):,.2f}/day always on"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Action:
        return cls(
            target=str(data["target"]),
            model=str(data["model"]),
            resource=Resource(data["resource"]),
            kind=Kind(data["kind"]),
            key=str(data["key"]),
            before=data["before"],
            after=data["after"],
            reason=str(data["reason"]),
            rollback=bool(data["rollback"]),
            cost_per_day=float(data.get("cost_per_day", 0.0)),
        )


@dataclass(frozen=True)
class Violation:
    """A release rule the desired state breaks; the plan cannot be applied while any exists."""

    target: str
    model: str
    message: str

    def __str__(self) -> str:
        return f"{self.target}: {self.model}: {self.message}"


@dataclass(frozen=True)
class ModelSummary:
    name: str
    version: str
    channel: str
    source: str
    bump: str = ""
    gates: tuple[Mapping[str, str], ...] = ()  # {"gate", "status", "message"} per gate


@dataclass(frozen=True)
class Plan:
    actions: tuple[Action, ...]
    violations: tuple[Violation, ...]
    models: tuple[ModelSummary, ...]
    live: tuple[LiveState, ...]
    fingerprint: str

    @property
    def has_changes(self) -> bool:
        return bool(self.actions)

    @property
    def unread(self) -> tuple[LiveState, ...]:
        return tuple(state for state in self.live if not state.readable)

    def actions_for(self, model: str) -> list[Action]:
        return [action for action in self.actions if action.model == model]

    def cost_per_day(self, model: str | None = None) -> float:
        return sum(action.cost_per_day for action in self.actions if model is None or action.model == model)

    def counts(self) -> dict[str, int]:
        """Count actions as the summary line shows them."""
        counts = {"create": 0, "update": 0, "delete": 0, "channel": 0, "rollback": 0}
        for action in self.actions:
            if action.resource is Resource.CHANNEL:
                counts["rollback" if action.rollback else "channel"] += 1
            else:
                counts[action.kind.value] += 1
        return counts


def fingerprint(states: Sequence[LiveState]) -> str:
    """Return a digest of live state, so a saved plan can tell that the state moved."""
    payload = json.dumps(
        sorted((state.to_json() for state in states), key=lambda item: (item["target"], item["model"])),
        sort_keys=True,
        separators=(",", ":"),
    )
    return f"sha256:{hashlib.sha256(payload.encode()).hexdigest()}"


def _short(value: Any) -> str:
    """Format a setting value the way a manifest writes it: YAML flow style, with lower-case true and false."""
    if value is None:
        return "(none)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{key}: {_short(item)}" for key, item in value.items()) + "}"
    return str(value)
