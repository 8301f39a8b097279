"""Push a version's artifacts to Replicate and return the new version id.

``MRP_REPLICATE_PUSH`` chooses how, and is never guessed:

- ``cog`` (the default) runs ``cog push r8.im/OWNER/NAME`` in the artifacts
  folder, which needs Docker and ``cog login``, and reads the image digest
  (the version id) from its output;
- ``emulator`` registers the version with the emulator-only route
  ``POST /v1/_emulator/models/OWNER/NAME/versions``, with the schema built
  from the predictor's source. The body carries the artifacts digest, so the
  same artifacts always give the same version id and a re-run after a crash
  finds the version it pushed before.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pipeline.errors import ConfigError, TargetError
from pipeline.interface import InterfaceError, PredictorInterface, read_cog_config, read_predictor_interface
from pipeline.release import Release
from pipeline.targets.replicate.api import TARGET, Api
from pipeline.targets.replicate.openapi import SchemaError, openapi_schema

logger = logging.getLogger(__name__)

PUSH_VARIABLE = "MRP_REPLICATE_PUSH"
PUSH_MODES = ("cog", "emulator")
REGISTRY_HOST = "r8.im"
# The cog SDK whose schema format openapi.py writes; the emulator stores it as the version's cog_version.
COG_VERSION = "0.23.1"
COG_TIMEOUT_S = 3600
ARTIFACTS_INFO_KEY = "x-mrp-artifacts-digest"
_DIGEST_LINES = (
    re.compile(r"latest: digest: sha256:([0-9a-f]{64})"),
    re.compile(rf"{re.escape(REGISTRY_HOST)}/[^\s@]+@sha256:([0-9a-f]{{64}})"),
)


def push_mode(environ: Mapping[str, str]) -> str:
    mode = environ.get(PUSH_VARIABLE, "").strip() or "cog"
    if mode not in PUSH_MODES:
        raise ConfigError(f"{TARGET}: {PUSH_VARIABLE}={mode!r} is not a push method; use cog (needs Docker) "
                          "or emulator (only against the Replicate emulator)")
    return mode


def push(api: Api, mode: str, release: Release, owner: str, name: str) -> str:
    """Push the release's artifacts as a new version of ``owner/name`` and return its id, unconfirmed."""
    if mode == "emulator":
        return _push_to_emulator(api, release, owner, name)
    return _cog_push(release, owner, name)


# cog push


def _cog_push(release: Release, owner: str, name: str) -> str:
    executable = shutil.which("cog")
    if executable is None:
        raise TargetError(TARGET, release.name, "cog is not installed or not on PATH; install it from "
                          f"https://github.com/replicate/cog and run cog login, or set {PUSH_VARIABLE}=emulator "
                          "to rehearse against the emulator")
    _check_cog_login(release.name)
    image = f"{REGISTRY_HOST}/{owner}/{name}"
    logger.info("%s %s: running cog push %s in %s", TARGET, release.name, image, release.artifacts.root)
    try:
        finished = subprocess.run([executable, "push", image], cwd=release.artifacts.root, capture_output=True,
                                  text=True, timeout=COG_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired as error:
        raise TargetError(TARGET, release.name, f"cog push {image} timed out after {COG_TIMEOUT_S} s; "
                          "run mrp apply again") from error
    output = f"{finished.stdout}\n{finished.stderr}"
    if finished.returncode != 0:
        raise TargetError(TARGET, release.name, f"cog push {image} failed with exit code {finished.returncode}: "
                          f"{_tail(output)}")
    return parse_cog_digest(output, image, release.name)


def _check_cog_login(model: str) -> None:
    """Fail before a long build when Docker has no credentials for the registry cog pushes to.

    ``cog login`` stores them in Docker's config (``$DOCKER_CONFIG/config.json``,
    by default ``~/.docker/config.json``): an ``auths`` entry for the registry,
    or a credential helper, whose contents cannot be checked without running it.
    """
    folder = Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker")
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        config = {}
    if not isinstance(config, dict):
        config = {}
    has_auth = REGISTRY_HOST in (config.get("auths") or {}) or REGISTRY_HOST in (config.get("credHelpers") or {})
    if not has_auth and not config.get("credsStore"):
        raise TargetError(TARGET, model, f"cog is not logged in to {REGISTRY_HOST}: run cog login with the CLI "
                          f"token from replicate.com/auth/token (API tokens starting r8_ are rejected), or set "
                          f"{PUSH_VARIABLE}=emulator to rehearse against the emulator")


def parse_cog_digest(output: str, image: str, model: str) -> str:
    """Return the pushed image digest: the ``latest: digest:`` line or the ``IMAGE@sha256:`` line."""
    found = {match for pattern in _DIGEST_LINES for match in pattern.findall(output)}
    if len(found) == 1:
        return found.pop()
    if not found:
        raise TargetError(TARGET, model, f"cog push {image} succeeded but printed no image digest "
                          f"(sha256:<64 hex>), so the version id is unknown: {_tail(output)}")
    raise TargetError(TARGET, model, f"cog push {image} printed several digests ({', '.join(sorted(found))}); "
                      "the version id is ambiguous, so nothing was deployed")


def _tail(output: str, lines: int = 8) -> str:
    return " | ".join(line.strip() for line in output.strip().splitlines()[-lines:] if line.strip())


# emulator


def _push_to_emulator(api: Api, release: Release, owner: str, name: str) -> str:
    body = emulator_body(release)
    path = f"/v1/_emulator/models/{owner}/{name}/versions"
    step = f"register a version of {owner}/{name} with the emulator"
    with api.errors(release.name, step):
        # Replicate has no route that creates a version, so the client has no method for this one.
        # The body is deterministic, so re-sending it after a lost response registers nothing new.
        response = api.write(release.name, step, lambda: api.client._request("POST", path, json=body))
    version_id = response.json().get("id")
    if not isinstance(version_id, str):
        raise TargetError(TARGET, release.name, f"{step} returned no version id: {response.text[:300]}")
    return version_id


def emulator_body(release: Release) -> dict[str, Any]:
    """Return the registration body: the predictor's schema, bound to the artifacts digest, and cog_version."""
    interface = _predictor_interface(release)
    try:
        schema = openapi_schema(interface, {ARTIFACTS_INFO_KEY: release.artifacts.digest})
    except SchemaError as error:
        raise TargetError(TARGET, release.name, f"cannot build the version's schema: {error}") from error
    return {"openapi_schema": schema, "cog_version": COG_VERSION}


def predictor_ref(release: Release) -> str:
    """Return the predictor named by ``interface.predictor``, else by cog.yaml, because a Replicate version needs one."""
    ref = release.manifest.interface.predictor
    files = {item.path: item.source for item in release.artifacts.files}
    if ref is None and "cog.yaml" in files:
        ref = read_cog_config(files["cog.yaml"].read_text(encoding="utf-8")).predict
    if ref is None:
        raise InterfaceError("no predictor: Replicate runs models through cog, so set interface.predictor in the "
                             "manifest or predict in cog.yaml, or drop targets.replicate")
    return ref


def _predictor_interface(release: Release) -> PredictorInterface:
    """Read the predictor named by ``interface.predictor``, else by cog.yaml, from the artifacts."""
    files = {item.path: item.source for item in release.artifacts.files}
    try:
        ref = predictor_ref(release)
        file = ref.partition(":")[0]
        if file not in files:
            raise InterfaceError(f"the predictor file {file} is not in {release.manifest.artifacts.path}")
        return read_predictor_interface(files[file].read_text(encoding="utf-8"), ref, file)
    except InterfaceError as error:
        raise TargetError(TARGET, release.name, f"cannot read the predictor interface: {error}") from error
