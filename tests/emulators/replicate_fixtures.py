"""Fixtures and helpers for the Replicate emulator tests.

Test modules import the fixtures they use by name, so pytest finds them
without a conftest.py.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import replicate

from pipeline.emulators.base import Emulator
from pipeline.emulators.replicate import ReplicateApp

TOKEN = "r8_emulator-test-token"
OWNER = "acme"

# A cog-style schema: a required string, an integer with ge/le and a default,
# a choice (cog writes choices as an allOf $ref to an enum), and a string output.
TEXT_SCHEMA: dict[str, Any] = {
    "openapi": "3.0.2",
    "info": {"title": "Cog", "version": "0.1.0"},
    "paths": {},
    "components": {
        "schemas": {
            "Input": {
                "type": "object",
                "title": "Input",
                "required": ["prompt"],
                "properties": {
                    "prompt": {"type": "string", "title": "Prompt", "x-order": 0},
                    "steps": {"type": "integer", "title": "Steps", "minimum": 1, "maximum": 50, "default": 10, "x-order": 1},
                    "style": {"allOf": [{"$ref": "#/components/schemas/style"}], "default": "plain", "x-order": 2},
                },
            },
            "style": {"title": "style", "description": "An enumeration.", "enum": ["plain", "fancy"], "type": "string"},
            "Output": {"title": "Output", "type": "string"},
        }
    },
}


def schema_with_output(output: dict[str, Any]) -> dict[str, Any]:
    """Return TEXT_SCHEMA with another Output schema."""
    schemas = {**TEXT_SCHEMA["components"]["schemas"], "Output": output}
    return {**TEXT_SCHEMA, "components": {"schemas": schemas}}


@pytest.fixture
def loopback_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep every HTTP client on 127.0.0.1, whatever proxy the environment names."""
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.delenv("REPLICATE_BASE_URL", raising=False)


@pytest.fixture
def emulator(loopback_env: None) -> Iterator[Emulator]:
    running = Emulator(ReplicateApp())
    running.start()
    yield running
    stop_in_background(running)


def stop_in_background(running: Emulator) -> None:
    """Stop an emulator without waiting for it.

    ``Emulator.stop`` waits up to half a second for the server's poll loop, so
    tests that each start a server would otherwise spend that long in teardown.
    """
    threading.Thread(target=running.stop, name="emulator-stop", daemon=True).start()


@pytest.fixture
def make_client() -> Iterator[Callable[..., replicate.Client]]:
    """Yield a factory of fresh clients whose connections close at teardown.

    Each client gets its own httpx transport, which the replicate client wraps
    in its retry transport, so closing the transport releases its sockets.
    """
    transports: list[httpx.HTTPTransport] = []

    def build(url: str, token: str = TOKEN) -> replicate.Client:
        transport = httpx.HTTPTransport()
        transports.append(transport)
        built = replicate.Client(api_token=token, base_url=url, transport=transport)
        # The emulator advances a prediction on each read, so polling need not sleep.
        built.poll_interval = 0.0
        return built

    yield build
    for transport in transports:
        transport.close()


@pytest.fixture
def client(emulator: Emulator, make_client: Callable[..., replicate.Client]) -> replicate.Client:
    return make_client(emulator.url)


def settled_count(running: Emulator, method: str, route: str, expected: int, limit_s: float = 5.0) -> int:
    """Count logged requests once ``expected`` of them are in the log, or when ``limit_s`` runs out.

    The server appends a request to its log after it sends the response, so the
    entry for the client's last request can appear a moment after the client
    returns. The limit only bounds the wait, and the caller asserts the count.
    """
    deadline = time.monotonic() + limit_s
    count = running.requests.count(method, route)
    while count < expected and time.monotonic() < deadline:
        time.sleep(0.01)
        count = running.requests.count(method, route)
    return count


def auth_headers(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def register_version(
    url: str,
    model: str,
    schema: dict[str, Any] | None = None,
    token: str = TOKEN,
    **extra: Any,
) -> httpx.Response:
    """Register a version through the emulator-only route, as a finished cog push would."""
    body = {"openapi_schema": TEXT_SCHEMA if schema is None else schema, "cog_version": "0.23.1", **extra}
    return httpx.post(f"{url}/v1/_emulator/models/{model}/versions", json=body, headers=auth_headers(token))


def create_model_with_version(client: replicate.Client, url: str, name: str = "text-model") -> str:
    """Create ``acme/<name>`` with one version of TEXT_SCHEMA and return the version id."""
    client.models.create(OWNER, name, visibility="private", hardware="cpu")
    response = register_version(url, f"{OWNER}/{name}")
    response.raise_for_status()
    return response.json()["id"]
