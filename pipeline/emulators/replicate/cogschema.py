"""Prediction input checks and placeholder outputs from a version's cog schema.

A version's ``openapi_schema`` is the document cog writes into the image:
``components.schemas.Input`` describes the inputs (``required``, ``type``,
``minimum``/``maximum`` from ``ge``/``le``, ``minLength``/``maxLength``,
``pattern``, and choices as an ``allOf`` ``$ref`` to an enum schema), and
``components.schemas.Output`` the output. The emulator runs no model, so the
output is a placeholder of the Output type, derived from a hash of the version
id and the input: the same input always gives the same output.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from typing import Any

MAX_REF_DEPTH = 32
PLACEHOLDER_ARRAY_LENGTH = 3

JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
}


def component(openapi_schema: dict[str, Any], name: str) -> dict[str, Any] | None:
    schemas = openapi_schema.get("components", {}).get("schemas", {})
    found = schemas.get(name) if isinstance(schemas, dict) else None
    return found if isinstance(found, dict) else None


def resolve(openapi_schema: dict[str, Any], schema: dict[str, Any], depth: int = 0) -> dict[str, Any]:
    """Merge ``$ref`` and ``allOf`` members into one flat schema, as cog uses them for choices."""
    if depth > MAX_REF_DEPTH:
        raise ValueError(f"schema $ref chain deeper than {MAX_REF_DEPTH}")

    merged = {key: value for key, value in schema.items() if key not in ("$ref", "allOf")}
    parts = list(schema.get("allOf", []))
    if "$ref" in schema:
        parts.append({"$ref": schema["$ref"]})

    for part in parts:
        if "$ref" in part:
            reference = str(part["$ref"])
            target = component(openapi_schema, reference.rsplit("/", 1)[-1])
            if not reference.startswith("#/components/schemas/") or target is None:
                raise ValueError(f"schema $ref {reference!r} does not point into components.schemas")
            part = target
        for key, value in resolve(openapi_schema, part, depth + 1).items():
            merged.setdefault(key, value)
    return merged


def _is_type(value: Any, type_name: str) -> bool:
    if type_name in ("integer", "number") and isinstance(value, bool):
        return False
    if type_name == "integer" and isinstance(value, float):
        return value.is_integer()
    return isinstance(value, JSON_TYPES.get(type_name, (object,)))


def _check_number(name: str, value: float, schema: dict[str, Any]) -> list[tuple[str, str]]:
    problems = []
    if "minimum" in schema and value < schema["minimum"]:
        problems.append(("number_gte", f"{name} must be greater than or equal to {schema['minimum']}"))
    if "maximum" in schema and value > schema["maximum"]:
        problems.append(("number_lte", f"{name} must be less than or equal to {schema['maximum']}"))
    return problems


def _check_string(name: str, value: str, schema: dict[str, Any]) -> list[tuple[str, str]]:
    problems = []
    if "minLength" in schema and len(value) < schema["minLength"]:
        minimum = schema["minLength"]
        problems.append(("string_gte", f"{name}: String length must be greater than or equal to {minimum}"))
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        maximum = schema["maxLength"]
        problems.append(("string_lte", f"{name}: String length must be less than or equal to {maximum}"))
    if "pattern" in schema and re.search(schema["pattern"], value) is None:
        problems.append(("pattern", f"{name} does not match pattern {schema['pattern']!r}"))
    return problems


def check_value(openapi_schema: dict[str, Any], name: str, value: Any, schema: dict[str, Any]) -> list[tuple[str, str]]:
    """Return ``(type, description)`` for each rule ``value`` breaks; empty when it is valid."""
    schema = resolve(openapi_schema, schema)

    if value is None:
        if schema.get("nullable") or ("default" in schema and schema["default"] is None):
            return []
        return [("type", f"{name}: Invalid type. Expected: {schema.get('type', 'value')}, given: null")]

    if "anyOf" in schema:
        branches = [check_value(openapi_schema, name, value, branch) for branch in schema["anyOf"]]
        if any(not problems for problems in branches):
            return []
        return branches[0]

    type_name = schema.get("type")
    if type_name and not _is_type(value, type_name):
        given_type = type(value).__name__
        return [("type", f"{name}: Invalid type. Expected: {type_name}, given: {given_type}")]

    problems: list[tuple[str, str]] = []
    if "enum" in schema and value not in schema["enum"]:
        choices = ", ".join(json.dumps(choice) for choice in schema["enum"])
        problems.append(("enum", f"{name} must be one of the following: {choices}"))
    if _is_type(value, "number"):
        problems.extend(_check_number(name, value, schema))
    if isinstance(value, str):
        problems.extend(_check_string(name, value, schema))
    if type_name == "array" and isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            problems.extend(check_value(openapi_schema, f"{name}.{index}", item, schema["items"]))
    return problems


def check_input(openapi_schema: dict[str, Any], payload: Any) -> list[tuple[str, str]]:
    """Check a prediction input against the version's Input schema.

    Inputs the schema does not name are let through, as cog ignores them.
    """
    if not isinstance(payload, dict):
        return [("type", f"input: Invalid type. Expected: object, given: {type(payload).__name__}")]

    input_schema = component(openapi_schema, "Input")
    if input_schema is None:
        return []
    input_schema = resolve(openapi_schema, input_schema)
    properties = input_schema.get("properties", {})

    problems = [
        ("required", f"{name} is required") for name in input_schema.get("required", []) if name not in payload
    ]
    for name, value in payload.items():
        if name in properties:
            problems.extend(check_value(openapi_schema, name, value, properties[name]))
    return problems


def with_defaults(openapi_schema: dict[str, Any], payload: dict[str, Any]) -> dict[str, Any]:
    """Return the input with the Input schema's defaults filled in, as the model would see it."""
    input_schema = component(openapi_schema, "Input") or {}
    effective = dict(payload)
    for name, schema in input_schema.get("properties", {}).items():
        if name not in effective and isinstance(schema, dict) and "default" in schema:
            effective[name] = schema["default"]
    return effective


def _digest(seed: str, path: str) -> str:
    return hashlib.sha256(f"{seed}/{path}".encode()).hexdigest()


def _placeholder(openapi_schema: dict[str, Any], schema: dict[str, Any], seed: str, path: str) -> Any:
    schema = resolve(openapi_schema, schema)
    digest = _digest(seed, path)
    number = int(digest[:12], 16)

    if "enum" in schema and schema["enum"]:
        return schema["enum"][number % len(schema["enum"])]
    if "anyOf" in schema and schema["anyOf"]:
        return _placeholder(openapi_schema, schema["anyOf"][0], seed, path)

    type_name = schema.get("type")
    if type_name == "integer":
        low = int(schema.get("minimum", 0))
        high = int(schema.get("maximum", low + 999))
        return low + number % (high - low + 1)
    if type_name == "number":
        low = float(schema.get("minimum", 0.0))
        high = float(schema.get("maximum", low + 1.0))
        return round(low + (high - low) * (number / 16**12), 6)
    if type_name == "boolean":
        return number % 2 == 0
    if type_name == "array":
        items = schema.get("items") if isinstance(schema.get("items"), dict) else {"type": "string"}
        return [
            _placeholder(openapi_schema, items, seed, f"{path}/{index}")
            for index in range(PLACEHOLDER_ARRAY_LENGTH)
        ]
    if type_name == "object":
        properties = schema.get("properties")
        if not isinstance(properties, dict) or not properties:
            return {"emulated": digest[:16]}
        return {
            name: _placeholder(openapi_schema, sub_schema, seed, f"{path}/{name}")
            for name, sub_schema in properties.items()
        }
    if schema.get("format") == "uri":
        text = f"emulated output {digest[:16]}\n".encode()
        return "data:text/plain;base64," + base64.b64encode(text).decode()
    return f"emulated output {digest[:16]}"


def placeholder_output(openapi_schema: dict[str, Any], version_id: str, payload: dict[str, Any]) -> Any:
    """Build the deterministic output of a prediction; None when the schema has no Output."""
    output_schema = component(openapi_schema, "Output")
    if output_schema is None:
        return None

    effective = with_defaults(openapi_schema, payload)
    seed = hashlib.sha256(
        json.dumps({"version": version_id, "input": effective}, sort_keys=True, default=str).encode()
    ).hexdigest()
    return _placeholder(openapi_schema, output_schema, seed, "output")


def check_schema(openapi_schema: dict[str, Any]) -> list[str]:
    """Return why the emulator cannot use a version's schema; empty when it can.

    Every ``$ref`` in Input, its properties and Output must resolve, and every
    ``pattern`` must compile, so that predictions never meet a broken schema.
    """
    problems = []
    for name in ("Input", "Output"):
        schema = component(openapi_schema, name)
        if schema is None:
            continue
        try:
            resolved = resolve(openapi_schema, schema)
            properties = resolved.get("properties", {}) if name == "Input" else {}
            for property_name, property_schema in properties.items():
                pattern = resolve(openapi_schema, property_schema).get("pattern")
                if pattern is not None:
                    re.compile(pattern)
        except (ValueError, re.error, AttributeError, TypeError) as error:
            problems.append(f"components.schemas.{name}: {error}")
    return problems
