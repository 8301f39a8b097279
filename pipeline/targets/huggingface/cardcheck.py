"""Check model card metadata before anything is uploaded.

The Hub rejects a README.md whose metadata it cannot accept, but only after
the weights of that commit were uploaded, and ``huggingface_hub`` checks
nothing but the shape of ``model-index``. These checks run when the plan is
computed, so a bad card fails the plan with every field path at once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import yaml

from pipeline.manifest.licenses import HUB_LICENSES

# The front matter block, with the same pattern as huggingface_hub.repocard (2.4.0).
FRONT_MATTER = re.compile(r"^(\s*---(?:\r\n|\r|\n))([\S\s]*?)((?:\r\n|\r|\n)---[ \t]*(\r\n|\n|$))")
LANGUAGE_CODE = re.compile(r"[a-z]{2,3}")
# Values the Hub accepts besides ISO 639 codes; published cards such as TheBloke's CodeLlama GGUF use "code".
LANGUAGE_SPECIAL = frozenset({"code", "multilingual"})
# A Hub repo id: an optional namespace and a name, each of ASCII letters, digits, '.', '_' and '-'.
REPO_ID = re.compile(r"(?:[A-Za-z0-9][A-Za-z0-9._-]{0,95}/)?[A-Za-z0-9][A-Za-z0-9._-]{0,95}")


def card_metadata(card: str) -> dict[str, Any]:
    """Parse the YAML front matter of a rendered card; a card without one has no metadata."""
    match = FRONT_MATTER.search(card)
    if match is None:
        return {}
    try:
        data = yaml.safe_load(match.group(2))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 2}" if mark is not None else ""  # +1 for 1-based, +1 for the opening ---
        raise ValueError(f"the card's front matter is not valid YAML{where}: "
                         f"{getattr(error, 'problem', None) or error}") from error
    return data if isinstance(data, dict) else {"(front matter)": data}


def check_card_metadata(metadata: Mapping[str, Any]) -> list[str]:
    """Return one ``field.path: problem`` message per invalid field; an empty list means valid."""
    problems: list[str] = []
    if "(front matter)" in metadata:
        problems.append("(front matter): the card's metadata block must be a YAML mapping")
    _check_license(metadata, problems)
    _check_language(metadata.get("language"), problems)
    if "widget" in metadata and not isinstance(metadata["widget"], list):
        problems.append(f"widget: must be a list of examples, got {type(metadata['widget']).__name__}")
    if "model-index" in metadata:
        _check_model_index(metadata["model-index"], problems)
    return problems


def _check_license(metadata: Mapping[str, Any], problems: list[str]) -> None:
    license_id = metadata.get("license")
    if license_id is None:
        return
    if license_id not in HUB_LICENSES:
        problems.append(f"license: {license_id!r} is not in the Hub's license list; "
                        "use one such as apache-2.0, or other with license_name and license_link")
    elif license_id == "other":
        for field in ("license_name", "license_link"):
            if not isinstance(metadata.get(field), str) or not metadata[field]:
                problems.append(f"{field}: required when license is other")


def _check_language(language: Any, problems: list[str]) -> None:
    if language is None:
        return
    codes = language if isinstance(language, list) else [language]
    for index, code in enumerate(codes):
        field = f"language[{index}]" if isinstance(language, list) else "language"
        if not isinstance(code, str) or not (LANGUAGE_CODE.fullmatch(code) or code in LANGUAGE_SPECIAL):
            problems.append(f"{field}: {code!r} is not a lowercase ISO 639-1 or 639-3 code such as en or fra")


def _check_model_index(model_index: Any, problems: list[str]) -> None:
    if not isinstance(model_index, list):
        problems.append("model-index: must be a list of models with name and results")
        return
    for position, model in enumerate(model_index):
        path = f"model-index[{position}]"
        if not isinstance(model, dict):
            problems.append(f"{path}: must be a mapping with name and results")
            continue
        if not isinstance(model.get("name"), str):
            problems.append(f"{path}.name: required string")
        results = model.get("results")
        if not isinstance(results, list):
            problems.append(f"{path}.results: required list")
            continue
        for result_position, result in enumerate(results):
            _check_result(result, f"{path}.results[{result_position}]", problems)


def _check_result(result: Any, path: str, problems: list[str]) -> None:
    if not isinstance(result, dict):
        problems.append(f"{path}: must be a mapping with task, dataset and metrics")
        return

    task = result.get("task")
    if not isinstance(task, dict) or not isinstance(task.get("type"), str):
        problems.append(f"{path}.task.type: required string")

    dataset = result.get("dataset")
    if isinstance(dataset, dict):
        _check_dataset(dataset, f"{path}.dataset", problems)
    else:
        problems.append(f"{path}.dataset: required mapping with type and name")

    metrics = result.get("metrics")
    if not isinstance(metrics, list) or not metrics:
        problems.append(f"{path}.metrics: required non-empty list")
        return
    for position, metric in enumerate(metrics):
        metric_path = f"{path}.metrics[{position}]"
        if not isinstance(metric, dict):
            problems.append(f"{metric_path}: must be a mapping with type and value")
            continue
        if not isinstance(metric.get("type"), str):
            problems.append(f"{metric_path}.type: required string")
        if metric.get("value") is None:
            problems.append(f"{metric_path}.value: required")


def _check_dataset(dataset: Mapping[str, Any], path: str, problems: list[str]) -> None:
    dataset_type = dataset.get("type")
    if not isinstance(dataset_type, str):
        problems.append(f"{path}.type: required string")
    elif not REPO_ID.fullmatch(dataset_type) or "--" in dataset_type or ".." in dataset_type:
        problems.append(f"{path}.type: {dataset_type!r} is not a dataset id such as mnist or org/name")
    if not isinstance(dataset.get("name"), str):
        problems.append(f"{path}.name: required string")
    for field in ("config", "split", "revision"):
        if field in dataset and not isinstance(dataset[field], str):
            problems.append(f"{path}.{field}: must be a string, got {type(dataset[field]).__name__} "
                            f"{dataset[field]!r}; quote it in the YAML")
