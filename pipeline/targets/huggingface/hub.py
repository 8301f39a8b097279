"""The Hub client, error translation, bounded retries and commit trailers.

Every call goes through one ``HfApi`` built with an explicit endpoint, because
``huggingface_hub``'s module-level helpers read ``HF_ENDPOINT`` once at import
time. Xet is turned off at run time so that uploads use Git LFS, which every
Hub endpoint (and the emulator) speaks.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, TypeVar

from pipeline.errors import TargetError

if TYPE_CHECKING:
    from huggingface_hub import HfApi

logger = logging.getLogger(__name__)

TARGET_NAME = "huggingface"
DEFAULT_ENDPOINT = "https://huggingface.co"
RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
STALE_PARENT_STATUS = 412
CONFLICT_STATUS = 409
# Maximum attempts of one write (a repo, a settings change, a commit, a tag or a branch)
# when the Hub returns 412, 429 or 5xx.
MAX_ATTEMPTS = 4
MAX_WAIT_S = 60.0
# Seconds to connect, and to wait for each read or write of a request (not for the whole request).
CONNECT_TIMEOUT_S = 10.0
REQUEST_TIMEOUT_S = 300.0

VERSION_TRAILER = "Version"
ARTIFACTS_TRAILER = "Artifacts-Digest"
CARD_TRAILER = "Card-Digest"
CHANNEL_TRAILER = "Channel"
VERSION_COMMIT_TRAILER = "Version-Commit"

Result = TypeVar("Result")


def endpoint() -> str:
    return (os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def make_api() -> HfApi:
    """Build the client for ``HF_ENDPOINT`` with ``HF_TOKEN`` (or the client's saved login when unset).

    It also gives the client's shared HTTP session a timeout, because
    ``huggingface_hub`` 2.4.0 creates it with none and a stalled connection
    would hang an apply.
    """
    import httpx2
    import huggingface_hub
    from huggingface_hub import constants
    from huggingface_hub.utils import get_session

    constants.HF_HUB_DISABLE_XET = True
    get_session().timeout = httpx2.Timeout(REQUEST_TIMEOUT_S, connect=CONNECT_TIMEOUT_S)
    return huggingface_hub.HfApi(endpoint=endpoint(), token=os.environ.get("HF_TOKEN") or None,
                                 library_name="mrp")


def has_token(api: HfApi) -> bool:
    """Tell whether requests carry a token: ``HF_TOKEN`` or a token saved by ``hf auth login``."""
    from huggingface_hub import get_token

    return bool(api.token or get_token())


def status_of(error: BaseException) -> int | None:
    """Return the HTTP status of a client error, or None for a network failure or a local check."""
    response = getattr(error, "response", None)
    return getattr(response, "status_code", None)


def retry_after_s(error: BaseException, attempt: int) -> float:
    """Read ``Retry-After`` (integer seconds); without it, back off 1, 2, 4 ... seconds."""
    response = getattr(error, "response", None)
    header = response.headers.get("Retry-After") if response is not None else None
    if header is not None and header.strip().isdigit():
        return min(float(header.strip()), MAX_WAIT_S)
    return min(float(2 ** (attempt - 1)), MAX_WAIT_S)


def is_retryable(error: BaseException) -> bool:
    import httpx2
    from huggingface_hub.errors import HfHubHTTPError

    if isinstance(error, HfHubHTTPError):
        return status_of(error) in RETRYABLE_STATUSES
    return isinstance(error, (httpx2.TimeoutException, httpx2.NetworkError, httpx2.RemoteProtocolError))


def log_retry(model: str, step: str, error: BaseException, attempt: int, wait_s: float) -> None:
    status = status_of(error)
    logger.warning("%s: %s: %s failed (%s); attempt %d of %d, retrying in %g s", TARGET_NAME, model, step,
                   f"HTTP {status}" if status is not None else type(error).__name__, attempt, MAX_ATTEMPTS, wait_s)


def wait(seconds: float) -> None:
    if seconds > 0:
        time.sleep(seconds)


def _next_step(status: int | None, error: BaseException, rerun: str) -> str:
    import httpx2
    from huggingface_hub.errors import RepositoryNotFoundError, RevisionNotFoundError

    if isinstance(error, RevisionNotFoundError):
        return "a branch, tag or commit changed while mrp ran; run mrp plan again"
    if isinstance(error, RepositoryNotFoundError):
        return ("check targets.huggingface.repo in the manifest, and that HF_TOKEN belongs to an account "
                "that can see the repository")
    if status == 401:
        return "set HF_TOKEN to a valid Hugging Face access token"
    if status == 403:
        return "use an HF_TOKEN with the write role on the repository's namespace"
    if status in (CONFLICT_STATUS, STALE_PARENT_STATUS):
        return "another writer changed the repository; run mrp plan, then mrp apply again"
    if status in RETRYABLE_STATUSES:
        return f"the Hub is busy or failing; wait a few minutes and run {rerun} again"
    if status is None and isinstance(error, httpx2.TransportError):
        return f"check HF_ENDPOINT ({endpoint()}) and the network, then run {rerun} again"
    if status is None:
        return f"fix the file, repo id or card metadata named above, then run {rerun} again"
    return f"fix what the Hub reports above, then run {rerun} again"


@contextmanager
def hub_errors(model: str, step: str, rerun: str = "mrp apply") -> Iterator[None]:
    """Translate every ``huggingface_hub`` and ``httpx2`` failure into a TargetError naming the step and status.

    ``ValueError`` covers the client's own checks (repo ids, paths, card
    metadata rejected by ``validate-yaml``). ``rerun`` names the command to
    run again once the cause is fixed.
    """
    import httpx2

    try:
        yield
    except TargetError:
        raise
    except (httpx2.HTTPError, ValueError, OSError) as error:
        status = status_of(error)
        status_text = f"HTTP {status}" if status is not None else type(error).__name__
        detail = str(error).strip().splitlines()[0].rstrip(".") if str(error).strip() else type(error).__name__
        raise TargetError(TARGET_NAME, model,
                          f"{step} failed ({status_text}): {detail}. Next: {_next_step(status, error, rerun)}") from error


def write_with_retries(model: str, step: str, write: Callable[[], Result],
                       landed: Callable[[], Result | None]) -> Result:
    """Run a write that the client never retries, at most ``MAX_ATTEMPTS`` times.

    ``write`` reads the state it builds on (such as a branch head) on every
    call, so a retry after 412 (the parent commit is no longer the head) is
    recomputed against the new head. On 429, 5xx and network failures it waits
    (``Retry-After`` when given). Before every retry ``landed`` reads the state
    back: a write whose response was lost may still have been applied, and
    writing it again would duplicate a commit or a tag.
    """
    for attempt in range(1, MAX_ATTEMPTS + 1):
        if attempt > 1:
            found = landed()
            if found is not None:
                logger.info("%s: %s: %s had landed before the failure; not writing it again",
                            TARGET_NAME, model, step)
                return found
        try:
            return write()
        except Exception as error:
            stale = status_of(error) == STALE_PARENT_STATUS
            if attempt == MAX_ATTEMPTS or not (stale or is_retryable(error)):
                raise
            wait_s = 0.0 if stale else retry_after_s(error, attempt)
            log_retry(model, step, error, attempt, wait_s)
            wait(wait_s)
    raise AssertionError("unreachable: the last attempt returns or raises")


def trailers(message: str) -> dict[str, str]:
    """Read ``Key: value`` trailer lines of a commit message."""
    found = {}
    for line in message.splitlines():
        key, separator, value = line.partition(": ")
        if separator and key in (VERSION_TRAILER, ARTIFACTS_TRAILER, CARD_TRAILER, CHANNEL_TRAILER,
                                 VERSION_COMMIT_TRAILER):
            found[key] = value.strip()
    return found


def format_trailers(values: dict[str, str]) -> str:
    return "".join(f"{key}: {value}\n" for key, value in values.items())
