"""Replicate's error responses: RFC 7807 ``application/problem+json``.

The 1.0.7 client reads ``type``, ``title``, ``detail`` and ``instance`` from the
body and takes the status from the HTTP status line, so every error carries
``title``, ``detail`` and ``status``.

Status codes the emulator uses:

- 400 ``Validation failed`` with ``errors[]`` of ``{"pointer", "detail"}``, for a
  request body that breaks the API's rules (unknown hardware SKU, instance
  counts out of range, a version that is not on the model);
- 401 ``Unauthenticated`` for a missing or unknown token;
- 403 ``Forbidden`` for writes under an owner the token does not act for;
- 404 ``Not found`` for a missing model, version, deployment or prediction;
- 409 ``Conflict`` for a duplicate name or a resource that is still in use;
- 422 ``Input validation failed`` or ``Invalid version or not permitted`` for
  predictions.

NOTE: the 403 and 409 bodies are the emulator's own choice. Replicate's
documentation does not show the status or text it returns in those cases.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pipeline.emulators.base import Response

PROBLEM_CONTENT_TYPE = "application/problem+json"


@dataclass
class ApiError(Exception):
    """An error that a route raises and the app turns into a problem+json response."""

    status: int
    title: str
    detail: str
    extra: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.status} {self.title}: {self.detail}"

    def to_response(self) -> Response:
        return problem_response(self.status, self.title, self.detail, self.extra, self.headers)


def problem_response(
    status: int,
    title: str,
    detail: str,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    payload = {"title": title, "detail": detail, "status": status, **(extra or {})}
    return Response.json(payload, status=status, headers=headers, content_type=PROBLEM_CONTENT_TYPE)


def unauthenticated() -> ApiError:
    return ApiError(401, "Unauthenticated", "You did not pass a valid authentication token")


def forbidden(detail: str) -> ApiError:
    return ApiError(403, "Forbidden", detail)


def not_found(detail: str) -> ApiError:
    return ApiError(404, "Not found", detail)


def conflict(detail: str) -> ApiError:
    return ApiError(409, "Conflict", detail)


def bad_request(detail: str) -> ApiError:
    return ApiError(400, "Bad request", detail)


@dataclass(frozen=True)
class FieldError:
    """One rule a request body breaks; ``pointer`` is a JSON pointer such as ``/hardware``."""

    pointer: str
    detail: str


def validation_failed(errors: list[FieldError]) -> ApiError:
    """Build the 400 that Replicate returns for a request body that breaks its rules."""
    lines = "\n".join(f"- {error.pointer.lstrip('/')}: {error.detail}" for error in errors)
    return ApiError(
        400,
        "Validation failed",
        f"The following errors occurred:\n{lines}",
        {"errors": [{"pointer": error.pointer, "detail": error.detail} for error in errors]},
    )


def input_validation_failed(problems: list[tuple[str, str]]) -> ApiError:
    """Build the 422 for a prediction input that breaks the version's Input schema.

    ``problems`` contains ``(type, description)`` pairs, e.g. ``("required", "prompt is required")``.
    """
    lines = "".join(f"- input: {description}\n" for _, description in problems)
    invalid_fields = [
        {"type": kind, "field": "input", "description": description} for kind, description in problems
    ]
    return ApiError(422, "Input validation failed", lines, {"invalid_fields": invalid_fields})


def invalid_version(detail: str) -> ApiError:
    return ApiError(422, "Invalid version or not permitted", detail)
