"""Decide the version bump a change needs, from what changed since the last release.

A snapshot is what callers and users of one version see: its files (path to
sha256), its interface, its task, and the inputs of its card. Comparing the
last released snapshot (from the ledger) with the working tree gives changes,
each with the bump it needs and a reason:

- major: an interface break. An input removed or retyped, a required input
  added, an optional input made required, a default changed, a constraint
  narrowed (``ge`` raised, ``le`` lowered, a choice removed, a pattern added),
  the output type changed, labels changed or reordered, the task, model type
  or architecture changed.
- minor: new weights or other artifact files with a compatible interface, an
  optional input added, a constraint widened.
- patch: the card, documentation or predictor code changed while the
  interface and weights stayed the same.
- none: pricing, hardware, scaling, visibility and gates; they are not part of
  a version.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from pipeline.versioning import Bump, compare, next_version

ORDER = {Bump.NONE: 0, Bump.PATCH: 1, Bump.MINOR: 2, Bump.MAJOR: 3}
CODE_SUFFIXES = {".py", ".sh", ".toml", ".cfg", ".ini"}
CODE_NAMES = {"cog.yaml", "cog.yml", "requirements.txt", "Dockerfile"}
DOC_SUFFIXES = {".md", ".rst", ".txt"}


@dataclass(frozen=True)
class Snapshot:
    version: str
    files: Mapping[str, str]
    interface: Mapping[str, Any]
    task: str | None
    card_inputs: str | None


@dataclass(frozen=True)
class Change:
    bump: Bump
    reason: str

    def __str__(self) -> str:
        return f"{self.reason}: {self.bump}"


@dataclass(frozen=True)
class Decision:
    """The bump a model needs; ``baseline`` is None for a model never released."""

    model: str
    version: str
    baseline: str | None
    changes: tuple[Change, ...] = field(default_factory=tuple)
    already_released: bool = False  # the version is a release with these exact files, e.g. after a rollback

    @property
    def bump(self) -> Bump:
        return max((change.bump for change in self.changes), key=ORDER.__getitem__, default=Bump.NONE)

    @property
    def required_version(self) -> str | None:
        if self.baseline is None or self.bump is Bump.NONE:
            return None
        return next_version(self.baseline, self.bump)

    @property
    def reasons(self) -> list[str]:
        return [str(change) for change in self.changes]

    def summary(self) -> str:
        if self.already_released and self.version != self.baseline:
            return f"{self.version} is already released with these files (a rollback or a re-apply); no bump needed"
        if self.baseline is None:
            return "first release"
        if not self.changes:
            return f"no changes since {self.baseline}"
        return f"{self.bump} from {self.baseline}: " + "; ".join(self.reasons)


def decide(model: str, current: Snapshot, baseline: Snapshot | None) -> Decision:
    if baseline is None:
        return Decision(model, current.version, None)
    changes = [
        *_file_changes(baseline.files, current.files),
        *_interface_changes(baseline.interface, current.interface),
    ]
    if baseline.task != current.task:
        changes.append(Change(Bump.MAJOR, f"task changed from {baseline.task} to {current.task}"))
    if baseline.card_inputs is not None and baseline.card_inputs != current.card_inputs:
        changes.append(Change(Bump.PATCH, "model card changed"))
    ordered = sorted(_dedupe(changes), key=lambda change: -ORDER[change.bump])
    return Decision(model, current.version, baseline.version, tuple(ordered))


def version_problems(decision: Decision, released: Mapping[str, Mapping[str, str]],
                     current_files: Mapping[str, str]) -> list[str]:
    """Return why the manifest's version is not acceptable, naming the version needed."""
    version = decision.version
    if version in released:
        if dict(released[version]) != dict(current_files):
            needed = decision.required_version or next_version(version, Bump.MINOR)
            return [f"version {version} is already released with other artifacts; a released version never "
                    f"changes. Set version: {needed} ({_why(decision)})"]
        return []
    if decision.baseline is None:
        return []
    if compare(version, decision.baseline) <= 0:
        needed = decision.required_version or next_version(decision.baseline, Bump.PATCH)
        return [f"version {version} goes backwards: the last release is {decision.baseline}. "
                f"Set version: {needed} or higher"]
    required = decision.required_version
    if required is not None and compare(version, required) < 0:
        return [f"version {version} is lower than the {decision.bump} bump this change needs: set version: "
                f"{required} ({_why(decision)}), or run mrp bump"]
    return []


def _why(decision: Decision) -> str:
    return "; ".join(decision.reasons) or "no interface change recorded"


def _dedupe(changes: Iterable[Change]) -> list[Change]:
    return list(dict.fromkeys(changes))


def file_kind(path: str) -> Bump:
    """Return the bump a change to this artifact file needs on its own."""
    name = PurePosixPath(path).name
    suffix = PurePosixPath(path).suffix
    if name in CODE_NAMES or suffix in CODE_SUFFIXES or name.startswith("requirements"):
        return Bump.PATCH
    if suffix in DOC_SUFFIXES or name.upper().startswith(("LICENSE", "NOTICE")):
        return Bump.PATCH
    return Bump.MINOR


def _file_changes(old: Mapping[str, str], new: Mapping[str, str]) -> Iterable[Change]:
    for path in sorted(set(old) | set(new)):
        if old.get(path) == new.get(path):
            continue
        if path not in old:
            verb = "added"
        elif path not in new:
            verb = "removed"
        else:
            verb = "changed"
        kind = file_kind(path)
        what = "predictor code or docs" if kind is Bump.PATCH else "artifact"
        yield Change(kind, f"{what} {path} {verb}")


def _interface_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> Iterable[Change]:
    yield from _predictor_changes(old.get("predictor"), new.get("predictor"))
    yield from _config_changes(old.get("config"), new.get("config"))


def _predictor_changes(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> Iterable[Change]:
    if old is None and new is None:
        return
    if old is None:
        yield Change(Bump.MINOR, "predictor interface added")
        return
    if new is None:
        yield Change(Bump.MAJOR, "predictor interface removed")
        return

    old_inputs = {spec["name"]: spec for spec in old["inputs"]}
    new_inputs = {spec["name"]: spec for spec in new["inputs"]}
    for name in old_inputs.keys() - new_inputs.keys():
        yield Change(Bump.MAJOR, f"input `{name}` removed")
    for name in sorted(new_inputs.keys() - old_inputs.keys()):
        if new_inputs[name]["required"]:
            yield Change(Bump.MAJOR, f"required input `{name}` added")
        else:
            yield Change(Bump.MINOR, f"optional input `{name}` added")
    for name in sorted(old_inputs.keys() & new_inputs.keys()):
        yield from _input_changes(name, old_inputs[name], new_inputs[name])
    if old["output"] != new["output"]:
        yield Change(Bump.MAJOR, f"output type changed from {old['output']} to {new['output']}")


def _input_changes(name: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> Iterable[Change]:
    if old["type"] != new["type"]:
        yield Change(Bump.MAJOR, f"input `{name}` type changed from {old['type']} to {new['type']}")
    if not old["required"] and new["required"]:
        yield Change(Bump.MAJOR, f"input `{name}` is now required")
    elif old["required"] and not new["required"]:
        yield Change(Bump.MINOR, f"input `{name}` is now optional")
    elif not old["required"] and old.get("default") != new.get("default"):
        yield Change(Bump.MAJOR, f"default of input `{name}` changed from {old.get('default')!r} to "
                                 f"{new.get('default')!r}")
    yield from _constraint_changes(name, old.get("constraints") or {}, new.get("constraints") or {})


def _constraint_changes(name: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> Iterable[Change]:
    for key in sorted(set(old) | set(new)):
        before, after = old.get(key), new.get(key)
        if before == after:
            continue
        if _unresolved(before) or _unresolved(after):
            yield Change(Bump.MAJOR, f"`{key}` of input `{name}` changed and is computed at run time, "
                                     "so it cannot be compared without running code")
            continue
        narrowed = _narrowed(key, before, after)
        label = "narrowed" if narrowed else "widened"
        yield Change(Bump.MAJOR if narrowed else Bump.MINOR,
                     f"`{key}` of input `{name}` {label} from {before!r} to {after!r}")


def _unresolved(value: Any) -> bool:
    return isinstance(value, Mapping) and "unresolved" in value


def _narrowed(key: str, before: Any, after: Any) -> bool:
    """Return True when fewer values pass the constraint after the change."""
    if before is None:
        return True  # a new constraint rejects values that passed before
    if after is None:
        return False
    if key in ("ge", "min_length"):
        return after > before
    if key in ("le", "max_length"):
        return after < before
    if key == "choices":
        return not set(_hashable(before)) <= set(_hashable(after))
    return True  # another pattern may reject values the old one accepted


def _hashable(values: Iterable[Any]) -> list[Any]:
    return [repr(value) for value in values]


def _config_changes(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> Iterable[Change]:
    if old is None or new is None:
        if old != new:
            yield Change(Bump.MAJOR if new is None else Bump.MINOR,
                         "config interface removed" if new is None else "config interface added")
        return
    if list(old["labels"]) != list(new["labels"]):
        reordered = sorted(old["labels"]) == sorted(new["labels"])
        yield Change(Bump.MAJOR, "labels reordered" if reordered else
                     f"labels changed from {list(old['labels'])} to {list(new['labels'])}")
    for key in ("model_type", "task"):
        if old.get(key) != new.get(key):
            yield Change(Bump.MAJOR, f"{key} changed from {old.get(key)} to {new.get(key)}")
    if list(old["architectures"]) != list(new["architectures"]):
        yield Change(Bump.MAJOR, f"architectures changed from {list(old['architectures'])} to "
                                 f"{list(new['architectures'])}")
