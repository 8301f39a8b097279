"""Checks on repo ids, git ref names and file paths.

Repo id rules follow ``huggingface_hub.utils.validate_repo_id`` (2.4.0): one
or two parts of 1 to 96 ASCII characters from ``[A-Za-z0-9_.-]``, each
starting and ending with a letter, digit or ``_``, with no ``--`` or ``..``
and no ``.git`` suffix.
"""

from __future__ import annotations

import re

from pipeline.emulators.hub.errors import HubError, bad_request

_REPO_PART = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,94}[A-Za-z0-9_])?")
_REF_FORBIDDEN = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]")
_HEX_PREFIX = re.compile(r"[0-9a-f]{7,40}")
MAX_PATH_LENGTH = 1024


def repo_id_problem(repo_id: str, *, namespace_required: bool = True) -> str | None:
    """Return why ``repo_id`` is invalid, or None when it is valid."""
    parts = repo_id.split("/")
    if len(parts) > 2 or (namespace_required and len(parts) != 2):
        return f"repo id {repo_id!r} must have the form 'namespace/name'"
    for part in parts:
        if not _REPO_PART.fullmatch(part):
            return (f"repo id {repo_id!r} may only use letters, digits, '-', '_' and '.', "
                    "must not start or end with '-' or '.', and each part is at most 96 characters")
    if "--" in repo_id or ".." in repo_id:
        return f"repo id {repo_id!r} must not contain '--' or '..'"
    if repo_id.endswith(".git"):
        return f"repo id {repo_id!r} must not end with '.git'"
    return None


def check_repo_id(repo_id: str) -> None:
    problem = repo_id_problem(repo_id)
    if problem is not None:
        raise bad_request(f"Invalid repo id: {problem}")


def ref_name_problem(name: str) -> str | None:
    """Return why ``name`` is not a valid branch or tag name (git check-ref-format rules)."""
    if not name:
        return "the name is empty"
    if name.startswith("refs/"):
        return f"{name!r} is a full reference; give the short name"
    if _REF_FORBIDDEN.search(name):
        return f"{name!r} contains a space, a control character or one of ~^:?*[\\"
    if name.startswith(("-", "/", ".")) or name.endswith(("/", ".", ".lock")):
        return f"{name!r} must not start with '-', '/' or '.', nor end with '/', '.' or '.lock'"
    if ".." in name or "//" in name or "@{" in name or name == "@" or "/." in name:
        return f"{name!r} must not contain '..', '//', '/.' or '@{{'"
    if _HEX_PREFIX.fullmatch(name) and len(name) == 40:
        return f"{name!r} looks like a commit id"
    return None


def check_path(path: str) -> None:
    """Reject a file path that could escape the repo or that git cannot store (422, as the Hub does)."""
    problem = None
    if not path or path.startswith("/") or path.endswith("/"):
        problem = "must be a relative path that does not start or end with '/'"
    elif len(path) > MAX_PATH_LENGTH:
        problem = f"is longer than {MAX_PATH_LENGTH} characters"
    elif "\\" in path or any(ord(char) < 0x20 for char in path):
        problem = "must not contain a backslash or a control character"
    else:
        for segment in path.split("/"):
            if segment in ("", ".", "..", ".git"):
                problem = "must not contain an empty, '.', '..' or '.git' segment"
                break
    if problem is not None:
        raise HubError(422, f"Invalid path {path!r}: the path {problem}")
