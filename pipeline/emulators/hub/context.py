"""Per-request context shared by the route modules: caller, config, access checks, body parsing."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote

from pipeline.emulators.base import Request
from pipeline.emulators.hub.accounts import Account, authentication_required
from pipeline.emulators.hub.errors import HubError, bad_request, repo_not_found, too_large
from pipeline.emulators.hub.state import HubState, Repo

KIND_TO_TYPE = {"models": "model", "datasets": "dataset", "spaces": "space", None: "model"}
MIB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """Request size limits in bytes. A larger body gets 413.

    NOTE: the base server reads a whole body before calling the app, so these
    limits bound what is stored, not what is received.
    """

    max_lfs_object_bytes: int = 2 * 1024 * MIB
    max_commit_bytes: int = 1024 * MIB
    max_json_bytes: int = 16 * MIB
    # A regular (non-LFS) file must be smaller than this; the Hub requires LFS from 10 MB.
    max_regular_file_bytes: int = 10 * MIB


@dataclass(frozen=True)
class PageSizes:
    """Items per page of each paginated route (the real Hub's sizes by default)."""

    repos: int = 1000
    tree: int = 1000
    tree_expanded: int = 50
    commits: int = 50

    @classmethod
    def uniform(cls, size: int) -> PageSizes:
        if size < 1:
            raise ValueError(f"page size must be at least 1, got {size}")
        return cls(size, size, size, size)


@dataclass
class Context:
    request: Request
    state: HubState
    caller: Account | None
    limits: Limits
    pages: PageSizes

    @property
    def base_url(self) -> str:
        return self.request.base_url

    def flag(self, name: str) -> bool:
        """Read a boolean query parameter sent as ``true``/``1``."""
        return (self.request.first(name, "") or "").lower() in ("true", "1")

    def json_body(self) -> dict[str, Any]:
        body = self.request.body
        if len(body) > self.limits.max_json_bytes:
            raise too_large("JSON request body", len(body), self.limits.max_json_bytes)
        try:
            payload = json.loads(body or b"{}")
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise bad_request(f"Request body is not valid JSON: {error}") from error
        if not isinstance(payload, dict):
            raise bad_request(f"Request body must be a JSON object, got {type(payload).__name__}")
        return payload

    def form_body(self) -> dict[str, list[str]]:
        if len(self.request.body) > self.limits.max_json_bytes:
            raise too_large("form request body", len(self.request.body), self.limits.max_json_bytes)
        return parse_qs(self.request.body.decode("utf-8", errors="replace"), keep_blank_values=True)

    def can_read(self, repo: Repo) -> bool:
        return not repo.private or (self.caller is not None and self.caller.can_write(repo.namespace))

    def readable_repo(self, kind: str | None, namespace: str, name: str) -> Repo:
        """Find a repo the caller may see; hidden and missing repos fail the same way."""
        repo_id = f"{unquote(namespace)}/{unquote(name)}"
        repo = self.state.get(KIND_TO_TYPE[kind], repo_id)
        if repo is None or not self.can_read(repo):
            raise repo_not_found(repo_id, authenticated=self.caller is not None)
        return repo

    def writable_repo(self, kind: str | None, namespace: str, name: str) -> Repo:
        repo = self.readable_repo(kind, namespace, name)
        self.require_write(repo.namespace, f"write to {repo.repo_id}")
        return repo

    def require_write(self, namespace: str, action: str) -> Account:
        if self.caller is None:
            raise authentication_required(action)
        if not self.caller.can_write(namespace):
            raise HubError(403, f"You don't have the rights to {action}: "
                                f"user {self.caller.name!r} cannot write to namespace {namespace!r}")
        return self.caller
