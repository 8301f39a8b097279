"""JSON shapes of the records, with every field the 1.0.7 client requires.

The client's pydantic models reject a missing or null ``Version.cog_version``,
``Version.openapi_schema``, ``Account.name`` or any ``Prediction.urls`` value,
so those are always strings or objects here. Links point at the emulator's own
base URL, so nothing a client follows leaves 127.0.0.1.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any
from urllib.parse import urlencode

from pipeline.emulators.replicate.errors import bad_request
from pipeline.emulators.replicate.state import (
    Account,
    DeploymentRecord,
    ModelRecord,
    PredictionRecord,
    Release,
    VersionRecord,
)


def account_json(account: Account) -> dict[str, Any]:
    payload: dict[str, Any] = {"type": account.type, "username": account.username, "name": account.name}
    if account.github_url is not None:
        payload["github_url"] = account.github_url
    return payload


def version_json(version: VersionRecord) -> dict[str, Any]:
    return {
        "id": version.id,
        "created_at": version.created_at,
        "cog_version": version.cog_version,
        "openapi_schema": version.openapi_schema,
    }


def model_json(model: ModelRecord, base_url: str) -> dict[str, Any]:
    latest = model.latest_version
    return {
        "url": f"{base_url}/{model.owner}/{model.name}",
        "owner": model.owner,
        "name": model.name,
        "description": model.description,
        "visibility": model.visibility,
        "github_url": model.github_url,
        "paper_url": model.paper_url,
        "license_url": model.license_url,
        "cover_image_url": model.cover_image_url,
        "run_count": model.run_count,
        "is_official": model.is_official,
        "default_example": None,
        "latest_version": version_json(latest) if latest is not None else None,
    }


def release_json(release: Release) -> dict[str, Any]:
    return {
        "number": release.number,
        "model": release.model,
        "version": release.version,
        "created_at": release.created_at,
        "created_by": account_json(release.created_by),
        "configuration": {
            "hardware": release.hardware,
            "min_instances": release.min_instances,
            "max_instances": release.max_instances,
        },
    }


def deployment_json(deployment: DeploymentRecord) -> dict[str, Any]:
    return {
        "owner": deployment.owner,
        "name": deployment.name,
        "current_release": release_json(deployment.current_release),
    }


def prediction_json(prediction: PredictionRecord, base_url: str) -> dict[str, Any]:
    get_url = f"{base_url}/v1/predictions/{prediction.id}"
    payload: dict[str, Any] = {
        "id": prediction.id,
        "model": prediction.model,
        "version": prediction.version,
        "input": prediction.input,
        "output": prediction.output,
        "logs": prediction.logs,
        "error": prediction.error,
        "status": prediction.status,
        "source": "api",
        "data_removed": False,
        "created_at": prediction.created_at,
        "urls": {
            "get": get_url,
            "cancel": f"{get_url}/cancel",
            "stream": f"{get_url}/stream",
            "web": f"{base_url}/p/{prediction.id}",
        },
        "metrics": prediction.metrics(),
    }
    if prediction.started_at is not None:
        payload["started_at"] = prediction.started_at
    if prediction.completed_at is not None:
        payload["completed_at"] = prediction.completed_at
    if prediction.deployment is not None:
        payload["deployment"] = prediction.deployment
    return payload


def encode_cursor(offset: int, search: str | None) -> str:
    state = {"offset": offset} if search is None else {"offset": offset, "search": search}
    return base64.urlsafe_b64encode(json.dumps(state).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, str | None]:
    """Read a cursor made by ``encode_cursor``; raise a 400 for anything else."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        state = json.loads(base64.urlsafe_b64decode(padded.encode()))
        offset = state["offset"]
        search = state.get("search")
    except (binascii.Error, ValueError, KeyError, TypeError, AttributeError) as error:
        raise bad_request(f"invalid cursor {cursor!r}: pass the next or previous URL of a page") from error
    if not isinstance(offset, int) or offset < 0 or not (search is None or isinstance(search, str)):
        raise bad_request(f"invalid cursor {cursor!r}: pass the next or previous URL of a page")
    return offset, search


def page_json(
    items: list[Any],
    offset: int,
    page_size: int,
    page_url: str,
    search: str | None = None,
    extra_query: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Cut one page from ``items`` with absolute ``next`` and ``previous`` URLs on ``page_url``."""

    def link(link_offset: int) -> str:
        query = {**(extra_query or {}), "cursor": encode_cursor(link_offset, search)}
        return f"{page_url}?{urlencode(query)}"

    end = offset + page_size
    return {
        "previous": link(max(offset - page_size, 0)) if offset > 0 else None,
        "next": link(end) if end < len(items) else None,
        "results": items[offset:end],
    }
