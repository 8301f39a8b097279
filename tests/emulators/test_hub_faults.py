"""Injected faults as the real client experiences them."""

from __future__ import annotations


import httpx2
import pytest
from huggingface_hub import CommitOperationAdd, HfApi
from huggingface_hub.errors import HfHubHTTPError

from pipeline.emulators.base import FaultRule
from tests.emulators.hub_fixtures import (  # noqa: F401 - fixtures
    CLIENT_WARNINGS, api, hub, hub_server, namespace, repo,
)

pytestmark = CLIENT_WARNINGS


def test_rate_limited_page_is_retried(api: HfApi, hub, namespace: str) -> None:
    for index in range(3):
        api.create_repo(f"{namespace}/m{index}")
    rule = hub.faults.add(FaultRule(r"^GET /api/models$", status=429, retry_after=0, skip=1, times=1))

    models = [model.id for model in api.list_models(author=namespace)]
    assert models == [f"{namespace}/m{index}" for index in range(3)]
    assert rule.fired == 1
    statuses = [entry.status for entry in hub.requests.entries() if entry.path == "/api/models"]
    assert statuses[:2] == [200, 429]


def test_unavailable_commit_is_not_retried(api: HfApi, hub, repo: str) -> None:
    api.create_repo(repo)
    before = api.model_info(repo).sha
    hub.faults.add(FaultRule(r"^POST /api/models/.*/commit/", status=503, retry_after=0))

    with pytest.raises(HfHubHTTPError) as raised:
        api.create_commit(repo, [CommitOperationAdd("a.txt", b"a")], commit_message="Add")
    assert raised.value.response.status_code == 503
    assert api.model_info(repo).sha == before
    assert hub.requests.count("POST", r"/commit/main$") == 1


def test_dropped_connection_surfaces(api: HfApi, hub, repo: str) -> None:
    hub.faults.add(FaultRule(r"^POST /api/repos/create$", kind="drop"))

    with pytest.raises(httpx2.TransportError):
        api.create_repo(repo)
    assert hub.requests.count("POST", r"^/api/repos/create$") == 1
