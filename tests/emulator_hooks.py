"""An emulator app wrapper that lets a test act between two requests of an apply."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from pipeline.emulators.base import Request, Response

Hook = Callable[[Request, Callable[[Request], Response]], Response]


class HookedApp:
    """An emulator app whose requests pass through ``hook`` when one is set.

    A hook gets the request and the inner app's ``handle``. It may call it,
    change the response, or make requests of its own, because the server
    handles each request on its own thread.
    """

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.hook: Hook | None = None
        self._lock = threading.Lock()

    def handle(self, request: Request) -> Response:
        with self._lock:
            hook = self.hook
        if hook is None:
            return self.inner.handle(request)
        return hook(request, self.inner.handle)

    def fault_response(self, status: int, retry_after: int | None) -> Response:
        return self.inner.fault_response(status, retry_after)
