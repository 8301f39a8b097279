"""Emulator of the Replicate HTTP API for the ``replicate`` 1.0.7 Python client.

Point the client at it with ``REPLICATE_BASE_URL=http://127.0.0.1:PORT`` (no
``/v1``). ``app`` describes authentication, the owner rule and the
emulator-only routes.
"""

from __future__ import annotations

from pipeline.emulators.base import serve_in_foreground
from pipeline.emulators.replicate.app import ReplicateApp
from pipeline.emulators.replicate.hardware import DEFAULT_HARDWARE, Hardware
from pipeline.emulators.replicate.state import Account

__all__ = ["DEFAULT_HARDWARE", "Account", "Hardware", "ReplicateApp", "run"]


def run(port: int = 0, latency_s: float = 0.0) -> int:
    """Serve a fresh ``ReplicateApp`` on 127.0.0.1 until SIGINT or SIGTERM; the URL is the first stdout line."""
    return serve_in_foreground(ReplicateApp(), port=port, latency_s=latency_s)
