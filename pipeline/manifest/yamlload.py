"""Safe YAML loading that remembers where every key and value came from.

PyYAML composes the document into a node graph (aliases become shared nodes, so
composing an alias bomb costs memory linear in the file). This module then
builds plain Python values from the graph itself, which lets it

- refuse every tag outside the YAML core schema (``!!python/object`` and custom tags),
- refuse duplicate keys, which PyYAML would silently overwrite,
- bound the size of the expanded document before expanding it, so an alias
  bomb fails fast in bounded memory,
- record the 1-based line and column of every key and value by field path.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml

try:  # libyaml composes about ten times faster; marks and tags are the same
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

MAX_FILE_BYTES = 1 << 20
MAX_EXPANDED_NODES = 100_000
MAX_DEPTH = 64

Path = tuple[str | int, ...]

_SCALAR_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:timestamp",
}
_SEQ_TAG = "tag:yaml.org,2002:seq"
_MAP_TAG = "tag:yaml.org,2002:map"
_MERGE_TAG = "tag:yaml.org,2002:merge"


class YamlProblem(Exception):
    """A document that cannot be loaded; line and column are 1-based (0 when unknown)."""

    def __init__(self, message: str, line: int = 0, column: int = 0, path: Path = ()) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column
        self.path = path


@dataclass
class Positions:
    """Line and column of each value and each mapping key, by field path."""

    values: dict[Path, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Path, tuple[int, int]] = field(default_factory=dict)

    def of_value(self, path: Path) -> tuple[int, int]:
        """Return the position of ``path``, or of its nearest recorded parent."""
        for prefix in _prefixes(path):
            if prefix in self.values:
                return self.values[prefix]
        return (0, 0)

    def of_key(self, path: Path) -> tuple[int, int]:
        return self.keys.get(path) or self.of_value(path)


def _prefixes(path: Path) -> Iterator[Path]:
    for end in range(len(path), -1, -1):
        yield path[:end]


def _mark(node: yaml.Node) -> tuple[int, int]:
    return (node.start_mark.line + 1, node.start_mark.column + 1)


def load_yaml(text: str) -> tuple[Any, Positions]:
    """Parse one YAML document into plain values and their positions."""
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as error:
        raise _syntax_problem(error, text) from error
    except yaml.reader.ReaderError as error:
        raise _reader_problem(error, text) from error
    except yaml.YAMLError as error:
        raise YamlProblem(f"invalid YAML: {error}") from error
    except RecursionError as error:
        raise YamlProblem(f"the document nests deeper than the parser can follow; keep nesting under {MAX_DEPTH} levels") from error
    if node is None:
        raise YamlProblem("the file has no YAML content")

    expanded, _ = _count_expanded(node, {}, depth=0)
    if expanded > MAX_EXPANDED_NODES:
        raise YamlProblem(
            f"the document expands to more than {MAX_EXPANDED_NODES} nodes through aliases; "
            "remove the repeated aliases",
            *_mark(node),
        )
    positions = Positions()
    value = _build(node, (), positions)
    return value, positions


def _syntax_problem(error: yaml.MarkedYAMLError, text: str) -> YamlProblem:
    mark = error.problem_mark or error.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark else (0, 0)
    problem = error.problem or str(error)
    at_tab = mark is not None and text[mark.index:mark.index + 1] == "\t"
    if at_tab or "'\\t'" in problem:
        return YamlProblem(
            "a tab character is used for indentation or spacing; YAML allows only spaces there. "
            "Replace the tabs with spaces",
            line,
            column,
        )
    if "maximum nesting depth" in problem:
        return YamlProblem(f"the document nests deeper than {MAX_DEPTH} levels; flatten it", line, column)
    context = f" ({error.context})" if error.context else ""
    return YamlProblem(f"invalid YAML: {problem}{context}. Fix the syntax at this position", line, column)


def _reader_problem(error: yaml.reader.ReaderError, text: str) -> YamlProblem:
    """Place a character that YAML does not allow, such as a NUL byte, at its line and column."""
    offset = min(max(error.position, 0), len(text))
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    character = error.character if isinstance(error.character, int) else ord(str(error.character)[:1] or "\0")
    return YamlProblem(f"the character U+{character:04X} is not allowed in YAML ({error.reason}); remove it",
                       line, column)


def _count_expanded(node: yaml.Node, memo: dict[int, tuple[int, int]], depth: int) -> tuple[int, int]:
    """Return the node count (at most one over the bound) and the height of ``node`` once aliases are expanded.

    Both are memoised per node, so the cost is linear in the composed graph. The
    height matters because an alias to a deep node inside another deep node nests
    far deeper than any part of the text does. Too deep a nesting is reported at
    the first node found over the bound: for aliases, that is the anchored node.
    """
    if depth > MAX_DEPTH:
        raise YamlProblem(f"the document nests deeper than {MAX_DEPTH} levels; flatten it", *_mark(node))
    known = memo.get(id(node))
    if known is None:
        memo[id(node)] = (0, 0)  # a node that contains itself counts once, and _build rejects it
        if isinstance(node, yaml.SequenceNode):
            children = [_count_expanded(item, memo, depth + 1) for item in node.value]
        elif isinstance(node, yaml.MappingNode):
            children = [_count_expanded(part, memo, depth + 1) for pair in node.value for part in pair]
        else:
            children = []
        total = min(1 + sum(count for count, _ in children), MAX_EXPANDED_NODES + 1)
        height = 1 + max(height for _, height in children) if children else 1
        known = memo[id(node)] = (total, height)
    if depth + known[1] - 1 > MAX_DEPTH:
        raise YamlProblem(f"the document nests deeper than {MAX_DEPTH} levels once its aliases are expanded; "
                          "flatten it or use fewer nested aliases", *_mark(node))
    return known


def _build(node: yaml.Node, path: Path, positions: Positions, active: frozenset[int] = frozenset()) -> Any:
    positions.values.setdefault(path, _mark(node))
    if id(node) in active:
        raise YamlProblem("an alias refers to a node that contains it; YAML recursion is not allowed, so point the "
                          "alias at another node or write the value out", *_mark(node), path)
    if isinstance(node, yaml.ScalarNode):
        return _scalar(node, path)
    if node.tag not in (_SEQ_TAG, _MAP_TAG):
        raise _tag_problem(node, path)
    inner = active | {id(node)}
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, path + (index,), positions, inner) for index, item in enumerate(node.value)]
    return _mapping(node, path, positions, inner)


def _mapping(node: yaml.MappingNode, path: Path, positions: Positions, active: frozenset[int]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    explicit: set[str] = set()
    merged: dict[str, Any] = {}
    for key_node, value_node in node.value:
        if key_node.tag == _MERGE_TAG:
            for source in _merge_sources(value_node, path, positions, active):
                for key, value in source.items():
                    merged.setdefault(key, value)
            continue
        if not isinstance(key_node, yaml.ScalarNode) or key_node.tag not in _SCALAR_TAGS:
            raise YamlProblem("a mapping key must be a plain scalar; write the key as plain text, without a tag, "
                              "alias or collection", *_mark(key_node), path)
        key = key_node.value
        if key in explicit:
            first = positions.keys[path + (key,)]
            raise YamlProblem(
                f"duplicate key `{key}` (first defined at line {first[0]}); keep one of them",
                *_mark(key_node),
                path + (key,),
            )
        explicit.add(key)
        positions.keys[path + (key,)] = _mark(key_node)
        result[key] = _build(value_node, path + (key,), positions, active)
    for key, value in merged.items():
        result.setdefault(key, value)
    return result


def _merge_sources(node: yaml.Node, path: Path, positions: Positions, active: frozenset[int]) -> list[dict[str, Any]]:
    nodes = node.value if isinstance(node, yaml.SequenceNode) else [node]
    sources = []
    for source in nodes:
        if not isinstance(source, yaml.MappingNode):
            raise YamlProblem("a merge key `<<` must refer to a mapping or a list of mappings", *_mark(source), path)
        sources.append(_mapping(source, path, positions, active))
    return sources


def _scalar(node: yaml.ScalarNode, path: Path) -> Any:
    if node.tag not in _SCALAR_TAGS:
        raise _tag_problem(node, path)
    if node.tag == "tag:yaml.org,2002:str":
        return node.value
    try:
        return _CONSTRUCTOR.construct_object(node)
    except ValueError as error:  # a date such as 2026-13-45, or an integer of more than 4300 digits
        tag_name = node.tag.rsplit(":", 1)[-1]
        kind = {"timestamp": "date", "int": "integer"}.get(tag_name, tag_name)
        text = node.value if len(node.value) <= 40 else f"{node.value[:40]}... ({len(node.value)} characters)"
        hint = "write a date as YYYY-MM-DD" if kind == "date" else "quote it to make it a string, or correct it"
        raise YamlProblem(f"{text} is not a valid {kind}; {hint}", *_mark(node), path) from error


def _tag_problem(node: yaml.Node, path: Path) -> YamlProblem:
    return YamlProblem(
        f"the YAML tag {node.tag} is not allowed; manifests use plain mappings, lists, strings, numbers "
        "and booleans. Remove the tag",
        *_mark(node),
        path,
    )


_CONSTRUCTOR = yaml.constructor.SafeConstructor()
