"""Model card front matter: parsing and the metadata checks the Hub makes.

The Hub checks card metadata both in ``POST /api/validate-yaml`` and when a
commit adds ``README.md``. The client checks only the ``model-index`` shape,
so the license, language and task checks here are what stops bad metadata
before it reaches the real Hub.
"""

from __future__ import annotations

import datetime
import re
from typing import Any

import yaml

from pipeline.emulators.hub.names import repo_id_problem
from pipeline.emulators.hub.vocabulary import LICENSES, PIPELINE_TAGS

# The same block regex as huggingface_hub.repocard (2.4.0) and the Hub.
FRONT_MATTER = re.compile(r"^(\s*---(?:\r\n|\r|\n))([\S\s]*?)((?:\r\n|\r|\n)---[ \t]*(\r\n|\n|$))")
LANGUAGE_CODE = re.compile(r"[a-z]{2,3}")
EMPTY_METADATA_WARNING = "Empty or missing yaml metadata in repo card"


class CardError(ValueError):
    """Front matter that is not YAML or not a mapping."""


def parse_front_matter(text: str) -> dict[str, Any] | None:
    """Return the card's metadata, or None when the card has no front matter.

    Raises CardError when the block is not valid YAML or not a mapping.
    """
    match = FRONT_MATTER.search(text)
    if match is None:
        return None
    try:
        data = yaml.safe_load(match.group(2))
    except yaml.YAMLError as error:
        raise CardError(f"Invalid YAML in the metadata block: {error}") from error
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise CardError(f"The metadata block must be a YAML mapping, not {type(data).__name__}")
    return _jsonable(data)


def _jsonable(value: Any) -> Any:
    """Turn YAML dates into ISO strings and keys into strings, so metadata serializes to JSON."""
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_jsonable(item) for item in value]
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    return value


def validate_metadata(metadata: dict[str, Any]) -> list[str]:
    """Return one message per invalid field; each message starts with the field path."""
    errors: list[str] = []
    _check_license(metadata, errors)
    _check_language(metadata.get("language"), errors)
    _check_pipeline_tag(metadata.get("pipeline_tag"), errors)
    _check_string_list(metadata, "tags", errors)
    _check_ids(metadata, "datasets", errors)
    _check_ids(metadata, "base_model", errors)
    if "widget" in metadata and not isinstance(metadata["widget"], list):
        errors.append(f"widget: must be a list of examples, got {type(metadata['widget']).__name__}")
    if "model-index" in metadata:
        _check_model_index(metadata["model-index"], errors)
    return errors


def _check_license(metadata: dict[str, Any], errors: list[str]) -> None:
    if "license" not in metadata:
        return
    license_id = metadata["license"]
    if not isinstance(license_id, str) or license_id not in LICENSES:
        errors.append(f"license: {license_id!r} is not an allowed license identifier; "
                      "use one from the Hub's license list, or 'other' with license_name and license_link")
        return
    if license_id == "other":
        for field in ("license_name", "license_link"):
            if not isinstance(metadata.get(field), str) or not metadata[field]:
                errors.append(f"{field}: required when license is 'other'")


def _check_language(language: Any, errors: list[str]) -> None:
    if language is None:
        return
    codes = language if isinstance(language, list) else [language]
    for index, code in enumerate(codes):
        field = f"language[{index}]" if isinstance(language, list) else "language"
        if not isinstance(code, str) or not LANGUAGE_CODE.fullmatch(code):
            errors.append(f"{field}: {code!r} is not an ISO 639-1 or 639-3 code; "
                          "use lowercase codes such as 'en' or 'fra'")


def _check_pipeline_tag(tag: Any, errors: list[str]) -> None:
    if tag is not None and tag not in PIPELINE_TAGS:
        errors.append(f"pipeline_tag: {tag!r} is not a known task, for example 'text-classification'")


def _check_string_list(metadata: dict[str, Any], field: str, errors: list[str]) -> None:
    value = metadata.get(field)
    if value is None:
        return
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        errors.append(f"{field}: must be a list of strings")


def _check_ids(metadata: dict[str, Any], field: str, errors: list[str]) -> None:
    """Check a field holding one repo id or a list of them."""
    value = metadata.get(field)
    if value is None:
        return
    items = value if isinstance(value, list) else [value]
    for index, item in enumerate(items):
        path = f"{field}[{index}]" if isinstance(value, list) else field
        problem = repo_id_problem(item, namespace_required=False) if isinstance(item, str) else "not a string"
        if problem is not None:
            errors.append(f"{path}: {item!r} is not a valid repo id ({problem})")


def _check_model_index(model_index: Any, errors: list[str]) -> None:
    """Check the ``model-index`` shape that Papers with Code and the Hub's eval widget read."""
    if not isinstance(model_index, list):
        errors.append("model-index: must be a list of models")
        return
    for model_position, model in enumerate(model_index):
        path = f"model-index[{model_position}]"
        if not isinstance(model, dict):
            errors.append(f"{path}: must be a mapping with name and results")
            continue
        if not isinstance(model.get("name"), str):
            errors.append(f"{path}.name: required string")
        results = model.get("results")
        if not isinstance(results, list):
            errors.append(f"{path}.results: required list")
            continue
        for result_position, result in enumerate(results):
            _check_result(result, f"{path}.results[{result_position}]", errors)


def _check_result(result: Any, path: str, errors: list[str]) -> None:
    if not isinstance(result, dict):
        errors.append(f"{path}: must be a mapping with task, dataset and metrics")
        return

    task = result.get("task")
    if not isinstance(task, dict) or not isinstance(task.get("type"), str):
        errors.append(f"{path}.task.type: required string")
    elif "name" in task and not isinstance(task["name"], str):
        errors.append(f"{path}.task.name: must be a string")

    dataset = result.get("dataset")
    if not isinstance(dataset, dict):
        errors.append(f"{path}.dataset: required mapping with type and name")
    else:
        _check_dataset(dataset, f"{path}.dataset", errors)

    metrics = result.get("metrics")
    if not isinstance(metrics, list) or not metrics:
        errors.append(f"{path}.metrics: required non-empty list")
        return
    for position, metric in enumerate(metrics):
        metric_path = f"{path}.metrics[{position}]"
        if not isinstance(metric, dict):
            errors.append(f"{metric_path}: must be a mapping with type and value")
            continue
        if not isinstance(metric.get("type"), str):
            errors.append(f"{metric_path}.type: required string")
        if "value" not in metric or metric["value"] is None:
            errors.append(f"{metric_path}.value: required")
        if "name" in metric and not isinstance(metric["name"], str):
            errors.append(f"{metric_path}.name: must be a string")


def _check_dataset(dataset: dict[str, Any], path: str, errors: list[str]) -> None:
    dataset_type = dataset.get("type")
    if not isinstance(dataset_type, str):
        errors.append(f"{path}.type: required string")
    else:
        problem = repo_id_problem(dataset_type, namespace_required=False)
        if problem is not None:
            errors.append(f"{path}.type: {dataset_type!r} is not a valid dataset id ({problem})")
    if not isinstance(dataset.get("name"), str):
        errors.append(f"{path}.name: required string")
    for field in ("config", "split", "revision"):
        if field in dataset and not isinstance(dataset[field], str):
            errors.append(f"{path}.{field}: must be a string, got {type(dataset[field]).__name__}")
