"""Typed Hub errors and their HTTP form.

The ``huggingface_hub`` client picks its exception class from the
``X-Error-Code`` header (``RepoNotFound``, ``RevisionNotFound``,
``EntryNotFound``, ``GatedRepo``) and builds the message from the JSON body
``{"error": ...}``, so every error carries both.
"""

from __future__ import annotations

from typing import Any

from pipeline.emulators.base import Response


class HubError(Exception):
    """An error response: route code raises it and ``HubApp.handle`` turns it into JSON."""

    def __init__(self, status: int, message: str, code: str | None = None,
                 headers: dict[str, str] | None = None, extra: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.headers = headers or {}
        self.extra = extra or {}

    def to_response(self) -> Response:
        headers = dict(self.headers)
        if self.code is not None:
            headers["X-Error-Code"] = self.code
        return Response.json({"error": self.message, **self.extra}, status=self.status, headers=headers)


def repo_not_found(repo_id: str, authenticated: bool) -> HubError:
    """Build the error for a missing or hidden repo.

    Anonymous callers get 401, as on the Hub, so they cannot tell a private
    repo from a missing one; authenticated callers get 404.
    """
    message = f"Repository not found: {repo_id}. Check the repo id, and your token if the repo is private."
    return HubError(404 if authenticated else 401, message, code="RepoNotFound")


def revision_not_found(repo_id: str, revision: str) -> HubError:
    return HubError(404, f"Invalid rev id: {revision} (repo {repo_id})", code="RevisionNotFound")


def entry_not_found(repo_id: str, revision: str, path: str, headers: dict[str, str] | None = None) -> HubError:
    message = f"Entry not found: {path} does not exist in {repo_id} at revision {revision}"
    return HubError(404, message, code="EntryNotFound", headers=headers)


def bad_request(message: str) -> HubError:
    return HubError(400, message)


def too_large(what: str, size: int, limit: int) -> HubError:
    return HubError(413, f"{what} is {size} bytes, over the limit of {limit} bytes")
