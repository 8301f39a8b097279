"""In-memory repos, commits, refs and object stores.

Every mutation happens under ``HubState.lock`` (re-entrant), so route code can
hold it across a read-check-write sequence such as "is the parent still the
branch head? then commit". Commits and their file maps are never changed
after creation.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from pipeline.emulators.hub import gitobjects
from pipeline.emulators.hub.errors import revision_not_found

Gated = Literal[False, "auto", "manual"]
RepoKey = tuple[str, str]
REPO_TYPES = ("model", "dataset", "space")
INITIAL_COMMIT_TITLE = "initial commit"
SYSTEM_AUTHOR = "system"


@dataclass(frozen=True)
class FileEntry:
    """One file of a commit's tree.

    ``oid`` is the git blob id of what git stores: the content for a regular
    file, the LFS pointer for an LFS file. ``size`` is always the real size.
    """

    path: str
    oid: str
    size: int
    lfs_sha256: str | None = None

    @property
    def pointer_size(self) -> int | None:
        if self.lfs_sha256 is None:
            return None
        return len(gitobjects.lfs_pointer(self.lfs_sha256, self.size))

    @property
    def content_id(self) -> str:
        """The id the preupload and download APIs compare: sha256 for LFS files, git blob id otherwise."""
        return self.lfs_sha256 if self.lfs_sha256 is not None else self.oid


@dataclass(frozen=True)
class Commit:
    id: str
    parents: tuple[str, ...]
    title: str
    message: str
    author: str
    timestamp: float
    files: Mapping[str, FileEntry]
    folders: Mapping[str, str]

    def folder_exists(self, path: str) -> bool:
        return path in self.folders


@dataclass
class Repo:
    repo_type: str
    repo_id: str
    private: bool
    gated: Gated
    created_at: float
    commits: dict[str, Commit] = field(default_factory=dict)
    branches: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    lfs_oids: set[str] = field(default_factory=set)
    pull_requests: dict[int, str] = field(default_factory=dict)
    last_modified: float = 0.0

    @property
    def namespace(self) -> str:
        return self.repo_id.split("/")[0]

    @property
    def key(self) -> RepoKey:
        return repo_key(self.repo_type, self.repo_id)

    def resolve(self, revision: str) -> Commit:
        """Resolve a branch, tag, full ref or (possibly short) commit id to a commit."""
        if revision.startswith("refs/heads/") and revision[len("refs/heads/"):] in self.branches:
            return self.commits[self.branches[revision[len("refs/heads/"):]]]
        if revision.startswith("refs/tags/") and revision[len("refs/tags/"):] in self.tags:
            return self.commits[self.tags[revision[len("refs/tags/"):]]]
        pr_number = pull_request_number(revision)
        if pr_number is not None and pr_number in self.pull_requests:
            return self.commits[self.pull_requests[pr_number]]
        if revision in self.branches:
            return self.commits[self.branches[revision]]
        if revision in self.tags:
            return self.commits[self.tags[revision]]
        if revision in self.commits:
            return self.commits[revision]
        if 7 <= len(revision) < 40:
            matches = [commit_id for commit_id in self.commits if commit_id.startswith(revision.lower())]
            if len(matches) == 1:
                return self.commits[matches[0]]
        raise revision_not_found(self.repo_id, revision)

    def history(self, start: Commit) -> Iterator[Commit]:
        """Yield ``start`` and its first-parent ancestors, newest first."""
        commit: Commit | None = start
        while commit is not None:
            yield commit
            commit = self.commits[commit.parents[0]] if commit.parents else None


def pull_request_number(revision: str) -> int | None:
    """Return N for ``refs/pr/N``, else None."""
    prefix = "refs/pr/"
    if revision.startswith(prefix) and revision[len(prefix):].isdigit():
        return int(revision[len(prefix):])
    return None


def repo_key(repo_type: str, repo_id: str) -> RepoKey:
    """Key repos case-insensitively, because the Hub treats ``Acme/X`` and ``acme/x`` as one repo."""
    return (repo_type, repo_id.lower())


@dataclass(frozen=True)
class PendingUpload:
    """An LFS upload URL from the batch API. Its random token replaces the Hub's presigned storage URL."""

    key: RepoKey
    oid: str
    size: int


class HubState:
    """All repos plus the content-addressed stores that their trees point into."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.repos: dict[RepoKey, Repo] = {}
        self.blobs: dict[str, bytes] = {}
        self.lfs_objects: dict[str, bytes] = {}
        self.uploads: dict[str, PendingUpload] = {}

    def get(self, repo_type: str, repo_id: str) -> Repo | None:
        with self.lock:
            return self.repos.get(repo_key(repo_type, repo_id))

    def create_repo(self, repo_type: str, repo_id: str, private: bool) -> Repo:
        """Create a repo whose ``main`` branch points at the system's initial commit with ``.gitattributes``."""
        with self.lock:
            now = time.time()
            repo = Repo(repo_type, repo_id, private, False, created_at=now)
            gitattributes = self.store_blob(".gitattributes", gitobjects.DEFAULT_GITATTRIBUTES)
            commit = self.new_commit(repo, (), {".gitattributes": gitattributes},
                                     INITIAL_COMMIT_TITLE, "", SYSTEM_AUTHOR)
            repo.branches["main"] = commit.id
            self.repos[repo.key] = repo
            return repo

    def delete_repo(self, repo: Repo) -> None:
        with self.lock:
            del self.repos[repo.key]

    def store_blob(self, path: str, data: bytes) -> FileEntry:
        """Store regular file content and return its tree entry."""
        oid = gitobjects.git_blob_id(data)
        with self.lock:
            self.blobs.setdefault(oid, data)
        return FileEntry(path, oid, len(data))

    def lfs_entry(self, path: str, sha256: str, size: int) -> FileEntry:
        """Build the tree entry of an LFS object and store its pointer as a git blob."""
        pointer = gitobjects.lfs_pointer(sha256, size)
        oid = gitobjects.git_blob_id(pointer)
        with self.lock:
            self.blobs.setdefault(oid, pointer)
        return FileEntry(path, oid, size, lfs_sha256=sha256)

    def read(self, entry: FileEntry) -> bytes:
        with self.lock:
            if entry.lfs_sha256 is not None:
                return self.lfs_objects[entry.lfs_sha256]
            return self.blobs[entry.oid]

    def new_commit(self, repo: Repo, parents: tuple[str, ...], files: Mapping[str, FileEntry],
                   title: str, message: str, author: str) -> Commit:
        """Record a commit in ``repo`` (refs are left to the caller) and return it."""
        timestamp = time.time()
        folders = gitobjects.tree_ids({path: entry.oid for path, entry in files.items()})
        full_message = f"{title}\n\n{message}" if message else title
        commit_id = gitobjects.commit_id(folders[""], parents, author, int(timestamp), full_message)
        commit = Commit(commit_id, parents, title, message, author, timestamp,
                        MappingProxyType(dict(files)), MappingProxyType(folders))
        with self.lock:
            repo.commits[commit_id] = commit
            repo.last_modified = timestamp
        return commit
