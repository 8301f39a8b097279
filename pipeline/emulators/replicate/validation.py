"""Request-body rules shared by the model and deployment routes.

Each check returns the ``FieldError`` list for one field, so a route can report
every broken rule of a body in one 400 ``Validation failed``, as Replicate does.
"""

from __future__ import annotations

import re
from typing import Any

from pipeline.emulators.replicate.context import Settings
from pipeline.emulators.replicate.errors import FieldError

# Replicate model, owner and deployment names: lowercase letters, digits, "-", "_" and ".".
NAME_PATTERN = re.compile(r"^[a-z0-9._-]+$")
VERSION_ID_PATTERN = re.compile(r"^[0-9a-f]{64}$")
VISIBILITIES = ("public", "private")
MIN_INSTANCES_LIMIT = 5
MAX_INSTANCES_LIMIT = 20


def check_string(body: dict[str, Any], key: str, required: bool = True, nullable: bool = False) -> list[FieldError]:
    if key not in body:
        return [FieldError(f"/{key}", f"{key} is required")] if required else []
    value = body[key]
    if value is None and nullable:
        return []
    if not isinstance(value, str):
        return [FieldError(f"/{key}", f"{key} must be a string, got {value!r}")]
    return []


def check_name(body: dict[str, Any], key: str) -> list[FieldError]:
    errors = check_string(body, key)
    if errors:
        return errors
    if not NAME_PATTERN.match(body[key]):
        detail = (
            f"{body[key]!r} is not a valid {key}: use lowercase letters, digits, dashes, "
            "underscores and periods"
        )
        return [FieldError(f"/{key}", detail)]
    return []


def check_visibility(body: dict[str, Any]) -> list[FieldError]:
    errors = check_string(body, "visibility")
    if errors:
        return errors
    if body["visibility"] not in VISIBILITIES:
        return [FieldError("/visibility", f"{body['visibility']!r} is not valid. Your options are: public, private")]
    return []


def check_hardware(body: dict[str, Any], settings: Settings, required: bool = True) -> list[FieldError]:
    errors = check_string(body, "hardware", required=required)
    if errors or "hardware" not in body:
        return errors
    if body["hardware"] not in settings.skus:
        options = ", ".join(settings.skus)
        detail = f"{body['hardware']} is not a valid hardware SKU. Your options are: {options}"
        return [FieldError("/hardware", detail)]
    return []


def check_instances(body: dict[str, Any], key: str, limit: int, required: bool = True) -> list[FieldError]:
    if key not in body:
        return [FieldError(f"/{key}", f"{key} is required")] if required else []
    value = body[key]
    if not isinstance(value, int) or isinstance(value, bool):
        return [FieldError(f"/{key}", f"{key} must be an integer, got {value!r}")]
    if not 0 <= value <= limit:
        return [FieldError(f"/{key}", f"{key} must be between 0 and {limit}, got {value}")]
    return []


def check_instance_range(min_instances: int, max_instances: int) -> list[FieldError]:
    if min_instances > max_instances:
        detail = f"min_instances ({min_instances}) must be less than or equal to max_instances ({max_instances})"
        return [FieldError("/min_instances", detail)]
    return []


def check_unknown_keys(body: dict[str, Any], allowed: tuple[str, ...]) -> list[FieldError]:
    allowed_text = ", ".join(allowed)
    return [
        FieldError(f"/{key}", f"{key} is not a field that can be set here. Your options are: {allowed_text}")
        for key in body
        if key not in allowed
    ]
