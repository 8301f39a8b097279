"""Helpers for the replicate target tests: an in-process emulator, hooks around it, and readers of its state.

Test modules import the fixtures they use by name, so pytest finds them
without a conftest.py.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import yaml

from pipeline.emulators.base import Emulator, Request
from pipeline.emulators.replicate import ReplicateApp
from pipeline.emulators.replicate.state import DeploymentRecord, ModelRecord
from tests.conftest import ExampleProject
from tests.emulator_hooks import HookedApp as BaseHookedApp

TOKEN = "r8_fake-token-for-tests"
WRITE_METHODS = ("POST", "PATCH", "DELETE")

class HookedApp(BaseHookedApp):
    """A ``ReplicateApp`` whose requests pass through ``hook``, to act between two requests of an apply."""

    @property
    def store(self):
        return self.inner.store


@dataclass
class Rehearsal:
    """An example project wired to a Replicate emulator through the environment."""

    project: ExampleProject
    emulator: Emulator
    app: HookedApp

    def model(self, name: str) -> ModelRecord:
        return self.app.store.models[("acme", name)]

    def deployment(self, name: str) -> DeploymentRecord | None:
        return self.app.store.deployments.get(("acme", name))

    def ledger_id(self, model: str, version: str) -> str:
        record = yaml.safe_load((self.project.ledger / model / f"{version}.yaml").read_text(encoding="utf-8"))
        return record["targets"]["replicate"]["id"]

    def writes(self) -> list[str]:
        return [f"{entry.method} {entry.path}" for entry in self.emulator.requests.entries()
                if entry.method in WRITE_METHODS]


@pytest.fixture
def rehearsal(example_project: ExampleProject, monkeypatch: pytest.MonkeyPatch) -> Iterator[Rehearsal]:
    app = HookedApp(ReplicateApp())
    emulator = Emulator(app)
    emulator.start()
    monkeypatch.setenv("REPLICATE_API_TOKEN", TOKEN)
    monkeypatch.setenv("REPLICATE_BASE_URL", emulator.url)
    monkeypatch.setenv("MRP_REPLICATE_PUSH", "emulator")
    yield Rehearsal(example_project, emulator, app)
    # Stopping waits for the server's poll loop; a background stop keeps teardown short.
    threading.Thread(target=emulator.stop, name="emulator-stop", daemon=True).start()


def register_request(base_url: str, owner: str, name: str, body: dict[str, Any]) -> Request:
    """Build the emulator-only request that registers a version, as another pusher would send it."""
    return Request(
        method="POST",
        raw_path=f"/v1/_emulator/models/{owner}/{name}/versions",
        query={},
        headers={"authorization": "Bearer someone-else", "content-type": "application/json"},
        body=json.dumps(body).encode(),
        base_url=base_url,
    )
