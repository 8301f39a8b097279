"""Injected faults and how the real replicate 1.0.7 client's retries meet them.

The client retries 429, 503 and 504 on GET, PUT and DELETE, never on POST or
PATCH, never on 500, and never after a transport error.
"""

from __future__ import annotations

import httpx
import pytest
import replicate
from replicate.exceptions import ReplicateError

from pipeline.emulators.base import Emulator, FaultRule
from tests.emulators.replicate_fixtures import (  # noqa: F401 - pytest fixtures
    OWNER,
    client,
    create_model_with_version,
    emulator,
    loopback_env,
    make_client,
    settled_count,
)


def test_get_429_is_retried(emulator: Emulator, client: replicate.Client) -> None:
    client.models.create(OWNER, "busy", visibility="private", hardware="cpu")
    emulator.faults.add(FaultRule(route=r"^GET /v1/models/acme/busy$", status=429, retry_after=0, times=2))

    model = client.models.get("acme/busy")

    assert model.name == "busy"
    assert settled_count(emulator, "GET", r"^/v1/models/acme/busy$", 3) == 3
    faulted = [entry for entry in emulator.requests.entries() if entry.fault is not None]
    assert [entry.status for entry in faulted] == [429, 429]


def test_post_429_is_not_retried(emulator: Emulator, client: replicate.Client) -> None:
    version_id = create_model_with_version(client, emulator.url)
    emulator.faults.add(FaultRule(route=r"^POST /v1/deployments$", status=429, retry_after=0))

    with pytest.raises(ReplicateError) as raised:
        client.deployments.create(
            name="throttled", model="acme/text-model", version=version_id,
            hardware="cpu", min_instances=0, max_instances=1,
        )

    assert raised.value.status == 429
    assert raised.value.title == "Too Many Requests"
    assert settled_count(emulator, "POST", r"^/v1/deployments$", 1) == 1


def test_fault_response_has_retry_after(emulator: Emulator) -> None:
    emulator.faults.add(FaultRule(route=r"^GET /v1/account$", status=429, retry_after=0))

    response = httpx.get(f"{emulator.url}/v1/account", headers={"Authorization": "Bearer t"})

    assert response.status_code == 429
    assert response.headers["retry-after"] == "0"
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 429


def test_get_500_is_not_retried(emulator: Emulator, client: replicate.Client) -> None:
    emulator.faults.add(FaultRule(route=r"^GET /v1/account$", status=500))

    with pytest.raises(ReplicateError) as raised:
        client.accounts.current()

    assert raised.value.status == 500
    assert settled_count(emulator, "GET", r"^/v1/account$", 1) == 1


def test_dropped_connection_raises(emulator: Emulator, client: replicate.Client) -> None:
    emulator.faults.add(FaultRule(route=r"^GET /v1/hardware$", kind="drop"))

    with pytest.raises(httpx.TransportError):
        client.hardware.list()

    assert settled_count(emulator, "GET", r"^/v1/hardware$", 1) == 1
    assert [item.sku for item in client.hardware.list()][:2] == ["cpu-small", "cpu"]
