"""compute_plan on in-memory states: no targets, no files."""

from __future__ import annotations

from pipeline.plan.compute import compute_plan
from pipeline.plan.model import DesiredState, Kind, LiveState, LiveVersion, Resource

HW = {"hardware.dev": {"sku": "cpu", "min_instances": 0, "max_instances": 1}}


def desired(version="1.0.0", channel="dev", digest="sha256:a", card="sha256:c", model="m", settings=None):
    return DesiredState("local", model, version, channel, digest, card, HW if settings is None else settings, "f.yaml")


def live(versions=(), channels=None, settings=None, model="m", exists=True, **extra):
    return LiveState(
        "local", model, exists=exists,
        versions={v: LiveVersion(v, d, c, f"commit-{v}") for v, d, c in versions},
        channels=channels or {},
        settings=HW if settings is None else settings,
        **extra,
    )


def keyed(states):
    return {(state.target, state.model): state for state in states}


def describe(plan):
    return [(action.resource.value, action.kind.value, action.key, action.before, action.after, action.rollback)
            for action in plan.actions]


def test_new_model_creates_everything_in_order():
    plan = compute_plan([desired()], {})

    assert describe(plan) == [
        ("repository", "create", "m", None, "m", False),
        ("version", "create", "1.0.0", None, {"artifacts_digest": "sha256:a", "card_digest": "sha256:c"}, False),
        ("setting", "create", "hardware.dev", None, HW["hardware.dev"], False),
        ("channel", "create", "dev", None, "1.0.0", False),
    ]
    assert plan.violations == ()


def test_matching_state_is_a_no_op():
    state = live([("1.0.0", "sha256:a", "sha256:c")], {"dev": "1.0.0"})

    plan = compute_plan([desired()], keyed([state]))

    assert plan.actions == ()
    assert plan.violations == ()
    assert not plan.has_changes


def test_promotion_to_staging_needs_version_on_dev():
    state = live([("1.0.0", "sha256:a", "sha256:c")], {"dev": "1.0.0"})

    plan = compute_plan([desired(channel="staging")], keyed([state]))

    assert describe(plan) == [("channel", "create", "staging", None, "1.0.0", False)]
    assert plan.actions[0].reason == "staging gets its first version"


def test_jump_to_stable_is_a_violation():
    state = live([("1.0.0", "sha256:a", "sha256:c")], {"dev": "1.0.0"})

    plan = compute_plan([desired(channel="stable")], keyed([state]))

    assert len(plan.violations) == 1
    assert "1.0.0 cannot enter stable: it is not on staging yet" in plan.violations[0].message
    assert [action.key for action in plan.actions] == ["staging"]


def test_new_version_straight_to_staging_is_a_violation():
    plan = compute_plan([desired(channel="staging")], {})

    assert [violation.message.split(":")[0] for violation in plan.violations] == ["1.0.0 cannot enter staging"]


def test_new_version_moves_dev_only():
    state = live([("1.0.0", "sha256:a", "sha256:c")], {"dev": "1.0.0", "staging": "1.0.0", "stable": "1.0.0"})

    plan = compute_plan([desired(version="1.1.0", digest="sha256:b")], keyed([state]))

    assert describe(plan) == [
        ("version", "create", "1.1.0", None, {"artifacts_digest": "sha256:b", "card_digest": "sha256:c"}, False),
        ("channel", "update", "dev", "1.0.0", "1.1.0", False),
    ]
    assert plan.actions[1].reason == "new version: dev moves from 1.0.0 to 1.1.0"


def test_lower_version_is_a_marked_rollback():
    state = live([("1.0.0", "sha256:a", "sha256:c"), ("1.1.0", "sha256:b", "sha256:c")],
                 {"dev": "1.1.0", "staging": "1.1.0", "stable": "1.1.0"})

    plan = compute_plan([desired(version="1.0.0", channel="stable")], keyed([state]))

    assert [(action.key, action.rollback) for action in plan.actions] == [
        ("dev", True), ("staging", True), ("stable", True)]
    assert plan.actions[2].reason == "rollback: stable goes back from 1.1.0 to 1.0.0"
    assert plan.counts()["rollback"] == 3
    assert plan.violations == ()


def test_prerelease_precedence_decides_rollback():
    state = live([("1.0.0-rc.10", "sha256:a", "sha256:c"), ("1.0.0-rc.9", "sha256:a", "sha256:c")],
                 {"dev": "1.0.0-rc.10"})

    plan = compute_plan([desired(version="1.0.0-rc.9")], keyed([state]))

    assert [(action.key, action.rollback) for action in plan.actions] == [("dev", True)]


def test_changed_artifacts_under_released_version_names_next_minor():
    state = live([("1.2.0", "sha256:old", "sha256:c")], {"dev": "1.2.0"})

    plan = compute_plan([desired(version="1.2.0", digest="sha256:new")], keyed([state]))

    (violation,) = plan.violations
    assert "version 1.2.0 is already released with artifacts sha256:old" in violation.message
    assert "set version: 1.3.0" in violation.message


def test_changed_card_under_released_version_names_next_patch():
    state = live([("1.2.0", "sha256:a", "sha256:old-card")], {"dev": "1.2.0"})

    plan = compute_plan([desired(version="1.2.0")], keyed([state]))

    (violation,) = plan.violations
    assert "set version: 1.2.1" in violation.message


def test_setting_change_is_an_update():
    new = {"hardware.dev": {"sku": "gpu-t4", "min_instances": 0, "max_instances": 2}}
    state = live([("1.0.0", "sha256:a", "sha256:c")], {"dev": "1.0.0"})

    plan = compute_plan([desired(settings=new)], keyed([state]))

    assert describe(plan) == [("setting", "update", "hardware.dev", HW["hardware.dev"], new["hardware.dev"], False)]


def test_unreadable_state_plans_nothing_and_is_reported():
    state = LiveState("local", "m", readable=False, reason="no credentials")

    plan = compute_plan([desired()], keyed([state]))

    assert plan.actions == ()
    assert plan.unread == (state,)


def test_all_versions_come_before_any_channel_move():
    plan = compute_plan([desired(model="b"), desired(model="a")], {})

    phases = [action.resource for action in plan.actions]
    assert phases == sorted(phases, key=list(Resource).index)
    last_version = max(index for index, action in enumerate(plan.actions) if action.resource is Resource.VERSION)
    first_channel = min(index for index, action in enumerate(plan.actions) if action.resource is Resource.CHANNEL)
    assert last_version < first_channel


def test_fingerprint_changes_with_live_state():
    first = compute_plan([desired()], keyed([live([("1.0.0", "sha256:a", "sha256:c")], {"dev": "1.0.0"})]))
    second = compute_plan([desired()], keyed([live([("1.0.0", "sha256:a", "sha256:c")], {})]))

    assert first.fingerprint != second.fingerprint


def test_actions_are_frozen():
    (action, *_) = compute_plan([desired()], {}).actions

    try:
        action.key = "other"  # type: ignore[misc]
    except AttributeError:
        pass
    else:
        raise AssertionError("actions must be immutable")
    assert action.kind is Kind.CREATE
