"""Helpers for the huggingface target tests: a Hub emulator per test, hooks around it, and readers of its state.

Test modules import the fixtures they use by name, so pytest finds them
without a conftest.py. ``tests/conftest.py`` sets the client's environment
(Xet off, telemetry off) before anything imports ``huggingface_hub``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from huggingface_hub import HfApi

from pipeline.emulators.base import Emulator
from pipeline.emulators.hub import HubApp
from pipeline.emulators.hub.state import Commit, Repo
from tests.conftest import ExampleProject
from tests.emulator_hooks import HookedApp as BaseHookedApp

TOKEN = "hf_fake_token_for_tests"
READ_METHODS = ("GET", "HEAD")

class HookedHubApp(BaseHookedApp):
    """A ``HubApp`` whose requests pass through ``hook``, to act between two requests of an apply."""

    @property
    def state(self):
        return self.inner.state


@dataclass
class HubRehearsal:
    """An example project wired to a Hub emulator through ``HF_ENDPOINT`` and ``HF_TOKEN``."""

    project: ExampleProject
    emulator: Emulator
    app: HookedHubApp

    @property
    def api(self) -> HfApi:
        return HfApi(endpoint=self.emulator.url, token=TOKEN)

    def repo(self, repo_id: str) -> Repo:
        repo = self.app.state.get("model", repo_id)
        assert repo is not None, f"{repo_id} does not exist on the emulator"
        return repo

    def tag_commit(self, repo_id: str, tag: str) -> Commit:
        repo = self.repo(repo_id)
        return repo.commits[repo.tags[tag]]

    def branch_commit(self, repo_id: str, branch: str) -> Commit:
        repo = self.repo(repo_id)
        return repo.commits[repo.branches[branch]]

    def files(self, commit: Commit) -> dict[str, bytes]:
        return {path: self.app.state.read(entry) for path, entry in commit.files.items()}

    def writes(self) -> list[str]:
        """Every request that is not a read (GET or HEAD), as ``METHOD path``."""
        return [f"{entry.method} {entry.path}" for entry in self.emulator.requests.entries()
                if entry.method not in READ_METHODS]

    def count(self, method: str, route: str) -> int:
        return self.emulator.requests.count(method, route)


def start_emulator(app: HookedHubApp) -> Emulator:
    emulator = Emulator(app)
    emulator.start()
    return emulator


def stop_in_background(emulator: Emulator) -> None:
    """Stop without waiting for the server's poll loop, which keeps teardown short."""
    threading.Thread(target=emulator.stop, name="emulator-stop", daemon=True).start()


@pytest.fixture
def hub_rehearsal(example_project: ExampleProject, monkeypatch: pytest.MonkeyPatch) -> Iterator[HubRehearsal]:
    app = HookedHubApp(HubApp(page_size=25))
    emulator = start_emulator(app)
    monkeypatch.setenv("HF_ENDPOINT", emulator.url)
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    yield HubRehearsal(example_project, emulator, app)
    stop_in_background(emulator)
