"""Account, hardware, models and versions through the real replicate 1.0.7 client."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
import replicate
from replicate.exceptions import ReplicateError

from pipeline.emulators.base import Emulator
from pipeline.emulators.replicate import DEFAULT_HARDWARE, ReplicateApp
from tests.emulators.replicate_fixtures import (  # noqa: F401 - pytest fixtures
    OWNER,
    TEXT_SCHEMA,
    auth_headers,
    client,
    emulator,
    loopback_env,
    make_client,
    register_version,
    schema_with_output,
)


def test_account_current(client: replicate.Client) -> None:
    account = client.accounts.current()

    assert account.username == "acme"
    assert account.type == "organization"
    assert account.name


def test_hardware_list_is_sku_list(client: replicate.Client) -> None:
    hardware = client.hardware.list()

    assert [item.sku for item in hardware] == [item.sku for item in DEFAULT_HARDWARE]
    assert all(item.name for item in hardware)
    assert "gpu-l40s" in {item.sku for item in hardware}


def test_models_create_then_get(client: replicate.Client) -> None:
    created = client.models.create(
        OWNER, "hello", visibility="private", hardware="gpu-l40s", description="says hello"
    )
    fetched = client.models.get(f"{OWNER}/hello")

    assert created.owner == OWNER
    assert created.name == "hello"
    assert fetched.visibility == "private"
    assert fetched.description == "says hello"
    assert fetched.run_count == 0
    assert fetched.latest_version is None
    assert fetched.url.endswith("/acme/hello")


def test_models_create_duplicate_is_conflict(client: replicate.Client) -> None:
    client.models.create(OWNER, "twice", visibility="public", hardware="cpu")

    with pytest.raises(ReplicateError) as raised:
        client.models.create(OWNER, "twice", visibility="public", hardware="cpu")

    assert raised.value.status == 409
    assert "acme/twice" in raised.value.detail


def test_models_create_bad_hardware_names_skus(client: replicate.Client) -> None:
    with pytest.raises(ReplicateError) as raised:
        client.models.create(OWNER, "bad-hw", visibility="private", hardware="gpu-9000")

    assert raised.value.status == 400
    assert raised.value.title == "Validation failed"
    assert "gpu-9000" in raised.value.detail
    for sku in ("cpu", "gpu-t4", "gpu-l40s", "gpu-a100-large", "gpu-h100"):
        assert sku in raised.value.detail


def test_models_create_rejects_bad_fields(emulator: Emulator) -> None:
    body = {"owner": "Acme", "name": "has space", "visibility": "secret", "hardware": "cpu"}

    response = httpx.post(f"{emulator.url}/v1/models", json=body, headers=auth_headers())

    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    pointers = {error["pointer"] for error in response.json()["errors"]}
    assert pointers == {"/owner", "/name", "/visibility"}


def test_models_create_missing_hardware(emulator: Emulator) -> None:
    body = {"owner": OWNER, "name": "no-hw", "visibility": "public"}

    response = httpx.post(f"{emulator.url}/v1/models", json=body, headers=auth_headers())

    assert response.status_code == 400
    assert response.json()["errors"] == [{"pointer": "/hardware", "detail": "hardware is required"}]


def test_models_get_missing_is_404(client: replicate.Client) -> None:
    with pytest.raises(ReplicateError) as raised:
        client.models.get("acme/nothing-here")

    assert raised.value.status == 404
    assert "acme/nothing-here" in raised.value.detail


def test_models_list_paginates(loopback_env: None, make_client: Callable[..., replicate.Client]) -> None:
    names = [f"model-{index}" for index in range(5)]
    with Emulator(ReplicateApp(page_size=2)) as running:
        paging_client = make_client(running.url)
        for name in names:
            paging_client.models.create(OWNER, name, visibility="public", hardware="cpu")

        pages = list(replicate.paginate(paging_client.models.list))

    assert [len(page.results) for page in pages] == [2, 2, 1]
    assert pages[0].next is not None
    assert pages[0].next.startswith(running.url + "/v1/models?")
    assert pages[0].previous is None
    assert pages[1].previous is not None
    assert pages[-1].next is None
    listed = [model.name for page in pages for model in page.results]
    assert sorted(listed) == names


def test_models_search_uses_query_method(client: replicate.Client) -> None:
    client.models.create(OWNER, "llama-chat", visibility="public", hardware="cpu")
    client.models.create(OWNER, "sdxl", visibility="public", hardware="cpu")

    page = client.models.search("llama")

    assert [model.name for model in page.results] == ["llama-chat"]


def test_models_update_and_reject_visibility(emulator: Emulator, client: replicate.Client) -> None:
    client.models.create(OWNER, "editable", visibility="private", hardware="cpu")
    url = f"{emulator.url}/v1/models/acme/editable"

    updated = httpx.patch(url, json={"description": "new text"}, headers=auth_headers())
    rejected = httpx.patch(url, json={"visibility": "public"}, headers=auth_headers())

    assert updated.status_code == 200
    assert updated.json()["description"] == "new text"
    assert client.models.get("acme/editable").description == "new text"
    assert rejected.status_code == 400
    assert rejected.json()["errors"][0]["pointer"] == "/visibility"


def test_models_delete_rules(emulator: Emulator, client: replicate.Client) -> None:
    client.models.create(OWNER, "public-one", visibility="public", hardware="cpu")
    client.models.create(OWNER, "with-version", visibility="private", hardware="cpu")
    client.models.create(OWNER, "empty", visibility="private", hardware="cpu")
    register_version(emulator.url, "acme/with-version").raise_for_status()

    with pytest.raises(ReplicateError) as public_rejected:
        client.models.delete("acme", "public-one")
    with pytest.raises(ReplicateError) as versions_rejected:
        client.models.delete("acme", "with-version")
    deleted = client.models.delete("acme", "empty")

    assert public_rejected.value.status == 409
    assert versions_rejected.value.status == 409
    assert deleted is True
    with pytest.raises(ReplicateError):
        client.models.get("acme/empty")


def test_versions_register_get_and_list(emulator: Emulator, client: replicate.Client) -> None:
    client.models.create(OWNER, "versioned", visibility="private", hardware="cpu")

    first = register_version(emulator.url, "acme/versioned")
    second = register_version(emulator.url, "acme/versioned", schema_with_output({"type": "integer"}))

    assert first.status_code == 201
    assert second.status_code == 201
    first_id, second_id = first.json()["id"], second.json()["id"]
    model = client.models.get("acme/versioned")
    assert model.latest_version is not None
    assert model.latest_version.id == second_id
    fetched = model.versions.get(first_id)
    assert fetched.id == first_id
    assert fetched.cog_version == "0.23.1"
    assert fetched.openapi_schema == TEXT_SCHEMA
    listed = model.versions.list()
    assert [version.id for version in listed] == [second_id, first_id]


def test_versions_register_is_idempotent(emulator: Emulator, client: replicate.Client) -> None:
    client.models.create(OWNER, "pushed", visibility="private", hardware="cpu")
    version_id = "a" * 64

    created = register_version(emulator.url, "acme/pushed", id=version_id)
    repeated = register_version(emulator.url, "acme/pushed", id=version_id)
    clashing = register_version(emulator.url, "acme/pushed", schema_with_output({"type": "number"}), id=version_id)

    assert created.status_code == 201
    assert repeated.status_code == 200
    assert repeated.json() == created.json()
    assert clashing.status_code == 409
    assert len(client.models.get("acme/pushed").versions.list()) == 1


def test_versions_register_rejects_bad_id(emulator: Emulator, client: replicate.Client) -> None:
    client.models.create(OWNER, "bad-id", visibility="private", hardware="cpu")

    response = register_version(emulator.url, "acme/bad-id", id="not-a-digest")

    assert response.status_code == 400
    assert response.json()["errors"][0]["pointer"] == "/id"


def test_versions_get_missing_is_404(emulator: Emulator, client: replicate.Client) -> None:
    client.models.create(OWNER, "no-versions", visibility="private", hardware="cpu")

    with pytest.raises(ReplicateError) as raised:
        client.models.get("acme/no-versions").versions.get("b" * 64)

    assert raised.value.status == 404


def test_versions_delete_answers_202(emulator: Emulator, client: replicate.Client) -> None:
    client.models.create(OWNER, "deletable", visibility="private", hardware="cpu")
    version_id = register_version(emulator.url, "acme/deletable").json()["id"]

    response = httpx.delete(f"{emulator.url}/v1/models/acme/deletable/versions/{version_id}", headers=auth_headers())

    assert response.status_code == 202
    assert client.models.get("acme/deletable").latest_version is None


def test_versions_register_rejects_broken_schema(emulator: Emulator, client: replicate.Client) -> None:
    client.models.create(OWNER, "broken", visibility="private", hardware="cpu")
    schema = schema_with_output({"$ref": "#/components/schemas/Missing"})

    response = register_version(emulator.url, "acme/broken", schema)

    assert response.status_code == 400
    assert response.json()["errors"][0]["pointer"] == "/openapi_schema"
    assert "Missing" in response.json()["errors"][0]["detail"]
