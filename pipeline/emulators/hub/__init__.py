"""Emulator of the Hugging Face Hub HTTP API for ``huggingface_hub`` 2.4.0.

Point the client at it with ``HF_ENDPOINT=http://127.0.0.1:PORT`` and
``HF_HUB_DISABLE_XET=1``, both set before ``huggingface_hub`` is imported.
State lives in memory and is lost when the emulator stops.

Modules, by concern: ``app`` (route table), ``routes_repos``, ``routes_git``,
``commits`` (preupload and commit), ``lfs`` (batch, upload, verify),
``downloads`` (resolve), ``state``, ``cards``, ``gitobjects``, ``accounts``.
"""

from __future__ import annotations

from pipeline.emulators.base import serve_in_foreground
from pipeline.emulators.hub.accounts import Account
from pipeline.emulators.hub.app import HubApp
from pipeline.emulators.hub.context import Limits

__all__ = ["Account", "HubApp", "Limits", "run"]


def run(port: int = 0, latency_s: float = 0.0) -> int:
    """Serve a fresh emulator until SIGINT or SIGTERM; the base URL is the first stdout line."""
    return serve_in_foreground(HubApp(), port=port, latency_s=latency_s)
