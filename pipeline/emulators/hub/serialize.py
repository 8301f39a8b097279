"""JSON shapes of repos, files and commits as the Hub API returns them.

Dates end in ``Z`` because ``huggingface_hub.utils.parse_datetime`` rejects
``+00:00``. Nothing here emits ``xetHash`` or other Xet fields, so the client
always downloads over plain HTTP.
"""

from __future__ import annotations

import datetime
import hashlib
from typing import Any

from pipeline.emulators.hub.cards import CardError, parse_front_matter
from pipeline.emulators.hub.state import Commit, FileEntry, HubState, Repo


def iso_date(timestamp: float) -> str:
    moment = datetime.datetime.fromtimestamp(timestamp, tz=datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def object_id(repo: Repo) -> str:
    """Derive a stable 24-hex ``_id``, shaped like the Hub's MongoDB ids."""
    return hashlib.sha1(f"{repo.repo_type}/{repo.repo_id}/{repo.created_at}".encode()).hexdigest()[:24]


def repo_url(base_url: str, repo: Repo) -> str:
    prefix = "" if repo.repo_type == "model" else f"{repo.repo_type}s/"
    return f"{base_url}/{prefix}{repo.repo_id}"


def last_commit(repo: Repo, head: Commit, path: str, is_folder: bool) -> dict[str, str]:
    """Find the newest first-parent commit that changed ``path``."""
    def version(commit: Commit) -> str | None:
        if is_folder:
            return commit.folders.get(path)
        entry = commit.files.get(path)
        return entry.oid if entry is not None else None

    found = head
    current = version(head)
    for commit in repo.history(head):
        parent = repo.commits[commit.parents[0]] if commit.parents else None
        found = commit
        if parent is None or version(parent) != current:
            break
    return {"id": found.id, "title": found.title, "date": iso_date(found.timestamp)}


def file_entry(repo: Repo, head: Commit, entry: FileEntry, expand: bool) -> dict[str, Any]:
    item: dict[str, Any] = {"type": "file", "oid": entry.oid, "size": entry.size, "path": entry.path}
    if entry.lfs_sha256 is not None:
        item["lfs"] = {"oid": entry.lfs_sha256, "size": entry.size, "pointerSize": entry.pointer_size}
    if expand:
        item["lastCommit"] = last_commit(repo, head, entry.path, is_folder=False)
        item["securityFileStatus"] = {"status": "safe", "avScan": {"virusFound": False, "virusNames": None},
                                      "pickleImportScan": None}
    return item


def folder_entry(repo: Repo, head: Commit, path: str, expand: bool) -> dict[str, Any]:
    item: dict[str, Any] = {"type": "directory", "oid": head.folders[path], "size": 0, "path": path}
    if expand:
        item["lastCommit"] = last_commit(repo, head, path, is_folder=True)
    return item


def sibling(entry: FileEntry, blobs: bool) -> dict[str, Any]:
    item: dict[str, Any] = {"rfilename": entry.path}
    if blobs:
        item["blobId"] = entry.oid
        item["size"] = entry.size
        if entry.lfs_sha256 is not None:
            item["lfs"] = {"sha256": entry.lfs_sha256, "size": entry.size, "pointerSize": entry.pointer_size}
    return item


def card_data(state: HubState, commit: Commit) -> dict[str, Any] | None:
    """Parse README.md front matter at ``commit``; invalid metadata reads as none, as on the Hub."""
    entry = commit.files.get("README.md")
    if entry is None:
        return None
    try:
        return parse_front_matter(state.read(entry).decode("utf-8", errors="replace"))
    except CardError:
        return None


def card_tags(metadata: dict[str, Any]) -> list[str]:
    """Derive the repo tags the Hub shows from card metadata."""
    tags: list[str] = []
    for key in ("library_name",):
        if isinstance(metadata.get(key), str):
            tags.append(metadata[key])
    if isinstance(metadata.get("tags"), list):
        tags += [tag for tag in metadata["tags"] if isinstance(tag, str)]
    languages = metadata.get("language")
    for language in languages if isinstance(languages, list) else [languages]:
        if isinstance(language, str):
            tags.append(language)
    if isinstance(metadata.get("license"), str):
        tags.append(f"license:{metadata['license']}")
    return list(dict.fromkeys(tags))


def repo_info(state: HubState, repo: Repo, commit: Commit, *, blobs: bool) -> dict[str, Any]:
    """Build the full ``/api/{type}s/{repo}`` body at ``commit``."""
    metadata = card_data(state, commit)
    info: dict[str, Any] = {
        "_id": object_id(repo),
        "id": repo.repo_id,
        "author": repo.namespace,
        "sha": commit.id,
        "lastModified": iso_date(repo.last_modified),
        "createdAt": iso_date(repo.created_at),
        "private": repo.private,
        "gated": repo.gated,
        "disabled": False,
        "downloads": 0,
        "downloadsAllTime": 0,
        "likes": 0,
        "trendingScore": 0,
        "tags": card_tags(metadata or {}),
        "siblings": [sibling(entry, blobs) for _, entry in sorted(commit.files.items())],
        "usedStorage": sum(entry.size for entry in commit.files.values()),
    }
    if repo.repo_type == "model":
        info["modelId"] = repo.repo_id
        info["spaces"] = []
        info["childrenModelCount"] = 0
    if metadata is not None:
        info["cardData"] = metadata
        for key in ("pipeline_tag", "library_name", "model-index"):
            if key in metadata:
                info[key] = metadata[key]
    return info


def commit_item(commit: Commit, formatted: bool) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": commit.id,
        "title": commit.title,
        "message": commit.message,
        "authors": [{"user": commit.author}],
        "date": iso_date(commit.timestamp),
    }
    if formatted:
        item["formatted"] = {"title": commit.title, "message": commit.message}
    return item
