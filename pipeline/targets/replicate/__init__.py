"""The ``replicate`` target: publish models to Replicate through the ``replicate`` client.

One Replicate model ``owner/name`` per manifest contains every version, and each
channel is a deployment ``NAME-CHANNEL`` pinned to one version, with the
channel's hardware and instance bounds. Replicate version ids are image
digests, so the ledger (``releases/MODEL/VERSION.yaml``, ``targets.replicate.id``)
maps them back to semantic versions.

Modules: ``target`` (the ``Target`` protocol), ``api`` (client, error
translation, retried writes), ``push`` (``cog push`` or the emulator's
version route) and ``openapi`` (the cog-style schema of a predictor).
"""

from __future__ import annotations

from pipeline.targets.replicate.target import ReplicateTarget

__all__ = ["ReplicateTarget"]
