"""A failed or interrupted release loses nothing: faults on every write step of an apply, then a re-run.

Each case releases digits-mlp on one target's emulator with one fault on one
write step and checks that no channel serves an incomplete version. It then
re-runs ``mrp apply --yes`` and checks that the plan is empty and that every
version, tag, commit and deployment release exists exactly once.

Faults (each fires once): 429 with ``Retry-After: 0``, 500, 502, 503, a
timeout (the emulator delays the request past the client's read timeout,
then carries out the write), a dropped connection, and SIGKILL of an
``mrp apply`` child process while the emulator delays the step's request.
The write then lands after its client is gone, so the response is lost. Every fault runs on every
step, 10 on the Hub and 4 on Replicate. SIGKILL also runs between Replicate's
version push and its ledger write; on the Hub the tag is the version's last
request, so the tag case covers that window.

The ledger write fails with ENOSPC once per target (local included), after
the target write landed. A first apply is expected to succeed despite each
HTTP fault, because every write step retries (bounded, honouring
``Retry-After``, logged with target, model and attempt). The LFS requests are
the exception in one way: ``huggingface_hub`` retries them itself and its log
line names the URL, not the model.

Neither target's read timeout is configurable by a user: the Hub client waits
300 s (``hub.REQUEST_TIMEOUT_S``) and the ``replicate`` client 30 s (its
default). The timeout cases set them to TIMEOUT_S in this process.

Each test starts its own emulator: that costs milliseconds, and a fresh state
keeps the counts exact without unique repo names per case.
"""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
import replicate

from pipeline.emulators.base import FaultRule
from pipeline.ledger import Ledger
from pipeline.targets.huggingface import hub
from pipeline.targets.replicate import api as replicate_api
from tests.fault_fixtures import (
    MODEL,
    Stage,
    apply_args,
    bump,
    deployment_releases,
    hub_commit_titles,
    hub_tags,
    incomplete_channels,
    kill_while_held,
    plan_exit_code,
    replicate_versions,
    stage_for,  # noqa: F401
)

# The client timeout in the timeout cases, and how long the emulator delays the request there. The write lands
# before the first retry reads the state back: the Hub target waits at least 1 s and the Replicate target
# 0.5 s before it, so both retries start after HOLD_S.
TIMEOUT_S = 0.5
HOLD_S = 0.75
# How long the emulator delays a request while the test kills the apply.
KILL_HOLD_S = 1.0

HUB_REPO = r"/api/models/acme/digits-mlp"
# (step, route of its request, whether 1.0.0 is released first so that the step's request is sent)
HUB_STEPS = [
    ("repo-create", r"^POST /api/repos/create$", False),
    ("settings", rf"^PUT {HUB_REPO}/settings$", False),
    ("releases-branch", rf"^POST {HUB_REPO}/branch/releases$", False),
    ("preupload", rf"^POST {HUB_REPO}/preupload/releases$", False),
    ("lfs-batch", r"^POST /acme/digits-mlp\.git/info/lfs/objects/batch$", False),
    ("lfs-upload", r"^PUT /_lfs/upload/", False),
    ("version-commit", rf"^POST {HUB_REPO}/commit/releases$", False),
    ("tag", rf"^POST {HUB_REPO}/tag/", False),
    ("channel-branch", rf"^POST {HUB_REPO}/branch/dev$", False),
    ("channel-commit", rf"^POST {HUB_REPO}/commit/dev$", True),
]
REPLICATE_STEPS = [
    ("model-create", r"^POST /v1/models$", False),
    ("version-push", r"^POST /v1/_emulator/models/acme/digits-mlp/versions$", False),
    ("deployment-create", r"^POST /v1/deployments$", False),
    ("deployment-update", r"^PATCH /v1/deployments/acme/digits-mlp-dev$", True),
]
STEPS = [("huggingface", *step) for step in HUB_STEPS] + [("replicate", *step) for step in REPLICATE_STEPS]
# The read-back after a push: killed there, the version exists on Replicate and the ledger has no id for it.
KILL_STEPS = STEPS + [("replicate", "before-ledger-write", r"^GET /v1/models/acme/digits-mlp/versions/[^/]+$", False)]
FAULTS = {
    "429": {"kind": "status", "status": 429, "retry_after": 0},
    "500": {"kind": "status", "status": 500},
    "502": {"kind": "status", "status": 502},
    "503": {"kind": "status", "status": 503},
    "timeout": {"kind": "delay", "delay_s": HOLD_S},
    "drop": {"kind": "drop"},
}
# Logged by huggingface_hub's own retry loop (http_backoff), which sends the LFS requests.
CLIENT_RETRY = re.compile(r"Retry \d+/\d+")


def step_id(step: tuple) -> str:
    return f"{step[0]}-{step[1]}"


def prepare(stage_for, target: str, bumped: bool, mrp) -> Stage:
    """Build the stage; for a step of a second release, release 1.0.0 cleanly and bump to 1.1.0."""
    stage = stage_for(target)
    if bumped:
        first = mrp(*apply_args(stage))
        assert first.exit_code == 0, first.stderr
        bump(stage)
    stage.emulator.requests.clear()
    return stage


def shorten_timeouts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hub, "REQUEST_TIMEOUT_S", TIMEOUT_S)
    timeout = httpx.Timeout(TIMEOUT_S, connect=5.0)
    monkeypatch.setattr(replicate, "Client", functools.partial(replicate.Client, timeout=timeout))


def assert_released_once(stage: Stage, bumped: bool) -> None:
    versions = ["1.0.0", "1.1.0"] if bumped else ["1.0.0"]
    if stage.target == "huggingface":
        titles = hub_commit_titles(stage)
        assert hub_tags(stage) == [f"v{version}" for version in versions]
        for version in versions:
            assert titles[f"Release {MODEL} {version}"] == 1, titles
        assert sum(titles.values()) == len(versions) + bumped, titles
    else:
        assert len(replicate_versions(stage)) == len(versions)
        assert len(set(replicate_versions(stage))) == len(versions)
        assert deployment_releases(stage) == list(range(1, len(versions) + 1))


def retry_lines(caplog: pytest.LogCaptureFixture, target: str) -> list[str]:
    """The retry messages that name the target, the model and the attempt."""
    prefix = "huggingface: digits-mlp:" if target == "huggingface" else "replicate digits-mlp:"
    return [record.getMessage() for record in caplog.records
            if record.getMessage().startswith(prefix) and " attempt " in record.getMessage()]


@pytest.mark.parametrize("fault", list(FAULTS))
@pytest.mark.parametrize("target, step, route, bumped", STEPS, ids=[step_id(step) for step in STEPS])
def test_fault_then_rerun_converges(stage_for, mrp, caplog, monkeypatch, target, step, route, bumped, fault):
    stage = prepare(stage_for, target, bumped, mrp)
    shorten_timeouts(monkeypatch)
    rule = stage.fault(FaultRule(route=route, times=1, **FAULTS[fault]))
    right_after_fault: list[list[str]] = []

    def check_after_fault(request, handle):
        """Check the channels at the first request the emulator handles after the fault fired."""
        if rule.fired and not right_after_fault:
            right_after_fault.append(incomplete_channels(stage))
        return handle(request)

    stage.app.hook = check_after_fault
    first = mrp(*apply_args(stage))
    stage.app.hook = None

    assert rule.fired == 1, f"no request matched {route}"
    assert right_after_fault == [[]]
    assert incomplete_channels(stage) == []
    assert first.exit_code == 0, first.stderr
    client_retried = any(CLIENT_RETRY.search(record.getMessage()) for record in caplog.records)
    assert retry_lines(caplog, target) or client_retried, first.stderr

    again = mrp(*apply_args(stage))

    assert again.exit_code == 0, again.stderr
    assert "No changes." in again.stdout
    assert incomplete_channels(stage) == []
    assert_released_once(stage, bumped)
    assert plan_exit_code(mrp, stage) == 0, mrp("-C", stage.project.root, "plan", "--target", stage.target).stderr


@pytest.mark.parametrize("target, step, route, bumped", KILL_STEPS, ids=[step_id(step) for step in KILL_STEPS])
def test_sigkill_then_rerun_converges(stage_for, mrp, target, step, route, bumped):
    stage = prepare(stage_for, target, bumped, mrp)
    rule = stage.fault(FaultRule(route=route, kind="delay", delay_s=KILL_HOLD_S, times=1))

    killed = kill_while_held(stage, rule)

    assert killed.returncode == -9
    assert incomplete_channels(stage) == []
    again = mrp(*apply_args(stage))
    assert again.exit_code == 0, again.stderr
    assert incomplete_channels(stage) == []
    assert_released_once(stage, bumped)
    assert plan_exit_code(mrp, stage) == 0, mrp("-C", stage.project.root, "plan", "--target", stage.target).stderr


# Retry-After and the bound on retries


@pytest.mark.parametrize("target, route", [
    ("huggingface", rf"^POST {HUB_REPO}/commit/releases$"),
    ("replicate", r"^POST /v1/deployments$"),
])
def test_retry_after_is_waited(stage_for, mrp, caplog, monkeypatch, target, route):
    stage = prepare(stage_for, target, False, mrp)
    waits: list[float] = []
    monkeypatch.setattr(hub, "wait", waits.append)
    monkeypatch.setattr(replicate_api, "time", SimpleNamespace(sleep=waits.append))
    stage.fault(FaultRule(route=route, status=429, retry_after=7, times=1))

    result = mrp(*apply_args(stage))

    assert result.exit_code == 0, result.stderr
    assert waits == [7.0]
    assert len(retry_lines(caplog, target)) == 1


@pytest.mark.parametrize("target, route, attempts", [
    ("huggingface", rf"^POST {HUB_REPO}/commit/releases$", hub.MAX_ATTEMPTS),
    ("replicate", r"^POST /v1/deployments$", replicate_api.WRITE_ATTEMPTS),
])
def test_persistent_fault_gives_up(stage_for, mrp, caplog, target, route, attempts):
    stage = prepare(stage_for, target, False, mrp)
    stage.fault(FaultRule(route=route, status=503, retry_after=0, times=None))

    failed = mrp(*apply_args(stage))

    method, path = route.strip("^$").split(" ", 1)
    assert failed.exit_code == 1
    assert "HTTP 503" in failed.stderr
    assert stage.emulator.requests.count(method, path) == attempts
    assert len(retry_lines(caplog, target)) == attempts - 1
    assert incomplete_channels(stage) == []
    stage.emulator.faults.clear()
    again = mrp(*apply_args(stage))
    assert again.exit_code == 0, again.stderr
    assert_released_once(stage, False)
    assert plan_exit_code(mrp, stage) == 0, mrp("-C", stage.project.root, "plan", "--target", stage.target).stderr


# The ledger write


@pytest.mark.parametrize("target", ["local", "huggingface", "replicate"])
def test_ledger_write_failure_converges(stage_for, example_project, mrp, monkeypatch, target):
    """A target write lands but its ledger record cannot be written: apply fails with exit 1, the re-run records it."""
    if target != "local":
        prepare(stage_for, target, False, mrp)
    real_replace = os.replace
    failures: list[str] = []

    def fail_once(source, destination):
        if not failures and Path(destination).parent.parent == example_project.ledger:
            failures.append(Path(destination).stem)
            raise OSError(28, "No space left on device")
        return real_replace(source, destination)

    monkeypatch.setattr(os, "replace", fail_once)
    root = ("-C", example_project.root)
    args = ("--target", target, MODEL)
    failed = mrp(*root, "apply", "--yes", *args)

    assert failures == ["1.0.0"]
    assert failed.exit_code == 1, failed.stderr
    assert "No space left on device" in failed.stderr
    assert "mrp apply again" in failed.stderr
    assert list(example_project.ledger.rglob(".*.yaml.*")) == []
    again = mrp(*root, "apply", "--yes", *args)
    assert again.exit_code == 0, again.stderr
    assert mrp(*root, "plan", "--detailed-exitcode", *args).exit_code == 0
    record = Ledger(example_project.ledger, None).read(MODEL, "1.0.0")
    assert target in record["targets"]
    assert [move["channel"] for move in record["channel_moves"]] == ["dev"]


def test_lost_ledger_record_rebuilt_whole(example_project, mrp):
    """A record lost between a target write and its ledger write is rebuilt with its files, so plans still pass."""
    root = ("-C", example_project.root)
    args = ("--target", "local", MODEL)
    assert mrp(*root, "apply", "--yes", *args).exit_code == 0
    (example_project.ledger / MODEL / "1.0.0.yaml").unlink()

    again = mrp(*root, "apply", "--yes", *args)

    assert again.exit_code == 0, again.stderr
    record = Ledger(example_project.ledger, None).read(MODEL, "1.0.0")
    assert "model.safetensors" in record["files"]
    assert record["interface"]
    assert mrp(*root, "plan", "--detailed-exitcode", *args).exit_code == 0
