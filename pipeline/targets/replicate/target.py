"""``ReplicateTarget``: the ``Target`` protocol on Replicate.

Live state per model is the model (``exists=False`` when it is missing) and
its versions that the ledger maps to semantic versions. Per channel it adds
the deployment ``NAME-CHANNEL``: its current version, as a semantic version or
as ``unknown version <id>`` when the ledger has no such id, and its hardware
and instance bounds as the setting ``deployment.CHANNEL``.

A deployment is created by its channel's first move, with the channel's
settings, because Replicate cannot create a deployment without a version.

Reading costs one request per model (its first page of versions, which also
shows a missing model by its 404) plus the deployments: from
``DEPLOYMENT_LIST_MIN_MODELS`` models of the token's account on, one listing
of the account's deployments (a page per 100 on the emulator) replaces the
get per channel per model. Models are read concurrently on at most
``READ_WORKERS`` threads.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from replicate.deployment import Deployment
from replicate.exceptions import ReplicateError
from replicate.version import Versions

from pipeline.config import Project
from pipeline.errors import PlanError, TargetError
from pipeline.interface import InterfaceError
from pipeline.ledger import Ledger
from pipeline.manifest.schema import CHANNELS, Manifest
from pipeline.plan.model import Action, DesiredState, Kind, LiveState, LiveVersion, Resource
from pipeline.release import Release
from pipeline.targets.base import ActionResult, desired_state_of
from pipeline.targets.concurrency import map_concurrently
from pipeline.targets.replicate.api import TARGET, TOKEN_VARIABLE, Api, describe
from pipeline.targets.replicate.deployments import (
    SETTING_PREFIX,
    _unreadable,
    channel_of_setting,
    configuration_of,
    deployment_name,
    deployment_settings,
    read_current_release,
)
from pipeline.targets.replicate.ids import VersionIds
from pipeline.targets.replicate.push import predictor_ref, push, push_mode
from pipeline.versioning import channels_up_to

logger = logging.getLogger(__name__)

UNREADABLE_STATUSES = (401, 403)
# Concurrent model reads of one plan; each uses one connection of the transport's pool (httpx keeps up to 100).
READ_WORKERS = 16
# From this many models of the token's account on, the plan lists the account's deployments instead of
# getting each channel's deployment. Below it the gets cost at most 27 requests, while a listing costs a
# page per 100 deployments of the whole account, however few of them the plan reads.
DEPLOYMENT_LIST_MIN_MODELS = 10
T = TypeVar("T")
Item = TypeVar("Item")
# Deployments by name, as listed for the token's account; None when they were not listed.
Listed = dict[str, Deployment] | None


class ReplicateTarget:
    name = TARGET

    def __init__(self, project: Project, environ: Mapping[str, str] | None = None) -> None:
        self.environ = os.environ if environ is None else environ
        self.ids = VersionIds(Ledger(project.ledger_dir, None))
        self._api: Api | None = None

    def describes(self, manifest: Manifest) -> bool:
        return manifest.targets.replicate is not None

    def desired_state(self, release: Release) -> DesiredState:
        # NOTE: visibility, description and hardware of the model apply only when it is created;
        # the plan does not compare them afterwards.
        manifest = release.manifest
        try:
            predictor_ref(release)
        except InterfaceError as error:
            raise PlanError([f"{self.name}: {release.name}: {error}"]) from error
        settings = {f"{SETTING_PREFIX}{channel}": deployment_settings(manifest, channel)
                    for channel in channels_up_to(manifest.channel)}
        return desired_state_of(self.name, release, settings)

    def daily_cost_change(self, action: Action, prices: Mapping[str, Any]) -> float:
        """Return how much a deployment setting changes the always-on cost, in USD per day.

        Instances kept running by ``min_instances`` bill around the clock, so
        their cost is instances x price per second x 86,400 seconds.
        """
        if action.resource is not Resource.SETTING or not action.key.startswith(SETTING_PREFIX):
            return 0.0

        def always_on(settings: Any) -> float:
            if not isinstance(settings, Mapping):
                return 0.0
            price = prices["hardware"].get(settings.get("hardware"), {}).get("usd_per_second", 0.0)
            return float(settings.get("min_instances", 0)) * price * 86_400

        return round(always_on(action.after) - always_on(action.before), 2)

    @contextmanager
    def lock(self, timeout_s: float) -> Iterator[None]:
        """Hold nothing: Replicate has no lock, and each write first checks the state it changes."""
        yield

    def api(self) -> Api:
        """Build the client on first use, checking the token and the push method before any request."""
        if self._api is None:
            push_mode(self.environ)
            self._api = Api(self.environ)
        return self._api

    # Reading

    def read(self, releases: Sequence[Release]) -> list[LiveState]:
        if not releases:
            return []
        if not self.environ.get(TOKEN_VARIABLE, "").strip():
            # A pull request from a fork runs without secrets: report the state as not read, never as missing.
            reason = f"not read: no credentials ({TOKEN_VARIABLE} is not set)"
            return [LiveState(self.name, release.name, readable=False, reason=reason) for release in releases]
        api = self.api()
        try:
            username, rejection = self._read_account(api)
            if username is None:
                return [LiveState(self.name, release.name, readable=False, reason=rejection) for release in releases]
            listed = self._list_deployments(api, username, releases)
            ids = VersionIds(_LedgerReadOnce(self.ids.ledger.folder, None))
            return _map_concurrently(lambda release: self._read_one(api, ids, release, username, listed), releases)
        finally:
            api.close_connections()

    def _read_account(self, api: Api) -> tuple[str | None, str]:
        """Read the account, so that a rejected token shows before any model is read.

        Return the account's username, or None and why the token was rejected.
        """
        with api.errors("account", "read the account of REPLICATE_API_TOKEN"):
            try:
                account = api.client.accounts.current()
            except ReplicateError as error:
                if error.status not in UNREADABLE_STATUSES:
                    raise
                return None, f"REPLICATE_API_TOKEN was rejected ({describe(error)}); set a valid API token"
        logger.info("%s: reading as account %s", self.name, account.username)
        return account.username, ""

    def _list_deployments(self, api: Api, username: str, releases: Sequence[Release]) -> Listed:
        """List the account's deployments when that replaces enough gets; return None when it does not.

        The listing stops after as many pages as the gets would cost requests,
        so reading a few models of a large account never costs more than twice
        the gets.
        """
        owned = sum(1 for release in releases if model_id(release.manifest)[0] == username)
        if owned < DEPLOYMENT_LIST_MIN_MODELS:
            return None
        found: dict[str, Deployment] = {}
        cursor: Any = ...
        for _ in range(owned * len(CHANNELS)):
            with api.errors("deployments", f"list the deployments of {username}"):
                page = api.client.deployments.list(cursor)
            found.update((deployment.name, deployment) for deployment in page.results if deployment.owner == username)
            if page.next is None:
                logger.debug("%s: listed %d deployments of %s", self.name, len(found), username)
                return found
            cursor = page.next
        logger.info("%s: the deployments of %s fill more pages than the gets of %d models cost; getting each "
                    "channel's deployment instead", self.name, username, owned)
        return None

    def _read_one(self, api: Api, ids: VersionIds, release: Release, username: str, listed: Listed) -> LiveState:
        owner, name = model_id(release.manifest)
        with api.errors(release.name, f"read model {owner}/{name}"):
            try:
                # The versions route returns 404 for a missing model, so it also shows whether the model exists.
                page = Versions(api.client, (owner, name)).list()
            except ReplicateError as error:
                if error.status == 404:
                    return LiveState(self.name, release.name, exists=False)
                if error.status in UNREADABLE_STATUSES:
                    return LiveState(self.name, release.name, readable=False,
                                     reason=f"model {owner}/{name} cannot be read: {describe(error)}")
                raise

        known = ids.ids(release.name)
        live_ids = {version.id for version in page.results}
        if page.next is not None:
            live_ids |= self._confirm_ids(api, release.name, owner, name, set(known.values()) - live_ids)
        versions = {
            version: LiveVersion(version, record.get("artifacts_digest"), record.get("card_digest"), known[version])
            for version, record in ids.records(release.name).items()
            if known.get(version) in live_ids
        }

        channels: dict[str, str | None] = {}
        settings: dict[str, Any] = {}
        for channel in CHANNELS:
            deployment = deployment_name(name, channel)
            if listed is not None and owner == username:
                current = _listed_release(release.name, owner, deployment, listed)
            else:
                current = read_current_release(api, release.name, owner, deployment)
            if current is None:
                continue
            channels[channel] = ids.version_of(release.name, channel, current.version, known)
            settings[f"{SETTING_PREFIX}{channel}"] = configuration_of(current)
        return LiveState(self.name, release.name, exists=True, versions=versions, channels=channels,
                         settings=settings)

    def _confirm_ids(self, api: Api, model: str, owner: str, name: str, ids: set[str]) -> set[str]:
        """Look up ledger ids beyond the first page of versions, which the client does not page through."""
        found = set()
        for version_id in sorted(ids):
            with api.errors(model, f"read version {version_id} of {owner}/{name}"):
                try:
                    Versions(api.client, (owner, name)).get(version_id)
                except ReplicateError as error:
                    if error.status != 404:
                        raise
                    continue
            found.add(version_id)
        return found

    # Applying

    def apply(self, action: Action, release: Release) -> ActionResult:
        api = self.api()
        try:
            return self._apply(api, action, release)
        finally:
            api.close_connections()

    def _apply(self, api: Api, action: Action, release: Release) -> ActionResult:
        owner, name = model_id(release.manifest)
        if action.resource is Resource.REPOSITORY:
            return self._create_model(api, release, owner, name)
        if action.resource is Resource.VERSION:
            return self._publish_version(api, action, release, owner, name)
        if action.resource is Resource.SETTING and action.kind is not Kind.DELETE:
            return self._write_settings(api, action, release, owner, name)
        if action.resource is Resource.CHANNEL:
            return self._move_channel(api, action, release, owner, name)
        raise TargetError(self.name, release.name, f"cannot apply {action.describe()} on Replicate")

    def _create_model(self, api: Api, release: Release, owner: str, name: str) -> ActionResult:
        settings = release.manifest.targets.replicate
        step = f"create model {owner}/{name}"

        def exists() -> bool | None:
            return True if self._model_exists(api, owner, name) else None

        def send() -> object:
            return api.client.models.create(owner, name, visibility=settings.visibility, hardware=settings.hardware,
                                            description=settings.description or release.manifest.description)

        with api.errors(release.name, step):
            if exists():
                return ActionResult(f"{owner}/{name}")
            api.write(release.name, step, _tolerating_conflict(send, exists), exists)
        logger.info("%s: created model %s/%s (%s, %s)", self.name, owner, name, settings.visibility,
                    settings.hardware)
        return ActionResult(f"{owner}/{name}")

    def _model_exists(self, api: Api, owner: str, name: str) -> bool:
        try:
            api.client.models.get(owner, name)
        except ReplicateError as error:
            if error.status == 404:
                return False
            raise
        return True

    def _publish_version(self, api: Api, action: Action, release: Release, owner: str, name: str) -> ActionResult:
        expected = action.after or {}
        if expected.get("artifacts_digest") != release.artifacts.digest:
            raise TargetError(self.name, release.name,
                              f"the artifacts of {action.key} changed after the plan was computed "
                              f"(plan: {expected.get('artifacts_digest')}, now: {release.artifacts.digest}); "
                              "run mrp plan again")

        # NOTE: with cog, a crash between the push and the ledger write makes the next apply push again;
        # Replicate then gets the same version only when the image build is reproducible.
        version_id = push(api, push_mode(self.environ), release, owner, name)
        with api.errors(release.name, f"read back version {version_id} of {owner}/{name}"):
            try:
                Versions(api.client, (owner, name)).get(version_id)
            except ReplicateError as error:
                if error.status != 404:
                    raise
                raise TargetError(self.name, release.name,
                                  f"the push reported version {version_id}, but {owner}/{name} has no such "
                                  "version; nothing was deployed. Check the push output and run mrp apply "
                                  "again") from error
        logger.info("%s: pushed %s %s as version %s", self.name, release.name, action.key, version_id)
        return ActionResult(version_id)

    def _write_settings(self, api: Api, action: Action, release: Release, owner: str, name: str) -> ActionResult:
        channel = channel_of_setting(action.key, release.name)
        deployment = deployment_name(name, channel)
        expected_settings = dict(action.after)
        step = f"update deployment {owner}/{deployment} to {expected_settings}"

        def landed() -> Deployment.Release | None:
            current = read_current_release(api, release.name, owner, deployment)
            return current if current is not None and configuration_of(current) == expected_settings else None

        current = read_current_release(api, release.name, owner, deployment)
        if current is None:
            logger.info("%s: deployment %s/%s does not exist yet; moving channel %s creates it with %s",
                        self.name, owner, deployment, channel, expected_settings)
            return ActionResult(None)
        if configuration_of(current) != expected_settings:
            with api.errors(release.name, step):
                api.write(release.name, step,
                          lambda: api.client.deployments.update(owner, deployment, **expected_settings), landed)
            current = landed()
            if current is None:
                raise TargetError(self.name, release.name, f"{step}: the deployment does not show the new "
                                  "settings after the update; run mrp plan to see its state")
        return ActionResult(f"{owner}/{deployment} release {current.number}")

    def _move_channel(self, api: Api, action: Action, release: Release, owner: str, name: str) -> ActionResult:
        channel = action.key
        deployment = deployment_name(name, channel)
        version_id = self.ids.id_of(release.name, action.after)
        if version_id is None:
            raise TargetError(self.name, release.name,
                              f"cannot move {channel} to {action.after}: the ledger has no Replicate version id "
                              "for it; run mrp apply again so the version is pushed first")

        def landed() -> Deployment.Release | None:
            current = read_current_release(api, release.name, owner, deployment)
            return current if current is not None and current.version == version_id else None

        current = read_current_release(api, release.name, owner, deployment)
        if current is not None and current.version == version_id:
            return ActionResult(f"{owner}/{deployment} release {current.number}")
        self._check_unmoved(action, release.name, f"{owner}/{deployment}", current)

        if current is None:
            step = f"create deployment {owner}/{deployment} at {action.after}"
            body = {"name": deployment, "model": f"{owner}/{name}", "version": version_id,
                    **deployment_settings(release.manifest, channel)}
            send = _tolerating_conflict(lambda: api.client.deployments.create(**body), landed)
        else:
            step = f"move deployment {owner}/{deployment} to {action.after}"
            send = lambda: api.client.deployments.update(owner, deployment, version=version_id)  # noqa: E731
        with api.errors(release.name, step):
            api.write(release.name, step, send, landed)
            confirmed = landed()
        if confirmed is None:
            raise TargetError(self.name, release.name, f"{step}: the deployment does not run version {version_id} "
                              "after the update; run mrp plan to see its state")
        logger.info("%s: %s/%s runs %s (%s), release %d", self.name, owner, deployment, action.after, version_id,
                    confirmed.number)
        return ActionResult(f"{owner}/{deployment} release {confirmed.number}")

    def _check_unmoved(self, action: Action, model: str, deployment: str, current: Deployment.Release | None) -> None:
        """Raise when the deployment is not where the plan found it, so a concurrent change is never overwritten."""
        expected = None if action.before is None else self.ids.id_of(model, action.before)
        found = None if current is None else current.version
        if action.before is None and found is None:
            return
        if expected is not None and found == expected:
            return
        raise TargetError(self.name, model,
                          f"deployment {deployment} changed while this apply ran (expected {action.before or 'none'}, "
                          f"found {found or 'no deployment'}); run mrp plan again")


class _LedgerReadOnce(Ledger):
    """The ledger for one read of live state: each model's records are parsed once, not once per lookup.

    A read looks a model's records up three times or more, and parsing a record
    takes milliseconds. Reading never writes the ledger, so the cache cannot go
    stale during it; apply keeps using the target's uncached ledger.
    """

    def __init__(self, folder: Path, source_commit: str | None) -> None:
        super().__init__(folder, source_commit)
        self._records: dict[str, list[dict[str, Any]]] = {}

    def records(self, model: str) -> list[dict[str, Any]]:
        # Each model is read by one thread, so two threads never fill the same key.
        if model not in self._records:
            self._records[model] = super().records(model)
        return self._records[model]


def _listed_release(model: str, owner: str, name: str, listed: dict[str, Deployment]) -> Deployment.Release | None:
    """Return a listed deployment's current release, failing closed on the shapes ``read_current_release`` rejects."""
    deployment = listed.get(name)
    if deployment is None:
        return None
    current = deployment.current_release
    if current is None or not current.version:
        raise _unreadable(model, owner, name, "the deployment has no current release with a version")
    return current


def _map_concurrently(function: Callable[[Item], T], items: Sequence[Item]) -> list[T]:
    """Apply ``function`` to every item on at most READ_WORKERS threads, in order."""
    return map_concurrently(function, items, READ_WORKERS, "mrp-replicate-read")


def model_id(manifest: Manifest) -> tuple[str, str]:
    owner, _, name = manifest.targets.replicate.model.partition("/")
    return owner, name


def _tolerating_conflict(send: Callable[[], T], landed: Callable[[], T | None]) -> Callable[[], T]:
    """Wrap a create so that a 409 for a resource already in the expected_settings state counts as success."""
    def attempt() -> T:
        try:
            return send()
        except ReplicateError as error:
            if error.status != 409:
                raise
            done = landed()
            if done is None:
                raise
            return done

    return attempt
