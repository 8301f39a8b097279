"""Read a model's public interface from its files without running any of them.

Two sources describe what callers depend on:

- a cog predictor (``cog.yaml`` names it, e.g. ``predict.py:Predictor``): the
  typed parameters of ``predict`` or ``run`` with their ``Input(...)`` defaults
  and constraints, and the return annotation. The source is parsed with
  ``ast``; a pull request's code is never imported or executed.
- a transformers-style ``config.json``: labels (``id2label``), task,
  ``model_type`` and ``architectures``.

A value that only running the code would reveal (``choices=SCHEDULERS.keys()``)
is kept as its source text and listed in ``unresolved``.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

import yaml

CONSTRAINTS = ("ge", "le", "min_length", "max_length", "regex", "choices")
_ENTRY_METHODS = ("predict", "run")


class InterfaceError(Exception):
    """A predictor or config that cannot be read; the message names the file and what to fix.

    ``field`` is the manifest field that points at the file: interface.predictor or interface.config.
    """

    def __init__(self, message: str, field: str = "interface.predictor") -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Unresolved:
    """A value written as an expression that cannot be evaluated without running code."""

    source: str


@dataclass(frozen=True)
class InputSpec:
    name: str
    type: str
    required: bool
    order: int
    default: Any = None
    description: str | None = None
    constraints: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PredictorInterface:
    ref: str
    inputs: tuple[InputSpec, ...]
    output: str
    unresolved: tuple[str, ...] = ()

    def input(self, name: str) -> InputSpec | None:
        return next((spec for spec in self.inputs if spec.name == name), None)


@dataclass(frozen=True)
class ConfigInterface:
    model_type: str | None = None
    architectures: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    task: str | None = None


@dataclass(frozen=True)
class ModelInterface:
    predictor: PredictorInterface | None = None
    config: ConfigInterface | None = None

    def to_json(self) -> dict[str, Any]:
        return _jsonable(asdict(self))

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> ModelInterface:
        if not data:
            return cls()
        predictor = data.get("predictor")
        config = data.get("config")
        return cls(
            predictor=PredictorInterface(
                ref=predictor["ref"],
                inputs=tuple(InputSpec(**spec) for spec in predictor["inputs"]),
                output=predictor["output"],
                unresolved=tuple(predictor.get("unresolved", ())),
            ) if predictor else None,
            config=ConfigInterface(
                model_type=config.get("model_type"),
                architectures=tuple(config.get("architectures", ())),
                labels=tuple(config.get("labels", ())),
                task=config.get("task"),
            ) if config else None,
        )


def _jsonable(value: Any) -> Any:
    if isinstance(value, Unresolved):
        return {"unresolved": value.source}
    if isinstance(value, Mapping):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    return value


# cog.yaml


@dataclass(frozen=True)
class CogConfig:
    predict: str | None
    train: str | None
    python_version: str | None
    gpu: bool


def read_cog_config(text: str, file: str = "cog.yaml") -> CogConfig:
    """Read the keys of cog.yaml that matter for releases, tolerating real-world spellings."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise InterfaceError(f"{file}: invalid YAML: {error}") from error
    if not isinstance(data, dict):
        raise InterfaceError(f"{file}: expected a mapping with build and predict keys")
    build = data.get("build") or {}
    if not isinstance(build, dict):
        raise InterfaceError(f"{file}: build must be a mapping")
    # YAML reads an unquoted 3.10 as the float 3.1; the written text is what cog means.
    version = build.get("python_version")
    return CogConfig(
        predict=data.get("run") or data.get("predict"),
        train=data.get("train"),
        python_version=None if version is None else _python_version_text(version, text),
        gpu=bool(build.get("gpu", False)),
    )


def _python_version_text(value: Any, text: str) -> str:
    if isinstance(value, str):
        return value
    for line in text.splitlines():
        key, _, written = line.strip().partition(":")
        if key == "python_version":
            return written.split("#")[0].strip().strip("'\"")
    return str(value)


# predict.py


def read_predictor_interface(source: str, ref: str, file: str = "predict.py") -> PredictorInterface:
    """Parse ``source`` and return the interface of ``ref`` (``FILE.py:Class`` or ``FILE.py:function``)."""
    _, _, name = ref.partition(":")
    try:
        module = ast.parse(source, filename=file)
    except SyntaxError as error:
        raise InterfaceError(f"{file}:{error.lineno}: the predictor does not parse: {error.msg}") from error

    function = _entry_function(module, name, file)
    unresolved: list[str] = []
    inputs = _inputs(function, unresolved)
    if function.returns is None:
        raise InterfaceError(f"{file}:{function.lineno}: {function.name}() has no return annotation; "
                             "cog requires one, e.g. -> str")
    return PredictorInterface(ref=ref, inputs=tuple(inputs), output=_output_type(module, function.returns),
                              unresolved=tuple(unresolved))


def _output_type(module: ast.Module, returns: ast.expr) -> str:
    """Return the output type, with the fields of an output class defined in the same file spelled out."""
    text = normalize_type(returns)
    for node in module.body:
        if isinstance(node, ast.ClassDef) and node.name == text:
            fields = [f"{item.target.id}: {normalize_type(item.annotation)}" for item in node.body
                      if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name)]
            if fields:
                return f"{text}({', '.join(fields)})"
    return text


def _entry_function(module: ast.Module, name: str, file: str) -> ast.FunctionDef | ast.AsyncFunctionDef:
    for node in module.body:
        if isinstance(node, ast.ClassDef) and node.name == name:
            methods = {item.name: item for item in node.body
                       if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef)}
            for method in _ENTRY_METHODS:
                if method in methods:
                    return methods[method]
            raise InterfaceError(f"{file}:{node.lineno}: class {name} has no predict() or run() method")
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == name:
            return node
    raise InterfaceError(f"{file}: no class or function named {name!r}; correct the predictor reference")


def _inputs(function: ast.FunctionDef | ast.AsyncFunctionDef, unresolved: list[str]) -> list[InputSpec]:
    arguments = function.args
    positional = [*arguments.posonlyargs, *arguments.args]
    if positional and positional[0].arg in ("self", "cls"):
        positional = positional[1:]
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(arguments.defaults)) + list(arguments.defaults)

    specs = []
    for order, (argument, default) in enumerate(zip(positional, defaults)):
        if argument.annotation is None:
            raise InterfaceError(f"line {argument.lineno}: input {argument.arg!r} has no type annotation; "
                                 "cog requires one")
        type_text = normalize_type(argument.annotation)
        specs.append(_input_spec(argument.arg, type_text, order, default, unresolved))
    return specs


def _input_spec(name: str, type_text: str, order: int, default: ast.expr | None,
                unresolved: list[str]) -> InputSpec:
    optional_type = type_text.endswith("| None")
    if default is None:
        return InputSpec(name, type_text, required=not optional_type, order=order)
    if not _is_input_call(default):
        value = _literal(default, f"{name} default", unresolved)
        return InputSpec(name, type_text, required=False, order=order, default=value)

    keywords = {keyword.arg: keyword.value for keyword in default.keywords if keyword.arg}
    has_default = "default" in keywords or bool(default.args)
    default_node = keywords.get("default") or (default.args[0] if default.args else None)
    value = _literal(default_node, f"{name} default", unresolved) if default_node is not None else None
    constraints = {
        key: _literal(keywords[key], f"{name} {key}", unresolved)
        for key in CONSTRAINTS
        if key in keywords
    }
    if isinstance(constraints.get("choices"), list | tuple):
        constraints["choices"] = list(constraints["choices"])
    description = keywords.get("description")
    return InputSpec(
        name,
        type_text,
        required=not has_default and not optional_type,
        order=order,
        default=value,
        description=_literal(description, f"{name} description", unresolved) if description is not None else None,
        constraints=constraints,
    )


def _is_input_call(node: ast.expr) -> bool:
    if not isinstance(node, ast.Call):
        return False
    function = node.func
    return (isinstance(function, ast.Name) and function.id == "Input") or (
        isinstance(function, ast.Attribute) and function.attr == "Input")


def _literal(node: ast.expr, what: str, unresolved: list[str]) -> Any:
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        source = ast.unparse(node)
        unresolved.append(f"{what}: {source}")
        return Unresolved(source)


def normalize_type(annotation: ast.expr) -> str:
    """Return an annotation as text, with ``Optional[X]`` written ``X | None`` and module prefixes dropped."""
    return ast.unparse(_Normalizer().visit(annotation))


class _Normalizer(ast.NodeTransformer):
    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        if isinstance(node.value, ast.Name) and node.value.id in ("typing", "cog", "pathlib"):
            return ast.Name(id=node.attr, ctx=ast.Load())
        return self.generic_visit(node)

    def visit_Subscript(self, node: ast.Subscript) -> ast.AST:
        node = self.generic_visit(node)  # type: ignore[assignment]
        name = node.value.id if isinstance(node.value, ast.Name) else None
        if name == "Optional":
            return ast.BinOp(left=node.slice, op=ast.BitOr(), right=ast.Constant(value=None))
        if name in ("List", "Dict", "Tuple", "Set"):
            node.value = ast.Name(id=name.lower(), ctx=ast.Load())
        return node


# config.json


def read_config_interface(text: str, file: str = "config.json") -> ConfigInterface:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise InterfaceError(f"{file}:{error.lineno}: invalid JSON: {error.msg}") from error
    if not isinstance(data, dict):
        raise InterfaceError(f"{file}: expected a JSON object")
    id2label = data.get("id2label") or {}
    try:
        labels = tuple(str(label) for _, label in sorted(id2label.items(), key=lambda item: int(item[0])))
    except (AttributeError, ValueError) as error:
        raise InterfaceError(f"{file}: id2label must map integer ids to labels") from error
    architectures = data.get("architectures") or ()
    return ConfigInterface(
        model_type=data.get("model_type"),
        architectures=tuple(str(item) for item in architectures),
        labels=labels,
        task=data.get("task") or data.get("pipeline_tag"),
    )


def read_model_interface(read_text: Callable[[str], str | None], predictor: str | None,
                         config: str | None) -> ModelInterface:
    """Read the interface from artifact files; ``read_text`` returns a file's text or None when absent."""
    predictor_interface = None
    if predictor is not None:
        file = predictor.partition(":")[0]
        with _reading("interface.predictor", file):
            source = read_text(file)
            if source is None:
                raise InterfaceError(f"the predictor file {file} is not in the artifacts; correct interface.predictor")
            predictor_interface = read_predictor_interface(source, predictor, file)
    config_interface = None
    if config is not None:
        with _reading("interface.config", config):
            text = read_text(config)
            if text is None:
                raise InterfaceError(f"the config file {config} is not in the artifacts; correct interface.config")
            config_interface = read_config_interface(text, config)
    return ModelInterface(predictor_interface, config_interface)


@contextmanager
def _reading(field: str, file: str) -> Iterator[None]:
    """Tag failures with the manifest field, and turn parser exhaustion on deep nesting into an InterfaceError."""
    try:
        yield
    except InterfaceError as error:
        raise InterfaceError(str(error), field) from error
    except (RecursionError, MemoryError) as error:
        raise InterfaceError(f"{file} nests too deeply for its parser to read; simplify the nested expression "
                             "or JSON", field) from error
