"""The huggingface target through the real ``huggingface_hub`` client, against the Hub emulator on 127.0.0.1."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from pipeline.config import load_project
from pipeline.emulators.base import FaultRule, Request, Response
from pipeline.errors import TargetError
from pipeline.manifest.load import load_manifests
from pipeline.plan.model import Action, Kind, Resource
from pipeline.release import Release, build_release
from pipeline.targets.huggingface import HuggingFaceTarget
from pipeline.targets.huggingface.cardcheck import card_metadata, check_card_metadata
from pipeline.targets.huggingface.publish import Publisher
from tests.conftest import ExampleProject, copy_examples, run_mrp_process
from tests.huggingface_target_fixtures import HubRehearsal, hub_rehearsal  # noqa: F401

EXAMPLES = {"digits-mlp": "acme/digits-mlp", "diabetes-progression": "acme/diabetes-progression"}
COMMIT_ROUTE = r"/api/models/[^/]+/[^/]+/commit/"
LFS_UPLOAD_ROUTE = r"^/_lfs/upload/"


def apply_hf(mrp, project: ExampleProject, *args: str):
    result = mrp("-C", project.root, "apply", "--yes", "--target", "huggingface", *args)
    assert result.exit_code == 0, result.stderr
    return result


def plan_hf(mrp, project: ExampleProject, *args: str):
    return mrp("-C", project.root, "plan", "--target", "huggingface", *args)


def without_gates(project: ExampleProject, name: str) -> None:
    """Drop pricing and gates (the last blocks of the example manifest), so promotions need no benchmark evidence."""
    path = project.manifest(name)
    text = path.read_text(encoding="utf-8")
    path.write_text(text[:text.index("\npricing:")] + "\n", encoding="utf-8")


def release_of(root: Path, name: str) -> Release:
    """Build a release the way a plan does, without the version checks against the ledger."""
    project = load_project(root, targets=("huggingface",), registry=None)
    loaded = load_manifests(project, [name])
    return build_release(loaded[0])


def version_action(release: Release) -> Action:
    version = release.manifest.release_version
    return Action("huggingface", release.name, Resource.VERSION, Kind.CREATE, version, None,
                  {"artifacts_digest": release.artifacts.digest, "card_digest": release.card_digest}, "test")


def tree(hub: HubRehearsal, commit) -> dict[str, str]:
    return {path: entry.oid for path, entry in commit.files.items()}


def release_commits(hub: HubRehearsal, repo_id: str) -> list[str]:
    repo = hub.repo(repo_id)
    history = repo.history(repo.commits[repo.branches["releases"]])
    return [commit.title for commit in history if commit.title != "initial commit"]


# End to end


def test_examples_published_then_second_apply_writes_nothing(hub_rehearsal: HubRehearsal, mrp):
    project = hub_rehearsal.project
    planned = plan_hf(mrp, project, "--detailed-exitcode")
    applied = apply_hf(mrp, project)

    assert planned.exit_code == 2
    assert "create repository digits-mlp" in planned.stdout
    assert "Apply complete: 10 actions applied." in applied.stdout
    assert hub_rehearsal.count("POST", COMMIT_ROUTE) == 2
    assert hub_rehearsal.count("POST", r"/tag/") == 2
    for name, repo_id in EXAMPLES.items():
        repo = hub_rehearsal.repo(repo_id)
        version = hub_rehearsal.tag_commit(repo_id, "v1.0.0")
        artifacts = project.root / "artifacts" / name
        assert list(repo.tags) == ["v1.0.0"]
        assert release_commits(hub_rehearsal, repo_id) == [f"Release {name} 1.0.0"]
        assert sorted(version.files) == sorted([path.name for path in artifacts.iterdir()]
                                               + ["README.md", ".gitattributes"])
        files = hub_rehearsal.files(version)
        assert files["model.safetensors"] == (artifacts / "model.safetensors").read_bytes()
        assert version.files["model.safetensors"].lfs_sha256 is not None
        assert "**Version:** 1.0.0" in files["README.md"].decode()
        assert f"Artifacts-Digest: sha256:" in version.message
        assert repo.branches["dev"] == version.id
    digits, diabetes = hub_rehearsal.repo("acme/digits-mlp"), hub_rehearsal.repo("acme/diabetes-progression")
    assert (digits.private, digits.gated) == (False, False)
    assert (diabetes.private, diabetes.gated) == (True, "manual")

    hub_rehearsal.emulator.requests.clear()
    again = apply_hf(mrp, project)

    assert "No changes." in again.stdout
    assert hub_rehearsal.writes() == []
    assert hub_rehearsal.count("GET", r"^/api/models$") == 1


def test_process_apply_turns_xet_off(hub_rehearsal: HubRehearsal):
    result = run_mrp_process("apply", "--yes", "--target", "huggingface", cwd=hub_rehearsal.project.root,
                             env={"HF_HUB_DISABLE_XET": "0"})

    assert result.returncode == 0, result.stderr
    assert "Apply complete: 10 actions applied." in result.stdout
    assert hub_rehearsal.count("GET", r"/xet-") == 0
    assert hub_rehearsal.count("PUT", LFS_UPLOAD_ROUTE) == 2


def test_private_repo_is_tightened_before_upload(hub_rehearsal: HubRehearsal, mrp):
    project = hub_rehearsal.project
    apply_hf(mrp, project, "diabetes-progression")
    requests = [f"{entry.method} {entry.path}" for entry in hub_rehearsal.emulator.requests.entries()]

    first_upload = next(index for index, line in enumerate(requests) if "/preupload/" in line)
    settings = [index for index, line in enumerate(requests) if line.startswith("PUT ") and line.endswith("/settings")]
    create = next(line for line in requests if line.startswith("POST /api/repos/create"))
    assert create
    assert len(settings) == 1  # gated: the repo was created private
    assert settings[0] < first_upload


def test_promote_and_roll_back_upload_no_lfs_bytes(hub_rehearsal: HubRehearsal, mrp):
    project = hub_rehearsal.project
    repo_id = "acme/digits-mlp"
    without_gates(project, "digits-mlp")
    apply_hf(mrp, project, "digits-mlp")
    hub_rehearsal.emulator.requests.clear()

    project.edit("digits-mlp", "channel: dev ", "channel: staging ")
    apply_hf(mrp, project, "digits-mlp")
    project.edit("digits-mlp", "channel: staging ", "channel: stable ")
    to_stable = apply_hf(mrp, project, "digits-mlp")

    version = hub_rehearsal.tag_commit(repo_id, "v1.0.0")
    main = hub_rehearsal.branch_commit(repo_id, "main")
    assert "move channel stable: (none) -> 1.0.0" in to_stable.stdout
    assert hub_rehearsal.repo(repo_id).branches["staging"] == version.id
    assert main.id != version.id
    assert tree(hub_rehearsal, main) == tree(hub_rehearsal, version)
    assert "Version: 1.0.0" in main.message
    assert hub_rehearsal.count("PUT", LFS_UPLOAD_ROUTE) == 0
    assert hub_rehearsal.count("POST", r"/info/lfs/objects/batch$") == 0
    assert hub_rehearsal.count("POST", COMMIT_ROUTE) == 1

    (project.root / "artifacts" / "digits-mlp" / "NOTES.md").write_text("retrained\n", encoding="utf-8")
    project.edit("digits-mlp", "version: 1.0.0", "version: 1.1.0")
    project.edit("digits-mlp", "channel: stable ", "channel: dev ")
    apply_hf(mrp, project, "digits-mlp")
    project.edit("digits-mlp", "channel: dev ", "channel: staging ")
    apply_hf(mrp, project, "digits-mlp")
    newer = hub_rehearsal.tag_commit(repo_id, "v1.1.0")
    assert tree(hub_rehearsal, hub_rehearsal.branch_commit(repo_id, "staging")) == tree(hub_rehearsal, newer)
    assert "NOTES.md" not in version.files

    (project.root / "artifacts" / "digits-mlp" / "NOTES.md").unlink()
    project.edit("digits-mlp", "version: 1.1.0", "version: 1.0.0")
    hub_rehearsal.emulator.requests.clear()
    planned = plan_hf(mrp, project, "digits-mlp")
    rolled_back = apply_hf(mrp, project, "digits-mlp")

    assert "roll back channel staging: 1.1.0 -> 1.0.0" in planned.stdout
    assert "roll back channel dev: 1.1.0 -> 1.0.0" in planned.stdout
    assert "Apply complete: 2 actions applied." in rolled_back.stdout
    for branch in ("dev", "staging", "main"):
        assert tree(hub_rehearsal, hub_rehearsal.branch_commit(repo_id, branch)) == tree(hub_rehearsal, version)
    assert hub_rehearsal.count("PUT", LFS_UPLOAD_ROUTE) == 0
    assert plan_hf(mrp, project, "--detailed-exitcode", "digits-mlp").exit_code == 0
    assert release_commits(hub_rehearsal, repo_id) == ["Release digits-mlp 1.1.0", "Release digits-mlp 1.0.0"]


def test_second_writer_on_releases_branch(hub_rehearsal: HubRehearsal, mrp, tmp_path):
    project = hub_rehearsal.project
    repo_id = "acme/digits-mlp"
    apply_hf(mrp, project, "digits-mlp")
    other = copy_examples(tmp_path / "other")
    (other.root / "artifacts" / "digits-mlp" / "OTHER.md").write_text("the other writer\n", encoding="utf-8")
    other.edit("digits-mlp", "version: 1.0.0", "version: 1.2.0")
    other_release = release_of(other.root, "digits-mlp")
    (project.root / "artifacts" / "digits-mlp" / "NOTES.md").write_text("retrained\n", encoding="utf-8")
    project.edit("digits-mlp", "version: 1.0.0", "version: 1.1.0")
    raced = []

    def race(request: Request, handle) -> Response:
        if request.method == "POST" and request.raw_path.endswith("/commit/releases") and not raced:
            raced.append(request.raw_path)
            Publisher(HuggingFaceTarget(None).api).release_version(other_release, "1.2.0")
        return handle(request)

    hub_rehearsal.app.hook = race
    result = apply_hf(mrp, project, "digits-mlp")

    statuses = [entry.status for entry in hub_rehearsal.emulator.requests.entries()
                if re.search(r"/commit/releases$", entry.path)]
    assert raced
    assert 412 in statuses
    assert "attempt 1 of 4" in result.stderr
    assert sorted(hub_rehearsal.repo(repo_id).tags) == ["v1.0.0", "v1.1.0", "v1.2.0"]
    assert release_commits(hub_rehearsal, repo_id) == [
        "Release digits-mlp 1.1.0", "Release digits-mlp 1.2.0", "Release digits-mlp 1.0.0"]
    mine = hub_rehearsal.tag_commit(repo_id, "v1.1.0")
    theirs = hub_rehearsal.tag_commit(repo_id, "v1.2.0")
    assert "NOTES.md" in mine.files
    assert "OTHER.md" not in mine.files
    assert "OTHER.md" in theirs.files
    assert "NOTES.md" not in theirs.files
    assert mine.parents == (theirs.id,)


def _forty_models(project: ExampleProject) -> list[str]:
    for manifest in (project.root / "models").glob("*.yaml"):
        manifest.unlink()
    names = [f"model-{index:02d}" for index in range(40)]
    for index, name in enumerate(names):
        folder = project.root / "artifacts" / name
        folder.mkdir(parents=True)
        (folder / "config.json").write_text(f'{{"index": {index}}}\n', encoding="utf-8")
        (folder / "model.safetensors").write_bytes(bytes([index]) * 64 + b"\x00\xff")
        (project.root / "models" / f"{name}.yaml").write_text(
            f"name: {name}\nversion: 1.0.0\nchannel: dev\ndescription: Test model {index}.\nlicense: mit\n"
            f"artifacts: {{path: artifacts/{name}}}\n"
            "card: {summary: s, intended_use: u, limitations: l, training_data: t, how_to_use: h, evaluation: e}\n"
            f"targets: {{huggingface: {{repo: acme/{name}}}}}\n", encoding="utf-8")
    return names


def test_forty_models_survive_rate_limit(hub_rehearsal: HubRehearsal, mrp):
    project = hub_rehearsal.project
    names = _forty_models(project)
    hub_rehearsal.emulator.faults.add(FaultRule(route=f"POST {COMMIT_ROUTE}", status=429, retry_after=0,
                                                skip=26, times=1))

    result = apply_hf(mrp, project)

    faulted = [entry for entry in hub_rehearsal.emulator.requests.entries() if entry.fault]
    assert [entry.fault for entry in faulted] == ["status 429"]
    assert "HTTP 429" in result.stderr
    assert hub_rehearsal.count("POST", COMMIT_ROUTE) == 41
    for name in names:
        repo_id = f"acme/{name}"
        assert list(hub_rehearsal.repo(repo_id).tags) == ["v1.0.0"]
        assert release_commits(hub_rehearsal, repo_id) == [f"Release {name} 1.0.0"]
    assert plan_hf(mrp, project, "--detailed-exitcode").exit_code == 0


# Card metadata


def test_card_model_index_fields_named():
    # The manifest has no model-index field, so the check is called with such metadata directly.
    metadata = {"license": "mit", "model-index": [{"name": "m", "results": [{
        "task": {"type": "image-classification"},
        "dataset": {"type": "digits data", "name": "Digits", "config": 8},
        "metrics": [{"type": "accuracy", "value": 0.97}],
    }]}]}

    problems = check_card_metadata(metadata)

    assert len(problems) == 2
    assert problems[0].startswith("model-index[0].results[0].dataset.type: 'digits data'")
    assert problems[1].startswith("model-index[0].results[0].dataset.config: must be a string, got int")


def test_card_widget_mapping_rejected():
    problems = check_card_metadata({"license": "mit", "widget": {"text": "hello"}})

    assert problems == ["widget: must be a list of examples, got dict"]


def test_card_license_and_language_checked():
    problems = check_card_metadata({"license": "other", "language": ["en", "EN"]})

    assert problems == ["license_name: required when license is other", "license_link: required when license is other",
                        "language[1]: 'EN' is not a lowercase ISO 639-1 or 639-3 code such as en or fra"]
    assert check_card_metadata(card_metadata(release_of(Path(__file__).parent.parent, "digits-mlp").card)) == []


def test_bad_card_fails_plan_without_requests(hub_rehearsal: HubRehearsal, mrp, monkeypatch):
    import pipeline.release

    real_render = pipeline.release.render_card

    def render_with_model_index(manifest, evidence=None):
        card = real_render(manifest, evidence)
        return card.replace("---\n", "---\nmodel-index:\n- name: m\n  results:\n  - task: {type: x}\n"
                            "    dataset: {type: digits data, name: d, config: 8}\n"
                            "    metrics: [{type: accuracy, value: 1}]\n", 1)

    def front_matter_with_model_index(manifest, evidence=None):
        from pipeline.targets.huggingface.cardcheck import card_metadata

        return card_metadata(render_with_model_index(manifest, evidence))

    monkeypatch.setattr(pipeline.release, "render_card", render_with_model_index)
    monkeypatch.setattr(pipeline.release, "card_front_matter", front_matter_with_model_index)
    result = mrp("-C", hub_rehearsal.project.root, "apply", "--yes", "--target", "huggingface")

    assert result.exit_code == 1
    assert "model-index[0].results[0].dataset.type" in result.stderr
    assert "model-index[0].results[0].dataset.config" in result.stderr
    assert hub_rehearsal.writes() == []


# Tags


def test_tag_on_expected_commit_is_no_op(hub_rehearsal: HubRehearsal, mrp):
    apply_hf(mrp, hub_rehearsal.project, "digits-mlp")
    release = release_of(hub_rehearsal.project.root, "digits-mlp")
    hub_rehearsal.emulator.requests.clear()

    result = HuggingFaceTarget(None).apply(version_action(release), release)

    assert result.platform_id == hub_rehearsal.tag_commit("acme/digits-mlp", "v1.0.0").id
    assert hub_rehearsal.writes() == []


def test_tag_on_other_commit_is_an_error(hub_rehearsal: HubRehearsal, mrp):
    repo_id = "acme/digits-mlp"
    apply_hf(mrp, hub_rehearsal.project, "digits-mlp")
    release = release_of(hub_rehearsal.project.root, "digits-mlp")
    wanted = hub_rehearsal.tag_commit(repo_id, "v1.0.0").id
    api = hub_rehearsal.api
    api.delete_tag(repo_id, tag="v1.0.0")
    initial = hub_rehearsal.repo(repo_id).branches["main"]
    api.create_tag(repo_id, tag="v1.0.0", revision=initial)
    hub_rehearsal.emulator.requests.clear()

    with pytest.raises(TargetError) as raised:
        HuggingFaceTarget(None).apply(version_action(release), release)

    assert f"tag v1.0.0 already exists on commit {initial}" in str(raised.value)
    assert f"this version's commit is {wanted}" in str(raised.value)
    assert hub_rehearsal.writes() == []
    planned = plan_hf(mrp, hub_rehearsal.project, "digits-mlp")
    assert planned.exit_code == 1
    assert f"version 1.0.0 is already released with artifacts unknown (commit {initial[:12]}" in planned.stdout


# Repos and settings


def test_repo_with_only_initial_commit_is_present(hub_rehearsal: HubRehearsal, mrp):
    hub_rehearsal.api.create_repo("acme/digits-mlp")

    planned = plan_hf(mrp, hub_rehearsal.project, "digits-mlp")
    apply_hf(mrp, hub_rehearsal.project, "digits-mlp")

    assert "create repository" not in planned.stdout
    assert "create version 1.0.0" in planned.stdout
    assert hub_rehearsal.count("POST", r"^/api/repos/create$") == 1  # the test's own
    assert list(hub_rehearsal.repo("acme/digits-mlp").tags) == ["v1.0.0"]


def test_public_repo_made_private_and_gated(hub_rehearsal: HubRehearsal, mrp):
    repo_id = "acme/diabetes-progression"
    hub_rehearsal.api.create_repo(repo_id, private=False)
    hub_rehearsal.emulator.requests.clear()

    planned = plan_hf(mrp, hub_rehearsal.project, "diabetes-progression")
    apply_hf(mrp, hub_rehearsal.project, "diabetes-progression")

    entries = hub_rehearsal.emulator.requests.entries()
    puts = [index for index, entry in enumerate(entries) if entry.method == "PUT" and entry.path.endswith("/settings")]
    upload = next(index for index, entry in enumerate(entries) if "/preupload/" in entry.path)
    assert "update setting private: false -> true" in planned.stdout
    assert "update setting gated: false -> manual" in planned.stdout
    assert "create repository" not in planned.stdout
    assert hub_rehearsal.count("POST", r"^/api/repos/create$") == 0
    assert len(puts) == 2
    assert all(index < upload for index in puts)
    assert all(entries[index + 1].path == f"/api/models/{repo_id}" for index in puts)  # read back
    repo = hub_rehearsal.repo(repo_id)
    assert (repo.private, repo.gated) == (True, "manual")


def test_private_repo_without_token_is_unreadable(hub_rehearsal: HubRehearsal, mrp, monkeypatch):
    apply_hf(mrp, hub_rehearsal.project, "diabetes-progression")
    monkeypatch.delenv("HF_TOKEN")
    hub_rehearsal.emulator.requests.clear()

    planned = plan_hf(mrp, hub_rehearsal.project, "diabetes-progression")

    assert planned.exit_code == 0, planned.stderr
    assert "not read: no credentials" in planned.stdout
    assert "create repository" not in planned.stdout
    assert not any(entry.authenticated for entry in hub_rehearsal.emulator.requests.entries())


def test_forbidden_write_names_step_status_and_fix(hub_rehearsal: HubRehearsal, mrp):
    hub_rehearsal.emulator.faults.add(FaultRule(route=r"POST /api/repos/create", status=403))

    result = mrp("-C", hub_rehearsal.project.root, "apply", "--yes", "--target", "huggingface", "digits-mlp")

    assert result.exit_code == 1
    assert "huggingface: digits-mlp: create repository digits-mlp failed (HTTP 403)" in result.stderr
    assert "use an HF_TOKEN with the write role" in result.stderr
    assert os.environ["HF_TOKEN"] not in result.stderr


def test_failed_read_names_same_command(hub_rehearsal: HubRehearsal, mrp):
    hub_rehearsal.emulator.faults.add(FaultRule(route=r"GET /api/models", status=422, times=None))

    planned = plan_hf(mrp, hub_rehearsal.project, "digits-mlp")

    assert planned.exit_code == 1
    assert "list the models of" in planned.stderr
    assert "failed (HTTP 422)" in planned.stderr
    assert "then run the same mrp command again" in planned.stderr
    assert "mrp apply" not in planned.stderr


def test_symlinked_binary_files_get_one_lfs_line(hub_rehearsal: HubRehearsal, mrp):
    project = hub_rehearsal.project
    shared = project.root / "shared-vectors"
    shared.mkdir()
    for name in ("a.vec", "b.vec"):
        (shared / name).write_bytes(b"\x00\x01binary" * 8)
    (project.root / "artifacts" / "digits-mlp" / "vectors").symlink_to(shared)
    project.edit("digits-mlp", "version: 1.0.0", "version: 1.1.0")

    apply_hf(mrp, project, "digits-mlp")

    version = hub_rehearsal.tag_commit("acme/digits-mlp", "v1.1.0")
    attributes = hub_rehearsal.files(version)[".gitattributes"].decode()
    assert attributes.endswith("*.vec filter=lfs diff=lfs merge=lfs -text\n")
    assert attributes.count("*.vec") == 1
    assert version.files["vectors/a.vec"].lfs_sha256 is not None
    assert hub_rehearsal.files(version)["vectors/b.vec"] == (shared / "b.vec").read_bytes()


def test_lost_responses_do_not_duplicate_writes(hub_rehearsal: HubRehearsal, mrp):
    lost = []

    def lose_first_response(request: Request, handle) -> Response:
        response = handle(request)
        kind = None
        if request.raw_path.endswith("/commit/releases"):
            kind = "commit"
        elif "/tag/" in request.raw_path:
            kind = "tag"
        if request.method == "POST" and kind is not None and kind not in lost:
            lost.append(kind)
            return Response.json({"error": "Service temporarily unavailable."}, status=503,
                                 headers={"Retry-After": "0"})
        return response

    hub_rehearsal.app.hook = lose_first_response
    result = apply_hf(mrp, hub_rehearsal.project, "digits-mlp")

    assert lost == ["commit", "tag"]
    assert "HTTP 503" in result.stderr
    assert release_commits(hub_rehearsal, "acme/digits-mlp") == ["Release digits-mlp 1.0.0"]
    assert hub_rehearsal.count("POST", COMMIT_ROUTE) == 1
    assert hub_rehearsal.count("POST", r"/tag/") == 1
    assert list(hub_rehearsal.repo("acme/digits-mlp").tags) == ["v1.0.0"]


def _http_error(kind: type, status: int, code: str | None = None):
    import httpx2

    headers = {"X-Error-Code": code} if code else {}
    response = httpx2.Response(status, headers=headers, request=httpx2.Request("POST", "http://127.0.0.1:9/api/x"))
    return kind(f"{status} error from the Hub", response=response)


def _client_errors():
    import httpx2
    from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError, RevisionNotFoundError

    return [
        (_http_error(RepositoryNotFoundError, 404, "RepoNotFound"), "HTTP 404", "targets.huggingface.repo"),
        (_http_error(RevisionNotFoundError, 404, "RevisionNotFound"), "HTTP 404", "run mrp plan again"),
        (_http_error(HfHubHTTPError, 401), "HTTP 401", "valid Hugging Face access token"),
        (_http_error(HfHubHTTPError, 403), "HTTP 403", "write role"),
        (_http_error(HfHubHTTPError, 409), "HTTP 409", "another writer"),
        (_http_error(HfHubHTTPError, 412), "HTTP 412", "another writer"),
        (_http_error(HfHubHTTPError, 429), "HTTP 429", "wait a few minutes"),
        (_http_error(HfHubHTTPError, 500), "HTTP 500", "wait a few minutes"),
        (_http_error(HfHubHTTPError, 422), "HTTP 422", "fix what the Hub reports"),
        (httpx2.ConnectError("connection refused"), "ConnectError", "check HF_ENDPOINT"),
        (ValueError("Invalid metadata in README.md."), "ValueError", "fix the file, repo id or card metadata"),
    ]


@pytest.mark.parametrize("error, shown, next_step", _client_errors())
def test_client_errors_become_target_errors(error, shown, next_step):
    from pipeline.targets.huggingface import hub

    with pytest.raises(TargetError) as raised:
        with hub.hub_errors("digits-mlp", "create version 1.0.0"):
            raise error

    assert str(raised.value).startswith(f"huggingface: digits-mlp: create version 1.0.0 failed ({shown})")
    assert next_step in str(raised.value)
    assert raised.value.__cause__ is error
