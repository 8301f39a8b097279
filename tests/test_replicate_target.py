"""The replicate target through the real ``replicate`` client, against the Replicate emulator on 127.0.0.1."""

from __future__ import annotations

import json
import os
import shutil
import stat
import sys
from pathlib import Path

import httpx
import pytest
import replicate

from pipeline.emulators.base import FaultRule, Response
from pipeline.errors import ConfigError, TargetError
from pipeline.interface import read_predictor_interface
from pipeline.targets.replicate.api import Api
from pipeline.targets.replicate.openapi import SchemaError, openapi_schema, type_schema
from pipeline.targets.replicate.push import parse_cog_digest, push_mode
from tests.conftest import REPO_ROOT, run_mrp_process
from tests.replicate_target_fixtures import TOKEN, Rehearsal, register_request, rehearsal  # noqa: F401

FOREIGN_BODY = {
    "openapi_schema": {
        "openapi": "3.0.2",
        "info": {"title": "Cog", "version": "0.1.0"},
        "paths": {},
        "components": {"schemas": {"Input": {"type": "object", "title": "Input", "properties": {}},
                                   "Output": {"title": "Output", "type": "string"}}},
    },
    "cog_version": "0.23.1",
}


def apply_replicate(mrp, project, *args: str):
    result = mrp("-C", project.root, "apply", "--yes", "--target", "replicate", *args)
    assert result.exit_code == 0, result.stderr
    return result


def plan_replicate(mrp, project, *args: str):
    return mrp("-C", project.root, "plan", "--target", "replicate", *args)


def release_1_1_0(project) -> None:
    """Change the digits-mlp artifacts and bump its version, on dev."""
    (project.root / "artifacts" / "digits-mlp" / "NOTES.md").write_text("retrained\n", encoding="utf-8")
    project.edit("digits-mlp", "version: 1.0.0", "version: 1.1.0")


@pytest.fixture
def client_for(rehearsal: Rehearsal):
    """Build ``replicate.Client`` objects for the emulator and close their connections after the test."""
    transports: list[httpx.HTTPTransport] = []

    def build(token: str) -> replicate.Client:
        transports.append(httpx.HTTPTransport())
        return replicate.Client(api_token=token, base_url=rehearsal.emulator.url, transport=transports[-1])

    yield build
    for transport in transports:
        transport.close()


# End to end


def test_examples_published_by_process(rehearsal: Rehearsal):
    project = rehearsal.project
    result = run_mrp_process("apply", "--yes", "--target", "replicate", cwd=project.root)

    assert result.returncode == 0, result.stderr
    assert "Apply complete: 8 actions applied." in result.stdout
    model = rehearsal.model("digits-mlp")
    assert model.visibility == "public"
    assert model.description == "Classifies 8x8 handwritten digits."
    assert rehearsal.model("diabetes-progression").visibility == "private"
    assert len(model.versions) == 1
    version_id = rehearsal.ledger_id("digits-mlp", "1.0.0")
    assert model.versions[0].id == version_id
    deployment = rehearsal.deployment("digits-mlp-dev")
    assert deployment is not None
    assert deployment.current_release.version == version_id
    assert (deployment.current_release.hardware, deployment.current_release.min_instances,
            deployment.current_release.max_instances) == ("cpu", 0, 1)
    assert rehearsal.deployment("digits-mlp-staging") is None
    assert TOKEN not in result.stdout + result.stderr


def test_version_schema_matches_predictor(rehearsal: Rehearsal, mrp):
    apply_replicate(mrp, rehearsal.project)

    schemas = rehearsal.model("digits-mlp").versions[0].openapi_schema["components"]["schemas"]
    assert schemas["Input"]["required"] == ["pixels"]
    assert schemas["Input"]["properties"]["pixels"]["type"] == "string"
    assert schemas["Input"]["properties"]["top_k"] == {
        "title": "Top K", "type": "integer", "x-order": 1, "default": 1, "minimum": 1, "maximum": 10,
        "description": "Number of most probable digits listed in top_labels and top_confidences",
    }
    assert schemas["Output"]["type"] == "object"
    assert schemas["Output"]["properties"]["top_labels"] == {"title": "Top Labels", "type": "array",
                                                             "items": {"type": "string"}}
    diabetes = rehearsal.model("diabetes-progression").versions[0].openapi_schema["components"]["schemas"]
    assert diabetes["Input"]["properties"]["sex"]["enum"] == [1, 2]
    assert diabetes["Output"] == {"title": "Output", "type": "number"}


def test_deployment_runs_predictions(rehearsal: Rehearsal, mrp, client_for):
    apply_replicate(mrp, rehearsal.project)

    client = client_for(TOKEN)
    prediction = client.deployments.predictions.create("acme/digits-mlp-dev", input={"pixels": "0," * 63 + "0"})
    assert prediction.version == rehearsal.ledger_id("digits-mlp", "1.0.0")


def test_model_without_predictor_fails_plan(rehearsal: Rehearsal, mrp):
    rehearsal.project.edit("digits-mlp", "  predictor: predict.py:Predictor\n", "  predictor: null\n")
    (rehearsal.project.root / "artifacts" / "digits-mlp" / "cog.yaml").unlink()
    rehearsal.project.git("-c", "user.name=Test", "-c", "user.email=test@example.invalid", "commit", "-qam",
                          "serve through transformers")

    result = mrp("-C", rehearsal.project.root, "apply", "--yes", "--target", "replicate", "digits-mlp")

    assert result.exit_code == 1
    assert "replicate: digits-mlp: no predictor: Replicate runs models through cog" in result.stderr
    assert rehearsal.writes() == []


def test_second_apply_writes_nothing(rehearsal: Rehearsal, mrp):
    apply_replicate(mrp, rehearsal.project)
    rehearsal.emulator.requests.clear()

    again = apply_replicate(mrp, rehearsal.project)
    planned = plan_replicate(mrp, rehearsal.project, "--detailed-exitcode")

    assert "No changes." in again.stdout
    assert rehearsal.writes() == []
    assert planned.exit_code == 0


def test_promote_dev_staging_stable(rehearsal: Rehearsal, mrp):
    project = rehearsal.project
    apply_replicate(mrp, project)
    version_id = rehearsal.ledger_id("digits-mlp", "1.0.0")
    benched = mrp("-C", project.root, "bench", "digits-mlp")
    assert benched.exit_code == 0, benched.stdout + benched.stderr

    project.edit("digits-mlp", "channel: dev ", "channel: staging ")
    to_staging = apply_replicate(mrp, project, "digits-mlp")
    project.edit("digits-mlp", "channel: staging ", "channel: stable ")
    to_stable = apply_replicate(mrp, project, "digits-mlp")

    assert "move channel staging: (none) -> 1.0.0" in to_staging.stdout
    assert "move channel stable: (none) -> 1.0.0" in to_stable.stdout
    for channel in ("dev", "staging", "stable"):
        assert rehearsal.deployment(f"digits-mlp-{channel}").current_release.version == version_id
    assert rehearsal.deployment("digits-mlp-stable").current_release.max_instances == 3
    assert len(rehearsal.model("digits-mlp").versions) == 1


def test_stable_straight_from_dev_rejected(rehearsal: Rehearsal, mrp):
    apply_replicate(mrp, rehearsal.project)
    rehearsal.project.edit("digits-mlp", "channel: dev ", "channel: stable ")

    result = mrp("-C", rehearsal.project.root, "apply", "--yes", "--target", "replicate", "digits-mlp")

    assert result.exit_code == 1
    assert "cannot enter stable: it is not on staging yet" in result.stderr
    assert rehearsal.deployment("digits-mlp-stable") is None


def test_new_version_then_rollback(rehearsal: Rehearsal, mrp):
    project = rehearsal.project
    apply_replicate(mrp, project)
    old_id = rehearsal.ledger_id("digits-mlp", "1.0.0")

    release_1_1_0(project)
    apply_replicate(mrp, project, "digits-mlp")
    new_id = rehearsal.ledger_id("digits-mlp", "1.1.0")
    moved = rehearsal.deployment("digits-mlp-dev").current_release

    (project.root / "artifacts" / "digits-mlp" / "NOTES.md").unlink()
    project.edit("digits-mlp", "version: 1.1.0", "version: 1.0.0")
    planned = plan_replicate(mrp, project, "digits-mlp")
    rolled_back = apply_replicate(mrp, project, "digits-mlp")

    assert new_id != old_id
    assert moved.version == new_id
    assert "roll back channel dev: 1.1.0 -> 1.0.0" in planned.stdout
    assert "roll back channel dev: 1.1.0 -> 1.0.0" in rolled_back.stdout
    assert rehearsal.deployment("digits-mlp-dev").current_release.version == old_id
    assert len(rehearsal.model("digits-mlp").versions) == 2
    assert plan_replicate(mrp, project, "--detailed-exitcode").exit_code == 0


def test_changed_hardware_updates_deployment(rehearsal: Rehearsal, mrp):
    project = rehearsal.project
    apply_replicate(mrp, project)
    project.edit("digits-mlp", "  dev: &cpu-small-scale\n    sku: cpu\n    min_instances: 0\n    max_instances: 1",
                 "  dev: &cpu-small-scale\n    sku: cpu\n    min_instances: 0\n    max_instances: 2")

    result = apply_replicate(mrp, project, "digits-mlp")

    assert "update setting deployment.dev" in result.stdout
    current = rehearsal.deployment("digits-mlp-dev").current_release
    assert current.max_instances == 2
    assert current.version == rehearsal.ledger_id("digits-mlp", "1.0.0")


# Other writers


def test_concurrent_push_not_deployed(rehearsal: Rehearsal, mrp):
    """Someone pushes right after our push: their version becomes latest, but dev gets ours."""
    foreign_ids: list[str] = []

    def push_after_ours(request, handle):
        response = handle(request)
        if request.method == "POST" and request.raw_path.endswith("/acme/digits-mlp/versions") and not foreign_ids:
            theirs = handle(register_request(request.base_url, "acme", "digits-mlp", FOREIGN_BODY))
            foreign_ids.append(json.loads(theirs.body)["id"])
        return response

    rehearsal.app.hook = push_after_ours
    apply_replicate(mrp, rehearsal.project)
    rehearsal.app.hook = None

    ours = rehearsal.ledger_id("digits-mlp", "1.0.0")
    model = rehearsal.model("digits-mlp")
    assert foreign_ids
    assert model.latest_version.id == foreign_ids[0]
    assert rehearsal.deployment("digits-mlp-dev").current_release.version == ours
    assert plan_replicate(mrp, rehearsal.project, "--detailed-exitcode").exit_code == 0


def test_unknown_deployed_version_moved_back(rehearsal: Rehearsal, mrp, client_for):
    project = rehearsal.project
    apply_replicate(mrp, project)
    other = client_for("someone-else")
    theirs = rehearsal.app.handle(register_request(rehearsal.emulator.url, "acme", "digits-mlp", FOREIGN_BODY))
    foreign_id = json.loads(theirs.body)["id"]
    other.deployments.update("acme", "digits-mlp-dev", version=foreign_id)

    planned = plan_replicate(mrp, project, "digits-mlp")
    apply_replicate(mrp, project, "digits-mlp")

    assert f"move channel dev: unknown version {foreign_id} -> 1.0.0" in planned.stdout
    assert rehearsal.deployment("digits-mlp-dev").current_release.version == rehearsal.ledger_id("digits-mlp", "1.0.0")


def test_saved_plan_stale_after_foreign_move(rehearsal: Rehearsal, mrp, client_for):
    project = rehearsal.project
    apply_replicate(mrp, project)
    release_1_1_0(project)
    plan_file = project.root / "plan.json"
    assert plan_replicate(mrp, project, "--out", plan_file).exit_code == 0
    theirs = rehearsal.app.handle(register_request(rehearsal.emulator.url, "acme", "digits-mlp", FOREIGN_BODY))
    client_for("someone-else").deployments.update("acme", "digits-mlp-dev", version=json.loads(theirs.body)["id"])

    result = mrp("-C", project.root, "apply", "--yes", "--target", "replicate", "--plan", plan_file)

    assert result.exit_code == 1
    assert "is stale" in result.stderr
    assert len(rehearsal.model("digits-mlp").versions) == 2


def test_rerun_after_failed_push_reuses_version(rehearsal: Rehearsal, mrp):
    """The push lands but the apply fails before the ledger records it: the re-run registers no second version."""
    def fail_read_back(request, handle):
        if request.method == "GET" and "/v1/models/acme/digits-mlp/versions/" in request.raw_path:
            return Response.json({"title": "Internal Server Error", "status": 500}, status=500)
        return handle(request)

    rehearsal.app.hook = fail_read_back
    failed = mrp("-C", rehearsal.project.root, "apply", "--yes", "--target", "replicate", "digits-mlp")
    rehearsal.app.hook = None
    apply_replicate(mrp, rehearsal.project, "digits-mlp")

    assert failed.exit_code == 1
    assert "read back version" in failed.stderr
    assert len(rehearsal.model("digits-mlp").versions) == 1
    assert rehearsal.model("digits-mlp").versions[0].id == rehearsal.ledger_id("digits-mlp", "1.0.0")


# Retries


def test_throttled_patch_retried(rehearsal: Rehearsal, mrp):
    project = rehearsal.project
    apply_replicate(mrp, project)
    release_1_1_0(project)
    rehearsal.emulator.faults.add(FaultRule(route=r"^PATCH /v1/deployments/acme/digits-mlp-dev$", status=429,
                                            retry_after=0, times=1))
    rehearsal.emulator.requests.clear()

    result = apply_replicate(mrp, project, "digits-mlp")

    patches = [entry for entry in rehearsal.emulator.requests.entries() if entry.method == "PATCH"]
    assert [entry.status for entry in patches] == [429, 200]
    assert "got HTTP 429; attempt 2 of 4" in result.stderr
    current = rehearsal.deployment("digits-mlp-dev").current_release
    assert current.version == rehearsal.ledger_id("digits-mlp", "1.1.0")
    assert current.number == 2


def test_lost_patch_response_not_resent(rehearsal: Rehearsal, mrp):
    """The PATCH lands but its response is a 503: the read-back finds it, so no second PATCH is sent."""
    project = rehearsal.project
    apply_replicate(mrp, project)
    release_1_1_0(project)
    lost: list[str] = []

    def lose_first_patch_response(request, handle):
        response = handle(request)
        if request.method == "PATCH" and not lost:
            lost.append(request.raw_path)
            return Response.json({"title": "Service Unavailable", "detail": "lost", "status": 503}, status=503,
                                 headers={"Retry-After": "0"})
        return response

    rehearsal.app.hook = lose_first_patch_response
    apply_replicate(mrp, project, "digits-mlp")

    current = rehearsal.deployment("digits-mlp-dev").current_release
    assert lost == ["/v1/deployments/acme/digits-mlp-dev"]
    assert rehearsal.emulator.requests.count("PATCH") == 1
    assert current.number == 2
    assert current.version == rehearsal.ledger_id("digits-mlp", "1.1.0")


def test_throttled_creates_converge(rehearsal: Rehearsal, mrp):
    for route in (r"^POST /v1/models$", r"^POST /v1/deployments$", r"^POST /v1/_emulator/"):
        rehearsal.emulator.faults.add(FaultRule(route=route, status=503, retry_after=0, times=1))

    result = apply_replicate(mrp, rehearsal.project, "digits-mlp")

    faults = [entry.path for entry in rehearsal.emulator.requests.entries() if entry.fault]
    assert faults == ["/v1/models", "/v1/_emulator/models/acme/digits-mlp/versions", "/v1/deployments"]
    assert result.stderr.count("got HTTP 503") == 3
    assert len(rehearsal.model("digits-mlp").versions) == 1
    assert rehearsal.deployment("digits-mlp-dev").current_release.number == 1


def test_create_conflict_in_wanted_state_accepted(rehearsal: Rehearsal, mrp):
    """Another apply creates the same model and deployment first: the 409 is success when the state matches."""
    def create_twice(request, handle):
        if request.method == "POST" and request.raw_path in ("/v1/models", "/v1/deployments"):
            handle(request)
        return handle(request)

    rehearsal.app.hook = create_twice
    apply_replicate(mrp, rehearsal.project, "digits-mlp")

    statuses = [(entry.path, entry.status) for entry in rehearsal.emulator.requests.entries()
                if entry.method == "POST" and entry.path in ("/v1/models", "/v1/deployments")]
    assert statuses == [("/v1/models", 409), ("/v1/deployments", 409)]
    assert rehearsal.deployment("digits-mlp-dev").current_release.version == rehearsal.ledger_id("digits-mlp", "1.0.0")


def test_persistent_throttling_gives_up(rehearsal: Rehearsal, mrp):
    rehearsal.emulator.faults.add(FaultRule(route=r"^POST /v1/models$", status=429, retry_after=0, times=None))

    result = mrp("-C", rehearsal.project.root, "apply", "--yes", "--target", "replicate", "digits-mlp")

    assert result.exit_code == 1
    assert "create model acme/digits-mlp failed: HTTP 429" in result.stderr
    assert rehearsal.emulator.requests.count("POST", r"^/v1/models$") == 4


# Reading


def test_missing_token_names_variable(rehearsal: Rehearsal, mrp, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("REPLICATE_API_TOKEN")

    planned = plan_replicate(mrp, rehearsal.project)
    applied = mrp("-C", rehearsal.project.root, "apply", "--yes", "--target", "replicate")

    assert planned.exit_code == 0
    assert "not read: no credentials (REPLICATE_API_TOKEN is not set)" in planned.stdout
    assert "create repository" not in planned.stdout
    assert applied.exit_code == 1
    assert "REPLICATE_API_TOKEN is not set" in applied.stderr
    assert rehearsal.emulator.requests.entries() == []


def test_rejected_token_reads_nothing(rehearsal: Rehearsal, mrp):
    rehearsal.app.inner = type(rehearsal.app.inner)(tokens={"r8_another-token": "acme"})

    result = plan_replicate(mrp, rehearsal.project)

    assert result.exit_code == 0
    assert "not read: REPLICATE_API_TOKEN was rejected (HTTP 401" in result.stdout
    assert TOKEN not in result.stdout + result.stderr
    assert rehearsal.emulator.requests.count() == 1


def test_apply_refuses_unread_state(rehearsal: Rehearsal, mrp):
    rehearsal.app.inner = type(rehearsal.app.inner)(tokens={"r8_another-token": "acme"})

    result = mrp("-C", rehearsal.project.root, "apply", "--yes", "--target", "replicate")

    assert result.exit_code == 1
    assert "cannot apply while live state is not read: replicate diabetes-progression: REPLICATE_API_TOKEN was" \
        in result.stderr
    assert rehearsal.emulator.requests.count(method="POST") == 0


@pytest.mark.parametrize("current_release", [None, {"number": 1, "model": "acme/digits-mlp"}])
def test_unexpected_deployment_fails_closed(rehearsal: Rehearsal, mrp, current_release):
    apply_replicate(mrp, rehearsal.project)

    def odd_deployment(request, handle):
        if request.method == "GET" and request.raw_path == "/v1/deployments/acme/digits-mlp-dev":
            return Response.json({"owner": "acme", "name": "digits-mlp-dev", "current_release": current_release})
        return handle(request)

    rehearsal.app.hook = odd_deployment
    result = plan_replicate(mrp, rehearsal.project)

    assert result.exit_code == 1
    assert "cannot read the current state of acme/digits-mlp-dev" in result.stderr


def test_unreachable_emulator_names_url(rehearsal: Rehearsal, mrp, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("REPLICATE_BASE_URL", "http://127.0.0.1:9")

    result = plan_replicate(mrp, rehearsal.project)

    assert result.exit_code == 1
    assert "no answer from http://127.0.0.1:9" in result.stderr


# Push methods


FAKE_COG = """#!{python}
import hashlib, json, os, pathlib, sys, urllib.request

image = sys.argv[2]
_, owner, name = image.split("/")
files = sorted(path for path in pathlib.Path.cwd().rglob("*") if path.is_file())
digest = hashlib.sha256(b"".join(path.read_bytes() for path in files)).hexdigest()
if os.environ.get("FAKE_COG_REGISTER", "1") == "1":
    body = {{"id": digest, "openapi_schema": {schema}}}
    request = urllib.request.Request(
        os.environ["REPLICATE_BASE_URL"] + f"/v1/_emulator/models/{{owner}}/{{name}}/versions",
        data=json.dumps(body).encode(), method="POST",
        headers={{"Authorization": "Bearer " + os.environ["REPLICATE_API_TOKEN"], "Content-Type": "application/json"}})
    urllib.request.urlopen(request).read()
print("Building Docker image from environment in cog.yaml as " + image + "...")
print("latest: digest: sha256:" + digest + " size: 1234")
print("  image  " + image + "@sha256:" + digest)
"""


@pytest.fixture
def fake_cog(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "bin"
    folder.mkdir()
    script = folder / "cog"
    script.write_text(FAKE_COG.format(python=sys.executable, schema=repr(FOREIGN_BODY["openapi_schema"])),
                      encoding="utf-8")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("MRP_REPLICATE_PUSH", "cog")
    docker = tmp_path / "docker"
    docker.mkdir()
    (docker / "config.json").write_text('{"auths": {"r8.im": {}}}', encoding="utf-8")
    monkeypatch.setenv("DOCKER_CONFIG", str(docker))
    return script


def test_cog_push_needs_login(rehearsal: Rehearsal, mrp, fake_cog: Path, monkeypatch: pytest.MonkeyPatch,
                              tmp_path: Path):
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "empty-docker-config"))

    result = mrp("-C", rehearsal.project.root, "apply", "--yes", "--target", "replicate", "digits-mlp")

    assert result.exit_code == 1
    assert "cog is not logged in to r8.im: run cog login" in result.stderr
    assert rehearsal.model("digits-mlp").versions == []


def test_cog_push_digest_deployed(rehearsal: Rehearsal, mrp, fake_cog: Path):
    apply_replicate(mrp, rehearsal.project, "digits-mlp")

    version_id = rehearsal.ledger_id("digits-mlp", "1.0.0")
    assert len(version_id) == 64
    assert rehearsal.model("digits-mlp").versions[0].id == version_id
    assert rehearsal.deployment("digits-mlp-dev").current_release.version == version_id


def test_cog_push_unregistered_digest_rejected(rehearsal: Rehearsal, mrp, fake_cog: Path,
                                               monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("FAKE_COG_REGISTER", "0")

    result = mrp("-C", rehearsal.project.root, "apply", "--yes", "--target", "replicate", "digits-mlp")

    assert result.exit_code == 1
    assert "has no such version; nothing was deployed" in result.stderr
    assert rehearsal.deployment("digits-mlp-dev") is None


def test_cog_missing_named(rehearsal: Rehearsal, mrp, monkeypatch: pytest.MonkeyPatch):
    real_which = shutil.which
    monkeypatch.setattr(shutil, "which", lambda name, *args, **kwargs: None if name == "cog"
                        else real_which(name, *args, **kwargs))
    monkeypatch.setenv("MRP_REPLICATE_PUSH", "cog")

    result = mrp("-C", rehearsal.project.root, "apply", "--yes", "--target", "replicate", "digits-mlp")

    assert result.exit_code == 1
    assert "cog is not installed or not on PATH" in result.stderr


def test_unknown_push_method_rejected(rehearsal: Rehearsal, mrp, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("MRP_REPLICATE_PUSH", "docker")

    result = plan_replicate(mrp, rehearsal.project)

    assert result.exit_code == 1
    assert "MRP_REPLICATE_PUSH='docker' is not a push method" in result.stderr


# Units


DIGEST = "ab" * 32


@pytest.mark.parametrize("output", [
    f"Pushing image...\nlatest: digest: sha256:{DIGEST} size: 1234\n",
    f"Image pushed\n  image  r8.im/acme/digits-mlp@sha256:{DIGEST}\n",
    f"latest: digest: sha256:{DIGEST} size: 1\n  image  r8.im/acme/digits-mlp@sha256:{DIGEST}\n",
])
def test_cog_digest_parsed(output: str):
    assert parse_cog_digest(output, "r8.im/acme/digits-mlp", "digits-mlp") == DIGEST


@pytest.mark.parametrize("output, message", [
    ("Pushed\n", "printed no image digest"),
    (f"latest: digest: sha256:{DIGEST} size: 1\n  image  r8.im/a/b@sha256:{'cd' * 32}\n", "several digests"),
])
def test_cog_digest_missing_or_ambiguous(output: str, message: str):
    with pytest.raises(TargetError, match=message):
        parse_cog_digest(output, "r8.im/acme/digits-mlp", "digits-mlp")


def test_push_mode_default_is_cog():
    assert push_mode({}) == "cog"
    assert push_mode({"MRP_REPLICATE_PUSH": "emulator"}) == "emulator"


def test_base_url_with_v1_rejected():
    with pytest.raises(ConfigError, match="set it to http://127.0.0.1:1234"):
        Api({"REPLICATE_API_TOKEN": TOKEN, "REPLICATE_BASE_URL": "http://127.0.0.1:1234/v1"})


PREDICTOR = '''
from typing import Iterator, Optional
from cog import BasePredictor, Input, Path

class Predictor(BasePredictor):
    def predict(self, image: Path = Input(description="An image"),
                tags: list[str] = Input(default=["a"]),
                strength: float = Input(default=0.5, ge=0.0, le=1.0),
                mode: str = Input(default="fast", choices=["fast", "slow"]),
                seed: Optional[int] = None,
                flag: bool = True) -> Iterator[str]:
        yield "x"
'''


def test_schema_maps_cog_types():
    interface = read_predictor_interface(PREDICTOR, "predict.py:Predictor")

    schema = openapi_schema(interface, {"x-mrp-artifacts-digest": "sha256:0"})

    properties = schema["components"]["schemas"]["Input"]["properties"]
    assert schema["info"]["x-mrp-artifacts-digest"] == "sha256:0"
    assert schema["components"]["schemas"]["Input"]["required"] == ["image"]
    assert properties["image"] == {"title": "Image", "type": "string", "format": "uri", "x-order": 0,
                                   "description": "An image"}
    assert properties["tags"]["items"] == {"type": "string"}
    assert properties["tags"]["default"] == ["a"]
    assert (properties["strength"]["minimum"], properties["strength"]["maximum"]) == (0.0, 1.0)
    assert properties["mode"]["enum"] == ["fast", "slow"]
    assert properties["seed"]["type"] == "integer"
    assert "default" not in properties["seed"]
    assert properties["flag"] == {"title": "Flag", "type": "boolean", "x-order": 5, "default": True}
    assert schema["components"]["schemas"]["Output"]["x-cog-array-type"] == "iterator"


def test_schema_rejects_unknown_type():
    with pytest.raises(SchemaError, match="'Tensor'"):
        type_schema("Tensor")


def test_examples_schema_built_without_import():
    source = (REPO_ROOT / "artifacts" / "digits-mlp" / "predict.py").read_text(encoding="utf-8")

    schema = openapi_schema(read_predictor_interface(source, "predict.py:Predictor"))

    assert "predict" not in sys.modules
    assert list(schema["components"]["schemas"]["Input"]["properties"]) == ["pixels", "top_k"]


def _always_on_dev(project) -> None:
    project.edit("digits-mlp", "  dev: &cpu-small-scale\n    sku: cpu\n    min_instances: 0",
                 "  dev: &cpu-small-scale\n    sku: cpu\n    min_instances: 1")


def test_always_on_instances_need_approval(rehearsal: Rehearsal, mrp):
    _always_on_dev(rehearsal.project)

    planned = plan_replicate(mrp, rehearsal.project, "digits-mlp")
    refused = mrp("-C", rehearsal.project.root, "apply", "--yes", "--target", "replicate", "digits-mlp")
    writes_after_refusal = rehearsal.writes()
    approved = apply_replicate(mrp, rehearsal.project, "digits-mlp", "--approve-cost")

    # cpu costs $0.0001 per second: one instance kept running is $8.64 a day.
    assert "create setting deployment.dev" in planned.stdout
    assert "[cost +$8.64/day always on]" in planned.stdout
    assert "always-on cost +$8.64/day" in planned.stdout
    assert refused.exit_code == 1
    assert "digits-mlp: this apply adds $8.64/day of always-on hardware" in refused.stderr
    assert "Rerun with --approve-cost, or set approved_cost_increase: 8.64 in models/digits-mlp.yaml" in refused.stderr
    assert writes_after_refusal == []
    assert "Apply complete" in approved.stdout
    assert rehearsal.deployment("digits-mlp-dev").current_release.min_instances == 1


def test_manifest_approves_cost_increase(rehearsal: Rehearsal, mrp):
    _always_on_dev(rehearsal.project)
    rehearsal.project.edit("digits-mlp", "approved_cost_increase: 0 ", "approved_cost_increase: 10 ")

    result = apply_replicate(mrp, rehearsal.project, "digits-mlp")

    assert "Apply complete" in result.stdout


def test_lowering_instances_needs_no_approval(rehearsal: Rehearsal, mrp):
    _always_on_dev(rehearsal.project)
    apply_replicate(mrp, rehearsal.project, "digits-mlp", "--approve-cost")
    rehearsal.project.edit("digits-mlp", "    min_instances: 1", "    min_instances: 0")

    planned = plan_replicate(mrp, rehearsal.project, "digits-mlp")
    applied = apply_replicate(mrp, rehearsal.project, "digits-mlp")

    assert "[cost" not in planned.stdout
    assert "always-on cost -$8.64/day" in planned.stdout
    assert "Apply complete" in applied.stdout
