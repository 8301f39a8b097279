"""Routes for deployments and their releases.

A deployment belongs to the account that creates it. Under the ``any_owner``
rule the token acts for the deployed model's owner, so a deployment of
``my-org/model`` is ``my-org/<name>`` whatever the token. Every accepted PATCH
adds a release with the next number, even when it repeats the current values,
as Replicate documents.
"""

from __future__ import annotations

import logging
from typing import Any

from pipeline.emulators.base import Response
from pipeline.emulators.replicate.context import Context
from pipeline.emulators.replicate.errors import FieldError, conflict, validation_failed
from pipeline.emulators.replicate.render import decode_cursor, deployment_json, page_json
from pipeline.emulators.replicate.state import DeploymentRecord, ModelRecord, Release, utc_now
from pipeline.emulators.replicate.validation import (
    MAX_INSTANCES_LIMIT,
    MIN_INSTANCES_LIMIT,
    check_hardware,
    check_instance_range,
    check_instances,
    check_name,
    check_string,
    check_unknown_keys,
)

logger = logging.getLogger(__name__)

UPDATABLE_FIELDS = ("version", "hardware", "min_instances", "max_instances")


def _find_model(context: Context, reference: str) -> tuple[ModelRecord | None, list[FieldError]]:
    """Resolve ``owner/name`` from a deployment body into a model the caller can deploy."""
    owner, _, name = reference.partition("/")
    model = context.store.models.get((owner, name))
    if not name or "/" in name or model is None or not context.acts_for(owner):
        return None, [FieldError("/model", f"model {reference!r} not found: use an existing owner/name")]
    return model, []


def _check_version(model: ModelRecord, version_id: Any) -> list[FieldError]:
    if not isinstance(version_id, str) or model.version(version_id) is None:
        known = ", ".join(version.id for version in reversed(model.versions)) or "none"
        detail = f"version {version_id!r} is not a version of model {model.full_name}. Its versions are: {known}"
        return [FieldError("/version", detail)]
    return []


def list_deployments(context: Context) -> Response:
    cursor = context.request.first("cursor")
    offset, _ = decode_cursor(cursor) if cursor else (0, None)
    rendered = [
        deployment_json(deployment)
        for deployment in context.store.deployments.values()
        if context.acts_for(deployment.owner)
    ]
    page_url = f"{context.base_url}/v1/deployments"
    return Response.json(page_json(rendered, offset, context.settings.page_size, page_url))


def create_deployment(context: Context) -> Response:
    body = context.body()
    errors = [
        *check_name(body, "name"),
        *check_string(body, "model"),
        *check_string(body, "version"),
        *check_hardware(body, context.settings),
        *check_instances(body, "min_instances", MIN_INSTANCES_LIMIT),
        *check_instances(body, "max_instances", MAX_INSTANCES_LIMIT),
    ]
    model = None
    if isinstance(body.get("model"), str):
        model, model_errors = _find_model(context, body["model"])
        errors.extend(model_errors)
    if model is not None and isinstance(body.get("version"), str):
        errors.extend(_check_version(model, body["version"]))
    if not errors:
        errors.extend(check_instance_range(body["min_instances"], body["max_instances"]))
    if errors or model is None:
        raise validation_failed(errors)

    owner = model.owner if context.settings.any_owner else context.account.username
    name = body["name"]
    if (owner, name) in context.store.deployments:
        raise conflict(f"a deployment named {owner}/{name} already exists")

    release = Release(
        number=1,
        model=model.full_name,
        version=body["version"],
        created_at=utc_now(),
        created_by=context.account,
        hardware=body["hardware"],
        min_instances=body["min_instances"],
        max_instances=body["max_instances"],
    )
    deployment = DeploymentRecord(owner, name, [release])
    context.store.deployments[(owner, name)] = deployment
    logger.info("created deployment %s of %s:%s", deployment.full_name, release.model, release.version)
    # The OpenAPI description documents 200 for this create, not 201.
    return Response.json(deployment_json(deployment), status=200)


def get_deployment(context: Context) -> Response:
    deployment = context.deployment(context.param("owner"), context.param("name"))
    return Response.json(deployment_json(deployment))


def update_deployment(context: Context) -> Response:
    deployment = context.deployment(context.param("owner"), context.param("name"))
    current = deployment.current_release
    body = context.body()

    errors = check_unknown_keys(body, UPDATABLE_FIELDS)
    if not body:
        errors.append(FieldError("/", f"give at least one of: {', '.join(UPDATABLE_FIELDS)}"))
    errors.extend(check_hardware(body, context.settings, required=False))
    errors.extend(check_instances(body, "min_instances", MIN_INSTANCES_LIMIT, required=False))
    errors.extend(check_instances(body, "max_instances", MAX_INSTANCES_LIMIT, required=False))
    model_owner, _, model_name = current.model.partition("/")
    model = context.store.models.get((model_owner, model_name))
    if "version" in body and model is not None:
        errors.extend(_check_version(model, body["version"]))
    min_instances = body.get("min_instances", current.min_instances)
    max_instances = body.get("max_instances", current.max_instances)
    if not errors:
        errors.extend(check_instance_range(min_instances, max_instances))
    if errors:
        raise validation_failed(errors)

    release = Release(
        number=current.number + 1,
        model=current.model,
        version=body.get("version", current.version),
        created_at=utc_now(),
        created_by=context.account,
        hardware=body.get("hardware", current.hardware),
        min_instances=min_instances,
        max_instances=max_instances,
    )
    deployment.releases.append(release)
    logger.info("deployment %s release %d: %s", deployment.full_name, release.number, ", ".join(sorted(body)))
    return Response.json(deployment_json(deployment))


def delete_deployment(context: Context) -> Response:
    """Delete a deployment at once.

    NOTE: Replicate deletes only deployments offline and unused for 15 minutes;
    the emulator does not track instances, so it skips that check.
    """
    deployment = context.deployment(context.param("owner"), context.param("name"))
    del context.store.deployments[(deployment.owner, deployment.name)]
    logger.info("deleted deployment %s", deployment.full_name)
    return Response(status=204)
