"""Compute the plan: the ordered actions that make live state equal desired state.

``compute_plan`` is pure: data in, data out, no I/O. The release rules it
enforces:

- A released version is immutable: other artifacts or another card under the
  same version number is a violation that names the version the change needs.
- A version on a channel also occupies every lower channel (``dev`` is always
  the newest), and it enters ``staging`` only while it is on ``dev``, and
  ``stable`` only while it is on ``staging``.
- Moving a channel to a lower version is a rollback, planned and marked as one.
- Actions run in phases: repositories, versions, settings, then channel moves,
  so no channel points at a version before every version is complete.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from pipeline.gates.results import GateResult
from pipeline.plan.model import (
    Action,
    DesiredState,
    Kind,
    LiveState,
    ModelSummary,
    Plan,
    Resource,
    Violation,
    fingerprint,
)
from pipeline.versioning import Bump, channel_below, channels_up_to, compare, is_version, next_version


def compute_plan(desired: Sequence[DesiredState], live: Mapping[tuple[str, str], LiveState],
                 gates: Mapping[str, Sequence[GateResult]] | None = None) -> Plan:
    """Diff each desired state against the live state of the same target and model.

    ``gates`` holds each model's gate results; a version moves up to staging or
    stable only when none of them blocks. Rollbacks need no gate.
    """
    actions: list[Action] = []
    violations: list[Violation] = []
    summaries: dict[str, ModelSummary] = {}
    used_live: list[LiveState] = []

    for want in desired:
        summaries.setdefault(want.model, ModelSummary(want.model, want.version, want.channel, want.source))
        have = live.get((want.target, want.model)) or LiveState(want.target, want.model)
        used_live.append(have)
        if not have.readable:
            continue
        found_actions, found_violations = _diff(want, have, (gates or {}).get(want.model, ()))
        actions.extend(found_actions)
        violations.extend(found_violations)

    ordered = sorted(actions, key=lambda action: (action.phase, action.target, action.model))
    return Plan(
        actions=tuple(ordered),
        violations=tuple(violations),
        models=tuple(summaries.values()),
        live=tuple(used_live),
        fingerprint=fingerprint(used_live),
    )


def _diff(want: DesiredState, have: LiveState,
          gates: Sequence[GateResult]) -> tuple[list[Action], list[Violation]]:
    actions: list[Action] = []
    violations: list[Violation] = []

    if not have.exists:
        actions.append(_action(want, Resource.REPOSITORY, Kind.CREATE, want.model, None, want.model,
                               "the model has no repository on this target yet"))

    released = have.versions.get(want.version)
    if released is None:
        actions.append(_action(want, Resource.VERSION, Kind.CREATE, want.version, None,
                               {"artifacts_digest": want.artifacts_digest, "card_digest": want.card_digest},
                               "the version is not released on this target yet"))
    else:
        violations.extend(_immutable(want, released.artifacts_digest, released.card_digest))

    actions.extend(_settings(want, have))
    channel_actions, channel_violations = _channels(want, have, gates)
    return actions + channel_actions, violations + channel_violations


def _immutable(want: DesiredState, artifacts_digest: str | None, card_digest: str | None) -> Iterable[Violation]:
    if artifacts_digest is not None and artifacts_digest != want.artifacts_digest:
        needed = next_version(want.version, Bump.MINOR)
        yield Violation(want.target, want.model,
                        f"version {want.version} is already released with artifacts {artifacts_digest}, "
                        f"but the artifacts folder now has {want.artifacts_digest}. A released version never "
                        f"changes: set version: {needed} (new weights need at least a minor bump)")
    elif card_digest is not None and card_digest != want.card_digest:
        needed = next_version(want.version, Bump.PATCH)
        yield Violation(want.target, want.model,
                        f"version {want.version} is already released with another model card "
                        f"({card_digest}, now {want.card_digest}). A released version never changes: "
                        f"set version: {needed} (a card change needs at least a patch bump)")


def _settings(want: DesiredState, have: LiveState) -> Iterable[Action]:
    for key, value in want.settings.items():
        current = have.settings.get(key)
        if current == value:
            continue
        if key in have.settings:
            yield _action(want, Resource.SETTING, Kind.UPDATE, key, current, value, "the manifest sets another value")
        else:
            yield _action(want, Resource.SETTING, Kind.CREATE, key, None, value, "not set on this target yet")


def _channels(want: DesiredState, have: LiveState,
              gates: Sequence[GateResult]) -> tuple[list[Action], list[Violation]]:
    actions: list[Action] = []
    violations: list[Violation] = []
    # NOTE: channels above the manifest's channel are not managed: lowering `channel:` demotes nothing.
    for channel in channels_up_to(want.channel):
        current = have.channels.get(channel)
        if current == want.version:
            continue
        rollback = is_version(current) and compare(want.version, current) < 0

        below = channel_below(channel)
        if not rollback and below is not None and have.channels.get(below) != want.version:
            violations.append(Violation(
                want.target, want.model,
                f"{want.version} cannot enter {channel}: it is not on {below} yet "
                f"({below} is at {have.channels.get(below) or 'no version'}). Release it to {below} first "
                f"(channel: {below}), apply, then promote it in a later change",
            ))
            continue

        blocking = [result for result in gates if result.blocks]
        if not rollback and channel != "dev" and blocking:
            violations.extend(Violation(want.target, want.model, f"{want.version} cannot enter {channel}: gate {result}")
                              for result in blocking)
            continue

        if rollback:
            reason = f"rollback: {channel} goes back from {current} to {want.version}"
        elif current is None:
            reason = f"{channel} gets its first version"
        elif channel == "dev":
            reason = f"new version: dev moves from {current} to {want.version}"
        else:
            reason = f"promotion: {channel} moves from {current} to {want.version}"
        kind = Kind.CREATE if current is None else Kind.UPDATE
        actions.append(_action(want, Resource.CHANNEL, kind, channel, current, want.version, reason, rollback))

    # A version that skips a channel is the first thing to fix; the gates of the step below come after it.
    violations.sort(key=lambda violation: "is not on" not in violation.message)
    return actions, violations


def _action(want: DesiredState, resource: Resource, kind: Kind, key: str, before: object, after: object,
            reason: str, rollback: bool = False) -> Action:
    return Action(want.target, want.model, resource, kind, key, before, after, reason, rollback)
