"""Emulator responses checked against the response schemas of Replicate's OpenAPI description.

The description is OpenAPI 3.0, so ``nullable: true`` becomes a ``null``
member of the JSON Schema type before jsonschema validates. The tests skip
when the description file is not next to the repository.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
import replicate
import yaml

from pipeline.emulators.base import Emulator
from tests.emulators.replicate_fixtures import (  # noqa: F401 - pytest fixtures
    auth_headers,
    client,
    create_model_with_version,
    emulator,
    loopback_env,
    make_client,
)

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
OPENAPI_PATH = REPOSITORY_ROOT.parent / "shared" / "protocols" / "replicate-openapi.yaml"


@pytest.fixture(scope="module")
def openapi() -> dict[str, Any]:
    if not OPENAPI_PATH.is_file():
        pytest.skip(f"Replicate OpenAPI description not found at {OPENAPI_PATH}")
    with OPENAPI_PATH.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def to_json_schema(document: dict[str, Any], node: Any) -> Any:
    """Inline ``$ref``s into components and turn OpenAPI 3.0 ``nullable`` into JSON Schema."""
    if isinstance(node, list):
        return [to_json_schema(document, item) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target: Any = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        return to_json_schema(document, target)

    converted = {key: to_json_schema(document, value) for key, value in node.items() if key != "nullable"}
    if node.get("nullable") and "type" in converted:
        converted["type"] = [converted["type"], "null"]
    return converted


def response_schema(document: dict[str, Any], path: str, method: str, status: str) -> dict[str, Any]:
    operation = document["paths"][path][method]
    schema = operation["responses"][status]["content"]["application/json"]["schema"]
    return to_json_schema(document, schema)


def check(document: dict[str, Any], path: str, method: str, response: httpx.Response) -> None:
    """Assert that ``response`` has a status the operation documents and a body its schema accepts."""
    status = str(response.status_code)
    assert status in document["paths"][path][method]["responses"], f"{method.upper()} {path} answered {status}"
    jsonschema.validate(response.json(), response_schema(document, path, method, status))


def test_openapi_models_and_versions(
    openapi: dict[str, Any], emulator: Emulator, client: replicate.Client
) -> None:
    headers = auth_headers()
    body = {"owner": "acme", "name": "checked", "visibility": "private", "hardware": "cpu", "description": "d"}
    url = emulator.url

    created = httpx.post(f"{url}/v1/models", json=body, headers=headers)
    version = httpx.post(
        f"{url}/v1/_emulator/models/acme/checked/versions",
        json={"openapi_schema": {"components": {"schemas": {}}}},
        headers=headers,
    ).json()

    check(openapi, "/models", "post", created)
    check(openapi, "/models/{model_owner}/{model_name}", "get", httpx.get(f"{url}/v1/models/acme/checked", headers=headers))
    check(openapi, "/models", "get", httpx.get(f"{url}/v1/models", headers=headers))
    versions_url = f"{url}/v1/models/acme/checked/versions"
    check(openapi, "/models/{model_owner}/{model_name}/versions", "get", httpx.get(versions_url, headers=headers))
    check(
        openapi,
        "/models/{model_owner}/{model_name}/versions/{version_id}",
        "get",
        httpx.get(f"{versions_url}/{version['id']}", headers=headers),
    )


def test_openapi_account_and_hardware(openapi: dict[str, Any], emulator: Emulator) -> None:
    headers = auth_headers()

    check(openapi, "/account", "get", httpx.get(f"{emulator.url}/v1/account", headers=headers))
    check(openapi, "/hardware", "get", httpx.get(f"{emulator.url}/v1/hardware", headers=headers))


def test_openapi_deployments(openapi: dict[str, Any], emulator: Emulator, client: replicate.Client) -> None:
    version_id = create_model_with_version(client, emulator.url)
    headers = auth_headers()
    body = {
        "name": "checked-prod", "model": "acme/text-model", "version": version_id,
        "hardware": "cpu", "min_instances": 0, "max_instances": 1,
    }
    deployment_url = f"{emulator.url}/v1/deployments/acme/checked-prod"

    check(openapi, "/deployments", "post", httpx.post(f"{emulator.url}/v1/deployments", json=body, headers=headers))
    check(openapi, "/deployments/{deployment_owner}/{deployment_name}", "get", httpx.get(deployment_url, headers=headers))
    updated = httpx.patch(deployment_url, json={"max_instances": 3}, headers=headers)
    check(openapi, "/deployments/{deployment_owner}/{deployment_name}", "patch", updated)
    check(openapi, "/deployments", "get", httpx.get(f"{emulator.url}/v1/deployments", headers=headers))


def test_openapi_predictions(openapi: dict[str, Any], emulator: Emulator, client: replicate.Client) -> None:
    version_id = create_model_with_version(client, emulator.url)
    headers = auth_headers()
    body = {"version": version_id, "input": {"prompt": "x"}}

    created = httpx.post(f"{emulator.url}/v1/predictions", json=body, headers=headers)
    waited = httpx.post(f"{emulator.url}/v1/predictions", json=body, headers={**headers, "Prefer": "wait=5"})
    prediction_url = f"{emulator.url}/v1/predictions/{created.json()['id']}"

    check(openapi, "/predictions", "post", created)
    check(openapi, "/predictions", "post", waited)
    assert waited.json()["status"] == "succeeded"
    for _ in range(2):
        check(openapi, "/predictions/{prediction_id}", "get", httpx.get(prediction_url, headers=headers))
    check(openapi, "/predictions", "get", httpx.get(f"{emulator.url}/v1/predictions", headers=headers))


def test_openapi_check_rejects_bad_body(openapi: dict[str, Any]) -> None:
    schema = response_schema(openapi, "/models", "post", "201")

    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"visibility": "hidden"}, schema)


def test_openapi_prediction_needs_urls(openapi: dict[str, Any]) -> None:
    schema = response_schema(openapi, "/predictions/{prediction_id}", "get", "200")

    assert "urls" in schema["required"]
    assert set(schema["properties"]["urls"]["required"]) == {"web", "get", "cancel"}

