"""Hardware SKUs that models and deployments may name.

The list follows replicate.com/pricing as captured in 2026: the current
multi-GPU names (``gpu-l40s-2x``, not the older ``gpu-2x-l40s``) plus
``cpu-small``. Replicate's real list may depend on the account, so tests that
need another set pass their own to ``ReplicateApp(hardware=...)``. Prices are
left out because billing is not part of the API.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Hardware:
    sku: str
    name: str


DEFAULT_HARDWARE: tuple[Hardware, ...] = (
    Hardware("cpu-small", "CPU (Small)"),
    Hardware("cpu", "CPU"),
    Hardware("gpu-t4", "Nvidia T4 GPU"),
    Hardware("gpu-a40-small", "Nvidia A40 GPU"),
    Hardware("gpu-a40-large", "Nvidia A40 (Large) GPU"),
    Hardware("gpu-a40-large-2x", "2x Nvidia A40 (Large) GPU"),
    Hardware("gpu-a40-large-4x", "4x Nvidia A40 (Large) GPU"),
    Hardware("gpu-a40-large-8x", "8x Nvidia A40 (Large) GPU"),
    Hardware("gpu-l40s", "Nvidia L40S GPU"),
    Hardware("gpu-l40s-2x", "2x Nvidia L40S GPU"),
    Hardware("gpu-l40s-4x", "4x Nvidia L40S GPU"),
    Hardware("gpu-l40s-8x", "8x Nvidia L40S GPU"),
    Hardware("gpu-a100-large", "Nvidia A100 (80GB) GPU"),
    Hardware("gpu-a100-large-2x", "2x Nvidia A100 (80GB) GPU"),
    Hardware("gpu-a100-large-4x", "4x Nvidia A100 (80GB) GPU"),
    Hardware("gpu-a100-large-8x", "8x Nvidia A100 (80GB) GPU"),
    Hardware("gpu-h100", "Nvidia H100 GPU"),
    Hardware("gpu-h100-2x", "2x Nvidia H100 GPU"),
    Hardware("gpu-h100-4x", "4x Nvidia H100 GPU"),
    Hardware("gpu-h100-8x", "8x Nvidia H100 GPU"),
)
