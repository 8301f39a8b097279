"""Cursor pagination with the absolute ``Link`` header the client follows.

``huggingface_hub`` requests the next page with no extra parameters, so the
``next`` URL is absolute and repeats every query parameter of the request.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar
from urllib.parse import urlencode

from pipeline.emulators.base import Request
from pipeline.emulators.hub.errors import bad_request

Item = TypeVar("Item")
CURSOR = "cursor"


def page(request: Request, items: Sequence[Item], page_size: int) -> tuple[list[Item], dict[str, str]]:
    """Cut one page out of ``items``; return it and the headers (``Link`` when more remain)."""
    raw_cursor = request.first(CURSOR, "0") or "0"
    if not raw_cursor.isdigit():
        raise bad_request(f"Invalid cursor {raw_cursor!r}: pass the cursor from the Link header unchanged")
    start = int(raw_cursor)
    end = start + page_size
    headers: dict[str, str] = {}
    if end < len(items):
        params: list[tuple[str, Any]] = [
            (name, value) for name, values in request.query.items() if name != CURSOR for value in values
        ]
        params.append((CURSOR, str(end)))
        headers["Link"] = f'<{request.base_url}{request.raw_path}?{urlencode(params)}>; rel="next"'
    return list(items[start:end]), headers
