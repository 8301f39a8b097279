"""GitHub use: annotations, the plan comment and its size cap, --changed-since, and the workflows."""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

import pytest
import yaml

from pipeline.errors import Problem
from pipeline.github import annotation
from pipeline.plan.model import Action, Kind, LiveState, ModelSummary, Plan, Resource, fingerprint
from pipeline.plan.render import COMMENT_LIMIT, FULL_PLAN_POINTER, MARKDOWN_MARKER, render_markdown
from tests.conftest import REPO_ROOT, run_mrp_process

WORKFLOWS = REPO_ROOT / ".github" / "workflows"
GIT_USER = ("-c", "user.name=Test", "-c", "user.email=test@example.invalid")


def commit(project, message: str) -> None:
    project.git("add", "-A")
    project.git(*GIT_USER, "commit", "-q", "-m", message)


def test_annotation_escapes_values():
    problem = Problem("models/a,b.yaml", 3, 7, "channel", "'prod' is not allowed: use dev\nor stable 100%")

    line = annotation(problem)

    assert line == ("::error file=models/a%2Cb.yaml,line=3,col=7::channel: 'prod' is not allowed: use dev%0Aor "
                    "stable 100%25")


def test_validate_github_format(example_project, mrp):
    example_project.edit("digits-mlp", "channel: dev", "channel: prod")

    result = mrp("-C", example_project.root, "validate", "--format", "github")

    assert result.exit_code == 1
    assert result.stdout.startswith("::error file=models/digits-mlp.yaml,line=6,col=10::channel: 'prod' is not "
                                    "allowed")


def _big_plan(models: int, actions_per_model: int) -> Plan:
    summaries, actions = [], []
    for index in range(models):
        name = f"model-{index:03d}"
        summaries.append(ModelSummary(name, "1.0.0", "dev", f"models/{name}.yaml", "first release",
                                      ({"gate": "benchmark", "status": "missing", "message": "run mrp bench"},)))
        actions += [Action("huggingface", name, Resource.SETTING, Kind.CREATE, f"setting.{step}", None,
                           {"value": "x" * 40}, "not set on this target yet")
                    for step in range(actions_per_model)]
    live = tuple(LiveState("huggingface", summary.name) for summary in summaries)
    return Plan(tuple(actions), (), tuple(summaries), live, fingerprint(live))


def test_comment_capped_with_full_table():
    plan = _big_plan(150, 10)

    body = render_markdown(plan)
    uncapped = render_markdown(plan, limit=10**9)

    assert len(uncapped) > 180_000
    assert len(body) <= COMMENT_LIMIT
    assert body.startswith(MARKDOWN_MARKER + "\n")
    assert all(f"| `model-{index:03d}` |" in body for index in range(150))
    assert FULL_PLAN_POINTER in body
    left = int(re.search(r"\*(\d+) of 1500 action lines left out\.\*", body).group(1))
    assert left == 1500 - body.count("create setting")
    assert body.rstrip().endswith(FULL_PLAN_POINTER)


def test_comment_of_huge_table_stays_under_limit():
    body = render_markdown(_big_plan(1000, 1))

    assert len(body) <= COMMENT_LIMIT
    assert re.search(r"\| … \| \d+ more models \|", body)


def test_step_summary_gets_the_plan(example_project, mrp, monkeypatch, tmp_path):
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))

    mrp("-C", example_project.root, "plan")

    assert summary.read_text().startswith(MARKDOWN_MARKER)


def _branch(project, name: str) -> None:
    project.git("checkout", "-q", "-b", name)


def test_changed_since_artifact_only_change(example_project, mrp):
    _branch(example_project, "change")
    (example_project.root / "artifacts" / "diabetes-progression" / "NOTES.md").write_text("notes\n")
    example_project.edit("diabetes-progression", "version: 1.0.0", "version: 1.0.1")
    commit(example_project, "notes")

    result = mrp("-C", example_project.root, "plan", "--changed-since", "main", "--format", "json")

    assert result.exit_code == 0, result.stderr
    assert [model["name"] for model in yaml.safe_load(result.stdout)["models"]] == ["diabetes-progression"]


def test_changed_since_only_eval_set(example_project, mrp):
    _branch(example_project, "change")
    path = example_project.root / "eval" / "digits-mlp.jsonl"
    path.write_text(path.read_text() + path.read_text().splitlines()[0] + "\n")

    result = mrp("-C", example_project.root, "plan", "--changed-since", "main", "--format", "json")

    assert [model["name"] for model in yaml.safe_load(result.stdout)["models"]] == ["digits-mlp"]


def test_changed_since_rename_and_delete(example_project, mrp):
    _branch(example_project, "change")
    text = example_project.manifest("digits-mlp").read_text()
    example_project.git("mv", "models/digits-mlp.yaml", "models/digits-small.yaml")
    example_project.manifest("digits-small").write_text(
        text.replace("name: digits-mlp", "name: digits-small").replace("repository: digits-mlp",
                                                                       "repository: digits-small"))
    example_project.git("rm", "-q", "models/diabetes-progression.yaml")
    commit(example_project, "rename and delete")

    result = mrp("-C", example_project.root, "plan", "--changed-since", "main", "--format", "json")

    assert result.exit_code == 0, result.stderr
    assert [model["name"] for model in yaml.safe_load(result.stdout)["models"]] == ["digits-small"]
    assert "manifests deleted since main: diabetes-progression, digits-mlp; their releases stay" in result.stderr


def test_changed_since_include_drift(example_project, mrp):
    assert mrp("-C", example_project.root, "apply", "--yes").exit_code == 0
    subprocess.run(["git", "update-ref", "-d", "refs/heads/dev"],
                   cwd=example_project.registry / "diabetes-progression.git", check=True)
    _branch(example_project, "change")

    plain = mrp("-C", example_project.root, "plan", "--changed-since", "main", "--format", "json")
    drift = mrp("-C", example_project.root, "plan", "--changed-since", "main", "--include-drift", "--format", "json")

    assert yaml.safe_load(plain.stdout)["models"] == []
    assert [model["name"] for model in yaml.safe_load(drift.stdout)["models"]] == ["diabetes-progression"]


def test_changed_since_unknown_ref(example_project, mrp):
    result = mrp("-C", example_project.root, "plan", "--changed-since", "origin/nowhere")

    assert result.exit_code == 1
    assert "--changed-since origin/nowhere: not a commit or branch this repository knows" in result.stderr


def test_hostile_branch_name_printed_literally(example_project):
    marker = example_project.root / "pwned"
    branch = "x$(touch${IFS}pwned)"
    _branch(example_project, branch)
    example_project.edit("digits-mlp", "channel: dev ", "channel: dev  ")
    commit(example_project, "touch")

    result = run_mrp_process("plan", "--changed-since", "main", cwd=example_project.root)

    assert result.returncode == 0, result.stderr
    assert f"changed between main and {branch}" in result.stderr
    assert not marker.exists()


def test_fork_pull_request_plans_without_secrets(example_project):
    from pipeline.emulators.base import Emulator
    from pipeline.emulators.hub import HubApp

    hub = Emulator(HubApp()).__enter__()
    env = {"HF_TOKEN": "", "REPLICATE_API_TOKEN": "", "HF_ENDPOINT": hub.url,
           "REPLICATE_BASE_URL": "http://127.0.0.1:9", "MRP_TARGETS": "huggingface,replicate"}
    _branch(example_project, "fork-change")
    example_project.edit("diabetes-progression", "limitations: >-", "limitations: >-\n    Updated.")
    example_project.edit("diabetes-progression", "version: 1.0.0", "version: 1.0.1")
    commit(example_project, "card")

    clean = run_mrp_process("plan", "--changed-since", "main", cwd=example_project.root, env=env)
    example_project.edit("diabetes-progression", "version: 1.0.1", "version: v1.0.2")
    broken = run_mrp_process("plan", "--changed-since", "main", cwd=example_project.root, env=env)

    hub.stop()
    assert clean.returncode == 0, clean.stderr
    assert "huggingface  not read: no credentials" in clean.stdout
    assert "replicate    not read: no credentials (REPLICATE_API_TOKEN is not set)" in clean.stdout
    assert "create" not in clean.stdout
    assert broken.returncode == 1
    assert "write 1.0.2; tags are named v1.0.2 by the tool" in broken.stderr


def test_three_merges_applied_by_the_last_run(example_project, mrp):
    assert mrp("-C", example_project.root, "apply", "--yes").exit_code == 0
    assert mrp("-C", example_project.root, "bench", "digits-mlp").exit_code == 0
    assert mrp("-C", example_project.root, "bench", "diabetes-progression").exit_code == 0
    commit(example_project, "evidence")
    example_project.edit("digits-mlp", "channel: dev ", "channel: staging ")
    commit(example_project, "promote digits")
    example_project.edit("diabetes-progression", "channel: dev", "channel: staging")
    commit(example_project, "promote diabetes")
    example_project.edit("digits-mlp", "max_instances: 3", "max_instances: 4")
    commit(example_project, "scale digits")

    applied = mrp("-C", example_project.root, "apply", "--yes")
    again = mrp("-C", example_project.root, "plan", "--detailed-exitcode")

    assert applied.exit_code == 0, applied.stderr
    assert again.exit_code == 0
    for name in ("digits-mlp", "diabetes-progression"):
        repo = example_project.registry / f"{name}.git"
        tags = subprocess.run(["git", "tag"], cwd=repo, capture_output=True, text=True, check=True).stdout.split()
        assert tags == ["v1.0.0"]
        staging = subprocess.run(["git", "rev-parse", "staging"], cwd=repo, capture_output=True, text=True).stdout
        tagged = subprocess.run(["git", "rev-parse", "v1.0.0^{commit}"], cwd=repo, capture_output=True,
                                text=True).stdout
        assert staging == tagged


def _run_scripts() -> list[tuple[str, str]]:
    found = []
    for path in sorted(WORKFLOWS.glob("*.yml")):
        workflow = yaml.safe_load(path.read_text())
        for job in workflow["jobs"].values():
            found += [(path.name, step["run"]) for step in job["steps"] if "run" in step]
    action = yaml.safe_load((REPO_ROOT / "action.yml").read_text())
    found += [("action.yml", step["run"]) for step in action["runs"]["steps"]]
    return found


def test_workflows_never_interpolate_into_scripts():
    for name, script in _run_scripts():
        assert "${{" not in script, f"{name}: a run: script contains an expression; pass it through env:"


def test_workflows_pin_actions_by_commit():
    for path in sorted(WORKFLOWS.glob("*.yml")):
        for line in path.read_text().splitlines():
            match = re.search(r"uses:\s*([^\s#]+)", line)
            if match:
                assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", match.group(1)), f"{path.name}: {line.strip()}"


def test_workflows_grant_least_permissions():
    for path in sorted(WORKFLOWS.glob("*.yml")):
        workflow = yaml.safe_load(path.read_text())
        assert workflow["permissions"] == {}, path.name
        on = workflow.get(True, workflow.get("on"))
        assert "pull_request_target" not in on, path.name
        for job in workflow["jobs"].values():
            assert "write-all" not in str(job.get("permissions")), path.name


def test_apply_workflow_never_cancels():
    workflow = yaml.safe_load((WORKFLOWS / "apply.yml").read_text())

    assert workflow["concurrency"] == {"group": "mrp-apply", "cancel-in-progress": False}


# Every mrp command line in the workflows, with its variables filled in the way
# the tests run it. A new command in a workflow must be added here, and so tested.
WORKFLOW_COMMANDS = {
    "mrp validate --format github": [],
    'mrp plan --changed-since "origin/$BASE_REF" --format markdown --out plan/plan.json': ["origin"],
    'mrp plan --changed-since "origin/$BASE_REF" --format json --out promotions.json': ["origin"],
    "mrp apply --yes": [],
    "mrp plan --detailed-exitcode --format markdown": [],
    'mrp bench "$model"': [],
}


def _mrp_commands() -> set[str]:
    commands = set()
    for _, script in _run_scripts():
        for line in script.splitlines():
            match = re.search(r"(?:^|&&\s*)(mrp (?:validate|plan|apply|bench)\b[^|>;&]*)", line.strip())
            if match:
                commands.add(match.group(1).strip())
    return commands


def test_workflow_commands_are_tested():
    assert _mrp_commands() == set(WORKFLOW_COMMANDS)


@pytest.mark.parametrize("command", sorted(WORKFLOW_COMMANDS))
def test_workflow_command_runs(example_project, command, tmp_path):
    (example_project.root / "plan").mkdir()
    example_project.git("update-ref", "refs/remotes/origin/main", "HEAD")
    line = command.replace("$BASE_REF", "main").replace("$model", "digits-mlp")
    args = shlex.split(line)[1:]

    result = run_mrp_process(*args, cwd=example_project.root)

    assert result.returncode in (0, 2), result.stdout + result.stderr
