"""Git read routes (refs, commits, tree, paths-info) and branch and tag management."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import unquote

from pipeline.emulators.base import Response
from pipeline.emulators.hub import serialize
from pipeline.emulators.hub.context import Context
from pipeline.emulators.hub.errors import HubError, bad_request, entry_not_found, revision_not_found
from pipeline.emulators.hub.names import ref_name_problem
from pipeline.emulators.hub.pagination import page
from pipeline.emulators.hub.state import Commit, Repo

logger = logging.getLogger(__name__)


def list_refs(ctx: Context, kind: str, ns: str, name: str) -> Response:
    with ctx.state.lock:
        repo = ctx.readable_repo(kind, ns, name)
        body: dict[str, Any] = {
            "branches": [{"name": branch, "ref": f"refs/heads/{branch}", "targetCommit": target}
                         for branch, target in sorted(repo.branches.items())],
            "converts": [],
            "tags": [{"name": tag, "ref": f"refs/tags/{tag}", "targetCommit": target}
                     for tag, target in sorted(repo.tags.items())],
        }
        if ctx.flag("include_prs"):
            body["pullRequests"] = [{"name": str(number), "ref": f"refs/pr/{number}", "targetCommit": target}
                                    for number, target in sorted(repo.pull_requests.items())]
    return Response.json(body)


def list_commits(ctx: Context, kind: str, ns: str, name: str, rev: str) -> Response:
    formatted = "formatted" in ctx.request.query.get("expand[]", [])
    with ctx.state.lock:
        repo = ctx.readable_repo(kind, ns, name)
        history = list(repo.history(repo.resolve(unquote(rev))))
    items, headers = page(ctx.request, history, ctx.pages.commits)
    return Response.json([serialize.commit_item(commit, formatted) for commit in items], headers=headers)


def list_tree(ctx: Context, kind: str, ns: str, name: str, rev: str, path: str = "") -> Response:
    recursive = ctx.flag("recursive")
    expand = ctx.flag("expand")
    folder = unquote(path).strip("/")
    revision = unquote(rev)
    with ctx.state.lock:
        repo = ctx.readable_repo(kind, ns, name)
        head = repo.resolve(revision)
        # NOTE: a file path also gets EntryNotFound; what the Hub returns for one is unverified.
        if folder and not head.folder_exists(folder):
            raise entry_not_found(repo.repo_id, revision, folder)
        entries = [_entry(repo, head, child, expand) for child in _children(head, folder, recursive)]
    page_size = ctx.pages.tree_expanded if expand else ctx.pages.tree
    items, headers = page(ctx.request, entries, page_size)
    return Response.json(items, headers=headers)


def _children(head: Commit, folder: str, recursive: bool) -> list[str]:
    """List the paths under ``folder``: folders before files at each level, each folder followed by its content."""
    prefix = f"{folder}/" if folder else ""
    subfolders = sorted({path[len(prefix):].split("/")[0] for path in head.folders
                         if path.startswith(prefix) and path != folder and path})
    files = sorted(path for path in head.files if path.startswith(prefix) and "/" not in path[len(prefix):])
    paths: list[str] = []
    for child in subfolders:
        paths.append(prefix + child)
        if recursive:
            paths += _children(head, prefix + child, recursive)
    return paths + files


def _entry(repo: Repo, head: Commit, path: str, expand: bool) -> dict[str, Any]:
    if path in head.files:
        return serialize.file_entry(repo, head, head.files[path], expand)
    return serialize.folder_entry(repo, head, path, expand)


def paths_info(ctx: Context, kind: str, ns: str, name: str, rev: str) -> Response:
    form = ctx.form_body()
    expand = (form.get("expand", ["false"])[0]).lower() == "true"
    with ctx.state.lock:
        repo = ctx.readable_repo(kind, ns, name)
        head = repo.resolve(unquote(rev))
        entries = [_entry(repo, head, path.strip("/"), expand) for path in form.get("paths", [])
                   if path.strip("/") in head.files or (path.strip("/") and head.folder_exists(path.strip("/")))]
    return Response.json(entries)


def create_branch(ctx: Context, kind: str, ns: str, name: str, branch: str) -> Response:
    branch = unquote(branch)
    payload = ctx.json_body()
    problem = ref_name_problem(branch)
    if problem is not None:
        raise bad_request(f"Invalid reference for a branch: {problem}")
    with ctx.state.lock:
        repo = ctx.writable_repo(kind, ns, name)
        starting_point = payload.get("startingPoint")
        if starting_point is not None and not isinstance(starting_point, str):
            raise bad_request("startingPoint: must be a string")
        source = repo.resolve(starting_point or "main")
        if branch in repo.branches:
            raise HubError(409, f"Reference refs/heads/{branch} already exists")
        repo.branches[branch] = source.id
    logger.info("created branch %s of %s at %s", branch, repo.repo_id, source.id)
    return Response.json({"success": True})


def delete_branch(ctx: Context, kind: str, ns: str, name: str, branch: str) -> Response:
    branch = unquote(branch)
    with ctx.state.lock:
        repo = ctx.writable_repo(kind, ns, name)
        if branch == "main":
            raise HubError(403, "Cannot delete refs/heads/main")
        if branch not in repo.branches:
            raise revision_not_found(repo.repo_id, branch)
        del repo.branches[branch]
    logger.info("deleted branch %s of %s", branch, repo.repo_id)
    return Response.json({"success": True})


def create_tag(ctx: Context, kind: str, ns: str, name: str, rev: str) -> Response:
    payload = ctx.json_body()
    tag = payload.get("tag")
    if not isinstance(tag, str):
        raise bad_request("tag: required string")
    problem = ref_name_problem(tag)
    if problem is not None:
        raise bad_request(f"Invalid tag name: {problem}")
    with ctx.state.lock:
        repo = ctx.writable_repo(kind, ns, name)
        target = repo.resolve(unquote(rev))
        if tag in repo.tags:
            raise HubError(409, f"Tag {tag} already exists")
        repo.tags[tag] = target.id
    logger.info("created tag %s of %s at %s", tag, repo.repo_id, target.id)
    return Response.json({"success": True})


def delete_tag(ctx: Context, kind: str, ns: str, name: str, tag: str) -> Response:
    tag = unquote(tag)
    with ctx.state.lock:
        repo = ctx.writable_repo(kind, ns, name)
        if tag not in repo.tags:
            raise revision_not_found(repo.repo_id, tag)
        del repo.tags[tag]
    logger.info("deleted tag %s of %s", tag, repo.repo_id)
    return Response.json({"success": True})
