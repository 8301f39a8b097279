"""Project settings: where manifests, the ledger and the local registry live, and which targets are active.

Each setting comes from the first of: a command-line option, an environment
variable, ``mrp.toml`` at the repository root, the default.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import ConfigError

CONFIG_FILE = "mrp.toml"
DEFAULT_TARGETS = ("local",)
DEFAULT_REGISTRY = ".mrp/registry"
_KNOWN_KEYS = {"targets", "registry", "models", "ledger", "hardware_prices"}


@dataclass(frozen=True)
class Project:
    root: Path
    models_dir: Path
    ledger_dir: Path
    registry: Path
    targets: tuple[str, ...]
    hardware_prices: Path | None = None

    def display(self, path: Path) -> str:
        """Return ``path`` relative to the repository root when it is inside it."""
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return str(path)


def find_root(start: Path) -> Path:
    """Return the nearest folder at or above ``start`` holding mrp.toml, else ``start``."""
    for folder in (start, *start.parents):
        if (folder / CONFIG_FILE).is_file():
            return folder
    return start


def load_project(
    root: Path | None = None,
    targets: Sequence[str] = (),
    registry: str | None = None,
    environ: dict[str, str] | None = None,
) -> Project:
    env = os.environ if environ is None else environ
    root = (root or find_root(Path.cwd())).resolve()
    settings = _read_config(root / CONFIG_FILE)

    active = tuple(targets) or _split(env.get("MRP_TARGETS", "")) or tuple(settings.get("targets", DEFAULT_TARGETS))
    registry_path = Path(registry or env.get("MRP_REGISTRY") or settings.get("registry", DEFAULT_REGISTRY))
    return Project(
        root=root,
        models_dir=root / settings.get("models", "models"),
        ledger_dir=root / settings.get("ledger", "releases"),
        registry=registry_path if registry_path.is_absolute() else root / registry_path,
        targets=_dedupe(active),
        hardware_prices=root / settings["hardware_prices"] if "hardware_prices" in settings else None,
    )


def _split(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def _dedupe(names: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(names))


def _read_config(path: Path) -> dict[str, object]:
    if not path.is_file():
        return {}
    try:
        settings = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: invalid TOML: {error}; fix the file") from error
    unknown = set(settings) - _KNOWN_KEYS
    if unknown:
        raise ConfigError(f"{path}: unknown settings {', '.join(sorted(unknown))}; known: {', '.join(sorted(_KNOWN_KEYS))}")
    targets = settings.get("targets", list(DEFAULT_TARGETS))
    if not isinstance(targets, list) or not all(isinstance(name, str) for name in targets):
        raise ConfigError(f"{path}: targets must be a list of target names, e.g. targets = [\"local\"]")
    for key in ("registry", "models", "ledger", "hardware_prices"):
        if key in settings and not isinstance(settings[key], str):
            raise ConfigError(f"{path}: {key} must be a path string")
    return settings
