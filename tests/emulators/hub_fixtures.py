"""Fixtures that run the Hub emulator on 127.0.0.1 and point the real ``huggingface_hub`` client at it.

``huggingface_hub`` reads its settings when it is first imported, so this
module sets the environment before importing it, and the fixtures also patch
the runtime settings in case another module imported the client earlier.
The default endpoint is a closed loopback port, so a call that escapes the
fixtures fails locally instead of reaching huggingface.co.
"""

from __future__ import annotations

import base64
import json
import re
import socket
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

# tests/conftest.py sets the client's environment before anything imports huggingface_hub.
from huggingface_hub import HfApi, constants, hf_api  # noqa: E402

from pipeline.emulators.base import Emulator  # noqa: E402
from pipeline.emulators.hub import HubApp  # noqa: E402

TOKEN = "hf_emulator_test_token"
PAGE_SIZE = 2

# huggingface_hub 2.4.0 sends LFS PUT bodies with httpx2's deprecated ``data=`` argument.
CLIENT_WARNINGS = pytest.mark.filterwarnings("ignore:Use 'content=<...>' to upload raw bytes:DeprecationWarning")


@pytest.fixture(scope="session")
def hub_server() -> Iterator[Emulator]:
    """One emulator for the session, because stopping a server takes half a second."""
    with Emulator(HubApp(page_size=PAGE_SIZE)) as emulator:
        yield emulator


@pytest.fixture
def hub(hub_server: Emulator, monkeypatch: pytest.MonkeyPatch, tmp_path) -> Emulator:
    """The session emulator with no faults and an empty request log, and the client configured for it.

    Tests share its state, so each one works in its own namespace (see ``namespace``).
    """
    hub_server.faults.clear()
    hub_server.requests.clear()
    _point_client_at(monkeypatch, tmp_path, hub_server.url)
    return hub_server


@pytest.fixture
def namespace(request: pytest.FixtureRequest) -> str:
    """A namespace that only the current test uses, derived from its name."""
    name = re.sub(r"[^A-Za-z0-9]+", "-", request.node.name).strip("-")
    return name[:96].rstrip("-")


@pytest.fixture
def repo(namespace: str) -> str:
    return f"{namespace}/model"


def _point_client_at(monkeypatch: pytest.MonkeyPatch, tmp_path, url: str) -> None:
    """Point every endpoint setting of the client at ``url`` and fail any name lookup but loopback."""
    real_getaddrinfo = socket.getaddrinfo

    def loopback_getaddrinfo(host, *args, **kwargs):
        if host not in ("127.0.0.1", "localhost", b"127.0.0.1", b"localhost"):
            raise AssertionError(f"test tried to resolve {host!r}; the Hub emulator tests use only 127.0.0.1")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", loopback_getaddrinfo)
    monkeypatch.setattr(constants, "ENDPOINT", url)
    # The module-level HfApi behind upload_file, metadata_update and the like read ENDPOINT at import.
    monkeypatch.setattr(hf_api.api, "endpoint", url)
    monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE", url + "/{repo_id}/resolve/{revision}/{filename}")
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_TELEMETRY", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub-cache"))
    monkeypatch.setenv("HF_TOKEN", TOKEN)


@pytest.fixture
def api(hub: Emulator) -> HfApi:
    return HfApi(endpoint=hub.url, token=TOKEN)


@pytest.fixture
def anonymous_api(hub: Emulator) -> HfApi:
    return HfApi(endpoint=hub.url, token=False)


@contextmanager
def serve(app: HubApp, monkeypatch: pytest.MonkeyPatch, tmp_path) -> Iterator[Emulator]:
    """Serve a custom ``HubApp`` (for example with its own tokens) and point the client at it."""
    with Emulator(app) as emulator:
        _point_client_at(monkeypatch, tmp_path, emulator.url)
        yield emulator


def raw_commit(url: str, repo_id: str, lines: list[dict], revision: str = "main") -> httpx.Response:
    """Send an NDJSON commit without the client, for payloads the client refuses to build."""
    body = "".join(json.dumps(line) + "\n" for line in lines)
    return httpx.post(f"{url}/api/models/{repo_id}/commit/{revision}", content=body.encode(),
                      headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/x-ndjson"},
                      trust_env=False)


def header_line(summary: str = "test commit", parent: str | None = None) -> dict:
    value = {"summary": summary, "description": ""}
    if parent is not None:
        value["parentCommit"] = parent
    return {"key": "header", "value": value}


def file_line(path: str, content: bytes) -> dict:
    return {"key": "file", "value": {"path": path, "content": base64.b64encode(content).decode(), "encoding": "base64"}}
