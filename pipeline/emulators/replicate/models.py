"""Routes for the account, hardware, models and model versions.

Besides Replicate's routes this module serves two emulator-only routes:
``POST /v1/_emulator/models/{owner}/{name}/versions`` registers a version the
way a finished ``cog push`` would, because the public API cannot create
versions, and ``PATCH /v1/_emulator/models/{owner}/{name}`` marks a model
official, because only official models run without a version.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

from pipeline.emulators.base import Response
from pipeline.emulators.replicate.cogschema import check_schema
from pipeline.emulators.replicate.context import Context
from pipeline.emulators.replicate.errors import FieldError, bad_request, conflict, not_found, validation_failed
from pipeline.emulators.replicate.render import (
    account_json,
    decode_cursor,
    model_json,
    page_json,
    version_json,
)
from pipeline.emulators.replicate.state import ModelRecord, VersionRecord, utc_now
from pipeline.emulators.replicate.validation import (
    VERSION_ID_PATTERN,
    check_hardware,
    check_name,
    check_string,
    check_unknown_keys,
    check_visibility,
)

logger = logging.getLogger(__name__)

MODEL_URL_FIELDS = ("github_url", "paper_url", "license_url", "cover_image_url")
UPDATABLE_MODEL_FIELDS = ("description", "readme", "github_url", "paper_url", "weights_url", "license_url")
SORT_FIELDS = ("model_created_at", "latest_version_created_at")
DEFAULT_COG_VERSION = "0.23.1"


def get_account(context: Context) -> Response:
    return Response.json(account_json(context.account))


def list_hardware(context: Context) -> Response:
    return Response.json([{"sku": item.sku, "name": item.name} for item in context.settings.hardware])


def _sort_key(model: ModelRecord, sort_by: str) -> str:
    if sort_by == "model_created_at":
        return model.created_at
    latest = model.latest_version
    return latest.created_at if latest is not None else ""


def _visible_models(context: Context, search: str | None) -> list[ModelRecord]:
    models = [
        model
        for model in context.store.models.values()
        if model.visibility == "public" or context.acts_for(model.owner)
    ]
    if search is None:
        return models
    needle = search.lower()
    return [
        model
        for model in models
        if needle in model.full_name.lower() or needle in (model.description or "").lower()
    ]


def list_models(context: Context) -> Response:
    """Serve GET (a list) and QUERY (a search with a text/plain body) on ``/v1/models``."""
    request = context.request
    sort_by = request.first("sort_by", "latest_version_created_at")
    sort_direction = request.first("sort_direction", "desc")
    if sort_by not in SORT_FIELDS:
        raise bad_request(f"invalid sort_by {sort_by!r}: use model_created_at or latest_version_created_at")
    if sort_direction not in ("asc", "desc"):
        raise bad_request(f"invalid sort_direction {sort_direction!r}: use asc or desc")

    cursor = request.first("cursor")
    offset, search = decode_cursor(cursor) if cursor else (0, None)
    if request.method == "QUERY" and not cursor:
        search = request.body.decode("utf-8", errors="replace").strip()

    models = _visible_models(context, search)
    models.sort(key=lambda model: _sort_key(model, sort_by), reverse=sort_direction == "desc")
    rendered = [model_json(model, context.base_url) for model in models]
    extra_query = {"sort_by": sort_by, "sort_direction": sort_direction}
    page = page_json(
        rendered, offset, context.settings.page_size, f"{context.base_url}/v1/models", search, extra_query
    )
    return Response.json(page)


def create_model(context: Context) -> Response:
    body = context.body()
    errors = [
        *check_name(body, "owner"),
        *check_name(body, "name"),
        *check_visibility(body),
        *check_hardware(body, context.settings),
        *check_string(body, "description", required=False, nullable=True),
    ]
    for key in MODEL_URL_FIELDS:
        errors.extend(check_string(body, key, required=False, nullable=True))
    if errors:
        raise validation_failed(errors)

    owner, name = body["owner"], body["name"]
    context.require_owner(owner)
    if (owner, name) in context.store.models:
        raise conflict(f"a model named {owner}/{name} already exists")

    model = ModelRecord(
        owner=owner,
        name=name,
        visibility=body["visibility"],
        hardware=body["hardware"],
        created_at=utc_now(),
        description=body.get("description"),
        github_url=body.get("github_url"),
        paper_url=body.get("paper_url"),
        license_url=body.get("license_url"),
        cover_image_url=body.get("cover_image_url"),
    )
    context.store.models[(owner, name)] = model
    logger.info("created model %s (%s, %s)", model.full_name, model.visibility, model.hardware)
    return Response.json(model_json(model, context.base_url), status=201)


def get_model(context: Context) -> Response:
    model = context.model(context.param("owner"), context.param("name"))
    return Response.json(model_json(model, context.base_url))


def update_model(context: Context) -> Response:
    model = context.model(context.param("owner"), context.param("name"))
    context.require_owner(model.owner)
    body = context.body()
    errors = check_unknown_keys(body, UPDATABLE_MODEL_FIELDS)
    for key in UPDATABLE_MODEL_FIELDS:
        errors.extend(check_string(body, key, required=False, nullable=True))
    if errors:
        raise validation_failed(errors)

    for key, value in body.items():
        setattr(model, key, value)
    logger.info("updated model %s: %s", model.full_name, ", ".join(sorted(body)) or "no fields")
    return Response.json(model_json(model, context.base_url))


def delete_model(context: Context) -> Response:
    """Delete a model; like Replicate, only a private model without versions."""
    model = context.model(context.param("owner"), context.param("name"))
    context.require_owner(model.owner)
    if model.visibility != "private":
        raise conflict(f"model {model.full_name} is public: only private models can be deleted")
    if model.versions:
        raise conflict(
            f"model {model.full_name} has {len(model.versions)} versions: delete them before the model"
        )

    del context.store.models[(model.owner, model.name)]
    logger.info("deleted model %s", model.full_name)
    return Response(status=204)


def list_versions(context: Context) -> Response:
    model = context.model(context.param("owner"), context.param("name"))
    cursor = context.request.first("cursor")
    offset, _ = decode_cursor(cursor) if cursor else (0, None)
    newest_first = [version_json(version) for version in reversed(model.versions)]
    page_url = f"{context.base_url}/v1/models/{model.owner}/{model.name}/versions"
    return Response.json(page_json(newest_first, offset, context.settings.page_size, page_url))


def _version(context: Context) -> tuple[ModelRecord, VersionRecord]:
    model = context.model(context.param("owner"), context.param("name"))
    version_id = context.param("version_id")
    version = model.version(version_id)
    if version is None:
        raise not_found(f"version {version_id} of model {model.full_name} not found")
    return model, version


def get_version(context: Context) -> Response:
    _, version = _version(context)
    return Response.json(version_json(version))


def delete_version(context: Context) -> Response:
    """Delete a version at once and return 202, the status Replicate uses for its async delete."""
    model, version = _version(context)
    context.require_owner(model.owner)
    users = context.store.deployments_using(model, version.id)
    if users:
        names = ", ".join(deployment.full_name for deployment in users)
        raise conflict(f"version {version.id} is used by deployments {names}: move them to another version first")

    model.versions.remove(version)
    logger.info("deleted version %s of %s", version.id, model.full_name)
    return Response(status=202)


def _canonical_json(payload: Any) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()


def register_version(context: Context) -> Response:
    """Register a version (emulator only): 201 when new, 200 when the same id and content exist.

    Body: ``{"id"?: 64 hex, "openapi_schema": {...}, "cog_version"?: "0.23.1"}``.
    The id defaults to the sha256 of the body's canonical JSON, standing in for
    the image digest that Replicate uses as the version id.
    """
    model = context.model(context.param("owner"), context.param("name"))
    context.require_owner(model.owner)
    body = context.body()

    errors = check_unknown_keys(body, ("id", "openapi_schema", "cog_version"))
    errors.extend(check_string(body, "id", required=False))
    errors.extend(check_string(body, "cog_version", required=False))
    if not isinstance(body.get("openapi_schema"), dict):
        errors.append(FieldError("/openapi_schema", "openapi_schema is required and must be an object"))
    if isinstance(body.get("openapi_schema"), dict):
        for problem in check_schema(body["openapi_schema"]):
            errors.append(FieldError("/openapi_schema", problem))
    version_id = body.get("id") or hashlib.sha256(_canonical_json(body)).hexdigest()
    if isinstance(version_id, str) and not VERSION_ID_PATTERN.match(version_id):
        errors.append(FieldError("/id", f"{version_id!r} is not a version id: use 64 lowercase hex digits"))
    if errors:
        raise validation_failed(errors)

    cog_version = body.get("cog_version", DEFAULT_COG_VERSION)
    existing = model.version(version_id)
    if existing is not None:
        if existing.openapi_schema != body["openapi_schema"] or existing.cog_version != cog_version:
            raise conflict(f"version {version_id} of {model.full_name} already exists with other content")
        return Response.json(version_json(existing), status=200)

    version = VersionRecord(version_id, utc_now(), cog_version, body["openapi_schema"])
    model.versions.append(version)
    logger.info("registered version %s of %s", version_id, model.full_name)
    return Response.json(version_json(version), status=201)


def set_official(context: Context) -> Response:
    """Mark a model official or not (emulator only), since only official models run without a version.

    Body: ``{"is_official": true|false}``.
    """
    model = context.model(context.param("owner"), context.param("name"))
    body = context.body()
    errors = check_unknown_keys(body, ("is_official",))
    if not isinstance(body.get("is_official"), bool):
        errors.append(FieldError("/is_official", "is_official is required and must be true or false"))
    if errors:
        raise validation_failed(errors)

    model.is_official = body["is_official"]
    logger.info("marked model %s official=%s", model.full_name, model.is_official)
    return Response.json(model_json(model, context.base_url))
