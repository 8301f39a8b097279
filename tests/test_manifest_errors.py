"""Bad manifests: each gives exit 1, a message with file:line and the fix, and no registry writes."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from pipeline.config import load_project
from pipeline.errors import ManifestError
from pipeline.manifest.load import load_manifests

DIGITS = "models/digits-mlp.yaml"


def _replace(project, old: str, new: str) -> None:
    project.edit("digits-mlp", old, new)


def _write(project, text: str) -> None:
    project.manifest("digits-mlp").write_text(text, encoding="utf-8")


def _bomb(project) -> None:
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for index in range(1, 9):
        previous = chr(ord("a") + index - 1)
        current = chr(ord("a") + index)
        lines.append(f"{current}: &{current} [" + ", ".join([f"*{previous}"] * 10) + "]")
    _write(project, "\n".join(lines) + "\n")


def _escape_symlink(project) -> None:
    outside = project.root.parent / "outside"
    outside.mkdir()
    (outside / "weights.bin").write_bytes(b"secret")
    os.symlink(outside, project.root / "artifacts" / "digits-mlp" / "linked")


def _second_manifest_same_repo(project) -> None:
    text = project.manifest("diabetes-progression").read_text(encoding="utf-8")
    project.manifest("diabetes-progression").write_text(
        text.replace("repo: acme/diabetes-progression", "repo: acme/digits-mlp"), encoding="utf-8")


# (case id, how to break the project, file, line or None, field, words the message must contain)
CASES = [
    ("yaml-syntax", lambda p: _replace(p, "channel: dev ", "channel: [dev "), DIGITS, None, "",
     ["invalid YAML"]),
    ("tab-indent", lambda p: _replace(p, "  path: artifacts/digits-mlp", "\tpath: artifacts/digits-mlp"), DIGITS, 10,
     "", ["tab", "spaces"]),
    ("unknown-key", lambda p: _replace(p, "channel: dev", "chanel: dev"), DIGITS, 6, "chanel",
     ["unknown key `chanel`", "did you mean `channel`"]),
    ("version-float", lambda p: _replace(p, "version: 1.0.0", "version: 1.2"), DIGITS, 5, "version",
     ["expected a version string", "1.2"]),
    ("version-v-prefix", lambda p: _replace(p, "version: 1.0.0", "version: v1.2.3"), DIGITS, 5, "version",
     ["write 1.2.3; tags are named v1.2.3 by the tool"]),
    ("version-not-semver", lambda p: _replace(p, "version: 1.0.0", "version: '1.0'"), DIGITS, 5, "version",
     ["not a semantic version"]),
    ("channel-prod", lambda p: _replace(p, "channel: dev", "channel: prod"), DIGITS, 6, "channel",
     ["'prod'", "dev", "staging", "stable"]),
    ("artifacts-traversal", lambda p: _replace(p, "path: artifacts/digits-mlp", "path: ../../etc"), DIGITS, 10,
     "artifacts.path", ["outside the repository"]),
    ("artifacts-absolute", lambda p: _replace(p, "path: artifacts/digits-mlp", "path: /etc"), DIGITS, 10,
     "artifacts.path", ["absolute path"]),
    ("artifacts-symlink-escape", _escape_symlink, DIGITS, 10, "artifacts.path", ["outside the repository"]),
    ("artifacts-missing", lambda p: _replace(p, "path: artifacts/digits-mlp", "path: artifacts/nothing-here"),
     DIGITS, 10, "artifacts.path", ["does not exist"]),
    ("eval-set-missing", lambda p: _replace(p, "dataset: eval/digits-mlp.jsonl", "dataset: eval/nothing.jsonl"),
     DIGITS, 76, "gates.benchmark.dataset", ["eval/nothing.jsonl is not a file in the repository", "fix the path"]),
    ("alias-bomb", _bomb, DIGITS, 1, "", ["expands to more than", "aliases"]),
    ("python-tag", lambda p: _replace(p, "license: apache-2.0", "license: !!python/object/apply:os.system [id]"),
     DIGITS, 8, "license", ["tag", "not allowed"]),
    ("custom-tag", lambda p: _replace(p, "license: apache-2.0", "license: !secret apache"), DIGITS, 8, "license",
     ["tag !secret is not allowed"]),
    ("empty-file", lambda p: _write(p, ""), DIGITS, None, "", ["empty"]),
    ("comment-only", lambda p: _write(p, "# nothing yet\n"), DIGITS, None, "", ["no YAML content"]),
    ("oversize", lambda p: _write(p, "name: digits-mlp\n" + "# padding\n" * 120_000), DIGITS, None, "",
     ["over the limit"]),
    ("top-level-list", lambda p: _write(p, "- name: digits-mlp\n"), DIGITS, 1, "", ["must be a mapping"]),
    ("duplicate-key", lambda p: _replace(p, "channel: dev", "channel: dev\nchannel: stable"), DIGITS, 7, "channel",
     ["duplicate key `channel`", "line 6"]),
    ("two-manifests-one-repo", _second_manifest_same_repo, DIGITS, 47,
     "targets.huggingface.repo", ["acme/digits-mlp", "also used by models/diabetes-progression.yaml"]),
    ("name-mismatch", lambda p: _replace(p, "name: digits-mlp", "name: digits"), DIGITS, 4, "name",
     ["differs from the file name"]),
    ("missing-key", lambda p: _replace(p, "license: apache-2.0\n", ""), DIGITS, 4, "license",
     ["missing required key `license`"]),
    ("bad-instances", lambda p: _replace(p, "max_instances: 3", "max_instances: 30"), DIGITS, None,
     "hardware.stable.max_instances", ["give a value <= 20"]),
    ("unknown-sku", lambda p: _replace(p, "    sku: cpu\n    min_instances: 0\n    max_instances: 3",
                                       "    sku: gpu-x9\n    min_instances: 0\n    max_instances: 3"),
     DIGITS, None, "hardware.stable.sku", ["unknown hardware SKU", "gpu-t4"]),
    ("nan-price", lambda p: _replace(p, "per_run: 0.0002", "per_run: .nan"), DIGITS, None, "pricing.tiers[2].per_run",
     ["finite"]),
    ("license-unknown", lambda p: _replace(p, "license: apache-2.0", "license: apache"), DIGITS, 8, "license",
     ["not a license identifier"]),
    ("bad-repo-id", lambda p: _replace(p, "repo: acme/digits-mlp", "repo: acme/digits mlp"), DIGITS, None,
     "targets.huggingface.repo", ["namespace/name"]),
]


@pytest.mark.parametrize("case_id, breaker, file, line, field, words", CASES, ids=[case[0] for case in CASES])
def test_bad_manifest_rejected(example_project, mrp, case_id, breaker, file, line, field, words):
    breaker(example_project)

    result = mrp("-C", example_project.root, "plan")

    assert result.exit_code == 1
    assert result.stdout == ""
    location = f"{file}:{line}:" if line else f"{file}"
    assert location in result.stderr
    if field:
        assert f" {field}:" in result.stderr
    for word in words:
        assert word in result.stderr
    assert not example_project.registry.exists()


def test_all_problems_of_all_files_in_one_run(example_project):
    example_project.edit("digits-mlp", "channel: dev", "chanel: dev")
    example_project.edit("digits-mlp", "version: 1.0.0", "version: v1.0.0")
    example_project.edit("diabetes-progression", "channel: dev", "channel: prod")

    with pytest.raises(ManifestError) as caught:
        load_manifests(load_project(example_project.root))

    fields = sorted((problem.file, problem.field) for problem in caught.value.problems)
    assert fields == [
        ("models/diabetes-progression.yaml", "channel"),
        ("models/digits-mlp.yaml", "chanel"),
        ("models/digits-mlp.yaml", "version"),
    ]


def test_misspelt_key_not_also_reported_missing(example_project, mrp):
    example_project.edit("digits-mlp", "channel: dev", "chanel: dev")
    example_project.edit("digits-mlp", "  summary: >-", "  sumary: >-")
    example_project.edit("digits-mlp", "license: apache-2.0", "terms: apache-2.0")

    result = mrp("-C", example_project.root, "validate")

    assert result.exit_code == 1
    assert "unknown key `chanel`; did you mean `channel`?" in result.stderr
    assert "unknown key `sumary`; did you mean `summary`?" in result.stderr
    assert "missing required key `channel`" not in result.stderr
    assert "missing required key `summary`" not in result.stderr
    assert "missing required key `license`" in result.stderr


def test_duplicate_model_names_name_both_files(example_project):
    text = example_project.manifest("digits-mlp").read_text(encoding="utf-8")
    copy = example_project.root / "models" / "digits-copy.yaml"
    copy.write_text(text, encoding="utf-8")

    with pytest.raises(ManifestError) as caught:
        load_manifests(load_project(example_project.root))

    messages = [str(problem) for problem in caught.value.problems]
    assert any(message.startswith("models/digits-mlp.yaml:4:7: name: model name 'digits-mlp' is also used by "
                                  "models/digits-copy.yaml") for message in messages), messages


def test_problem_positions_point_at_the_value(example_project):
    example_project.edit("digits-mlp", "    max_instances: 3", "    max_instances: many")

    with pytest.raises(ManifestError) as caught:
        load_manifests(load_project(example_project.root))

    (problem,) = caught.value.problems
    lines = example_project.manifest("digits-mlp").read_text(encoding="utf-8").splitlines()
    assert lines[problem.line - 1][problem.column - 1:].startswith("many")


def test_unknown_model_name_suggests(example_project, mrp):
    result = mrp("-C", example_project.root, "validate", "digits-mpl")

    assert result.exit_code == 1
    assert "no manifest for model 'digits-mpl'; did you mean `digits-mlp`?" in result.stderr


def test_artifact_fifo_rejected(example_project, mrp):
    os.mkfifo(example_project.root / "artifacts" / "digits-mlp" / "pipe")

    result = mrp("-C", example_project.root, "validate")

    assert result.exit_code == 1
    assert "pipe is not a regular file" in result.stderr


def test_artifact_symlink_loop_rejected(example_project, mrp):
    folder = example_project.root / "artifacts" / "digits-mlp"
    os.symlink(folder, folder / "again")

    result = mrp("-C", example_project.root, "validate")

    assert result.exit_code == 1
    assert re.search(r"again.*(loop|links back)", result.stderr)


def test_empty_artifact_rejected(example_project, mrp):
    (example_project.root / "artifacts" / "digits-mlp" / "weights.bin").write_bytes(b"")

    result = mrp("-C", example_project.root, "validate")

    assert result.exit_code == 1
    assert "weights.bin is empty" in result.stderr


def test_examples_are_valid(example_project, mrp):
    result = mrp("-C", example_project.root, "validate")

    assert result.exit_code == 0, result.stderr
    assert "2 manifests valid" in result.stdout


def test_yaml_anchors_and_merge_keys_accepted(example_project):
    example_project.edit("digits-mlp", "  stable:\n    sku: cpu\n    min_instances: 0\n    max_instances: 3",
                         "  stable:\n    <<: *cpu-small-scale\n    max_instances: 3")

    (loaded,) = load_manifests(load_project(example_project.root), ["digits-mlp"])

    assert loaded.manifest.hardware.stable.max_instances == 3
    assert loaded.manifest.hardware.stable.sku == "cpu"
