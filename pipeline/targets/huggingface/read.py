"""Read the live state of models on the Hub with as few requests as the API allows.

Per namespace, one paginated ``list_models(author=..., expand=[...])`` returns
existence, privacy, gating and the head of ``main`` for every repo. Per repo,
``list_repo_refs`` returns tags and branches, and one listing of the
``releases`` branch returns every version commit's message. A channel branch
costs one more listing of its history, unless its head is a version commit
itself or the repo's initial commit. No list call covers refs or commits, so
the namespaces, and then the repos, are read concurrently on at most
``READ_WORKERS`` threads: a plan of many models waits for about one round trip
per ``READ_WORKERS`` repos instead of one per request.

How versions and channels are stored (see ``publish``):

- a version is a commit on ``releases`` tagged ``vX.Y.Z``; its message carries
  ``Version``, ``Artifacts-Digest`` and ``Card-Digest`` trailers;
- a channel is a branch, and ``main`` serves ``stable``. Its head is the
  version commit itself, or a copy commit whose ``Version`` and
  ``Version-Commit`` trailers name the version and the commit it copied. The
  channel is on that version only while the version's tag still points at
  that commit.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from pipeline.manifest.schema import CHANNELS
from pipeline.plan.model import LiveState, LiveVersion
from pipeline.release import Release
from pipeline.targets import concurrency
from pipeline.targets.huggingface import hub
from pipeline.versioning import version_of_tag

if TYPE_CHECKING:
    from huggingface_hub import HfApi
    from huggingface_hub.hf_api import GitCommitInfo

logger = logging.getLogger(__name__)

RELEASES_BRANCH = "releases"
LIST_EXPAND = ["private", "gated", "sha"]
# Concurrent reads of one plan. Each uses one connection of the client's pool (httpx keeps up to 100).
READ_WORKERS = 16
# Reads run for plan and apply alike, so the next step after a failed read is the same command again.
READ_RERUN = "the same mrp command"

Item = TypeVar("Item")
Result = TypeVar("Result")


def channel_branch(channel: str) -> str:
    """Return the branch that serves a channel: ``main`` for stable, so a plain download gets stable."""
    return "main" if channel == "stable" else channel


def repo_id_of(release: Release) -> str:
    settings = release.manifest.targets.huggingface
    assert settings is not None, "only releases the huggingface target describes are read"
    return settings.repo


@dataclass(frozen=True)
class RepoSummary:
    """Settings and head of one repo, from the namespace listing."""

    private: bool
    gated: Any
    sha: str | None


@dataclass(frozen=True)
class Refs:
    branches: dict[str, str]
    tags: dict[str, str]


def read_refs(api: HfApi, repo_id: str) -> Refs:
    refs = api.list_repo_refs(repo_id)
    return Refs({ref.name: ref.target_commit for ref in refs.branches},
                {ref.name: ref.target_commit for ref in refs.tags})


class LiveReader:
    def __init__(self, api: HfApi) -> None:
        self.api = api

    def read(self, releases: Sequence[Release]) -> list[LiveState]:
        namespaces = sorted({repo_id_of(release).split("/")[0] for release in releases})
        summaries: dict[str, RepoSummary] = {}
        for listed in map_concurrently(self._list_namespace, namespaces):
            summaries.update(listed)
        return map_concurrently(lambda release: self._read_one(release, summaries.get(repo_id_of(release).lower())),
                                releases)

    def _list_namespace(self, namespace: str) -> dict[str, RepoSummary]:
        found = {}
        with hub.hub_errors(namespace, f"list the models of {namespace}", rerun=READ_RERUN):
            for info in self.api.list_models(author=namespace, expand=LIST_EXPAND):
                found[info.id.lower()] = RepoSummary(bool(info.private), info.gated or False, info.sha)
        logger.debug("listed %d models of %s", len(found), namespace)
        return found

    def _read_one(self, release: Release, summary: RepoSummary | None) -> LiveState:
        repo_id = repo_id_of(release)
        with hub.hub_errors(release.name, f"read {repo_id}", rerun=READ_RERUN):
            if summary is not None:
                return self._read_repo(release.name, repo_id, summary)
            return self._read_unlisted(release.name, repo_id)

    def _read_unlisted(self, model: str, repo_id: str) -> LiveState:
        """Ask for a repo the listing lacks: it is missing, or private and hidden from this caller.

        The Hub returns 401 RepoNotFound to an anonymous caller for both a
        private and a missing repo, so without a token the repo is unreadable,
        never missing. With a token, RepoNotFound means missing.
        """
        from huggingface_hub.errors import RepositoryNotFoundError

        try:
            info = self.api.model_info(repo_id, expand=LIST_EXPAND)
        except RepositoryNotFoundError:
            if not hub.has_token(self.api):
                return LiveState(hub.TARGET_NAME, model, readable=False, reason="not read: no credentials")
            return LiveState(hub.TARGET_NAME, model, exists=False)
        return self._read_repo(model, repo_id, RepoSummary(bool(info.private), info.gated or False, info.sha))

    def _read_repo(self, model: str, repo_id: str, summary: RepoSummary) -> LiveState:
        refs = read_refs(self.api, repo_id)
        history = self._releases_history(repo_id, refs)
        messages = {commit.commit_id: commit.message for commit in history}
        root = history[-1].commit_id if history else None

        versions = {}
        for tag, commit in refs.tags.items():
            version = version_of_tag(tag)
            if version is not None:
                versions[version] = self._live_version(repo_id, version, commit, messages)
        channels = {}
        for channel in CHANNELS:
            head = refs.branches.get(channel_branch(channel))
            if head is not None and head != root:
                found = self.channel_version(repo_id, head, versions)
                if found is not None:
                    channels[channel] = found
        settings = {"private": summary.private, "gated": summary.gated}
        return LiveState(hub.TARGET_NAME, model, exists=True, versions=versions, channels=channels,
                         settings=settings)

    def _releases_history(self, repo_id: str, refs: Refs) -> list[GitCommitInfo]:
        head = refs.branches.get(RELEASES_BRANCH)
        return self.api.list_repo_commits(repo_id, revision=head) if head is not None else []

    def _live_version(self, repo_id: str, version: str, commit: str, messages: dict[str, str]) -> LiveVersion:
        message = messages.get(commit)
        if message is None:
            # A tag outside the releases branch: someone else made it, so read that commit alone.
            message = self.api.list_repo_commits(repo_id, revision=commit)[0].message
        found = hub.trailers(message)
        unknown = f"unknown (commit {commit[:12]} records no digest)"
        if found.get(hub.VERSION_TRAILER) != version:
            return LiveVersion(version, unknown, unknown, commit)
        return LiveVersion(version, found.get(hub.ARTIFACTS_TRAILER, unknown), found.get(hub.CARD_TRAILER, unknown),
                           commit)

    def channel_version(self, repo_id: str, head: str, versions: dict[str, LiveVersion]) -> str | None:
        """Name the version a channel branch serves, or describe the foreign commit it is on."""
        for version, live in versions.items():
            if live.ref == head:
                return version
        # NOTE: list_repo_commits reads the branch's whole history to return its head's message, so a channel
        # costs one request per page of commits (50 on the Hub), which grows with the number of moves.
        history = self.api.list_repo_commits(repo_id, revision=head)
        if len(history) == 1:
            return None  # the repo's initial commit: nothing released on this channel
        return version_of_copy(history[0].message, versions) or f"untagged commit {head[:12]}"


def version_of_copy(message: str, versions: dict[str, LiveVersion]) -> str | None:
    """Return the version a channel commit copied, while its tag still points at the copied commit."""
    found = hub.trailers(message)
    version = found.get(hub.VERSION_TRAILER)
    live = versions.get(version) if version is not None else None
    if live is None or live.ref != found.get(hub.VERSION_COMMIT_TRAILER):
        return None
    return version



def map_concurrently(function: Callable[[Item], Result], items: Sequence[Item]) -> list[Result]:
    """Apply ``function`` to every item on at most READ_WORKERS threads, in order."""
    return concurrency.map_concurrently(function, items, READ_WORKERS, "mrp-hub-read")
