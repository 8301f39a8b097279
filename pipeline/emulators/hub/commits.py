"""Preupload and commit routes: how files enter a repo.

Preupload picks an upload mode, ``regular`` or ``lfs``, and commits enforce it.
An empty file is regular. A file is LFS when its path has ``filter=lfs`` in the
``.gitattributes`` of the target revision, when it has ``max_regular_file_bytes``
(10 MiB) or more, or when its first 512 bytes are not UTF-8 text. Everything
else is regular. A commit that sends an LFS file as a regular ``file`` line is
rejected with 400, as the Hub rejects large or binary files pushed without LFS.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from pipeline.emulators.base import Response
from pipeline.emulators.hub import serialize
from pipeline.emulators.hub.context import Context
from pipeline.emulators.hub.errors import HubError, bad_request, revision_not_found, too_large
from pipeline.emulators.hub.gitobjects import is_lfs_path
from pipeline.emulators.hub.names import check_path
from pipeline.emulators.hub.routes_repos import check_card
from pipeline.emulators.hub.state import Commit, FileEntry, HubState, Repo, pull_request_number

logger = logging.getLogger(__name__)

SAMPLE_BYTES = 512
PARENT_COMMIT = re.compile(r"[0-9a-fA-F]{5,40}")
STALE_PARENT_MESSAGE = "The branch was updated since you opened this page. Please refresh and try again."
MISSING_FILE_MESSAGE = "A file with this name doesn't exist"
MISSING_FOLDER_MESSAGE = "A folder with this name doesn't exist"


def upload_mode(gitattributes: str, path: str, size: int, sample: bytes, max_regular: int) -> str:
    if size == 0:
        return "regular"
    if is_lfs_path(gitattributes, path) or size >= max_regular:
        return "lfs"
    return "regular" if _is_text(sample[:SAMPLE_BYTES]) else "lfs"


def _is_text(sample: bytes) -> bool:
    """Tell whether a sample is UTF-8 text; a character cut at the sample's end still counts as text."""
    if b"\0" in sample:
        return False
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
    except UnicodeDecodeError:
        return False
    return True


def _gitattributes(state: HubState, commit: Commit) -> str:
    entry = commit.files.get(".gitattributes")
    return state.read(entry).decode("utf-8", errors="replace") if entry is not None else ""


def preupload(ctx: Context, kind: str, ns: str, name: str, rev: str) -> Response:
    ctx.writable_repo(kind, ns, name)
    files = ctx.json_body().get("files")
    if not isinstance(files, list):
        raise bad_request("files: required list of {path, sample, size}")
    checked = [_preupload_file(item, index) for index, item in enumerate(files)]

    with ctx.state.lock:
        repo = ctx.writable_repo(kind, ns, name)
        head = repo.resolve(unquote(rev))
        gitattributes = _gitattributes(ctx.state, head)
        answers = []
        for path, size, sample in checked:
            answer: dict[str, Any] = {
                "path": path,
                "uploadMode": upload_mode(gitattributes, path, size, sample, ctx.limits.max_regular_file_bytes),
                # NOTE: the gitIgnore field and a .gitignore in the repo are not applied.
                "shouldIgnore": False,
            }
            current = head.files.get(path)
            if current is not None:
                answer["oid"] = current.content_id
            answers.append(answer)
    return Response.json({"files": answers, "commitOid": head.id})


def _preupload_file(item: Any, index: int) -> tuple[str, int, bytes]:
    if not isinstance(item, dict):
        raise bad_request(f"files[{index}]: must be an object with path, sample and size")
    path, size, sample = item.get("path"), item.get("size"), item.get("sample", "")
    if not isinstance(path, str):
        raise bad_request(f"files[{index}].path: required string")
    check_path(path)
    if not isinstance(size, int) or size < 0:
        raise bad_request(f"files[{index}].size: required integer >= 0, got {size!r}")
    try:
        decoded = base64.b64decode(sample, validate=True)
    except (binascii.Error, TypeError, ValueError) as error:
        raise bad_request(f"files[{index}].sample: not valid base64: {error}") from error
    return path, size, decoded


@dataclass(frozen=True)
class Operation:
    """One decoded NDJSON line: ``file`` carries bytes, ``lfsFile`` an oid, deletions only a path."""

    key: str
    path: str
    data: bytes | None = None
    oid: str | None = None
    size: int | None = None


def commit(ctx: Context, kind: str, ns: str, name: str, rev: str) -> Response:
    body = ctx.request.body
    if len(body) > ctx.limits.max_commit_bytes:
        raise too_large("commit payload", len(body), ctx.limits.max_commit_bytes)
    # Check access before decoding, so a caller without rights learns nothing from payload errors.
    ctx.writable_repo(kind, ns, name)
    header, operations = _parse_payload(body)
    create_pr = ctx.flag("create_pr")
    revision = unquote(rev)

    with ctx.state.lock:
        repo = ctx.writable_repo(kind, ns, name)
        author = ctx.require_write(repo.namespace, f"write to {repo.repo_id}").name
        ref_kind, ref_name, head = _target(repo, revision, create_pr)
        parent = header.get("parentCommit")
        if parent is not None and not head.id.startswith(parent.lower()):
            raise HubError(412, STALE_PARENT_MESSAGE)
        files = _apply(ctx, repo, head, operations)
        new = ctx.state.new_commit(repo, (head.id,), files, header["summary"], header.get("description") or "", author)
        pull_request_url = _move_ref(repo, ref_kind, ref_name, new, ctx.base_url)

    logger.info("commit %s on %s of %s: %d operation(s)", new.id, revision, repo.repo_id, len(operations))
    url = serialize.repo_url(ctx.base_url, repo)
    answer: dict[str, Any] = {"success": True, "commitOid": new.id, "commitUrl": f"{url}/commit/{new.id}",
                              "hookOutput": ""}
    if pull_request_url is not None:
        answer["pullRequestUrl"] = pull_request_url
    return Response.json(answer)


def _parse_payload(body: bytes) -> tuple[dict[str, Any], list[Operation]]:
    """Decode the NDJSON body: a header line, then one line per operation."""
    lines = [line for line in body.split(b"\n") if line.strip()]
    items = []
    for number, line in enumerate(lines, start=1):
        try:
            item = json.loads(line)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise bad_request(f"commit payload line {number} is not valid JSON: {error}") from error
        if not isinstance(item, dict) or not isinstance(item.get("value"), dict):
            raise bad_request(f"commit payload line {number} must be an object with key and value")
        items.append(item)
    if not items or items[0].get("key") != "header":
        raise bad_request("commit payload must start with a header line")

    header = items[0]["value"]
    if not isinstance(header.get("summary"), str) or not header["summary"].strip():
        raise bad_request("header.summary: the commit message must be a non-empty string")
    description = header.get("description")
    if description is not None and not isinstance(description, str):
        raise bad_request("header.description: must be a string")
    parent = header.get("parentCommit")
    if parent is not None and (not isinstance(parent, str) or not PARENT_COMMIT.fullmatch(parent)):
        raise bad_request(f"header.parentCommit: {parent!r} is not a commit id (5 to 40 hex digits)")
    return header, [_operation(item["key"], item["value"], number) for number, item in enumerate(items[1:], 2)]


def _operation(key: Any, value: dict[str, Any], number: int) -> Operation:
    path = value.get("path")
    if not isinstance(path, str):
        raise bad_request(f"commit payload line {number}: path must be a string")
    if key == "deletedFolder":
        path = path.rstrip("/")
    check_path(path)

    if key == "file":
        if value.get("encoding", "base64") != "base64":
            raise bad_request(f"{path}: encoding {value.get('encoding')!r} is not supported; use base64")
        try:
            data = base64.b64decode(value.get("content", ""), validate=True)
        except (binascii.Error, TypeError, ValueError) as error:
            raise bad_request(f"{path}: content is not valid base64: {error}") from error
        return Operation(key, path, data=data)
    if key == "lfsFile":
        oid, size = value.get("oid"), value.get("size")
        if value.get("algo", "sha256") != "sha256" or not isinstance(oid, str):
            raise bad_request(f"{path}: lfsFile needs algo 'sha256' and a string oid")
        if size is not None and (not isinstance(size, int) or size < 0):
            raise bad_request(f"{path}: lfsFile size must be an integer >= 0, got {size!r}")
        return Operation(key, path, oid=oid.lower(), size=size)
    if key in ("deletedFile", "deletedFolder"):
        return Operation(key, path)
    raise bad_request(f"commit payload line {number}: unknown key {key!r}; "
                      "use file, lfsFile, deletedFile or deletedFolder")


def _target(repo: Repo, revision: str, create_pr: bool) -> tuple[str, str, Commit]:
    """Find the ref a commit moves: a branch, a pull request, or a new pull request opened from a branch."""
    branch = revision[len("refs/heads/"):] if revision.startswith("refs/heads/") else revision
    number = pull_request_number(revision)
    if number is not None and number in repo.pull_requests and not create_pr:
        return "pr", str(number), repo.commits[repo.pull_requests[number]]
    if branch in repo.branches:
        head = repo.commits[repo.branches[branch]]
        return ("new-pr" if create_pr else "branch"), branch, head
    raise revision_not_found(repo.repo_id, revision)


def _move_ref(repo: Repo, ref_kind: str, ref_name: str, new: Commit, base_url: str) -> str | None:
    """Point the target ref at ``new``; return the pull request URL when the commit opened one."""
    if ref_kind == "branch":
        repo.branches[ref_name] = new.id
        return None
    if ref_kind == "pr":
        repo.pull_requests[int(ref_name)] = new.id
        return None
    number = max(repo.pull_requests, default=0) + 1
    repo.pull_requests[number] = new.id
    return f"{serialize.repo_url(base_url, repo)}/discussions/{number}"


def _apply(ctx: Context, repo: Repo, head: Commit, operations: list[Operation]) -> Mapping[str, FileEntry]:
    """Apply operations in order to the head's files; raise on the first invalid one."""
    files = dict(head.files)
    gitattributes = _gitattributes(ctx.state, head)
    for operation in operations:
        if operation.key == "file":
            assert operation.data is not None
            data = operation.data
            mode = upload_mode(gitattributes, operation.path, len(data), data, ctx.limits.max_regular_file_bytes)
            if mode == "lfs":
                raise bad_request(f"{operation.path}: this file must be stored with Git LFS (it matches a "
                                  ".gitattributes LFS pattern, is 10 MiB or larger, or is binary); "
                                  "ask preupload for its upload mode")
            if operation.path == "README.md":
                _check_readme(data)
            files[operation.path] = ctx.state.store_blob(operation.path, data)
        elif operation.key == "lfsFile":
            files[operation.path] = _lfs_file(ctx, repo, operation)
        elif operation.key == "deletedFile":
            if operation.path not in files:
                raise HubError(404, f"{MISSING_FILE_MESSAGE}: {operation.path}", code="EntryNotFound")
            del files[operation.path]
        else:
            prefix = operation.path + "/"
            doomed = [path for path in files if path.startswith(prefix)]
            if not doomed:
                raise HubError(404, f"{MISSING_FOLDER_MESSAGE}: {operation.path}", code="EntryNotFound")
            for path in doomed:
                del files[path]
    return files


def _lfs_file(ctx: Context, repo: Repo, operation: Operation) -> FileEntry:
    """Resolve an ``lfsFile`` line against the repo's LFS store; copies send no size."""
    assert operation.oid is not None
    stored = ctx.state.lfs_objects.get(operation.oid) if operation.oid in repo.lfs_oids else None
    if stored is None:
        raise bad_request(f"{operation.path}: LFS object {operation.oid} was not uploaded to {repo.repo_id}; "
                          "upload it through the LFS batch API first")
    if operation.size is not None and operation.size != len(stored):
        raise bad_request(f"{operation.path}: LFS object {operation.oid} has {len(stored)} bytes, "
                          f"not {operation.size}")
    if operation.path == "README.md":
        _check_readme(stored)
    return ctx.state.lfs_entry(operation.path, operation.oid, len(stored))


def _check_readme(data: bytes) -> None:
    errors, _ = check_card(data.decode("utf-8", errors="replace"))
    if errors:
        raise bad_request("Invalid metadata in README.md.\n" + "\n".join(f"- {error}" for error in errors))
