"""Find access tokens pasted into manifests and published text files.

A token in a manifest or an artifact ends up in git history and on every
platform the model is published to. The patterns cover the tokens of the
platforms mrp publishes to and of GitHub, where the manifests live. Messages
name only the token's public prefix, never the token.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# Token formats as the platforms issue them, with the number of characters after the prefix:
# Hugging Face user access tokens (hf_, 34), Replicate API tokens (r8_, 37), GitHub classic
# tokens (ghp_, gho_, ghu_, ghs_, ghr_, 36) and GitHub fine-grained tokens (github_pat_, 82).
# The minimum lengths are lower, so a token missing its last characters still matches.
_TOKEN = re.compile(
    r"(?<![A-Za-z0-9_])(?P<prefix>hf_|r8_|gh[pousr]_|github_pat_)"
    r"(?:(?<=hf_)[A-Za-z0-9]{30,}|(?<=r8_)[A-Za-z0-9]{30,}|(?<=gh[pousr]_)[A-Za-z0-9]{36}|"
    r"(?<=github_pat_)[A-Za-z0-9_]{22,})"
)
TEXT_SUFFIXES = frozenset({".md", ".txt", ".json", ".yaml", ".yml", ".py"})
MAX_SCAN_BYTES = 1 << 20

FieldPath = tuple[str | int, ...]


def token_prefixes(text: str) -> Iterator[tuple[int, str]]:
    """Yield the offset and the public prefix of each token-like string in ``text``."""
    for match in _TOKEN.finditer(text):
        yield match.start(), match.group("prefix")


def redact(text: str) -> str:
    """Replace every token-like string in ``text`` by its prefix and an ellipsis."""
    return _TOKEN.sub(lambda match: f"{match.group('prefix')}...", text)


def token_message(prefix: str, where: str) -> str:
    return f"looks like an access token ({prefix}...); remove it from {where} and rotate the token"


def tokens_in_value(value: Any, path: FieldPath = ()) -> Iterator[tuple[FieldPath, bool, str]]:
    """Yield ``(path, is_key, prefix)`` for the first token in each string and key of a loaded document."""
    if isinstance(value, str):
        for _, prefix in token_prefixes(value):
            yield path, False, prefix
            break
    elif isinstance(value, dict):
        for key, item in value.items():
            for _, prefix in token_prefixes(str(key)):
                yield path + (key,), True, prefix
                break
            yield from tokens_in_value(item, path + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from tokens_in_value(item, path + (index,))


def tokens_in_file(path: Path) -> Iterator[tuple[int, int, str]]:
    """Yield the 1-based line, column and prefix of each token in the first MiB of a text file."""
    with path.open("rb") as handle:
        head = handle.read(MAX_SCAN_BYTES)
    yield from tokens_in_text(head.decode("utf-8", errors="replace"))


def tokens_in_text(text: str) -> Iterator[tuple[int, int, str]]:
    """Yield the 1-based line, column and prefix of each token in ``text``."""
    for offset, prefix in token_prefixes(text):
        line = text.count("\n", 0, offset) + 1
        column = offset - (text.rfind("\n", 0, offset) + 1) + 1
        yield line, column, prefix


def tokens_in_comments(text: str) -> Iterator[tuple[int, int, str]]:
    """Yield the tokens of a YAML text that follow a ``#`` on their line: comments, which no value contains.

    NOTE: a quoted value containing " #" before a token is reported twice, as a value and as a comment.
    """
    lines = text.splitlines()
    for line, column, prefix in tokens_in_text(text):
        before = lines[line - 1][:column - 1]
        if before.lstrip().startswith("#") or " #" in before:
            yield line, column, prefix
