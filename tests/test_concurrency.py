"""Two writers at once: concurrent applies, outside commits during an apply, and saved plans gone stale.

The local registry's lock and its two-process test are in test_local_release.py;
these tests cover the Hub and Replicate, which have no lock.
"""

from __future__ import annotations

import json

import pytest
from huggingface_hub import HfApi

from pipeline.emulators.base import Request, Response
from tests.fault_fixtures import (
    HUB_TOKEN,
    MODEL,
    REPO_ID,
    Stage,
    apply_args,
    bump,
    deployment_releases,
    hub_commit_titles,
    hub_tags,
    incomplete_channels,
    plan_exit_code,
    replicate_versions,
    start_apply_process,
    stage_for,  # noqa: F401
)
from tests.replicate_target_fixtures import register_request

OUTSIDE_FILE = "OUTSIDE.md"


def applied(mrp, stage: Stage, *extra: str):
    result = mrp(*apply_args(stage, *extra))
    assert result.exit_code == 0, result.stderr
    return result


def hub_api(stage: Stage) -> HfApi:
    return HfApi(endpoint=stage.emulator.url, token=HUB_TOKEN)


def outside_commit(stage: Stage, branch: str) -> str:
    """Commit a file to ``branch`` as another user would, and return the new head."""
    info = hub_api(stage).upload_file(path_or_fileobj=b"someone else's note\n", path_in_repo=OUTSIDE_FILE,
                                      repo_id=REPO_ID, revision=branch, commit_message="Outside edit")
    return info.oid


def ledger_id(stage: Stage, version: str) -> str:
    import yaml

    record = yaml.safe_load((stage.project.ledger / MODEL / f"{version}.yaml").read_text(encoding="utf-8"))
    return record["targets"]["replicate"]["id"]


# Two applies at once


@pytest.mark.parametrize("target", ["huggingface", "replicate"])
def test_two_applies_at_once_converge(stage_for, mrp, target):
    stage = stage_for(target)
    # Each request waits a little, so that the two processes' requests interleave.
    stage.emulator.faults.latency_s = 0.02
    processes = [start_apply_process(stage) for _ in range(2)]
    outputs = [process.communicate(timeout=120) for process in processes]
    stage.emulator.faults.latency_s = 0.0

    assert [process.returncode for process in processes] == [0, 0], [line for _, err in outputs for line in err.splitlines() if "INFO" not in line]
    assert incomplete_channels(stage) == []
    if target == "huggingface":
        assert hub_tags(stage) == ["v1.0.0"]
        assert hub_commit_titles(stage) == {f"Release {MODEL} 1.0.0": 1}
        assert stage.app.state.get("model", REPO_ID).branches["dev"] == stage.app.state.get(
            "model", REPO_ID).tags["v1.0.0"]
    else:
        assert len(replicate_versions(stage)) == 1
        assert deployment_releases(stage) == [1]
        current = stage.app.store.deployments[("acme", f"{MODEL}-dev")].current_release
        assert current.version == ledger_id(stage, "1.0.0")
    assert plan_exit_code(mrp, stage) == 0


# Outside writes during an apply


def test_hub_outside_commit_on_channel_not_overwritten(stage_for, mrp):
    """Someone commits to dev just before our channel commit: the parent check rejects ours, theirs stays."""
    stage = stage_for("huggingface")
    applied(mrp, stage)
    bump(stage)
    raced: list[str] = []
    heads: list[str] = []

    def commit_first(request: Request, handle) -> Response:
        # Marked before the outside commit, whose own request to /commit/dev passes through this hook too.
        if request.method == "POST" and request.raw_path.endswith("/commit/dev") and not raced:
            raced.append(request.raw_path)
            heads.append(outside_commit(stage, "dev"))
        return handle(request)

    stage.app.hook = commit_first
    result = mrp(*apply_args(stage))
    stage.app.hook = None

    repo = stage.app.state.get("model", REPO_ID)
    commit_statuses = [entry.status for entry in stage.emulator.requests.entries()
                       if entry.method == "POST" and entry.path.endswith("/commit/dev")]
    assert result.exit_code == 1
    assert "channel dev moved while this apply ran" in result.stderr
    assert 412 in commit_statuses
    assert repo.branches["dev"] == heads[0]
    assert OUTSIDE_FILE in repo.commits[heads[0]].files
    assert hub_tags(stage) == ["v1.0.0", "v1.1.0"]
    assert hub_commit_titles(stage)[f"Move dev of {MODEL} to 1.1.0"] == 0


def test_hub_channel_branch_made_by_other_apply(stage_for, mrp):
    """Another apply creates dev at the same version first: our branch create gets 409 and counts as done."""
    stage = stage_for("huggingface")
    raced: list[str] = []

    def create_first(request: Request, handle) -> Response:
        if request.method == "POST" and request.raw_path.endswith("/branch/dev") and not raced:
            raced.append(request.raw_path)
            handle(request)
        return handle(request)

    stage.app.hook = create_first
    applied(mrp, stage)
    stage.app.hook = None

    statuses = [entry.status for entry in stage.emulator.requests.entries() if entry.path.endswith("/branch/dev")]
    repo = stage.app.state.get("model", REPO_ID)
    assert raced
    assert statuses == [409]
    assert repo.branches["dev"] == repo.tags["v1.0.0"]
    assert plan_exit_code(mrp, stage) == 0


def test_replicate_outside_push_during_apply(stage_for, mrp):
    """Someone registers a version while ours is pushed: one version of ours, and dev runs it."""
    stage = stage_for("replicate")
    theirs: list[str] = []

    def push_first(request: Request, handle) -> Response:
        if request.method == "POST" and request.raw_path.endswith("/acme/digits-mlp/versions") and not theirs:
            body = {"openapi_schema": {"openapi": "3.0.2", "info": {"title": "Cog", "version": "0.1.0"},
                                       "paths": {}, "components": {"schemas": {}}}, "cog_version": "0.23.1"}
            response = handle(register_request(request.base_url, "acme", MODEL, body))
            theirs.append(json.loads(response.body)["id"])
        return handle(request)

    stage.app.hook = push_first
    applied(mrp, stage)
    stage.app.hook = None

    ours = ledger_id(stage, "1.0.0")
    assert theirs
    assert ours != theirs[0]
    assert sorted(replicate_versions(stage)) == sorted([ours, theirs[0]])
    assert stage.app.store.deployments[("acme", f"{MODEL}-dev")].current_release.version == ours
    assert plan_exit_code(mrp, stage) == 0


# Saved plans


def save_plan(mrp, stage: Stage, tmp_path) -> str:
    plan_file = tmp_path / "plan.json"
    saved = mrp("-C", stage.project.root, "plan", "--target", stage.target, "--out", plan_file, MODEL)
    assert saved.exit_code == 0, saved.stderr
    return str(plan_file)


def test_hub_saved_plan_stale_after_outside_change(stage_for, mrp, tmp_path):
    stage = stage_for("huggingface")
    applied(mrp, stage)
    bump(stage)
    plan_file = save_plan(mrp, stage, tmp_path)
    hub_api(stage).update_repo_settings(REPO_ID, private=True)
    stage.emulator.requests.clear()

    result = mrp(*apply_args(stage, "--plan", plan_file))

    writes = [entry for entry in stage.emulator.requests.entries() if entry.method not in ("GET", "HEAD")]
    assert result.exit_code == 1
    assert "is stale" in result.stderr
    assert "huggingface digits-mlp settings.private: false -> true" in result.stderr
    assert writes == []
    assert hub_tags(stage) == ["v1.0.0"]


def test_hub_saved_plan_stale_after_outside_commit(stage_for, mrp, tmp_path):
    stage = stage_for("huggingface")
    applied(mrp, stage)
    bump(stage)
    plan_file = save_plan(mrp, stage, tmp_path)
    head = outside_commit(stage, "dev")

    result = mrp(*apply_args(stage, "--plan", plan_file))

    assert result.exit_code == 1
    assert f"huggingface digits-mlp channels.dev: \"1.0.0\" -> \"untagged commit {head[:12]}\"" in result.stderr
    assert stage.app.state.get("model", REPO_ID).branches["dev"] == head


def test_replicate_saved_plan_stale_after_outside_change(stage_for, mrp, tmp_path):
    stage = stage_for("replicate")
    applied(mrp, stage)
    bump(stage)
    plan_file = save_plan(mrp, stage, tmp_path)
    stage.app.handle(Request("PATCH", f"/v1/deployments/acme/{MODEL}-dev", {},
                             {"authorization": "Bearer someone-else", "content-type": "application/json"},
                             json.dumps({"max_instances": 2}).encode(), stage.emulator.url))
    stage.emulator.requests.clear()

    result = mrp(*apply_args(stage, "--plan", plan_file))

    assert result.exit_code == 1
    assert "is stale" in result.stderr
    assert "replicate digits-mlp settings.deployment.dev.max_instances: 1 -> 2" in result.stderr
    assert [entry for entry in stage.emulator.requests.entries() if entry.method != "GET"] == []
    assert len(replicate_versions(stage)) == 1
