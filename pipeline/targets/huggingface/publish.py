"""Write versions and channel moves to a Hub repo.

A version is ONE commit on the ``releases`` branch, which holds only versions
and starts at the repo's initial commit. The commit adds every artifact file
and the rendered card (README.md) and deletes whatever else the branch held,
so its tree is exactly the version's files plus ``.gitattributes``. The tag
``vX.Y.Z`` then points at it. Its message records the digests as trailers.

A channel move is ONE commit on the channel's branch made of copy operations
from the version's commit plus deletions, so the branch's tree equals the
version's tree and no LFS byte is uploaded again. A channel branch that does
not exist yet is created at the version's commit itself.

Every commit carries ``parent_commit``, so a concurrent writer makes it fail
with 412 instead of being overwritten. The write is then recomputed against
the new head (see ``hub.write_with_retries``).
"""

from __future__ import annotations

import fnmatch
import logging
import tempfile
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from pipeline.artifacts import ArtifactFile
from pipeline.errors import TargetError
from pipeline.release import Release
from pipeline.targets.huggingface import hub
from pipeline.targets.huggingface.read import (
    RELEASES_BRANCH,
    LiveReader,
    Refs,
    channel_branch,
    read_refs,
    repo_id_of,
)
from pipeline.plan.model import LiveVersion
from pipeline.versioning import tag_name, version_of_tag

if TYPE_CHECKING:
    from huggingface_hub import HfApi

logger = logging.getLogger(__name__)

GITATTRIBUTES = ".gitattributes"
CARD_PATH = "README.md"
LFS_ATTRIBUTES = "filter=lfs diff=lfs merge=lfs -text"
# The Hub stores files of 10 MiB or more, and binary files, with Git LFS.
LFS_MIN_BYTES = 10 * 1024 * 1024
SAMPLE_BYTES = 512


class Publisher:
    def __init__(self, api: HfApi) -> None:
        self.api = api

    # Versions

    def release_version(self, release: Release, version: str) -> str:
        """Commit and tag a version, or return the commit that already contains it, so it is never committed twice."""
        repo_id = repo_id_of(release)
        tag = tag_name(version)
        records = {hub.VERSION_TRAILER: version, hub.ARTIFACTS_TRAILER: release.artifacts.digest,
                   hub.CARD_TRAILER: release.card_digest}

        refs = read_refs(self.api, repo_id)
        committed = self._find_version_commit(repo_id, refs, records)
        tagged = refs.tags.get(tag)
        if tagged is not None:
            if tagged == committed or (committed is None and self._records(repo_id, tagged, records)):
                logger.info("%s %s is already released as commit %s", release.name, version, tagged)
                return tagged
            raise _tag_conflict(release.name, tag, tagged, committed, release.artifacts.digest)

        if committed is None:
            committed = hub.write_with_retries(
                release.name, f"commit version {version}",
                lambda: self._commit_version(release, version, repo_id, records),
                lambda: self._find_version_commit(repo_id, read_refs(self.api, repo_id), records),
            )
        self._create_tag(release, repo_id, tag, committed)
        logger.info("released %s %s as commit %s", release.name, version, committed)
        return committed

    def _find_version_commit(self, repo_id: str, refs: Refs, records: dict[str, str]) -> str | None:
        """Find the commit on ``releases`` whose trailers record exactly this version and these digests."""
        head = refs.branches.get(RELEASES_BRANCH)
        if head is None:
            return None
        for commit in self.api.list_repo_commits(repo_id, revision=head):
            found = hub.trailers(commit.message)
            if all(found.get(key) == value for key, value in records.items()):
                return commit.commit_id
        return None

    def _records(self, repo_id: str, commit: str, records: dict[str, str]) -> bool:
        found = hub.trailers(self.api.list_repo_commits(repo_id, revision=commit)[0].message)
        return all(found.get(key) == value for key, value in records.items())

    def _commit_version(self, release: Release, version: str, repo_id: str, records: dict[str, str]) -> str:
        """Make the version's one commit on top of the current ``releases`` head."""
        from huggingface_hub import CommitOperationAdd, CommitOperationDelete

        head = read_refs(self.api, repo_id).branches.get(RELEASES_BRANCH) or self._create_releases_branch(repo_id)
        current = self._files(repo_id, head)
        operations: list = [CommitOperationAdd(path_in_repo=item.path, path_or_fileobj=str(item.source))
                            for item in release.artifacts.files]
        operations.append(CommitOperationAdd(path_in_repo=CARD_PATH, path_or_fileobj=release.card.encode()))

        attributes = self._read_text(repo_id, head, GITATTRIBUTES) if GITATTRIBUTES in current else ""
        missing = lfs_patterns_needed(attributes, release.artifacts.files)
        if missing:
            text = attributes + ("" if attributes.endswith("\n") or not attributes else "\n")
            text += "".join(f"{pattern} {LFS_ATTRIBUTES}\n" for pattern in missing)
            operations.append(CommitOperationAdd(path_in_repo=GITATTRIBUTES, path_or_fileobj=text.encode()))

        keep = {item.path for item in release.artifacts.files} | {CARD_PATH, GITATTRIBUTES}
        operations += [CommitOperationDelete(path_in_repo=path) for path in sorted(current) if path not in keep]
        info = self.api.create_commit(repo_id, operations, commit_message=f"Release {release.name} {version}",
                                      commit_description=hub.format_trailers(records), revision=RELEASES_BRANCH,
                                      parent_commit=head)
        return info.oid

    def _create_releases_branch(self, repo_id: str) -> str:
        """Create ``releases`` at the repo's initial commit, so it contains nothing but versions."""
        root = self.api.list_repo_commits(repo_id, revision="main")[-1].commit_id
        self.api.create_branch(repo_id, branch=RELEASES_BRANCH, revision=root, exist_ok=True)
        logger.info("created branch %s of %s at the initial commit %s", RELEASES_BRANCH, repo_id, root)
        return read_refs(self.api, repo_id).branches[RELEASES_BRANCH]

    def _create_tag(self, release: Release, repo_id: str, tag: str, commit: str) -> None:
        from huggingface_hub.errors import HfHubHTTPError

        def tagged() -> str | None:
            found = read_refs(self.api, repo_id).tags.get(tag)
            if found is not None and found != commit:
                raise _tag_conflict(release.name, tag, found, commit, release.artifacts.digest)
            return found

        def create() -> str:
            try:
                self.api.create_tag(repo_id, tag=tag, revision=commit, tag_message=f"{release.name} {tag}")
            except HfHubHTTPError as error:
                if hub.status_of(error) != hub.CONFLICT_STATUS or tagged() != commit:
                    raise
            return commit

        hub.write_with_retries(release.name, f"tag {tag}", create, tagged)

    # Channels

    def move_channel(self, release: Release, channel: str, version: str, before: str | None) -> str:
        """Point a channel at a version with one copy commit; return the branch's new head."""
        repo_id = repo_id_of(release)
        branch = channel_branch(channel)

        def landed() -> str | None:
            refs = read_refs(self.api, repo_id)
            head = refs.branches.get(branch)
            return head if head is not None and self._version_at(repo_id, head, refs) == version else None

        return hub.write_with_retries(release.name, f"move {channel} to {version}",
                                      lambda: self._move_once(release, repo_id, channel, version, before), landed)

    def _move_once(self, release: Release, repo_id: str, channel: str, version: str, before: str | None) -> str:
        from huggingface_hub import CommitOperationCopy, CommitOperationDelete

        refs = read_refs(self.api, repo_id)
        branch = channel_branch(channel)
        source = refs.tags.get(tag_name(version))
        if source is None:
            raise TargetError(hub.TARGET_NAME, release.name,
                              f"cannot move {channel} to {version}: tag {tag_name(version)} does not exist; "
                              "run mrp apply again so that the version is released first")
        head = refs.branches.get(branch)
        if head is None:
            self._create_channel_branch(repo_id, branch, source)
            logger.info("created branch %s of %s at %s (%s)", branch, repo_id, source, version)
            return source

        current = self._version_at(repo_id, head, refs)
        if current == version:
            return head
        if current != before:
            raise TargetError(hub.TARGET_NAME, release.name,
                              f"channel {channel} moved while this apply ran (the plan expected {before or 'none'}, "
                              f"branch {branch} is now at {current or 'no version'}); run mrp plan again")

        expected, present = self._files(repo_id, source), self._files(repo_id, head)
        operations: list = [CommitOperationCopy(src_path_in_repo=path, path_in_repo=path, src_revision=source)
                            for path, blob in sorted(expected.items()) if present.get(path) != blob]
        operations += [CommitOperationDelete(path_in_repo=path) for path in sorted(present) if path not in expected]
        if not operations:
            # NOTE: the branch already contains the version's files under a commit without trailers. The client
            # skips an empty commit, so the channel keeps reading as an untagged commit.
            logger.warning("%s: branch %s already contains the files of %s but no record of the version; "
                           "no commit was made", release.name, branch, version)
            return head
        records = {hub.CHANNEL_TRAILER: channel, hub.VERSION_TRAILER: version, hub.VERSION_COMMIT_TRAILER: source}
        info = self.api.create_commit(repo_id, operations, commit_message=f"Move {channel} of {release.name} to {version}",
                                      commit_description=hub.format_trailers(records), revision=branch,
                                      parent_commit=head)
        logger.info("moved %s %s to %s as commit %s", release.name, channel, version, info.oid)
        return info.oid

    def _create_channel_branch(self, repo_id: str, branch: str, source: str) -> None:
        """Create a branch at ``source``; a 409 counts as success when another writer made the same branch."""
        from huggingface_hub.errors import HfHubHTTPError

        try:
            self.api.create_branch(repo_id, branch=branch, revision=source)
        except HfHubHTTPError as error:
            if hub.status_of(error) != hub.CONFLICT_STATUS or read_refs(self.api, repo_id).branches.get(branch) != source:
                raise

    def _version_at(self, repo_id: str, head: str, refs: Refs) -> str | None:
        """Name the version a branch head serves, the way the live state read names it."""
        versions = {version: LiveVersion(version, None, None, commit) for tag, commit in refs.tags.items()
                    if (version := version_of_tag(tag)) is not None}
        return LiveReader(self.api).channel_version(repo_id, head, versions)

    # Reading files

    def _files(self, repo_id: str, revision: str) -> dict[str, str]:
        """Map every file path at ``revision`` to its git blob id."""
        from huggingface_hub.hf_api import RepoFile

        return {entry.path: entry.blob_id
                for entry in self.api.list_repo_tree(repo_id, revision=revision, recursive=True)
                if isinstance(entry, RepoFile)}

    def _read_text(self, repo_id: str, revision: str, path: str) -> str:
        with tempfile.TemporaryDirectory(prefix="mrp-hf-") as folder:
            local = self.api.hf_hub_download(repo_id, path, revision=revision, cache_dir=folder)
            return Path(local).read_text(encoding="utf-8")


def _tag_conflict(model: str, tag: str, tagged: str, committed: str | None, digest: str) -> TargetError:
    if committed is None:
        found = f"which does not record this version's artifacts {digest}"
    else:
        found = f"but this version's commit is {committed}"
    return TargetError(hub.TARGET_NAME, model,
                       f"tag {tag} already exists on commit {tagged}, {found}. A released version never changes: "
                       "bump the version in the manifest, or delete the tag if it was created by mistake")


def lfs_patterns_needed(gitattributes: str, files: Iterable[ArtifactFile]) -> list[str]:
    """Return the ``.gitattributes`` patterns that large or binary files need and no LFS line covers yet.

    One glob per file type (``*.vec``); a file without an extension gets its
    own name as the pattern.
    """
    patterns = [line.split()[0] for line in gitattributes.splitlines()
                if line.strip() and not line.lstrip().startswith("#") and "filter=lfs" in line.split()[1:]]
    needed: list[str] = []
    for item in files:
        if not needs_lfs(item) or _covered(item.path, patterns + needed):
            continue
        name = PurePosixPath(item.path).name
        suffix = PurePosixPath(name).suffix
        needed.append(f"*{suffix}" if suffix else name)
    return needed


def needs_lfs(item: ArtifactFile) -> bool:
    """Tell whether the Hub stores a file with LFS: 10 MiB or more, or a sample that is not UTF-8 text."""
    if item.size >= LFS_MIN_BYTES:
        return True
    with item.source.open("rb") as handle:
        sample = handle.read(SAMPLE_BYTES)
    if b"\0" in sample:
        return True
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as error:
        return error.start < len(sample) - 3  # a character cut at the sample's end is still text
    return False


def _covered(path: str, patterns: list[str]) -> bool:
    """Match a path against gitattributes globs: a pattern without ``/`` matches the file name."""
    name = PurePosixPath(path).name
    for pattern in patterns:
        if "/" not in pattern and fnmatch.fnmatchcase(name, pattern):
            return True
        if "/" in pattern and fnmatch.fnmatchcase(path, pattern.replace("**/", "*").lstrip("/")):
            return True
    return False
