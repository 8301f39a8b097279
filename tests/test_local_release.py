"""The main job on real git repositories: plan and apply the examples into the local registry."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import filelock
import pytest
import yaml

from pipeline.errors import TargetError
from pipeline.targets.local import LocalTarget
from tests.conftest import run_mrp_process


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout.strip()


def registry_snapshot(project) -> dict[str, str]:
    """Every ref of every registry repository, plus its object count."""
    snapshot = {}
    for repo in sorted(project.registry.glob("*.git")):
        snapshot[f"{repo.name} refs"] = git(repo, "for-each-ref", "--format=%(refname) %(objectname)")
        snapshot[f"{repo.name} objects"] = git(repo, "count-objects", "-v")
        snapshot[f"{repo.name} HEAD"] = git(repo, "symbolic-ref", "HEAD")
    return snapshot


def ledger_snapshot(project) -> dict[str, str]:
    return {str(path): path.read_text() for path in sorted(project.ledger.rglob("*.yaml"))}


def apply_ok(mrp, project, *args: str):
    result = mrp("-C", project.root, "apply", "--yes", *args)
    assert result.exit_code == 0, result.stderr
    return result


def test_main_job_releases_examples(example_project, mrp):
    validated = mrp("-C", example_project.root, "validate")
    planned = mrp("-C", example_project.root, "plan", "--detailed-exitcode")
    applied = apply_ok(mrp, example_project)
    again = mrp("-C", example_project.root, "plan", "--detailed-exitcode")

    assert validated.exit_code == 0
    assert planned.exit_code == 2
    assert "Plan: 10 to create, 0 to update, 2 channel moves." in planned.stdout
    assert "Apply complete: 12 actions applied." in applied.stdout
    assert again.exit_code == 0
    assert "No changes." in again.stdout


def test_version_commit_holds_exactly_artifacts_and_card(example_project, mrp):
    apply_ok(mrp, example_project)
    repo = example_project.registry / "digits-mlp.git"

    files = git(repo, "ls-tree", "-r", "--name-only", "v1.0.0").splitlines()
    artifacts = sorted(path.name for path in (example_project.root / "artifacts" / "digits-mlp").iterdir())

    assert files == sorted(artifacts + ["README.md"])
    weights = subprocess.run(["git", "show", "v1.0.0:model.safetensors"], cwd=repo, check=True,
                             capture_output=True).stdout
    assert weights == (example_project.root / "artifacts" / "digits-mlp" / "model.safetensors").read_bytes()
    card = git(repo, "show", "v1.0.0:README.md")
    assert card.startswith("---\n")
    assert "license: apache-2.0" in card
    assert "**Version:** 1.0.0" in card
    assert git(repo, "cat-file", "-t", "refs/tags/v1.0.0") == "tag"
    assert git(repo, "rev-parse", "dev") == git(repo, "rev-parse", "v1.0.0^{commit}")
    assert git(repo, "symbolic-ref", "HEAD") == "refs/heads/dev"
    settings = json.loads(git(repo, "show", "settings:settings.json"))
    assert settings["hardware.stable"] == {"sku": "cpu", "min_instances": 0, "max_instances": 3}


def test_second_apply_writes_nothing(example_project, mrp):
    apply_ok(mrp, example_project)
    registry_before = registry_snapshot(example_project)
    ledger_before = ledger_snapshot(example_project)

    result = apply_ok(mrp, example_project)

    assert "No changes." in result.stdout
    assert registry_snapshot(example_project) == registry_before
    assert ledger_snapshot(example_project) == ledger_before


def test_ledger_records_version_and_move(example_project, mrp):
    apply_ok(mrp, example_project)

    record = yaml.safe_load((example_project.ledger / "digits-mlp" / "1.0.0.yaml").read_text())
    head = example_project.git("rev-parse", "HEAD").strip()

    assert record["model"] == "digits-mlp"
    assert record["version"] == "1.0.0"
    assert record["artifacts_digest"].startswith("sha256:")
    assert record["source_commit"] == head
    assert record["targets"]["local"]["tag"] == "v1.0.0"
    assert record["targets"]["local"]["id"] == git(example_project.registry / "digits-mlp.git", "rev-parse",
                                                   "v1.0.0^{commit}")
    assert [(move["channel"], move["from"], move["to"]) for move in record["channel_moves"]] == [
        ("dev", None, "1.0.0")]


def _new_weights(project, version: str) -> None:
    (project.root / "artifacts" / "digits-mlp" / "NOTES.md").write_text(f"retrained for {version}\n")
    project.edit("digits-mlp", "version: 1.0.0", f"version: {version}")


def bench_ok(mrp, project, model: str = "digits-mlp"):
    result = mrp("-C", project.root, "bench", model)
    assert result.exit_code == 0, result.stdout + result.stderr
    return result


def test_promote_through_channels_then_roll_back(example_project, mrp):
    repo = example_project.registry / "digits-mlp.git"
    apply_ok(mrp, example_project, "digits-mlp")
    bench_ok(mrp, example_project)

    example_project.edit("digits-mlp", "channel: dev ", "channel: staging ")
    apply_ok(mrp, example_project, "digits-mlp")
    example_project.edit("digits-mlp", "channel: staging ", "channel: stable ")
    apply_ok(mrp, example_project, "digits-mlp")
    assert {branch: git(repo, "rev-parse", branch) for branch in ("dev", "staging", "stable")} == {
        branch: git(repo, "rev-parse", "v1.0.0^{commit}") for branch in ("dev", "staging", "stable")}
    assert git(repo, "symbolic-ref", "HEAD") == "refs/heads/stable"

    _new_weights(example_project, "1.1.0")
    example_project.edit("digits-mlp", "channel: stable ", "channel: dev ")
    apply_ok(mrp, example_project, "digits-mlp")
    bench_ok(mrp, example_project)
    for channel in ("staging", "stable"):
        example_project.edit("digits-mlp", "channel: dev " if channel == "staging" else "channel: staging ",
                             f"channel: {channel} ")
        apply_ok(mrp, example_project, "digits-mlp")
    assert git(repo, "rev-parse", "stable") == git(repo, "rev-parse", "v1.1.0^{commit}")
    assert git(repo, "rev-parse", "v1.1.0^{commit}^") == git(repo, "rev-parse", "v1.0.0^{commit}")

    (example_project.root / "artifacts" / "digits-mlp" / "NOTES.md").unlink()
    example_project.edit("digits-mlp", "version: 1.1.0", "version: 1.0.0")
    planned = mrp("-C", example_project.root, "plan", "digits-mlp")
    applied = apply_ok(mrp, example_project, "digits-mlp")

    assert "roll back channel stable: 1.1.0 -> 1.0.0" in planned.stdout
    assert "3 rollbacks" in planned.stdout
    assert "roll back channel stable" in applied.stdout
    assert git(repo, "rev-parse", "stable") == git(repo, "rev-parse", "v1.0.0^{commit}")
    moves = yaml.safe_load((example_project.ledger / "digits-mlp" / "1.0.0.yaml").read_text())["channel_moves"]
    assert moves[-1] == {**moves[-1], "channel": "stable", "from": "1.1.0", "to": "1.0.0", "rollback": True}


def test_promotion_skipping_a_channel_is_refused(example_project, mrp):
    apply_ok(mrp, example_project)
    example_project.edit("digits-mlp", "channel: dev ", "channel: stable ")

    result = mrp("-C", example_project.root, "apply", "--yes")

    assert result.exit_code == 1
    assert "1.0.0 cannot enter stable: it is not on staging yet" in result.stderr


def test_changed_artifacts_need_a_new_version(example_project, mrp):
    apply_ok(mrp, example_project)
    (example_project.root / "artifacts" / "digits-mlp" / "NOTES.md").write_text("new weights\n")

    result = mrp("-C", example_project.root, "plan")

    assert result.exit_code == 1
    assert "models/digits-mlp.yaml:5:10: version: version 1.0.0 is already released with other artifacts" \
        in result.stderr
    assert "Set version: 1.0.1 (predictor code or docs NOTES.md added: patch)" in result.stderr


def test_registry_catches_changed_artifacts_without_ledger(example_project, mrp):
    apply_ok(mrp, example_project)
    shutil.rmtree(example_project.ledger)
    (example_project.root / "artifacts" / "digits-mlp" / "weights-extra.safetensors").write_bytes(b"\x00" * 64)
    example_project.git("add", "-A")
    example_project.git("-c", "user.name=Test", "-c", "user.email=test@example.invalid", "commit", "-q", "-m", "w")

    result = mrp("-C", example_project.root, "plan")

    assert result.exit_code == 1
    assert "version 1.0.0 is already released with artifacts sha256:" in result.stdout
    assert "set version: 1.1.0" in result.stdout


def test_stale_saved_plan_is_refused(example_project, mrp, tmp_path):
    apply_ok(mrp, example_project)
    bench_ok(mrp, example_project)
    repo = example_project.registry / "digits-mlp.git"
    example_project.edit("digits-mlp", "channel: dev ", "channel: staging ")
    plan_file = tmp_path / "plan.json"
    saved = mrp("-C", example_project.root, "plan", "--out", plan_file)
    assert saved.exit_code == 0
    git(repo, "update-ref", "-d", "refs/heads/dev")

    result = mrp("-C", example_project.root, "apply", "--yes", "--plan", plan_file)

    assert result.exit_code == 1
    assert "is stale" in result.stderr
    assert "local digits-mlp channels.dev: \"1.0.0\" -> (none)" in result.stderr
    assert "staging" not in git(repo, "branch", "--list")


def test_fresh_saved_plan_is_applied(example_project, mrp, tmp_path):
    plan_file = tmp_path / "plan.json"
    assert mrp("-C", example_project.root, "plan", "--out", plan_file).exit_code == 0

    result = apply_ok(mrp, example_project, "--plan", str(plan_file))

    assert "Apply complete: 12 actions applied." in result.stdout
    assert mrp("-C", example_project.root, "plan", "--detailed-exitcode").exit_code == 0


def test_edited_plan_file_is_refused(example_project, mrp, tmp_path):
    plan_file = tmp_path / "plan.json"
    mrp("-C", example_project.root, "plan", "--out", plan_file)
    data = json.loads(plan_file.read_text())
    data["live"][0]["exists"] = True
    plan_file.write_text(json.dumps(data))

    result = mrp("-C", example_project.root, "apply", "--yes", "--plan", plan_file)

    assert result.exit_code == 1
    assert "the file was edited" in result.stderr
    assert not (example_project.registry / "digits-mlp.git").exists()


def test_interrupted_apply_converges(example_project, mrp, monkeypatch):
    real_move = LocalTarget._move_channel
    calls = {"count": 0}

    def failing_move(self, repo, action, model):
        calls["count"] += 1
        if calls["count"] == 2:
            raise TargetError("local", model, "injected failure between two steps")
        return real_move(self, repo, action, model)

    monkeypatch.setattr(LocalTarget, "_move_channel", failing_move)
    first = mrp("-C", example_project.root, "apply", "--yes")

    assert first.exit_code == 1
    assert "injected failure between two steps" in first.stderr
    assert "11 of 12 actions were applied" in first.stderr

    monkeypatch.setattr(LocalTarget, "_move_channel", real_move)
    second = apply_ok(mrp, example_project)

    assert "Apply complete: 1 action applied." in second.stdout
    assert mrp("-C", example_project.root, "plan", "--detailed-exitcode").exit_code == 0
    for name in ("digits-mlp", "diabetes-progression"):
        repo = example_project.registry / f"{name}.git"
        assert git(repo, "tag", "--list") == "v1.0.0"
        assert git(repo, "rev-list", "--count", "--tags") == "1"
        record = yaml.safe_load((example_project.ledger / name / "1.0.0.yaml").read_text())
        assert [move["channel"] for move in record["channel_moves"]] == ["dev"]


def test_crash_before_ledger_write_is_recorded_next_run(example_project, mrp):
    apply_ok(mrp, example_project)
    ledger_file = example_project.ledger / "digits-mlp" / "1.0.0.yaml"
    ledger_file.unlink()

    result = apply_ok(mrp, example_project)

    assert "No changes." in result.stdout
    record = yaml.safe_load(ledger_file.read_text())
    assert record["targets"]["local"]["tag"] == "v1.0.0"
    assert [move["to"] for move in record["channel_moves"]] == ["1.0.0"]


def test_apply_waits_for_the_registry_lock(example_project, mrp):
    example_project.registry.mkdir(parents=True)
    with filelock.FileLock(str(example_project.registry / ".lock")):
        result = mrp("-C", example_project.root, "apply", "--yes", "--lock-timeout", "0.2")

    assert result.exit_code == 1
    assert "another mrp apply holds the lock" in result.stderr
    assert list(example_project.registry.glob("*.git")) == []


def test_two_applies_at_once_release_each_version_once(example_project):
    processes = [
        subprocess.Popen([sys.executable, "-m", "pipeline", "-C", str(example_project.root), "apply", "--yes"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [process.communicate(timeout=120) for process in processes]

    assert [process.returncode for process in processes] == [0, 0], outputs
    finished = sorted("Apply complete" in out for out, _ in outputs)
    assert finished == [False, True]
    for name in ("digits-mlp", "diabetes-progression"):
        repo = example_project.registry / f"{name}.git"
        assert git(repo, "tag", "--list") == "v1.0.0"
        record = yaml.safe_load((example_project.ledger / name / "1.0.0.yaml").read_text())
        assert len(record["channel_moves"]) == 1


def test_registry_option_and_environment(example_project, tmp_path):
    option_registry = tmp_path / "from-option"
    env_registry = tmp_path / "from-env"

    by_option = run_mrp_process("apply", "--yes", "--registry", str(option_registry), cwd=example_project.root)
    by_env = run_mrp_process("apply", "--yes", cwd=example_project.root, env={"MRP_REGISTRY": str(env_registry)})

    assert by_option.returncode == 0, by_option.stderr
    assert by_env.returncode == 0, by_env.stderr
    assert (option_registry / "digits-mlp.git").is_dir()
    assert (env_registry / "digits-mlp.git").is_dir()
    assert not example_project.registry.exists()


@pytest.mark.parametrize("how", ["option", "environment"])
def test_unknown_target_is_rejected(example_project, how):
    args = ["plan", "--target", "ollama"] if how == "option" else ["plan"]
    env = {"MRP_TARGETS": "ollama"} if how == "environment" else {}

    result = run_mrp_process(*args, cwd=example_project.root, env=env)

    assert result.returncode == 1
    assert "unknown target 'ollama'; available: local" in result.stderr
