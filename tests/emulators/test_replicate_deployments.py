"""Deployments and their releases through the real replicate 1.0.7 client."""

from __future__ import annotations

import httpx
import pytest
import replicate
from replicate.exceptions import ReplicateError

from pipeline.emulators.base import Emulator
from tests.emulators.replicate_fixtures import (  # noqa: F401 - pytest fixtures
    auth_headers,
    client,
    create_model_with_version,
    emulator,
    loopback_env,
    make_client,
    register_version,
    schema_with_output,
)


def create_staging(client: replicate.Client, version_id: str) -> None:
    client.deployments.create(
        name="text-model-staging",
        model="acme/text-model",
        version=version_id,
        hardware="cpu",
        min_instances=0,
        max_instances=2,
    )


def test_deployments_create_and_get(emulator: Emulator, client: replicate.Client) -> None:
    version_id = create_model_with_version(client, emulator.url)

    create_staging(client, version_id)
    deployment = client.deployments.get("acme/text-model-staging")

    assert deployment.owner == "acme"
    assert deployment.name == "text-model-staging"
    release = deployment.current_release
    assert release is not None
    assert release.number == 1
    assert release.model == "acme/text-model"
    assert release.version == version_id
    assert release.configuration.hardware == "cpu"
    assert release.configuration.min_instances == 0
    assert release.configuration.max_instances == 2
    assert release.created_by is not None
    assert release.created_by.username == "acme"


def test_deployments_update_increments_release(emulator: Emulator, client: replicate.Client) -> None:
    first_id = create_model_with_version(client, emulator.url)
    create_staging(client, first_id)
    second = register_version(emulator.url, "acme/text-model", schema_with_output({"type": "integer"}))
    second_id = second.json()["id"]

    updated = client.deployments.update("acme", "text-model-staging", version=second_id)
    scaled = client.deployments.update("acme", "text-model-staging", min_instances=1, hardware="gpu-l40s")
    fetched = client.deployments.get("acme/text-model-staging")

    assert updated.current_release is not None
    assert updated.current_release.number == 2
    assert updated.current_release.version == second_id
    assert scaled.current_release is not None
    assert scaled.current_release.number == 3
    assert fetched.current_release is not None
    assert fetched.current_release.number == 3
    assert fetched.current_release.version == second_id
    assert fetched.current_release.configuration.hardware == "gpu-l40s"
    assert fetched.current_release.configuration.min_instances == 1
    assert fetched.current_release.configuration.max_instances == 2


@pytest.mark.parametrize(
    ("change", "pointer"),
    [
        ({"min_instances": 6}, "/min_instances"),
        ({"max_instances": 21}, "/max_instances"),
        ({"min_instances": 3, "max_instances": 1}, "/min_instances"),
        ({"hardware": "gpu-9000"}, "/hardware"),
        ({"version": "c" * 64}, "/version"),
    ],
)
def test_deployments_update_rejects_invalid(
    emulator: Emulator, client: replicate.Client, change: dict[str, object], pointer: str
) -> None:
    version_id = create_model_with_version(client, emulator.url)
    create_staging(client, version_id)

    with pytest.raises(ReplicateError) as raised:
        client.deployments.update("acme", "text-model-staging", **change)  # type: ignore[arg-type]

    assert raised.value.status == 400
    assert raised.value.title == "Validation failed"
    assert pointer.lstrip("/") in raised.value.detail
    current = client.deployments.get("acme/text-model-staging").current_release
    assert current is not None
    assert current.number == 1


def test_deployments_update_errors_carry_pointer(emulator: Emulator, client: replicate.Client) -> None:
    version_id = create_model_with_version(client, emulator.url)
    create_staging(client, version_id)

    response = httpx.patch(
        f"{emulator.url}/v1/deployments/acme/text-model-staging",
        json={"version": "d" * 64},
        headers=auth_headers(),
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["pointer"] == "/version"
    assert version_id in response.json()["errors"][0]["detail"]


def test_deployments_create_rejects_unknown_version(emulator: Emulator, client: replicate.Client) -> None:
    create_model_with_version(client, emulator.url)

    with pytest.raises(ReplicateError) as raised:
        create_staging(client, "e" * 64)

    assert raised.value.status == 400
    assert "version" in raised.value.detail


def test_deployments_create_duplicate_is_conflict(emulator: Emulator, client: replicate.Client) -> None:
    version_id = create_model_with_version(client, emulator.url)
    create_staging(client, version_id)

    with pytest.raises(ReplicateError) as raised:
        create_staging(client, version_id)

    assert raised.value.status == 409


def test_deployments_list_and_delete(emulator: Emulator, client: replicate.Client) -> None:
    version_id = create_model_with_version(client, emulator.url)
    create_staging(client, version_id)

    listed = client.deployments.list()
    deleted = client.deployments.delete("acme", "text-model-staging")

    assert [deployment.name for deployment in listed.results] == ["text-model-staging"]
    assert deleted is True
    with pytest.raises(ReplicateError) as raised:
        client.deployments.get("acme/text-model-staging")
    assert raised.value.status == 404


def test_version_in_use_cannot_be_deleted(emulator: Emulator, client: replicate.Client) -> None:
    version_id = create_model_with_version(client, emulator.url)
    create_staging(client, version_id)

    response = httpx.delete(f"{emulator.url}/v1/models/acme/text-model/versions/{version_id}", headers=auth_headers())

    assert response.status_code == 409
    assert "text-model-staging" in response.json()["detail"]
    assert client.models.get("acme/text-model").versions.get(version_id).id == version_id
