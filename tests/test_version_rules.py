"""Version bumps decided from what changed since the last release, written by mrp bump, enforced by validate."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from pipeline.config import load_project
from pipeline.manifest.load import load_manifests
from pipeline.version_rules import check_versions
from pipeline.versioning import compare, tag_name

DIGITS = Path("artifacts/digits-mlp")
DIABETES = Path("artifacts/diabetes-progression")


@pytest.fixture
def released(example_project, mrp):
    """The examples released as 1.0.0, with their snapshots in the ledger."""
    result = mrp("-C", example_project.root, "apply", "--yes")
    assert result.exit_code == 0, result.stderr
    return example_project


def edit_file(project, relative: Path | str, old: str, new: str) -> None:
    path = project.root / relative
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def decision_for(project, model: str):
    loaded = load_manifests(load_project(project.root), [model])
    decisions, _ = check_versions(load_project(project.root), loaded)
    return decisions[model]


def _relabel(project, order: list[str]) -> None:
    path = project.root / DIGITS / "config.json"
    config = json.loads(path.read_text())
    config["id2label"] = {str(index): label for index, label in enumerate(order)}
    path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")


def _set_config(project, key: str, value) -> None:
    path = project.root / DIGITS / "config.json"
    config = json.loads(path.read_text())
    config[key] = value
    path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")


TOP_K = "top_k: int = Input(\n            default=1,"
BUMP_CASES = [
    ("input removed", "digits-mlp",
     lambda p: edit_file(p, DIGITS / "predict.py", "        top_k: int = Input(", "        _unused: None = None,\n"
                         "        top_k_removed: int = Input("),
     "major", ["input `top_k` removed: major", "optional input `_unused` added: minor",
               "optional input `top_k_removed` added: minor", "predictor code or docs predict.py changed: patch"]),
    ("input renamed", "digits-mlp",
     lambda p: edit_file(p, DIGITS / "predict.py", "        pixels: str = Input(", "        image: str = Input("),
     "major", ["input `pixels` removed: major", "required input `image` added: major",
               "predictor code or docs predict.py changed: patch"]),
    ("input retyped", "digits-mlp",
     lambda p: edit_file(p, DIGITS / "predict.py", "        top_k: int = Input(", "        top_k: float = Input("),
     "major", ["input `top_k` type changed from int to float: major",
               "predictor code or docs predict.py changed: patch"]),
    ("required input added", "digits-mlp",
     lambda p: edit_file(p, DIGITS / "predict.py", "        pixels: str = Input(",
                         "        scale: float,\n        pixels: str = Input("),
     "major", ["required input `scale` added: major", "predictor code or docs predict.py changed: patch"]),
    ("optional input added", "digits-mlp",
     lambda p: edit_file(p, DIGITS / "predict.py", "        pixels: str = Input(",
                         "        scale: float = Input(default=1.0, ge=0.5, le=2.0),\n        pixels: str = Input("),
     "minor", ["optional input `scale` added: minor", "predictor code or docs predict.py changed: patch"]),
    ("le lowered", "digits-mlp",
     lambda p: edit_file(p, DIGITS / "predict.py", "le=10", "le=5"),
     "major", ["`le` of input `top_k` narrowed from 10 to 5: major",
               "predictor code or docs predict.py changed: patch"]),
    ("le raised", "digits-mlp",
     lambda p: edit_file(p, DIGITS / "predict.py", "le=10", "le=20"),
     "minor", ["`le` of input `top_k` widened from 10 to 20: minor",
               "predictor code or docs predict.py changed: patch"]),
    ("default changed", "digits-mlp",
     lambda p: edit_file(p, DIGITS / "predict.py", "default=1,", "default=3,"),
     "major", ["default of input `top_k` changed from 1 to 3: major",
               "predictor code or docs predict.py changed: patch"]),
    ("choice removed", "diabetes-progression",
     lambda p: edit_file(p, DIABETES / "predict.py", "choices=[1, 2]", "choices=[1]"),
     "major", ["`choices` of input `sex` narrowed from [1, 2] to [1]: major",
               "predictor code or docs predict.py changed: patch"]),
    ("choice added", "diabetes-progression",
     lambda p: edit_file(p, DIABETES / "predict.py", "choices=[1, 2]", "choices=[1, 2, 3]"),
     "minor", ["`choices` of input `sex` widened from [1, 2] to [1, 2, 3]: minor",
               "predictor code or docs predict.py changed: patch"]),
    ("output changed", "diabetes-progression",
     lambda p: edit_file(p, DIABETES / "predict.py", "    ) -> float:", "    ) -> str:"),
     "major", ["output type changed from float to str: major", "predictor code or docs predict.py changed: patch"]),
    ("labels reordered", "digits-mlp",
     lambda p: _relabel(p, ["1", "0", "2", "3", "4", "5", "6", "7", "8", "9"]),
     "major", ["artifact config.json changed: minor", "labels reordered: major"]),
    ("labels changed", "digits-mlp",
     lambda p: _relabel(p, ["zero", "1", "2", "3", "4", "5", "6", "7", "8", "9"]),
     "major", ["artifact config.json changed: minor",
               "labels changed from ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'] to "
               "['zero', '1', '2', '3', '4', '5', '6', '7', '8', '9']: major"]),
    ("architecture changed", "digits-mlp",
     lambda p: _set_config(p, "architectures", ["DigitsCNN"]),
     "major", ["artifact config.json changed: minor",
               "architectures changed from ['MLPClassifier'] to ['DigitsCNN']: major"]),
    ("model type changed", "digits-mlp",
     lambda p: _set_config(p, "model_type", "cnn"),
     "major", ["artifact config.json changed: minor", "model_type changed from mlp to cnn: major"]),
    ("task changed", "digits-mlp",
     lambda p: p.edit("digits-mlp", "pipeline_tag: image-classification", "pipeline_tag: tabular-classification"),
     "major", ["task changed from image-classification to tabular-classification: major",
               "model card changed: patch"]),
    ("new weights", "digits-mlp",
     lambda p: (p.root / DIGITS / "model.safetensors").write_bytes(
         (p.root / DIGITS / "model.safetensors").read_bytes()[:-4] + b"\x00\x00\x80\x3f"),
     "minor", ["artifact model.safetensors changed: minor"]),
    ("predictor code fix", "digits-mlp",
     lambda p: edit_file(p, DIGITS / "predict.py", "MAX_PIXEL = 16", "MAX_PIXEL = 16  # load_digits() maximum"),
     "patch", ["predictor code or docs predict.py changed: patch"]),
    ("card text", "digits-mlp",
     lambda p: p.edit("digits-mlp", "must not be used to read", "should not be used to read"),
     "patch", ["model card changed: patch"]),
    ("pricing and hardware", "digits-mlp",
     lambda p: (p.edit("digits-mlp", "per_run: 0.001}", "per_run: 0.002}"),
                p.edit("digits-mlp", "max_instances: 3", "max_instances: 4"),
                p.edit("digits-mlp", "accuracy: {min: 0.95}", "accuracy: {min: 0.9}")),
     "none", []),
]


@pytest.mark.parametrize("case_id, model, change, bump, reasons", BUMP_CASES, ids=[case[0] for case in BUMP_CASES])
def test_bump_decision(released, case_id, model, change, bump, reasons):
    change(released)

    decision = decision_for(released, model)

    assert decision.baseline == "1.0.0"
    assert decision.bump == bump
    assert sorted(decision.reasons) == sorted(reasons)


def test_bump_writes_required_version(released, mrp):
    (released.root / DIGITS / "model.safetensors").write_bytes(b"retrained" * 100)

    dry = mrp("-C", released.root, "bump", "--dry-run", "digits-mlp")
    assert "version: 1.0.0\n" in released.manifest("digits-mlp").read_text()
    written = mrp("-C", released.root, "bump")
    again = mrp("-C", released.root, "bump", "digits-mlp")

    assert dry.exit_code == 0
    assert "digits-mlp: would change 1.0.0 -> 1.1.0" in dry.stdout
    assert written.exit_code == 0
    assert "digits-mlp: changed 1.0.0 -> 1.1.0\n    artifact model.safetensors changed: minor" in written.stdout
    assert "diabetes-progression: 1.0.0 needs no bump (no changes since 1.0.0)" in written.stdout
    assert "version: 1.1.0\n" in released.manifest("digits-mlp").read_text()
    assert "digits-mlp: 1.1.0 needs no bump" in again.stdout
    assert mrp("-C", released.root, "validate").exit_code == 0


def test_validate_rejects_too_small_bump(released, mrp):
    edit_file(released, DIGITS / "predict.py", "        pixels: str = Input(", "        image: str = Input(")
    released.edit("digits-mlp", "version: 1.0.0", "version: 1.1.0")

    result = mrp("-C", released.root, "validate")

    assert result.exit_code == 1
    assert "models/digits-mlp.yaml:5:10: version: version 1.1.0 is lower than the major bump this change needs: " \
           "set version: 2.0.0 (input `pixels` removed: major; required input `image` added: major" in result.stderr


def test_validate_rejects_version_going_backwards(released, mrp):
    (released.root / DIGITS / "model.safetensors").write_bytes(b"retrained" * 100)
    released.edit("digits-mlp", "version: 1.0.0", "version: 0.9.0")

    result = mrp("-C", released.root, "validate")

    assert result.exit_code == 1
    assert "version 0.9.0 goes backwards: the last release is 1.0.0. Set version: 1.1.0 or higher" in result.stderr


def test_major_bump_needs_migration_note(released, mrp):
    edit_file(released, DIGITS / "predict.py", "        top_k: int = Input(", "        top_k: float = Input(")
    released.edit("digits-mlp", "version: 1.0.0", "version: 2.0.0")

    without = mrp("-C", released.root, "validate")
    released.edit("digits-mlp", "migration: null", "migration: top_k is now a float; round it before calling.")
    with_note = mrp("-C", released.root, "plan", "digits-mlp")

    assert without.exit_code == 1
    assert "2.0.0 is a major release after 1.0.0: add a migration note" in without.stderr
    assert with_note.exit_code == 0, with_note.stderr
    assert "version: major from 1.0.0: input `top_k` type changed from int to float: major" in with_note.stdout


def test_migration_and_deprecations_in_card(released, mrp):
    edit_file(released, DIGITS / "predict.py", "        top_k: int = Input(", "        top_k: float = Input(")
    released.edit("digits-mlp", "version: 1.0.0", "version: 2.0.0")
    released.edit("digits-mlp", "migration: null", "migration: top_k is now a float.")
    released.edit("digits-mlp", "deprecations: []",
                  "deprecations:\n  - {version: 1.0.0, deprecated_on: 2026-12-04, note: Move to 2.0.0}")

    assert mrp("-C", released.root, "apply", "--yes", "digits-mlp").exit_code == 0

    card = subprocess.run(["git", "show", "v2.0.0:README.md"], cwd=released.registry / "digits-mlp.git",
                          check=True, capture_output=True, text=True).stdout
    assert "## Migrating to 2.0.0\n\ntop_k is now a float." in card
    assert "Supported: 2.0.0 (this version)." in card
    assert "| 1.0.0 | 2026-12-04 | 2027-06-04 | Move to 2.0.0 |" in card


def test_rollback_to_released_version_is_valid(released, mrp):
    (released.root / DIGITS / "NOTES.md").write_text("retrained\n")
    released.edit("digits-mlp", "version: 1.0.0", "version: 1.0.1")
    assert mrp("-C", released.root, "apply", "--yes").exit_code == 0
    (released.root / DIGITS / "NOTES.md").unlink()
    released.edit("digits-mlp", "version: 1.0.1", "version: 1.0.0")

    result = mrp("-C", released.root, "plan", "digits-mlp")

    assert result.exit_code == 0, result.stderr
    assert "roll back channel dev: 1.0.1 -> 1.0.0" in result.stdout


def test_prerelease_never_on_stable(example_project, mrp):
    example_project.edit("digits-mlp", "version: 1.0.0", "version: 1.0.0-rc.1")
    example_project.edit("digits-mlp", "channel: dev ", "channel: stable ")

    result = mrp("-C", example_project.root, "validate")

    assert result.exit_code == 1
    assert "the prerelease 1.0.0-rc.1 may sit on dev or staging, never on stable; release 1.0.0" in result.stderr


def test_uncommitted_change_compared_with_head_without_ledger(example_project, mrp):
    (example_project.root / DIGITS / "model.safetensors").write_bytes(b"retrained" * 100)

    result = mrp("-C", example_project.root, "validate")

    assert result.exit_code == 1
    assert "version 1.0.0 is already released with other artifacts" in result.stderr
    assert "Set version: 1.1.0 (artifact model.safetensors changed: minor)" in result.stderr


def test_staged_change_compared_with_head(example_project, mrp):
    (example_project.root / DIGITS / "model.safetensors").write_bytes(b"retrained" * 100)
    example_project.git("add", "-A")

    result = mrp("-C", example_project.root, "validate")

    assert result.exit_code == 1
    assert "Set version: 1.1.0 (artifact model.safetensors changed: minor)" in result.stderr


def test_untracked_artifact_compared_with_head(example_project, mrp):
    (example_project.root / DIGITS / "calibration.json").write_text("{}")

    result = mrp("-C", example_project.root, "validate")

    assert result.exit_code == 1
    assert "version 1.0.0 is already released with other artifacts" in result.stderr
    assert "calibration.json" in result.stderr


def test_git_history_read_once(example_project, mrp, monkeypatch):
    import git

    commands = []
    execute = git.cmd.Git.execute

    def recording(self, command, *args, **kwargs):
        commands.append(command[1] if len(command) > 1 else command[0])
        return execute(self, command, *args, **kwargs)

    monkeypatch.setattr(git.cmd.Git, "execute", recording)
    for model in ("digits-mlp", "diabetes-progression"):
        (example_project.root / "artifacts" / model / "notes.txt").write_text("retrained\n")

    result = mrp("-C", example_project.root, "validate")

    assert result.exit_code == 1, result.stderr
    assert result.stderr.count("is already released") == 2
    assert commands.count("status") == 1
    assert commands.count("log") == 1


def test_committed_change_compared_with_previous_version_in_git(example_project, mrp):
    (example_project.root / DIGITS / "model.safetensors").write_bytes(b"retrained" * 100)
    example_project.edit("digits-mlp", "version: 1.0.0", "version: 1.0.1")
    example_project.git("-c", "user.name=Test", "-c", "user.email=test@example.invalid", "commit", "-qam", "retrain")

    result = mrp("-C", example_project.root, "validate", "digits-mlp")

    assert result.exit_code == 1
    assert "version 1.0.1 is lower than the minor bump this change needs: set version: 1.1.0" in result.stderr


@pytest.mark.parametrize("ordered", [
    ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11",
     "1.0.0-rc.1", "1.0.0-rc.9", "1.0.0-rc.10", "1.0.0"],
])
def test_semver_precedence(ordered):
    for lower, higher in zip(ordered, ordered[1:]):
        assert compare(lower, higher) == -1, (lower, higher)


def test_build_metadata_ignored_for_identity(example_project, mrp):
    example_project.edit("digits-mlp", "version: 1.0.0", "version: 1.0.0+build.7")
    assert mrp("-C", example_project.root, "apply", "--yes").exit_code == 0
    example_project.edit("digits-mlp", "version: 1.0.0+build.7", "version: 1.0.0+build.8")

    result = mrp("-C", example_project.root, "plan", "--detailed-exitcode")

    assert tag_name("1.0.0+build.7") == "v1.0.0"
    assert result.exit_code == 0, result.stdout + result.stderr


ROUND_TRIP_MANIFEST = """\
# yaml-language-server: $schema=../schema/manifest.schema.json
name: digits-mlp   # the model
version: '1.0.0'    # quoted on purpose

channel: dev
defaults: &scale {sku: cpu, min_instances: 0, max_instances: 1}
list: [a, "b", 'c']
nested:
  - {x: 1}   # flow mapping in a list
  - *scale
"""


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
@pytest.mark.parametrize("bom", ["", "\ufeff"])
def test_version_edit_changes_only_version(tmp_path, newline, bom):
    from pipeline.manifest.edit import set_version

    path = tmp_path / "digits-mlp.yaml"
    original = (bom + ROUND_TRIP_MANIFEST.replace("\n", newline)).encode("utf-8")
    path.write_bytes(original)

    set_version(path, "1.0.0", "1.1.0")

    expected = original.replace(b"version: '1.0.0'", b"version: '1.1.0'")
    assert path.read_bytes() == expected


def test_version_edit_of_plain_scalar(tmp_path):
    from pipeline.manifest.edit import set_version

    path = tmp_path / "m.yaml"
    path.write_text("name: m\nversion: 1.0.0 # keep this comment\nchannel: dev\n")

    set_version(path, "1.0.0", "2.0.0")

    assert path.read_text() == "name: m\nversion: 2.0.0 # keep this comment\nchannel: dev\n"


def test_version_edit_rejects_alias(tmp_path):
    from pipeline.errors import MrpError
    from pipeline.manifest.edit import set_version

    path = tmp_path / "m.yaml"
    path.write_text("base: &v 1.0.0\nname: m\nversion: *v\n")

    with pytest.raises(MrpError, match=re.escape("set version: 1.1.0 by hand")):
        set_version(path, "1.0.0", "1.1.0")
    assert path.read_text() == "base: &v 1.0.0\nname: m\nversion: *v\n"
