"""Deployments: one per channel, named ``NAME-CHANNEL``, with the channel's hardware and instance bounds."""

from __future__ import annotations

from typing import Any

from pydantic import v1 as pydantic_v1
from replicate.deployment import Deployment
from replicate.exceptions import ReplicateError

from pipeline.errors import TargetError
from pipeline.manifest.schema import CHANNELS, Manifest
from pipeline.targets.replicate.api import TARGET, Api

SETTING_PREFIX = "deployment."


def deployment_name(model_name: str, channel: str) -> str:
    return f"{model_name}-{channel}"


def deployment_settings(manifest: Manifest, channel: str) -> dict[str, Any]:
    """Return a channel's deployment settings; without ``hardware.CHANNEL``, the model's hardware, 0 to 1 instances."""
    hardware = getattr(manifest.hardware, channel)
    if hardware is None:
        return {"hardware": manifest.targets.replicate.hardware, "min_instances": 0, "max_instances": 1}
    return {"hardware": hardware.sku, "min_instances": hardware.min_instances, "max_instances": hardware.max_instances}


def configuration_of(current: Deployment.Release) -> dict[str, Any]:
    configuration = current.configuration
    return {"hardware": configuration.hardware, "min_instances": configuration.min_instances,
            "max_instances": configuration.max_instances}


def channel_of_setting(key: str, model: str) -> str:
    channel = key.removeprefix(SETTING_PREFIX)
    if not key.startswith(SETTING_PREFIX) or channel not in CHANNELS:
        raise TargetError(TARGET, model, f"unknown setting {key!r}; Replicate settings are "
                          f"{', '.join(SETTING_PREFIX + channel for channel in CHANNELS)}")
    return channel


def read_current_release(api: Api, model: str, owner: str, name: str) -> Deployment.Release | None:
    """Return the deployment's current release, or None when there is no deployment.

    Any other shape is an error, so a plan is never computed from defaults.
    """
    with api.errors(model, f"read deployment {owner}/{name}"):
        try:
            deployment = api.client.deployments.get(f"{owner}/{name}")
        except ReplicateError as error:
            if error.status == 404:
                return None
            raise
        except pydantic_v1.ValidationError as error:
            raise _unreadable(model, owner, name, str(error)) from error
    current = deployment.current_release
    if current is None or not current.version:
        raise _unreadable(model, owner, name, "the deployment has no current release with a version")
    return current


def _unreadable(model: str, owner: str, name: str, reason: str) -> TargetError:
    return TargetError(TARGET, model, f"cannot read the current state of {owner}/{name}: "
                       f"{' '.join(reason.split())[:300]}. Nothing was planned from defaults; check the deployment "
                       "on replicate.com and run mrp plan again")
