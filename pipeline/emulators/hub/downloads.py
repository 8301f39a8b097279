"""File downloads: ``GET`` and ``HEAD`` on ``/{repo}/resolve/{rev}/{path}``.

A file comes back with 200 directly, never a redirect, and with no Xet
headers. The client reads its metadata from this response: ``X-Repo-Commit``,
``X-Linked-Size`` and an ``ETag``. The ETag is the git blob id of a regular
file or the bare sha256 of an LFS file.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

from pipeline.emulators.base import Response
from pipeline.emulators.hub.context import Context
from pipeline.emulators.hub.errors import HubError, entry_not_found
from pipeline.emulators.hub.state import Repo

BYTE_RANGE = re.compile(r"bytes=(\d*)-(\d*)")
# Files of a gated repo that everyone who can see the repo may still read, as on the Hub's repo page.
UNGATED_FILES = frozenset({"README.md", ".gitattributes"})


def resolve(ctx: Context, kind: str | None, ns: str, name: str, rev: str, path: str) -> Response:
    revision = unquote(rev)
    path = unquote(path)
    with ctx.state.lock:
        repo = ctx.readable_repo(kind, ns, name)
        commit = repo.resolve(revision)
        entry = commit.files.get(path)
        if entry is None:
            raise entry_not_found(repo.repo_id, revision, path, headers={"X-Repo-Commit": commit.id})
        _check_gate(ctx, repo, path)
        data = ctx.state.read(entry)

    headers = {
        "Content-Type": "application/octet-stream",
        "X-Repo-Commit": commit.id,
        "ETag": f'"{entry.content_id}"',
        "X-Linked-Size": str(entry.size),
        "Accept-Ranges": "bytes",
        "Content-Disposition": f'attachment; filename="{path.rsplit("/", 1)[-1]}"',
    }
    if entry.lfs_sha256 is not None:
        headers["X-Linked-ETag"] = f'"{entry.lfs_sha256}"'
    byte_range = ctx.request.header("range")
    if byte_range is None:
        return Response(200, data, headers)
    return _partial(data, byte_range, headers)


def _check_gate(ctx: Context, repo: Repo, path: str) -> None:
    """Refuse files of a gated repo to callers without access: 401 anonymous, 403 others."""
    if repo.gated is False or path in UNGATED_FILES:
        return
    if ctx.caller is not None and ctx.caller.can_write(repo.namespace):
        return
    message = (f"Access to {repo.repo_type} {repo.repo_id} is restricted. "
               "You must have access to it and be authenticated.")
    raise HubError(401 if ctx.caller is None else 403, message, code="GatedRepo")


def _partial(data: bytes, byte_range: str, headers: dict[str, str]) -> Response:
    """Serve a single ``bytes=start-end`` range, which the client sends to resume a download."""
    match = BYTE_RANGE.fullmatch(byte_range.strip())
    if match is None or match.group(0) == "bytes=-":
        return Response(200, data, headers)
    start_text, end_text = match.groups()
    if start_text:
        start = int(start_text)
        end = min(int(end_text), len(data) - 1) if end_text else len(data) - 1
    else:
        start = max(len(data) - int(end_text), 0)
        end = len(data) - 1
    if start >= len(data) or start > end:
        return Response(416, b"", {**headers, "Content-Range": f"bytes */{len(data)}"})
    headers = {**headers, "Content-Range": f"bytes {start}-{end}/{len(data)}"}
    return Response(206, data[start:end + 1], headers)
