"""Routes for predictions: create (by version, deployment or official model), read, list, cancel, stream.

A prediction is created ``starting``. Each GET moves it one step: the first
read makes it ``processing`` and read number ``prediction_reads`` makes it
``succeeded`` (or any read after ``prediction_seconds``, when set). A create
with ``Prefer: wait`` returns it already ``succeeded``, never ``processing``,
because the 1.0.7 client's ``run()`` stops waiting on any status other than
``starting``.

NOTE: webhook fields are checked but no webhook is ever delivered, because the
emulator contacts no host.
"""

from __future__ import annotations

import json
import logging
import re
import time
from typing import Any

from pipeline.emulators.base import Response
from pipeline.emulators.replicate.cogschema import check_input, placeholder_output
from pipeline.emulators.replicate.context import Context
from pipeline.emulators.replicate.errors import (
    ApiError,
    FieldError,
    bad_request,
    input_validation_failed,
    invalid_version,
    not_found,
    validation_failed,
)
from pipeline.emulators.replicate.render import decode_cursor, page_json, prediction_json
from pipeline.emulators.replicate.state import (
    ModelRecord,
    PredictionRecord,
    VersionRecord,
    new_prediction_id,
    utc_now,
)
from pipeline.emulators.replicate.validation import VERSION_ID_PATTERN

logger = logging.getLogger(__name__)

# The Prefer header as Replicate's OpenAPI description allows it: "wait" or "wait=1" to "wait=60".
PREFER_PATTERN = re.compile(r"^wait(=([1-9]|[1-9][0-9]|60))?$")
WEBHOOK_EVENTS = ("start", "output", "logs", "completed")
# The data of the final "done" event for each terminal status.
DONE_REASONS: dict[str, dict[str, str]] = {"succeeded": {}, "canceled": {"reason": "canceled"}, "failed": {"reason": "error"}}
VERSION_REFERENCE_PATTERN = re.compile(r"^(?P<owner>[^/:]+)/(?P<name>[^/:]+)(:(?P<version>[^/:]+))?$")


def _wants_wait(context: Context) -> bool:
    prefer = context.request.header("prefer")
    if prefer is None:
        return False
    if not PREFER_PATTERN.match(prefer.strip()):
        raise bad_request(f"invalid Prefer header {prefer!r}: use wait or wait=N with N from 1 to 60")
    return True


def _check_request_fields(body: dict[str, Any]) -> None:
    errors = []
    if not isinstance(body.get("input"), dict):
        errors.append(FieldError("/input", "input is required and must be an object"))
    events = body.get("webhook_events_filter")
    if events is not None and (
        not isinstance(events, list) or not all(isinstance(event, str) and event in WEBHOOK_EVENTS for event in events)
    ):
        errors.append(
            FieldError("/webhook_events_filter", f"{events!r} is not valid. Your options are: start, output, logs, completed")
        )
    for key in ("webhook", "webhook_completed"):
        if body.get(key) is not None and not isinstance(body[key], str):
            errors.append(FieldError(f"/{key}", f"{key} must be a URL string, got {body[key]!r}"))
    if errors:
        raise validation_failed(errors)


def _official_version(model: ModelRecord) -> VersionRecord:
    latest = model.latest_version
    if not model.is_official or latest is None:
        raise invalid_version(
            f"model {model.full_name} is not an official model, so it needs a version: "
            f"use {model.full_name}:<version id>"
        )
    return latest


def _resolve_version(context: Context, reference: Any) -> tuple[ModelRecord, VersionRecord]:
    """Find the version that ``reference`` names: ``id``, ``owner/name:id`` or official ``owner/name``."""
    missing = invalid_version(
        f"The specified version {reference!r} does not exist (or perhaps you don't have permission to use it?)"
    )
    if not isinstance(reference, str):
        raise validation_failed([FieldError("/version", "version is required and must be a string")])

    if VERSION_ID_PATTERN.match(reference):
        for model in context.store.models.values():
            version = model.version(reference)
            if version is not None and (model.visibility == "public" or context.acts_for(model.owner)):
                return model, version
        raise missing

    match = VERSION_REFERENCE_PATTERN.match(reference)
    if match is None:
        raise missing
    try:
        model = context.model(match["owner"], match["name"])
    except ApiError as error:
        raise missing from error
    if match["version"] is None:
        return model, _official_version(model)
    version = model.version(match["version"])
    if version is None:
        raise missing
    return model, version


def _start_prediction(
    context: Context, model: ModelRecord, version: VersionRecord, body: dict[str, Any], deployment: str | None
) -> Response:
    """Check the input, record the prediction and return 201, finished when the caller waits."""
    wait = _wants_wait(context)
    problems = check_input(version.openapi_schema, body["input"])
    if problems:
        raise input_validation_failed(problems)

    prediction = PredictionRecord(
        id=new_prediction_id(),
        model=model.full_name,
        version=version.id,
        input=body["input"],
        final_output=placeholder_output(version.openapi_schema, version.id, body["input"]),
        created_at=utc_now(),
        created_monotonic=time.monotonic(),
        deployment=deployment,
    )
    if wait:
        prediction.finish("succeeded")
    context.store.predictions[prediction.id] = prediction
    model.run_count += 1
    logger.info("created prediction %s of %s:%s (%s)", prediction.id, model.full_name, version.id, prediction.status)
    return Response.json(prediction_json(prediction, context.base_url), status=201)


def create_prediction(context: Context) -> Response:
    body = context.body()
    model, version = _resolve_version(context, body.get("version"))
    _check_request_fields(body)
    return _start_prediction(context, model, version, body, deployment=None)


def create_deployment_prediction(context: Context) -> Response:
    deployment = context.deployment(context.param("owner"), context.param("name"))
    body = context.body()
    _check_request_fields(body)
    release = deployment.current_release
    model_owner, _, model_name = release.model.partition("/")
    model = context.store.models[(model_owner, model_name)]
    version = model.version(release.version)
    if version is None:
        raise invalid_version(f"version {release.version} of deployment {deployment.full_name} no longer exists")
    return _start_prediction(context, model, version, body, deployment=deployment.full_name)


def create_model_prediction(context: Context) -> Response:
    model = context.model(context.param("owner"), context.param("name"))
    body = context.body()
    _check_request_fields(body)
    return _start_prediction(context, model, _official_version(model), body, deployment=None)


def _prediction(context: Context) -> PredictionRecord:
    prediction_id = context.param("prediction_id")
    prediction = context.store.predictions.get(prediction_id)
    if prediction is None:
        raise not_found(f"prediction {prediction_id} not found")
    return prediction


def get_prediction(context: Context) -> Response:
    prediction = _prediction(context)
    prediction.advance(context.settings.prediction_reads, context.settings.prediction_seconds)
    return Response.json(prediction_json(prediction, context.base_url))


def list_predictions(context: Context) -> Response:
    cursor = context.request.first("cursor")
    offset, _ = decode_cursor(cursor) if cursor else (0, None)
    newest_first = [
        prediction_json(prediction, context.base_url) for prediction in reversed(context.store.predictions.values())
    ]
    page_url = f"{context.base_url}/v1/predictions"
    return Response.json(page_json(newest_first, offset, context.settings.page_size, page_url))


def cancel_prediction(context: Context) -> Response:
    """Cancel a prediction; a finished one is returned unchanged."""
    prediction = _prediction(context)
    prediction.finish("canceled")
    logger.info("prediction %s is %s after cancel", prediction.id, prediction.status)
    return Response.json(prediction_json(prediction, context.base_url))


def _event(event_id: int, event: str, data: str) -> str:
    data_lines = "".join(f"data: {line}\n" for line in data.split("\n"))
    return f"id: {event_id}\nevent: {event}\n{data_lines}\n"


def stream_prediction(context: Context) -> Response:
    """Serve ``urls.stream`` as server-sent events: the output, then ``done``.

    Streaming finishes the prediction, as reading a real stream to its end does.
    """
    prediction = _prediction(context)
    prediction.finish("succeeded")

    events = []
    if prediction.status == "succeeded":
        chunks = prediction.output if isinstance(prediction.output, list) else [prediction.output]
        for chunk in chunks:
            text = chunk if isinstance(chunk, str) else json.dumps(chunk)
            events.append(("output", text))
    events.append(("done", json.dumps(DONE_REASONS[prediction.status])))

    body = "".join(_event(index, event, data) for index, (event, data) in enumerate(events, start=1))
    headers = {"Cache-Control": "no-store"}
    return Response(200, body.encode(), {"Content-Type": "text/event-stream", **headers})
