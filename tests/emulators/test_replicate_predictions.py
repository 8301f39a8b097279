"""Predictions through the real replicate 1.0.7 client."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
import replicate
from replicate.exceptions import ReplicateError

from pipeline.emulators.base import Emulator
from pipeline.emulators.replicate import ReplicateApp
from tests.emulators.replicate_fixtures import (  # noqa: F401 - pytest fixtures
    OWNER,
    auth_headers,
    client,
    create_model_with_version,
    emulator,
    loopback_env,
    make_client,
    register_version,
    schema_with_output,
    stop_in_background,
)


def test_prediction_moves_to_succeeded(emulator: Emulator, client: replicate.Client) -> None:
    version_id = create_model_with_version(client, emulator.url)

    prediction = client.predictions.create(version=version_id, input={"prompt": "a cat"})
    created_status = prediction.status
    prediction.reload()
    middle_status = prediction.status
    prediction.wait()

    assert created_status == "starting"
    assert middle_status == "processing"
    assert prediction.status == "succeeded"
    assert isinstance(prediction.output, str)
    assert prediction.metrics is not None
    assert prediction.metrics["predict_time"] >= 0
    assert prediction.completed_at is not None
    assert prediction.urls is not None
    assert prediction.urls["get"] == f"{emulator.url}/v1/predictions/{prediction.id}"
    assert prediction.urls["cancel"] == f"{emulator.url}/v1/predictions/{prediction.id}/cancel"
    assert prediction.urls["stream"].startswith(emulator.url)


def test_prediction_output_is_deterministic(emulator: Emulator, client: replicate.Client) -> None:
    version_id = create_model_with_version(client, emulator.url)

    first = client.predictions.create(version=version_id, input={"prompt": "a cat"}, wait=True)
    second = client.predictions.create(version=version_id, input={"prompt": "a cat", "steps": 10}, wait=True)
    other = client.predictions.create(version=version_id, input={"prompt": "a dog"}, wait=True)

    assert first.status == "succeeded"
    assert first.output == second.output
    assert first.output != other.output


@pytest.mark.parametrize(
    ("output_schema", "expected_type"),
    [
        ({"type": "string"}, str),
        ({"type": "number"}, float),
        ({"type": "integer"}, int),
        ({"type": "array", "items": {"type": "string"}}, list),
        ({"type": "object", "properties": {"label": {"type": "string"}, "score": {"type": "number"}}}, dict),
    ],
)
def test_prediction_output_matches_schema_type(
    emulator: Emulator, client: replicate.Client, output_schema: dict[str, object], expected_type: type
) -> None:
    client.models.create(OWNER, "typed", visibility="private", hardware="cpu")
    version_id = register_version(emulator.url, "acme/typed", schema_with_output(output_schema)).json()["id"]

    prediction = client.predictions.create(version=version_id, input={"prompt": "x"}, wait=True)

    assert isinstance(prediction.output, expected_type)
    if expected_type is dict:
        assert set(prediction.output) == {"label", "score"}


def test_prefer_wait_never_returns_processing(emulator: Emulator, client: replicate.Client) -> None:
    version_id = create_model_with_version(client, emulator.url)

    output = client.run(f"acme/text-model:{version_id}", input={"prompt": "hello"})

    assert isinstance(output, str)
    assert output.startswith("emulated output")


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({}, "prompt is required"),
        ({"prompt": 3}, "prompt: Invalid type"),
        ({"prompt": "x", "steps": 0}, "steps must be greater than or equal to 1"),
        ({"prompt": "x", "steps": 51}, "steps must be less than or equal to 50"),
        ({"prompt": "x", "steps": 2.5}, "steps: Invalid type"),
        ({"prompt": "x", "style": "gothic"}, "style must be one of the following"),
    ],
)
def test_prediction_invalid_input_is_422(
    emulator: Emulator, client: replicate.Client, payload: dict[str, object], message: str
) -> None:
    version_id = create_model_with_version(client, emulator.url)

    with pytest.raises(ReplicateError) as raised:
        client.predictions.create(version=version_id, input=payload)

    assert raised.value.status == 422
    assert raised.value.title == "Input validation failed"
    assert message in raised.value.detail


def test_prediction_unknown_version_is_422(client: replicate.Client) -> None:
    with pytest.raises(ReplicateError) as raised:
        client.predictions.create(version="f" * 64, input={"prompt": "x"})

    assert raised.value.status == 422
    assert raised.value.title == "Invalid version or not permitted"


def test_deployment_prediction_uses_current_release(emulator: Emulator, client: replicate.Client) -> None:
    version_id = create_model_with_version(client, emulator.url)
    client.deployments.create(
        name="text-model-prod", model="acme/text-model", version=version_id,
        hardware="cpu", min_instances=0, max_instances=1,
    )

    prediction = client.deployments.predictions.create("acme/text-model-prod", input={"prompt": "hi"})
    prediction.wait()

    assert prediction.version == version_id
    assert prediction.model == "acme/text-model"
    assert prediction.status == "succeeded"
    assert client.models.get("acme/text-model").run_count == 1


def test_model_prediction_needs_official_model(emulator: Emulator, client: replicate.Client) -> None:
    create_model_with_version(client, emulator.url)

    with pytest.raises(ReplicateError) as raised:
        client.models.predictions.create("acme/text-model", input={"prompt": "hi"})
    marked = httpx.patch(
        f"{emulator.url}/v1/_emulator/models/acme/text-model", json={"is_official": True}, headers=auth_headers()
    )
    prediction = client.models.predictions.create("acme/text-model", input={"prompt": "hi"}, wait=True)

    assert raised.value.status == 422
    assert marked.status_code == 200
    assert prediction.status == "succeeded"


def test_prediction_cancel(emulator: Emulator, client: replicate.Client) -> None:
    version_id = create_model_with_version(client, emulator.url)
    prediction = client.predictions.create(version=version_id, input={"prompt": "x"})

    canceled = client.predictions.cancel(prediction.id)

    assert canceled.status == "canceled"
    assert canceled.output is None
    assert client.predictions.get(prediction.id).status == "canceled"


def test_predictions_list_newest_first(emulator: Emulator, client: replicate.Client) -> None:
    version_id = create_model_with_version(client, emulator.url)
    first = client.predictions.create(version=version_id, input={"prompt": "one"})
    second = client.predictions.create(version=version_id, input={"prompt": "two"})

    page = client.predictions.list()

    assert [prediction.id for prediction in page.results] == [second.id, first.id]


def test_prediction_get_missing_is_404(client: replicate.Client) -> None:
    with pytest.raises(ReplicateError) as raised:
        client.predictions.get("doesnotexist")

    assert raised.value.status == 404


def test_prediction_stream_sends_output_then_done(emulator: Emulator, client: replicate.Client) -> None:
    version_id = create_model_with_version(client, emulator.url)
    prediction = client.predictions.create(version=version_id, input={"prompt": "x"}, stream=True)

    events = list(prediction.stream())

    assert [event.event.value for event in events] == ["output", "done"]
    assert events[0].data.startswith("emulated output")


def test_prediction_seconds_finishes_on_first_read(
    loopback_env: None, make_client: Callable[..., replicate.Client]
) -> None:
    running = Emulator(ReplicateApp(prediction_reads=10, prediction_seconds=0.0))
    running.start()
    try:
        timed_client = make_client(running.url)
        version_id = create_model_with_version(timed_client, running.url)
        prediction = timed_client.predictions.create(version=version_id, input={"prompt": "x"})
        fetched = timed_client.predictions.get(prediction.id)
    finally:
        stop_in_background(running)

    assert prediction.status == "starting"
    assert fetched.status == "succeeded"
