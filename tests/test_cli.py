"""Command-line conventions: exit codes, stdout for results, stderr for diagnostics."""

from __future__ import annotations

import json

from pipeline import operations
from pipeline.manifest.schema import json_schema
from tests.conftest import REPO_ROOT, run_mrp_process


def test_plan_json_is_pure_stdout_even_when_verbose(example_project):
    result = run_mrp_process("-vv", "plan", "--format", "json", cwd=example_project.root)

    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    assert plan["summary"] == {"create": 10, "update": 0, "delete": 0, "channel": 2, "rollback": 0}
    assert [action["resource"] for action in plan["actions"]][:2] == ["repository", "repository"]
    assert "mrp: INFO: loaded 2 manifests" in result.stderr


def test_detailed_exitcode_reports_changes(example_project, mrp):
    before = mrp("-C", example_project.root, "plan", "--detailed-exitcode")
    plain = mrp("-C", example_project.root, "plan")

    assert before.exit_code == 2
    assert plain.exit_code == 0


def test_markdown_plan_has_marker_summary_and_table(example_project, mrp):
    result = mrp("-C", example_project.root, "plan", "--format", "markdown")

    lines = result.stdout.splitlines()
    assert lines[0] == "<!-- mrp-plan -->"
    assert lines[1] == "**Plan: 10 to create, 0 to update, 2 channel moves. Gates: 0 failing, 2 waiting for evidence.**"
    assert any(line.startswith("| `digits-mlp` | 1.0.0 | dev | local dev: - → 1.0.0 and 5 other actions | "
                               "first release | 5/9 pass; benchmark missing, price-cost:dev missing") for line in lines), lines
    assert "<details><summary>All actions</summary>" in lines


def test_apply_without_terminal_needs_yes(example_project):
    result = run_mrp_process("apply", cwd=example_project.root, stdin="y\n")

    assert result.returncode == 1
    assert "refusing to apply without confirmation" in result.stderr
    assert result.stdout == ""
    assert not example_project.registry.exists()


def test_bug_exits_3_with_traceback_only_in_debug(example_project, mrp, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(operations, "validate", broken)
    quiet = mrp("-C", example_project.root, "validate")
    monkeypatch.setenv("MRP_DEBUG", "1")
    loud = mrp("-C", example_project.root, "validate")

    assert quiet.exit_code == 3
    assert "mrp hit a bug: RuntimeError: boom" in quiet.stderr
    assert "Traceback" not in quiet.stderr
    assert loud.exit_code == 3
    assert "Traceback" in loud.stderr


def test_interrupt_exits_130(example_project, mrp, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(operations, "validate", interrupted)

    assert mrp("-C", example_project.root, "validate").exit_code == 130


def test_usage_error_exits_1(mrp):
    result = mrp("plan", "--format", "yaml")

    assert result.exit_code == 1
    assert "Invalid value for '--format'" in result.stderr


def test_schema_matches_committed_file(mrp):
    result = mrp("schema")

    committed = json.loads((REPO_ROOT / "schema" / "manifest.schema.json").read_text())
    assert json.loads(result.stdout) == committed == json_schema()


def test_example_manifests_point_editors_at_schema():
    for manifest in sorted((REPO_ROOT / "models").glob("*.yaml")):
        first_line = manifest.read_text().splitlines()[0]
        assert first_line == "# yaml-language-server: $schema=../schema/manifest.schema.json", manifest


def test_python_dash_m_runs_the_cli(tmp_path):
    result = run_mrp_process("--version", cwd=tmp_path)

    assert result.returncode == 0
    assert result.stdout.startswith("mrp, version ")


def test_no_manifests_is_an_error(tmp_path, mrp):
    (tmp_path / "models").mkdir()

    result = mrp("-C", tmp_path, "validate")

    assert result.exit_code == 1
    assert "no manifests found; add models/NAME.yaml" in result.stderr


def test_outside_repository_names_folder(tmp_path, mrp):
    result = mrp("-C", tmp_path, "validate")

    assert result.exit_code == 1
    assert f"no manifests folder in {tmp_path}" in result.stderr
    assert "pass -C DIR" in result.stderr


def test_validate_lists_at_most_twenty_models(tmp_path, mrp):
    from benchmarks.synthetic import create_project

    project = create_project(tmp_path / "many", 25)

    result = mrp("-C", project.root, "validate")

    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("25 manifests valid: bench-0000 1.0.0 (dev), ")
    assert "bench-0019 1.0.0 (dev), and 5 more" in result.stdout
    assert "bench-0020" not in result.stdout


def test_rule_violations_reach_stderr_in_json(example_project, mrp):
    example_project.edit("digits-mlp", "channel: dev ", "channel: stable ")

    result = mrp("-C", example_project.root, "plan", "--format", "json")

    assert result.exit_code == 1
    assert json.loads(result.stdout)["violations"]
    assert "error: local: digits-mlp: 1.0.0 cannot enter" in result.stderr
