"""``ReplicateApp``: the Replicate HTTP API as the ``replicate`` 1.0.7 client calls it.

Authentication: ``Authorization: Bearer <token>`` or ``Token <token>``. With
``tokens`` unset, any non-empty token is the account ``default_account``
(``acme``, an organization). With ``tokens``, only those tokens are valid and
each maps to its account. A missing or unknown token gets 401. Token values are
never logged or stored beyond the ``tokens`` mapping the caller passes in.

Emulator-only routes, which Replicate does not have, live under ``/v1/_emulator/``:

- ``POST /v1/_emulator/models/{owner}/{name}/versions`` registers a version;
- ``PATCH /v1/_emulator/models/{owner}/{name}`` sets ``is_official``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from http import HTTPStatus

from pipeline.emulators.base import Request, Response
from pipeline.emulators.replicate import deployments, models, predictions
from pipeline.emulators.replicate.context import Context, Settings
from pipeline.emulators.replicate.errors import ApiError, problem_response, unauthenticated
from pipeline.emulators.replicate.hardware import DEFAULT_HARDWARE, Hardware
from pipeline.emulators.replicate.state import Account, Store

logger = logging.getLogger(__name__)

Handler = Callable[[Context], Response]

DEFAULT_ACCOUNT = Account(username="acme", name="Acme Corp, Inc.", type="organization")
DEFAULT_PAGE_SIZE = 100

ROUTES: tuple[tuple[str, str, Handler], ...] = (
    ("GET", "/v1/account", models.get_account),
    ("GET", "/v1/hardware", models.list_hardware),
    ("GET", "/v1/models", models.list_models),
    ("QUERY", "/v1/models", models.list_models),
    ("POST", "/v1/models", models.create_model),
    ("GET", "/v1/models/{owner}/{name}", models.get_model),
    ("PATCH", "/v1/models/{owner}/{name}", models.update_model),
    ("DELETE", "/v1/models/{owner}/{name}", models.delete_model),
    ("GET", "/v1/models/{owner}/{name}/versions", models.list_versions),
    ("GET", "/v1/models/{owner}/{name}/versions/{version_id}", models.get_version),
    ("DELETE", "/v1/models/{owner}/{name}/versions/{version_id}", models.delete_version),
    ("POST", "/v1/models/{owner}/{name}/predictions", predictions.create_model_prediction),
    ("GET", "/v1/deployments", deployments.list_deployments),
    ("POST", "/v1/deployments", deployments.create_deployment),
    ("GET", "/v1/deployments/{owner}/{name}", deployments.get_deployment),
    ("PATCH", "/v1/deployments/{owner}/{name}", deployments.update_deployment),
    ("DELETE", "/v1/deployments/{owner}/{name}", deployments.delete_deployment),
    ("POST", "/v1/deployments/{owner}/{name}/predictions", predictions.create_deployment_prediction),
    ("GET", "/v1/predictions", predictions.list_predictions),
    ("POST", "/v1/predictions", predictions.create_prediction),
    ("GET", "/v1/predictions/{prediction_id}", predictions.get_prediction),
    ("POST", "/v1/predictions/{prediction_id}/cancel", predictions.cancel_prediction),
    ("GET", "/v1/predictions/{prediction_id}/stream", predictions.stream_prediction),
    ("POST", "/v1/_emulator/models/{owner}/{name}/versions", models.register_version),
    ("PATCH", "/v1/_emulator/models/{owner}/{name}", models.set_official),
)


def _compile(template: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template) + "$")


COMPILED_ROUTES = tuple((method, _compile(template), handler) for method, template, handler in ROUTES)


def _token(request: Request) -> str | None:
    """Return the token from ``Bearer <token>`` or ``Token <token>``; None when there is none."""
    header = request.header("authorization")
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() not in ("bearer", "token") or not token.strip():
        return None
    return token.strip()


class ReplicateApp:
    """The Replicate API for the configured accounts, with all records kept in memory.

    ``tokens`` maps each valid token to an ``Account`` or a username (an
    organization of that name). ``any_owner`` lets every token act for any
    owner a request names, which rehearsals need. ``page_size`` sets the
    length of every paginated list. A prediction succeeds on its
    ``prediction_reads``-th GET, or on the first GET after
    ``prediction_seconds`` when that is set.
    """

    def __init__(
        self,
        tokens: Mapping[str, Account | str] | None = None,
        *,
        default_account: Account = DEFAULT_ACCOUNT,
        any_owner: bool = True,
        hardware: tuple[Hardware, ...] = DEFAULT_HARDWARE,
        page_size: int = DEFAULT_PAGE_SIZE,
        prediction_reads: int = 2,
        prediction_seconds: float | None = None,
    ) -> None:
        if page_size < 1:
            raise ValueError(f"page_size must be at least 1, got {page_size}")
        if prediction_reads < 1:
            raise ValueError(f"prediction_reads must be at least 1, got {prediction_reads}")
        self._accounts: dict[str, Account] | None = None
        if tokens is not None:
            self._accounts = {
                token: account if isinstance(account, Account) else Account(account, account)
                for token, account in tokens.items()
            }
        self._default_account = default_account
        self.settings = Settings(hardware, page_size, any_owner, prediction_reads, prediction_seconds)
        self.store = Store()

    def _account(self, request: Request) -> Account:
        token = _token(request)
        if token is None:
            raise unauthenticated()
        if self._accounts is None:
            return self._default_account
        account = self._accounts.get(token)
        if account is None:
            raise unauthenticated()
        return account

    def _route(self, request: Request) -> tuple[Handler, dict[str, str]]:
        allowed = []
        for method, pattern, handler in COMPILED_ROUTES:
            match = pattern.match(request.raw_path)
            if match is None:
                continue
            if method == request.method:
                return handler, match.groupdict()
            allowed.append(method)
        if allowed:
            raise ApiError(
                405,
                "Method not allowed",
                f"{request.method} is not allowed on {request.raw_path}: use {', '.join(allowed)}",
                headers={"Allow": ", ".join(allowed)},
            )
        raise ApiError(404, "Not found", f"no route for {request.method} {request.raw_path}")

    def handle(self, request: Request) -> Response:
        try:
            handler, params = self._route(request)
            account = self._account(request)
            with self.store.lock:
                return handler(Context(request, account, self.store, self.settings, params))
        except ApiError as error:
            logger.info("%s %s -> %d %s: %s", request.method, request.raw_path, error.status, error.title, error.detail)
            return error.to_response()

    def fault_response(self, status: int, retry_after: int | None) -> Response:
        """Format an injected fault as Replicate does, with ``Retry-After`` when given."""
        headers = {} if retry_after is None else {"Retry-After": str(retry_after)}
        if status == 429:
            seconds = 1 if retry_after is None else retry_after
            detail = f"Request was throttled. Expected available in {seconds} second{'s' if seconds != 1 else ''}."
            return problem_response(429, "Too Many Requests", detail, headers=headers)
        try:
            title = HTTPStatus(status).phrase
        except ValueError:
            title = "Error"
        return problem_response(status, title, f"injected fault: {status} {title}", headers=headers)
