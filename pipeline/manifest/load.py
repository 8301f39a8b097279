"""Load every manifest, validate it, and report all problems of all files at once.

YAML errors, schema errors, artifact errors and conflicts between manifests are
collected as ``Problem`` values with file, line, column and field path; the
caller gets either every manifest or one ``ManifestError`` listing everything.
"""

from __future__ import annotations

import difflib
import logging
import types
import typing
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from pipeline.artifacts import ArtifactProblem, ArtifactSet, scan_artifacts
from pipeline.config import Project
from pipeline.digestcache import DigestCache
from pipeline.errors import ManifestError, Problem
from pipeline.interface import InterfaceError, ModelInterface, read_model_interface
from pipeline.manifest.schema import (NAME_PATTERN, REPLICATE_ID_PATTERN, REPO_ID_PATTERN, LANGUAGE_PATTERN, Manifest,
                                      shown, yaml_type)
from pipeline.manifest.secrets import (TEXT_SUFFIXES, redact, token_message, tokens_in_comments, tokens_in_file,
                                       tokens_in_value)
from pipeline.manifest.yamlload import MAX_FILE_BYTES, Path as FieldPath, Positions, YamlProblem, load_yaml

logger = logging.getLogger(__name__)

# Rules checked on the whole manifest, reported at the field the user changes to fix them.
_ROOT_RULE_FIELDS: dict[str, FieldPath] = {"license_other": ("license",), "prerelease_stable": ("channel",)}

_PATTERN_HELP = {
    NAME_PATTERN: "use lowercase letters, digits, '.', '_' and '-', starting and ending with a letter or digit, "
    "at most 96 characters",
    REPO_ID_PATTERN: "write namespace/name with letters, digits, '.', '_' and '-' (ASCII), e.g. acme/digits-mlp",
    REPLICATE_ID_PATTERN: "write owner/name in lowercase letters, digits, '.', '_' and '-', e.g. acme/digits-mlp",
    LANGUAGE_PATTERN: "use a lowercase ISO 639 code such as en, ja or nob",
}


@dataclass(frozen=True)
class LoadedManifest:
    """A valid manifest with where it came from and its scanned artifacts."""

    file: Path
    display: str
    manifest: Manifest
    positions: Positions
    artifacts: ArtifactSet
    interface: ModelInterface

    @property
    def name(self) -> str:
        return self.manifest.name

    def where(self, *path: str | int) -> tuple[int, int]:
        return self.positions.of_value(tuple(path))


def manifest_files(project: Project) -> list[Path]:
    if not project.models_dir.is_dir():
        return []
    return sorted(path for path in project.models_dir.iterdir() if path.suffix in (".yaml", ".yml"))


def load_manifests(project: Project, names: Sequence[str] = ()) -> list[LoadedManifest]:
    """Load and validate all manifests; return those named in ``names`` (all when empty)."""
    files = manifest_files(project)
    problems: list[Problem] = []
    if not project.models_dir.is_dir():
        problems.append(Problem(project.display(project.models_dir), 0, 0, "",
                                f"no manifests folder in {project.root}; run mrp in a release repository (with "
                                f"mrp.toml or models/ at its root), pass -C DIR, or add models/NAME.yaml"))
    elif not files:
        problems.append(Problem(project.display(project.models_dir), 0, 0, "",
                                "no manifests found; add models/NAME.yaml (see `mrp schema`)"))

    loaded: list[LoadedManifest] = []
    parsed: list[_Parsed] = []
    # One cache per run: read once here, written once below, so N manifests cost one load and one save.
    digests = DigestCache.for_project(project.root)
    for file in files:
        result = load_manifest_file(project, file, digests)
        if isinstance(result, LoadedManifest):
            loaded.append(result)
            parsed.append(_Parsed(result.display, result.manifest, result.positions))
        else:
            problems.extend(result.problems)
            if result.parsed is not None:
                parsed.append(result.parsed)

    digests.save()
    problems.extend(_conflicts(parsed))
    known = {item.name for item in loaded} | {file.stem for file in files}
    for name in names:
        if name not in known:
            hint = _suggest(name, known)
            problems.append(Problem(project.display(project.models_dir), 0, 0, "",
                                    f"no manifest for model {name!r}{hint}"))
    if problems:
        raise ManifestError([_redacted(problem) for problem in problems])

    logger.info("loaded %d manifests from %s", len(loaded), project.display(project.models_dir))
    return [item for item in loaded if not names or item.name in names]


@dataclass(frozen=True)
class _Parsed:
    """A manifest that passed the schema, kept for the checks across files."""

    display: str
    manifest: Manifest
    positions: Positions

    def where(self, *path: str | int) -> tuple[int, int]:
        return self.positions.of_value(tuple(path))


@dataclass(frozen=True)
class _Rejected:
    problems: list[Problem]
    parsed: _Parsed | None = None


def _redacted(problem: Problem) -> Problem:
    return replace(problem, field=redact(problem.field), message=redact(problem.message))


def load_manifest_file(project: Project, file: Path, digests: DigestCache | None = None) -> LoadedManifest | _Rejected:
    display = project.display(file)
    try:
        text = _read_text(file)
        value, positions = load_yaml(text)
    except YamlProblem as error:
        return _Rejected([Problem(display, error.line, error.column, _dotted(error.path), error.message)])

    problems = list(_token_problems(value, text, display, positions))
    if not isinstance(value, dict):
        kind = "text" if isinstance(value, str) else f"a {yaml_type(value)}"
        return _Rejected(problems + [Problem(display, 1, 1, "",
                                             f"the manifest is {kind}; it must be a mapping with name, version, ...")])
    try:
        manifest = Manifest.model_validate(value)
    except ValidationError as error:
        return _Rejected(problems + list(_schema_problems(error, display, positions)))

    if manifest.name != file.stem:
        line, column = positions.of_value(("name",))
        problems.append(Problem(display, line, column, "name",
                                f"the name {manifest.name!r} differs from the file name {file.name!r}; "
                                f"rename the file to {manifest.name}.yaml or change the name"))
    benchmark = manifest.gates.benchmark
    if benchmark is not None and not (project.root / benchmark.dataset).is_file():
        line, column = positions.of_value(("gates", "benchmark", "dataset"))
        problems.append(Problem(display, line, column, "gates.benchmark.dataset",
                                f"the eval set {benchmark.dataset} is not a file in the repository; add it "
                                f"(JSON Lines of input and expected) or fix the path"))
    try:
        artifacts = scan_artifacts(project.root, manifest.artifacts.path, digests)
    except ArtifactProblem as error:
        line, column = positions.of_value(("artifacts", "path"))
        problems.append(Problem(display, line, column, "artifacts.path", str(error)))
    else:
        problems.extend(_artifact_token_problems(project, manifest, artifacts))
        try:
            interface = _read_interface(manifest, artifacts)
        except InterfaceError as error:
            line, column = positions.of_value(tuple(error.field.split(".")))
            problems.append(Problem(display, line, column, error.field, str(error)))
    if problems:
        return _Rejected(problems, _Parsed(display, manifest, positions))
    return LoadedManifest(file, display, manifest, positions, artifacts, interface)


def _token_problems(value: Any, text: str, display: str, positions: Positions) -> Iterable[Problem]:
    """Report each string value, key or comment of the manifest that looks like an access token."""
    for path, is_key, prefix in tokens_in_value(value):
        line, column = positions.of_key(path) if is_key else positions.of_value(path)
        yield Problem(display, line, column, _dotted(path), token_message(prefix, "the manifest"))
    for line, column, prefix in tokens_in_comments(text):
        yield Problem(display, line, column, "", token_message(prefix, "the comment"))


def _artifact_token_problems(project: Project, manifest: Manifest, artifacts: ArtifactSet) -> Iterable[Problem]:
    """Report access tokens in the published text files (.md, .txt, .json, .yaml, .py) of the artifacts."""
    folder = manifest.artifacts.path.rstrip("/")
    for item in artifacts.files:
        if Path(item.path).suffix.lower() not in TEXT_SUFFIXES:
            continue
        for line, column, prefix in tokens_in_file(item.source):
            yield Problem(f"{folder}/{item.path}", line, column, "", token_message(prefix, "the file"))


def _read_interface(manifest: Manifest, artifacts: ArtifactSet) -> ModelInterface:
    return read_model_interface(_artifact_reader(artifacts), manifest.interface.predictor, manifest.interface.config)


def _artifact_reader(artifacts: ArtifactSet) -> Callable[[str], str | None]:
    by_path = {item.path: item.source for item in artifacts.files}

    def read_text(path: str) -> str | None:
        source = by_path.get(path)
        if source is None:
            return None
        try:
            return source.read_text(encoding="utf-8")
        except UnicodeDecodeError as error:
            raise InterfaceError(f"{path} is not UTF-8 (byte {error.start}); save it as UTF-8") from error

    return read_text


def _read_text(file: Path) -> str:
    size = file.stat().st_size
    if size > MAX_FILE_BYTES:
        raise YamlProblem(f"the file is {size} bytes, over the limit of {MAX_FILE_BYTES}; keep large text in the "
                          "artifacts folder, because a manifest describes files and does not contain them")
    raw = file.read_bytes()
    if not raw.strip():
        raise YamlProblem("the file is empty; a manifest needs name, version, channel, description, license, "
                          "artifacts and card (see `mrp schema`)")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        offset = error.start + (3 if raw.startswith(b"\xef\xbb\xbf") else 0)
        line = raw.count(b"\n", 0, offset) + 1
        column = offset - (raw.rfind(b"\n", 0, offset) + 1) + 1
        raise YamlProblem(f"the file is not UTF-8 (byte {offset} is 0x{raw[offset]:02x}); save it as UTF-8",
                          line, column) from error
    return text


def _schema_problems(error: ValidationError, display: str, positions: Positions) -> Iterable[Problem]:
    items = error.errors(include_url=False)
    misspelt = _misspelt_keys(items)
    for item in items:
        loc: FieldPath = tuple(item["loc"])
        kind = item["type"]
        if kind == "missing" and loc in misspelt:
            continue  # the unknown-key problem already suggests this key
        if kind == "extra_forbidden":
            line, column = positions.of_key(loc)
            allowed = _fields_at(loc[:-1])
            message = f"unknown key `{_cut(str(loc[-1]))}`{_suggest(str(loc[-1]), allowed)}"
        elif kind == "missing":
            line, column = positions.of_value(loc[:-1])
            message = f"missing required key `{loc[-1]}`"
        else:
            if not loc:
                loc = _ROOT_RULE_FIELDS.get(kind, loc)
            line, column = positions.of_value(loc)
            message = _message(item)
        yield Problem(display, line, column, _cut(_dotted(loc)), message)


# The value each pydantic type expects, and how to write it in YAML.
_EXPECTED_TYPES = {
    "int": ("a whole number", "write it without quotes or decimals, e.g. 5"),
    "float": ("a number", "write it without quotes, e.g. 0.95"),
    "bool": ("true or false", "write true or false without quotes"),
    "string": ("text", "quote it if YAML reads it as something else"),
    "list": ("a list", "write [a, b] or one `- item` per line"),
    "dict": ("a mapping of keys to values", "write `key: value` lines indented under the key"),
    "model": ("a mapping of keys to values", "write `key: value` lines indented under the key"),
    "date": ("a date", "write it as YYYY-MM-DD, e.g. 2026-06-01"),
}
# Number bounds: the word for a value on the wrong side, the comparison it must meet, and the context key.
_NUMBER_BOUNDS = {
    "greater_than": ("small", ">", "gt"),
    "greater_than_equal": ("small", ">=", "ge"),
    "less_than": ("large", "<", "lt"),
    "less_than_equal": ("large", "<=", "le"),
}


def _bound_message(kind: str, context: dict[str, Any], input_value: Any) -> str | None:
    if kind in _NUMBER_BOUNDS and _NUMBER_BOUNDS[kind][2] in context:
        word, comparison, key = _NUMBER_BOUNDS[kind]
        return f"{shown(input_value)} is too {word}; give a value {comparison} {context[key]}"
    if kind == "string_too_short" and "min_length" in context:
        return f"{shown(input_value)} is too short; give at least {context['min_length']} character(s)"
    if kind == "string_too_long" and "max_length" in context:
        return f"the text is too long; give at most {context['max_length']} characters"
    if kind == "too_short" and "min_length" in context:
        return f"{_described(input_value)} has too few items; give at least {context['min_length']}"
    if kind == "too_long" and "max_length" in context:
        return f"the list has too many items; give at most {context['max_length']}"
    return None


def _misspelt_keys(items: Sequence[dict[str, Any]]) -> set[FieldPath]:
    """Return the paths of missing keys that an unknown key beside them is a close spelling of."""
    found = set()
    for item in items:
        loc = tuple(item["loc"])
        if item["type"] == "extra_forbidden" and loc:
            close = difflib.get_close_matches(str(loc[-1]), _fields_at(loc[:-1]), n=1, cutoff=0.6)
            found.update(loc[:-1] + (name,) for name in close)
    return found


def _cut(text: str, limit: int = 80) -> str:
    """Shorten a key or field path taken from the file, so a huge key cannot flood the output."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def _message(item: dict[str, Any]) -> str:
    kind = item["type"]
    context = item.get("ctx") or {}
    input_value = item.get("input")
    if kind == "string_pattern_mismatch":
        help_text = _PATTERN_HELP.get(context.get("pattern", ""), f"it must match {context.get('pattern')}")
        return f"{shown(input_value)} is not valid; {help_text}"
    if kind == "literal_error":
        return f"{shown(input_value)} is not allowed; use one of {context.get('expected')}"
    if kind in ("finite_number",):
        return f"{shown(input_value)} is not a finite number; give a real value"
    expected = _EXPECTED_TYPES.get(kind.removesuffix("_type").removesuffix("_parsing"))
    if expected is not None and (kind.endswith("_type") or kind.endswith("_parsing")):
        return f"expected {expected[0]}, got {_described(input_value)}; {expected[1]}"
    bound = _bound_message(kind, context, input_value)
    if bound is not None:
        return bound
    message = item["msg"]
    if (kind.endswith("_type") or kind.endswith("_parsing")) and ", got " not in message:
        message = f"{message}, got {_described(input_value)}"
    return message


def _described(value: Any) -> str:
    if isinstance(value, dict | list) and not value:
        return f"an empty {'mapping' if isinstance(value, dict) else 'list'}"
    if value is None:
        return "nothing (the key has no value)"
    return f"{yaml_type(value)} {shown(value)}"


def _fields_at(loc: FieldPath) -> list[str]:
    """Return the keys allowed in the mapping at ``loc``."""
    model: type[BaseModel] | None = Manifest
    for part in loc:
        if model is None:
            return []
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        model = _inner_model(field.annotation) if field else None
    return list(model.model_fields) if model else []


def _inner_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType, list, typing.Annotated):
        for argument in typing.get_args(annotation):
            found = _inner_model(argument)
            if found is not None:
                return found
    return None


def _suggest(word: str, options: Iterable[str]) -> str:
    options = sorted(options)
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    if close:
        return f"; did you mean `{close[0]}`?"
    if options:
        return f"; allowed here: {', '.join(options)}"
    return ""


def _dotted(loc: FieldPath) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif text:
            text += f".{part}"
        else:
            text = str(part)
    return text


def _conflicts(parsed: list[_Parsed]) -> Iterable[Problem]:
    """Report two manifests that claim the same model name or the same target repository."""
    claims: dict[tuple[str, str], _Parsed] = {}
    for item in parsed:
        targets = item.manifest.targets
        name = item.manifest.name
        keys: list[tuple[tuple[str, str], tuple[str, ...]]] = [(("name", name), ("name",))]
        if targets.local is not None:
            keys.append((("local", targets.local.repository or name), ("targets", "local")))
        if targets.huggingface is not None:
            keys.append((("huggingface", targets.huggingface.repo.lower()), ("targets", "huggingface", "repo")))
        if targets.replicate is not None:
            keys.append((("replicate", targets.replicate.model), ("targets", "replicate", "model")))
        for key, path in keys:
            first = claims.setdefault(key, item)
            if first is item:
                continue
            line, column = item.where(*path)
            what = "model name" if key[0] == "name" else f"{key[0]} repository"
            yield Problem(item.display, line, column, _dotted(path),
                          f"{what} {shown(key[1])} is also used by {first.display}; "
                          "each model needs its own name and target repositories")
