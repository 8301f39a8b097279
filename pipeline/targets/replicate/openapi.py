"""Build the cog-style OpenAPI schema of a predictor from its source, without importing it.

Cog writes this document into the image and Replicate serves it as the
version's ``openapi_schema``: ``components.schemas.Input`` lists the inputs
(type, ``x-order``, ``default``, ``minimum``/``maximum`` from ``ge``/``le``,
``enum`` from ``choices``) and ``components.schemas.Output`` the return type.
Cog writes choices as an ``allOf`` reference to an enum schema; this module
writes the ``enum`` inline, which validates the same inputs.
"""

from __future__ import annotations

import ast
import logging
import re
from typing import Any

from pipeline.interface import InputSpec, PredictorInterface, Unresolved

logger = logging.getLogger(__name__)

OPENAPI_VERSION = "3.0.2"
SIMPLE_TYPES: dict[str, dict[str, Any]] = {
    "str": {"type": "string"},
    "int": {"type": "integer"},
    "float": {"type": "number"},
    "bool": {"type": "boolean"},
    "Path": {"type": "string", "format": "uri"},
    "File": {"type": "string", "format": "uri"},
    "Secret": {"type": "string", "format": "password", "writeOnly": True, "x-cog-secret": True},
    "dict": {"type": "object"},
    "Any": {},
}
ARRAY_TYPES = ("list", "List")
ITERATOR_TYPES = ("Iterator", "AsyncIterator")
CONCATENATE_TYPES = ("ConcatenateIterator", "AsyncConcatenateIterator")
CONSTRAINT_KEYS = {"ge": "minimum", "le": "maximum", "min_length": "minLength", "max_length": "maxLength",
                   "regex": "pattern", "choices": "enum"}
_OUTPUT_CLASS = re.compile(r"^(\w+)\((.*)\)$", re.DOTALL)


class SchemaError(Exception):
    """A predictor type that has no cog schema; the message names the input and the type."""


def openapi_schema(interface: PredictorInterface, extra_info: dict[str, Any] | None = None) -> dict[str, Any]:
    """Return the OpenAPI document of ``interface``; ``extra_info`` adds ``x-`` keys to ``info``."""
    inputs = sorted(interface.inputs, key=lambda spec: spec.order)
    input_schema: dict[str, Any] = {
        "type": "object",
        "title": "Input",
        "properties": {spec.name: input_property(spec) for spec in inputs},
    }
    required = [spec.name for spec in inputs if spec.required]
    if required:
        input_schema["required"] = required

    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": "Cog", "version": "0.1.0", **(extra_info or {})},
        "paths": {},
        "components": {"schemas": {"Input": input_schema, "Output": output_schema(interface.output)}},
    }


def input_property(spec: InputSpec) -> dict[str, Any]:
    try:
        schema = {"title": _title(spec.name), **type_schema(spec.type), "x-order": spec.order}
    except SchemaError as error:
        raise SchemaError(f"input {spec.name!r}: {error}") from error

    if spec.description is not None and not isinstance(spec.description, Unresolved):
        schema["description"] = spec.description
    if not spec.required and spec.default is not None:
        _set_known(schema, "default", spec.default, spec.name)
    for key, value in spec.constraints.items():
        _set_known(schema, CONSTRAINT_KEYS[key], value, spec.name)
    return schema


def _set_known(schema: dict[str, Any], key: str, value: Any, name: str) -> None:
    """Set ``key`` unless its value is an expression that only running the predictor would give."""
    if isinstance(value, Unresolved):
        logger.warning("input %s: %s is written as %s, which needs running the code; the schema leaves it out",
                       name, key, value.source)
        return
    schema[key] = list(value) if isinstance(value, tuple) else value


def output_schema(output: str) -> dict[str, Any]:
    """Return the Output schema, with an output class ``Name(field: type, ...)`` as an object."""
    found = _OUTPUT_CLASS.match(output.strip())
    if found is None:
        return {"title": "Output", **type_schema(output)}

    properties = {}
    for field in _split_top_level(found.group(2)):
        name, _, type_text = field.partition(":")
        properties[name.strip()] = {"title": _title(name.strip()), **type_schema(type_text.strip())}
    return {"title": found.group(1), "type": "object", "properties": properties, "required": list(properties)}


def type_schema(type_text: str) -> dict[str, Any]:
    """Map a normalised annotation such as ``list[Path] | None`` to its JSON schema."""
    try:
        node = ast.parse(type_text, mode="eval").body
    except SyntaxError as error:
        raise SchemaError(f"cannot read the type {type_text!r}") from error
    return _node_schema(node, type_text)


def _node_schema(node: ast.expr, whole: str) -> dict[str, Any]:
    if isinstance(node, ast.Name) and node.id in SIMPLE_TYPES:
        return dict(SIMPLE_TYPES[node.id])
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        # ``X | None`` is an optional input; the schema is X's.
        if isinstance(node.right, ast.Constant) and node.right.value is None:
            return _node_schema(node.left, whole)
        if isinstance(node.left, ast.Constant) and node.left.value is None:
            return _node_schema(node.right, whole)
    if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name):
        return _generic_schema(node.value.id, node.slice, whole)
    raise SchemaError(f"the type {whole!r} has no cog schema; use str, int, float, bool, Path, Secret or list[...]")


def _generic_schema(name: str, argument: ast.expr, whole: str) -> dict[str, Any]:
    if name in ("dict", "Dict"):
        return {"type": "object"}
    items = _node_schema(argument, whole)
    if name in ARRAY_TYPES:
        return {"type": "array", "items": items}
    if name in ITERATOR_TYPES:
        return {"type": "array", "items": items, "x-cog-array-type": "iterator"}
    if name in CONCATENATE_TYPES:
        return {"type": "array", "items": items, "x-cog-array-type": "iterator",
                "x-cog-array-display": "concatenate"}
    raise SchemaError(f"the type {whole!r} has no cog schema; use list[...] or Iterator[...] for sequences")


def _split_top_level(text: str) -> list[str]:
    """Split ``a: int, b: dict[str, int]`` at the commas outside brackets."""
    parts, depth, current = [], 0, []
    for char in text:
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
            continue
        depth += {"[": 1, "(": 1, "]": -1, ")": -1}.get(char, 0)
        current.append(char)
    parts.append("".join(current))
    return [part.strip() for part in parts if part.strip()]


def _title(name: str) -> str:
    """Return cog's title of a field: ``top_k`` becomes ``Top K``."""
    return name.replace("_", " ").title()
