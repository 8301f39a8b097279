"""Hardware SKUs and their prices per second, from the shipped table or the user's override."""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from pipeline.errors import ConfigError


@cache
def _shipped() -> dict[str, Any]:
    text = resources.files("pipeline").joinpath("data", "hardware.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def price_table(override: Path | None = None) -> dict[str, Any]:
    """Return ``{"currency", "source", "retrieved", "hardware": {sku: {...}}}``; an override replaces SKUs it names."""
    table = dict(_shipped())
    if override is None:
        return table
    try:
        custom = yaml.safe_load(override.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError(f"{override}: cannot read the hardware price file ({error})") from error
    if not isinstance(custom, dict) or not isinstance(custom.get("hardware"), dict):
        raise ConfigError(f"{override}: expected a mapping with hardware: {{SKU: {{usd_per_second: ...}}}}")
    table["hardware"] = {**table["hardware"], **custom["hardware"]}
    for key in ("source", "retrieved", "currency"):
        if key in custom:
            table[key] = custom[key]
    return table


def is_gpu(sku: str) -> bool:
    return bool(_shipped()["hardware"].get(sku, {}).get("gpu", sku.startswith("gpu")))


def gpu_model(sku: str) -> str | None:
    """Return the GPU model name a SKU runs on (``L40S`` for ``gpu-l40s-2x``), or None for CPU SKUs."""
    if not is_gpu(sku):
        return None
    return sku.split("-")[1].upper()
