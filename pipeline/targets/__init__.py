"""Targets: the platforms models are published on, one module each, listed in ``TARGETS``."""

from __future__ import annotations

import importlib

from pipeline.config import Project
from pipeline.errors import ConfigError
from pipeline.targets.base import Target

# Name -> "module:class". Modules are imported only when the target is used,
# so commands that need no target never load a platform client.
TARGETS = {
    "local": "pipeline.targets.local:LocalTarget",
    "huggingface": "pipeline.targets.huggingface:HuggingFaceTarget",
    "replicate": "pipeline.targets.replicate:ReplicateTarget",
}


def create_target(name: str, project: Project) -> Target:
    if name not in TARGETS:
        raise ConfigError(
            f"unknown target {name!r}; available: {', '.join(TARGETS)}. "
            "Set targets with --target, MRP_TARGETS or targets in mrp.toml"
        )
    module_name, class_name = TARGETS[name].split(":")
    target_class = getattr(importlib.import_module(module_name), class_name)
    return target_class(project)
