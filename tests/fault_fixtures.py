"""Helpers for the fault and concurrency tests: emulators per target, invariants and counts of their state.

A ``Stage`` is an example project wired to one target's emulator, with the
files and digests of every version the test releases, so that a check can
tell a complete version from an incomplete one without asking mrp.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from pipeline.config import load_project
from pipeline.emulators.base import Emulator, FaultRule
from pipeline.emulators.hub import HubApp
from pipeline.emulators.replicate import ReplicateApp
from pipeline.manifest.load import load_manifests
from pipeline.release import build_release
from pipeline.targets.replicate.push import ARTIFACTS_INFO_KEY
from tests.conftest import ExampleProject
from tests.huggingface_target_fixtures import HookedHubApp
from tests.replicate_target_fixtures import HookedApp

MODEL = "digits-mlp"
REPO_ID = "acme/digits-mlp"
HUB_TOKEN = "hf_fake_token_for_fault_tests"
REPLICATE_TOKEN = "r8_fake-token-for-fault-tests"
CHANNEL_BRANCHES = ("main", "staging", "dev")
# Bound of every wait for the emulator or a child process; reaching it fails the test instead of hanging it.
WAIT_LIMIT_S = 60.0


@dataclass
class Stage:
    """An example project and one target's emulator, with what each released version must contain."""

    target: str
    project: ExampleProject
    emulator: Emulator
    env: dict[str, str]
    # version -> {path: bytes} of its artifacts, and version -> artifacts digest.
    files: dict[str, dict[str, bytes]] = field(default_factory=dict)
    digests: dict[str, str] = field(default_factory=dict)

    @property
    def app(self):
        """The emulator's app, whose ``hook`` lets a test act between two requests."""
        return self.emulator.app

    def remember_version(self) -> str:
        """Record the files and digest of the version the manifest now names, before it is released."""
        release = release_of(self.project.root, self.target)
        version = release.manifest.release_version
        self.files[version] = {item.path: item.source.read_bytes() for item in release.artifacts.files}
        self.digests[version] = release.artifacts.digest
        return version

    def fault(self, rule: FaultRule) -> FaultRule:
        return self.emulator.faults.add(rule)


def release_of(root: Path, target: str):
    """Build the digits-mlp release the way a plan does, without the version checks against the ledger."""
    project = load_project(root, targets=(target,), registry=None)
    return build_release(load_manifests(project, [MODEL])[0])


def bump(stage: Stage) -> str:
    """Release 1.1.0 of digits-mlp: new artifacts and version, on dev."""
    (stage.project.root / "artifacts" / MODEL / "NOTES.md").write_text("retrained\n", encoding="utf-8")
    stage.project.edit(MODEL, "version: 1.0.0", "version: 1.1.0")
    return stage.remember_version()


def start_stage(target: str, project: ExampleProject, monkeypatch: pytest.MonkeyPatch) -> Stage:
    """Serve the target's emulator on 127.0.0.1 and point the environment (and child processes) at it."""
    app = HookedHubApp(HubApp(page_size=25)) if target == "huggingface" else HookedApp(ReplicateApp())
    emulator = Emulator(app)
    emulator.start()
    if target == "huggingface":
        env = {"HF_ENDPOINT": emulator.url, "HF_TOKEN": HUB_TOKEN}
    else:
        env = {"REPLICATE_API_TOKEN": REPLICATE_TOKEN, "REPLICATE_BASE_URL": emulator.url,
               "MRP_REPLICATE_PUSH": "emulator"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    stage = Stage(target, project, emulator, env)
    stage.remember_version()
    return stage


def stop_stage(stage: Stage) -> None:
    """Stop without waiting for the server's poll loop, which keeps teardown short."""
    threading.Thread(target=stage.emulator.stop, name="emulator-stop", daemon=True).start()


# Running mrp


def apply_args(stage: Stage, *extra: str) -> list[str]:
    return ["-C", str(stage.project.root), "apply", "--yes", "--target", stage.target, *extra, MODEL]


def plan_exit_code(mrp, stage: Stage) -> int:
    return mrp("-C", stage.project.root, "plan", "--detailed-exitcode", "--target", stage.target, MODEL).exit_code


def start_apply_process(stage: Stage, *extra: str) -> subprocess.Popen[str]:
    """Start ``mrp -v apply`` in a child process, as a CI job would run it."""
    env = {**os.environ, **stage.env}
    return subprocess.Popen([sys.executable, "-m", "pipeline", "-v", *apply_args(stage, *extra)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_until(condition: Callable[[], bool], description: str) -> None:
    """Poll ``condition`` every 10 ms, failing the test after WAIT_LIMIT_S."""
    deadline = time.monotonic() + WAIT_LIMIT_S
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {description} after {WAIT_LIMIT_S} s")
        time.sleep(0.01)


def kill_while_held(stage: Stage, rule: FaultRule) -> subprocess.Popen[str]:
    """Run apply in a child process and SIGKILL it while the emulator delays the request that ``rule`` matches.

    The emulator then completes the write, so the state is "request sent,
    answer lost". Returns the finished process.
    """
    process = start_apply_process(stage)
    try:
        wait_until(lambda: rule.fired > 0 or process.poll() is not None, f"a request matching {rule.route}")
        assert rule.fired == 1, f"the apply ended before it sent {rule.route}: {process.communicate()}"
        os.kill(process.pid, signal.SIGKILL)
        process.communicate(timeout=WAIT_LIMIT_S)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    wait_until(lambda: any(entry.fault == "delay" for entry in stage.emulator.requests.entries()),
               "the emulator to finish the held request")
    return process


# Invariants: no channel serves an incomplete version


def incomplete_channels(stage: Stage) -> list[str]:
    """Describe each channel that serves something other than a complete, released version."""
    if stage.target == "huggingface":
        return _hub_incomplete(stage)
    return _replicate_incomplete(stage)


def _hub_incomplete(stage: Stage) -> list[str]:
    repo = stage.app.state.get("model", REPO_ID)
    if repo is None:
        return []
    problems = []
    for branch in CHANNEL_BRANCHES:
        head = repo.branches.get(branch)
        if head is None or not repo.commits[head].parents:
            continue  # absent, or the repo's initial commit, which serves no version
        tree = _hub_tree(repo.commits[head])
        served = [tag for tag, commit in repo.tags.items() if _hub_tree(repo.commits[commit]) == tree]
        if not served:
            problems.append(f"branch {branch} has a tree that no tag has")
            continue
        problems += [f"branch {branch}: {problem}" for problem in _hub_version_problems(stage, repo, served[0])]
    return problems


def _hub_tree(commit) -> dict[str, str]:
    return {path: entry.oid for path, entry in commit.files.items()}


def _hub_version_problems(stage: Stage, repo, tag: str) -> list[str]:
    """Compare a tagged commit with the version's artifacts and card, byte for byte."""
    version = tag.removeprefix("v")
    expected = stage.files.get(version)
    if expected is None:
        return [f"tag {tag} is not a version this test released"]
    commit = repo.commits[repo.tags[tag]]
    stored = {path: stage.app.state.read(entry) for path, entry in commit.files.items()}
    problems = [f"{tag} lacks or changed {path}" for path, data in expected.items() if stored.get(path) != data]
    card = stored.get("README.md", b"").decode("utf-8", errors="replace")
    if f"**Version:** {version}" not in card:
        problems.append(f"{tag} has no card for {version}")
    extra = set(stored) - set(expected) - {"README.md", ".gitattributes"}
    problems += [f"{tag} holds a file of no version: {path}" for path in sorted(extra)]
    return problems


def _replicate_incomplete(stage: Stage) -> list[str]:
    store = stage.app.store
    model = store.models.get(("acme", MODEL))
    pushed = {version.id: version for version in model.versions} if model is not None else {}
    released_digests = set(stage.digests.values())
    problems = []
    for (owner, name), deployment in store.deployments.items():
        version_id = deployment.current_release.version
        version = pushed.get(version_id)
        if version is None:
            problems.append(f"deployment {owner}/{name} runs {version_id}, which is not a version of the model")
        elif version.openapi_schema.get("info", {}).get(ARTIFACTS_INFO_KEY) not in released_digests:
            problems.append(f"deployment {owner}/{name} runs {version_id}, which holds no released artifacts")
    return problems


# Counts: every version, tag, commit and deployment release exists once


def hub_commit_titles(stage: Stage) -> Counter[str]:
    """Count every commit of the repo by title, reachable or not, the initial commit left out."""
    repo = stage.app.state.get("model", REPO_ID)
    return Counter(commit.title for commit in repo.commits.values() if commit.parents)


def hub_tags(stage: Stage) -> list[str]:
    return sorted(stage.app.state.get("model", REPO_ID).tags)


def replicate_versions(stage: Stage) -> list[str]:
    return [version.id for version in stage.app.store.models[("acme", MODEL)].versions]


def deployment_releases(stage: Stage, channel: str = "dev") -> list[int]:
    deployment = stage.app.store.deployments.get(("acme", f"{MODEL}-{channel}"))
    return [] if deployment is None else [release.number for release in deployment.releases]


@pytest.fixture
def stage_for(example_project: ExampleProject, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], Stage]]:
    """Build the stage of a target; its emulator stops when the test ends."""
    stages: list[Stage] = []

    def build(target: str) -> Stage:
        stages.append(start_stage(target, example_project, monkeypatch))
        return stages[-1]

    yield build
    for stage in stages:
        stop_stage(stage)
