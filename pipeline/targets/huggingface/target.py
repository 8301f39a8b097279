"""``HuggingFaceTarget``: the Target protocol on the Hugging Face Hub."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from pipeline.config import Project
from pipeline.errors import PlanError, TargetError
from pipeline.manifest.schema import Manifest
from pipeline.plan.model import Action, DesiredState, LiveState, Resource
from pipeline.release import Release
from pipeline.targets.base import ActionResult, desired_state_of
from pipeline.targets.huggingface import hub
from pipeline.targets.huggingface.cardcheck import card_metadata, check_card_metadata
from pipeline.targets.huggingface.publish import Publisher
from pipeline.targets.huggingface.read import LIST_EXPAND, LiveReader, repo_id_of

if TYPE_CHECKING:
    from huggingface_hub import HfApi

logger = logging.getLogger(__name__)

# Order of the gated values from open to closed, to tell tightening from opening.
GATED_RANK = {False: 0, "auto": 1, "manual": 2}


class HuggingFaceTarget:
    name = hub.TARGET_NAME

    def __init__(self, project: Project) -> None:
        self.project = project
        self._api: HfApi | None = None

    @property
    def api(self) -> HfApi:
        """The client, built on first use so that commands which never contact the Hub do not import it."""
        if self._api is None:
            self._api = hub.make_api()
        return self._api

    def describes(self, manifest: Manifest) -> bool:
        return manifest.targets.huggingface is not None

    def desired_state(self, release: Release) -> DesiredState:
        """Translate a release, after checking its card's metadata, so a bad card fails before any request."""
        problems = check_card_metadata(release.card_metadata)
        if problems:
            raise PlanError([f"{self.name}: {release.name}: the model card's metadata is invalid: {problem}"
                             for problem in problems])
        return desired_state_of(self.name, release, desired_settings(release.manifest))

    def read(self, releases: Sequence[Release]) -> list[LiveState]:
        return LiveReader(self.api).read(releases)

    @contextmanager
    def lock(self, timeout_s: float) -> Iterator[None]:
        """Take no lock: the Hub has none, and every commit names its parent, so a concurrent writer fails with 412."""
        yield

    def apply(self, action: Action, release: Release) -> ActionResult:
        with hub.hub_errors(release.name, action.describe()):
            if action.resource is Resource.REPOSITORY:
                return ActionResult(self._create_repository(release))
            if action.resource is Resource.VERSION:
                return ActionResult(self._create_version(action, release))
            if action.resource is Resource.SETTING:
                return ActionResult(self._write_setting(action, release))
            if action.resource is Resource.CHANNEL:
                return ActionResult(Publisher(self.api).move_channel(release, action.key, action.after,
                                                                     action.before))
        raise TargetError(self.name, release.name, f"cannot apply {action.resource} actions")

    def _create_repository(self, release: Release) -> str:
        """Create the repo private: the settings phase opens it only after its files are uploaded.

        ``exist_ok`` leaves an existing repo, and its privacy, as it is.
        """
        repo_id = repo_id_of(release)
        step = f"create repository {repo_id}"
        hub.write_with_retries(release.name, step,
                               lambda: self.api.create_repo(repo_id, private=True, exist_ok=True),
                               lambda: repo_id if self._repo_exists(repo_id) else None)
        logger.info("repository %s is present", repo_id)
        return repo_id

    def _repo_exists(self, repo_id: str) -> bool:
        from huggingface_hub.errors import RepositoryNotFoundError

        try:
            self.api.model_info(repo_id)
        except RepositoryNotFoundError:
            return False
        return True

    def _create_version(self, action: Action, release: Release) -> str:
        expected = action.after or {}
        if expected.get("artifacts_digest") != release.artifacts.digest or expected.get("card_digest") != release.card_digest:
            raise TargetError(self.name, release.name,
                              f"the artifacts or card of {action.key} changed after the plan was computed "
                              f"(plan: {expected.get('artifacts_digest')}, now: {release.artifacts.digest}); "
                              "run mrp plan again")
        problems = check_card_metadata(card_metadata(release.card))
        if problems:
            raise PlanError([f"{self.name}: {release.name}: the model card's metadata is invalid: {problem}"
                             for problem in problems])
        self._tighten_access(release)
        return Publisher(self.api).release_version(release, action.key)

    def _tighten_access(self, release: Release) -> None:
        """Make the repo as private and gated as the manifest sets before new weights are uploaded.

        Settings are applied after versions in a plan, so without this a
        version meant to be private would be public until the settings phase.
        Opening access stays in the settings phase, after the upload.
        """
        desired = desired_settings(release.manifest)
        live = self._read_settings(repo_id_of(release))
        changes: dict[str, Any] = {}
        if desired["private"] and not live["private"]:
            changes["private"] = True
        if GATED_RANK[desired["gated"]] > GATED_RANK[live["gated"]]:
            changes["gated"] = desired["gated"]
        for key, value in changes.items():
            logger.info("%s: setting %s to %s before the upload", release.name, key, value)
            self._update_settings(release, {key: value})

    def _write_setting(self, action: Action, release: Release) -> str:
        repo_id = repo_id_of(release)
        if self._read_settings(repo_id).get(action.key) != action.after:
            self._update_settings(release, {action.key: action.after})
        return repo_id

    def _update_settings(self, release: Release, changes: dict[str, Any]) -> None:
        """Update settings, then read them back, because a Hub that ignores a key still returns 200."""
        repo_id = repo_id_of(release)

        def landed() -> dict[str, Any] | None:
            current = self._read_settings(repo_id)
            return current if all(current.get(key) == value for key, value in changes.items()) else None

        hub.write_with_retries(release.name, f"update settings {changes} of {repo_id}",
                               lambda: self.api.update_repo_settings(repo_id, **changes), landed)
        live = self._read_settings(repo_id)
        wrong = {key: live.get(key) for key, value in changes.items() if live.get(key) != value}
        if wrong:
            raise TargetError(self.name, release.name,
                              f"the Hub accepted the settings {changes} of {repo_id} but reads back {wrong}; "
                              "check the repo's settings page and the token's role, then run mrp apply again")
        logger.info("set %s of %s", changes, repo_id)

    def _read_settings(self, repo_id: str) -> dict[str, Any]:
        info = self.api.model_info(repo_id, expand=LIST_EXPAND)
        return {"private": bool(info.private), "gated": info.gated or False}


def desired_settings(manifest: Manifest) -> dict[str, Any]:
    settings = manifest.targets.huggingface
    assert settings is not None, "only manifests with targets.huggingface reach this target"
    return {"private": settings.private, "gated": settings.gated}
