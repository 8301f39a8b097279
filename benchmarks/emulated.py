"""The two platform emulators of a benchmark run, with the counts read from their request logs and state.

Both emulators serve on 127.0.0.1 in this process, each request on its own
thread, with a latency injected per request. The setup applies run with no
latency, because they only build the state that the measured commands read.

The minimum request counts are derived from the emulators' state and page
sizes, which are the real platforms' where those are documented (see
``minimum_hub_reads`` and ``minimum_replicate_reads``).
"""

from __future__ import annotations

import logging
import math
import os
import re
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from pipeline.emulators.base import Emulator, LoggedRequest
from pipeline.emulators.hub import HubApp
from pipeline.emulators.hub.state import Repo
from pipeline.emulators.replicate import ReplicateApp
from pipeline.manifest.schema import CHANNELS

logger = logging.getLogger(__name__)

HUB_TOKEN = "hf_benchmark_token"
REPLICATE_TOKEN = "r8_benchmark-token"
READ_METHODS = frozenset({"GET", "HEAD", "QUERY"})
# The Hub serves ``main`` for the stable channel (pipeline.targets.huggingface.read.channel_branch).
HUB_CHANNEL_BRANCHES = tuple("main" if channel == "stable" else channel for channel in CHANNELS)
HUB_COMMIT_ROUTE = r"^/api/models/[^/]+/[^/]+/commit/"
HUB_LFS_UPLOAD_ROUTE = r"^/_lfs/upload/"
REPLICATE_DEPLOYMENT_ROUTE = r"^/v1/deployments/[^/]+/[^/]+$"


@dataclass(frozen=True)
class RequestCounts:
    """Requests one command sent to each emulator, read from their logs."""

    hub: tuple[LoggedRequest, ...]
    replicate: tuple[LoggedRequest, ...]

    @property
    def total(self) -> int:
        return len(self.hub) + len(self.replicate)

    @property
    def writes(self) -> int:
        return sum(1 for entry in (*self.hub, *self.replicate) if entry.method not in READ_METHODS)

    def hub_count(self, method: str, route: str) -> int:
        return sum(1 for entry in self.hub if entry.method == method and re.search(route, entry.path))

    def replicate_count(self, method: str, route: str) -> int:
        return sum(1 for entry in self.replicate if entry.method == method and re.search(route, entry.path))

    def hub_lfs_bytes(self) -> int:
        return sum(entry.bytes_in for entry in self.hub
                   if entry.method == "PUT" and re.search(HUB_LFS_UPLOAD_ROUTE, entry.path))

    def routes(self) -> dict[str, int]:
        """Count requests per method and route shape, for the report and for debugging a count."""
        shapes = Counter(f"hub {entry.method} {_shape(entry.path)}" for entry in self.hub)
        shapes.update(f"replicate {entry.method} {_shape(entry.path)}" for entry in self.replicate)
        return dict(shapes.most_common())


def _shape(path: str) -> str:
    """Replace model names and ids in a path by placeholders, so that requests group by route."""
    path = re.sub(r"bench-\d{4}(-(dev|staging|stable))?", "{model}", path)
    path = re.sub(r"/[0-9a-f]{40,64}", "/{id}", path)
    return re.sub(r"/(acme|acme-research|acme-labs)/", "/{owner}/", path)


class Platforms:
    """The Hub and Replicate emulators, started together and stopped together."""

    def __init__(self, latency_s: float) -> None:
        self.latency_s = latency_s
        self.hub_app = HubApp()
        self.replicate_app = ReplicateApp()
        self.hub = Emulator(self.hub_app)
        self.replicate = Emulator(self.replicate_app)
        self.home = Path(tempfile.mkdtemp(prefix="mrp-bench-home-"))

    def __enter__(self) -> Platforms:
        self.hub.start()
        self.replicate.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.hub.stop()
        self.replicate.stop()

    def environment(self) -> dict[str, str]:
        """Return the environment of an ``mrp`` child process that talks to these emulators only."""
        env = {key: value for key, value in os.environ.items()
               if not key.startswith(("HF_", "REPLICATE_", "MRP_"))}
        env.update({
            "HOME": str(self.home),
            "HF_HOME": str(self.home / "hf"),
            "HF_ENDPOINT": self.hub.url,
            "HF_TOKEN": HUB_TOKEN,
            "HF_HUB_DISABLE_XET": "1",
            "HF_HUB_DISABLE_TELEMETRY": "1",
            "HF_HUB_DISABLE_PROGRESS_BARS": "1",
            "REPLICATE_BASE_URL": self.replicate.url,
            "REPLICATE_API_TOKEN": REPLICATE_TOKEN,
            "MRP_REPLICATE_PUSH": "emulator",
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
        })
        return env

    def set_latency(self, seconds: float) -> None:
        self.hub.faults.latency_s = seconds
        self.replicate.faults.latency_s = seconds

    def clear_logs(self) -> None:
        self.hub.requests.clear()
        self.replicate.requests.clear()

    def counts(self) -> RequestCounts:
        return RequestCounts(tuple(self.hub.requests.entries()), tuple(self.replicate.requests.entries()))

    # Minimum requests

    def minimum_hub_reads(self, repo_ids: list[str]) -> int:
        """Count the fewest Hub requests that read these repos' state.

        One ``GET /api/models?author=NS`` page per 1000 repos of a namespace
        returns existence, privacy and gating. No list call returns refs or
        commit messages, so each repo costs one ``GET .../refs`` and one page
        per 50 commits of the ``releases`` branch, whose messages carry the
        versions' digests. A channel branch whose head is a copy commit, not
        a version commit or the initial commit, costs one more page. Page
        sizes are the Hub's (1000 repos, 50 commits).
        """
        pages = self.hub_app.pages
        by_namespace = Counter(repo_id.split("/")[0] for repo_id in repo_ids)
        total = sum(math.ceil(count / pages.repos) for count in by_namespace.values())
        for repo_id in repo_ids:
            repo = self.hub_app.state.get("model", repo_id)
            if repo is not None:
                total += _repo_reads(repo, pages.commits)
        return total

    def minimum_replicate_reads(self, models: list[str]) -> int:
        """Count the fewest Replicate requests that read these models' state.

        One ``GET /v1/account`` names the account whose deployments the list
        covers. Per model, one page of ``GET .../versions`` per 100 versions
        returns the live version ids, or 404 when the model is missing. No
        list call returns another model's versions. One ``GET /v1/deployments``
        page per 100 deployments of the account gives every channel's
        deployment. 100 is the emulator's page size; Replicate does not
        document its own.
        """
        store = self.replicate_app.store
        page_size = self.replicate_app.settings.page_size
        total = 1
        for full_name in models:
            owner, name = full_name.split("/")
            record = store.models.get((owner, name))
            versions = len(record.versions) if record is not None else 0
            total += max(1, math.ceil(versions / page_size))
        total += max(1, math.ceil(len(store.deployments) / page_size))
        return total


def _repo_reads(repo: Repo, commits_per_page: int) -> int:
    releases = repo.branches.get("releases")
    reads = 1  # refs
    if releases is None:
        return reads
    history = list(repo.history(repo.commits[releases]))
    reads += math.ceil(len(history) / commits_per_page)
    version_commits = set(repo.tags.values())
    root = history[-1].id
    for branch in HUB_CHANNEL_BRANCHES:
        head = repo.branches.get(branch)
        if head is not None and head not in version_commits and head != root:
            reads += 1
    return reads
