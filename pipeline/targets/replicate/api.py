"""The Replicate API as the target uses it: one client, errors translated at one place, retried writes.

The ``replicate`` 1.0.7 client retries only GET, PUT and DELETE (on 429, 503
and 504). POST and PATCH go through ``Api.write``, a bounded retry that first
reads the state back, so a write whose response was lost is never sent twice.
It also retries 500 and 502, which the client does not: with the read-back, a
re-sent write is safe, and failing the apply would leave the re-run to the user.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TypeVar

import httpx
import replicate
from pydantic import v1 as pydantic_v1
from replicate.exceptions import ReplicateError

from pipeline.errors import ConfigError, TargetError

logger = logging.getLogger(__name__)

TARGET = "replicate"
TOKEN_VARIABLE = "REPLICATE_API_TOKEN"
BASE_URL_VARIABLE = "REPLICATE_BASE_URL"
DEFAULT_BASE_URL = "https://api.replicate.com"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
WRITE_ATTEMPTS = 4
BACKOFF_S = 0.5
MAX_WAIT_S = 30.0

T = TypeVar("T")


class Api:
    """A ``replicate.Client`` built from the environment, with the token kept out of every message."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        token = environ.get(TOKEN_VARIABLE, "").strip()
        if not token:
            raise ConfigError(
                f"{TARGET}: {TOKEN_VARIABLE} is not set. Set it to an API token from "
                "https://replicate.com/account/api-tokens (and REPLICATE_BASE_URL to rehearse "
                "against an emulator), or drop replicate from the active targets"
            )
        base_url = environ.get(BASE_URL_VARIABLE, "").strip() or DEFAULT_BASE_URL
        if base_url.rstrip("/").endswith("/v1"):
            raise ConfigError(
                f"{TARGET}: {BASE_URL_VARIABLE}={base_url} ends in /v1, but the client adds /v1 itself; "
                f"set it to {base_url.rstrip('/')[:-3]}"
            )
        self.base_url = base_url
        self._last_response = threading.local()
        # Our own transport, so that its connections can be closed: replicate.Client has no close().
        self._transport = httpx.HTTPTransport()
        self.client = replicate.Client(
            api_token=token,
            base_url=base_url,
            transport=self._transport,
            event_hooks={"response": [self._remember_retry_after]},
        )

    def close_connections(self) -> None:
        """Close the pooled connections; the next request opens a new one."""
        self._transport.close()

    def _remember_retry_after(self, response: httpx.Response) -> None:
        self._last_response.retry_after = response.headers.get("Retry-After")

    @contextmanager
    def errors(self, model: str, step: str) -> Iterator[None]:
        """Translate client, HTTP and response-shape failures into a TargetError naming the model and step."""
        try:
            yield
        except ReplicateError as error:
            raise TargetError(TARGET, model, f"{step} failed: {describe(error)}") from error
        except httpx.HTTPError as error:
            raise TargetError(
                TARGET, model,
                f"{step} failed: no answer from {self.base_url} ({type(error).__name__}: {error}). "
                f"Check {BASE_URL_VARIABLE} and the network, then run the command again",
            ) from error
        except pydantic_v1.ValidationError as error:
            raise TargetError(
                TARGET, model,
                f"{step} failed: Replicate returned a response the client cannot parse ({_first_line(error)}). "
                "Nothing was assumed; upgrade mrp or report the response",
            ) from error

    def write(self, model: str, step: str, send: Callable[[], T],
              already_done: Callable[[], T | None] | None = None) -> T:
        """Send a POST or PATCH up to WRITE_ATTEMPTS times on 429, 500, 502, 503, 504 or a lost connection.

        Before each re-send ``already_done`` reads the state back; when it
        returns a value, the earlier attempt landed and that value is returned.
        """
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            if attempt > 1 and already_done is not None:
                done = already_done()
                if done is not None:
                    logger.info("%s %s: %s had already landed before attempt %d", TARGET, model, step, attempt)
                    return done
            try:
                return send()
            except ReplicateError as error:
                if error.status not in RETRY_STATUSES or attempt == WRITE_ATTEMPTS:
                    raise
                cause = f"HTTP {error.status}"
            except httpx.TransportError as error:
                if attempt == WRITE_ATTEMPTS:
                    raise
                cause = type(error).__name__
            wait = self._wait_s(attempt, cause)
            logger.warning("%s %s: %s got %s; attempt %d of %d in %.1f s",
                           TARGET, model, step, cause, attempt + 1, WRITE_ATTEMPTS, wait)
            time.sleep(wait)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _wait_s(self, attempt: int, cause: str) -> float:
        """Honour an integer Retry-After of the failed response, else back off exponentially."""
        retry_after = getattr(self._last_response, "retry_after", None)
        if cause.startswith("HTTP") and retry_after is not None and retry_after.strip().isdigit():
            return min(float(retry_after), MAX_WAIT_S)
        return min(BACKOFF_S * 2 ** (attempt - 1), MAX_WAIT_S)


def describe(error: ReplicateError) -> str:
    """Format a client error as ``HTTP status title: detail``."""
    title = f" {error.title}" if error.title else ""
    detail = f": {error.detail.strip()}" if error.detail else ""
    return f"HTTP {error.status}{title}{detail}"


def _first_line(error: Exception) -> str:
    return " ".join(str(error).split())[:300]
