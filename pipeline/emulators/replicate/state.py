"""In-memory records of the emulated account: models, versions, deployments, predictions.

One ``Store`` belongs to one ``ReplicateApp``. The app acquires ``Store.lock`` for
the whole of each request, so a route reads and changes the records as one step.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal

AccountType = Literal["user", "organization"]
PredictionStatus = Literal["starting", "processing", "succeeded", "failed", "canceled"]
TERMINAL_STATUSES = ("succeeded", "failed", "canceled")

# Replicate prediction ids are 26 characters of lowercase letters and digits.
PREDICTION_ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
PREDICTION_ID_LENGTH = 26


def utc_now() -> str:
    """Return the current time as Replicate writes it, ISO 8601 with a ``Z`` suffix."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Account:
    """A Replicate user or organization that an API token belongs to."""

    username: str
    name: str
    type: AccountType = "organization"
    github_url: str | None = None


@dataclass
class VersionRecord:
    id: str
    created_at: str
    cog_version: str
    openapi_schema: dict[str, Any]


@dataclass
class ModelRecord:
    """A model and its versions, oldest version first."""

    owner: str
    name: str
    visibility: str
    hardware: str
    created_at: str
    description: str | None = None
    github_url: str | None = None
    paper_url: str | None = None
    license_url: str | None = None
    cover_image_url: str | None = None
    readme: str | None = None
    weights_url: str | None = None
    is_official: bool = False
    run_count: int = 0
    versions: list[VersionRecord] = field(default_factory=list)

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    @property
    def latest_version(self) -> VersionRecord | None:
        """The most recently registered version, as Replicate's ``latest_version``."""
        return self.versions[-1] if self.versions else None

    def version(self, version_id: str) -> VersionRecord | None:
        return next((version for version in self.versions if version.id == version_id), None)


@dataclass(frozen=True)
class Release:
    """One configuration of a deployment; every update adds a release with the next number."""

    number: int
    model: str
    version: str
    created_at: str
    created_by: Account
    hardware: str
    min_instances: int
    max_instances: int


@dataclass
class DeploymentRecord:
    owner: str
    name: str
    releases: list[Release]

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    @property
    def current_release(self) -> Release:
        return self.releases[-1]


@dataclass
class PredictionRecord:
    """A prediction that moves from starting through processing to a terminal status.

    ``final_output`` is computed at creation and shown once the prediction succeeds.
    """

    id: str
    model: str
    version: str
    input: dict[str, Any]
    final_output: Any
    created_at: str
    created_monotonic: float
    deployment: str | None = None
    status: PredictionStatus = "starting"
    started_at: str | None = None
    completed_at: str | None = None
    started_monotonic: float | None = None
    completed_monotonic: float | None = None
    reads: int = 0
    logs: str = ""
    error: str | None = None

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def output(self) -> Any:
        return self.final_output if self.status == "succeeded" else None

    def start(self) -> None:
        if self.status == "starting":
            self.status = "processing"
            self.started_at = utc_now()
            self.started_monotonic = time.monotonic()
            self.logs = "emulated prediction started\n"

    def finish(self, status: PredictionStatus) -> None:
        if self.is_terminal:
            return
        self.start()
        self.status = status
        self.completed_at = utc_now()
        self.completed_monotonic = time.monotonic()
        self.logs += f"emulated prediction {status}\n"

    def advance(self, reads_to_finish: int, seconds_to_finish: float | None) -> None:
        """Move one step on a read: the first read starts it, read ``reads_to_finish`` ends it.

        With ``seconds_to_finish`` set, a read after that many seconds since
        creation ends it whatever the read count.
        """
        if self.is_terminal:
            return
        self.reads += 1
        elapsed = time.monotonic() - self.created_monotonic
        if self.reads >= reads_to_finish or (seconds_to_finish is not None and elapsed >= seconds_to_finish):
            self.finish("succeeded")
        else:
            self.start()

    def metrics(self) -> dict[str, float]:
        if self.completed_monotonic is None or self.started_monotonic is None:
            return {}
        return {
            "predict_time": round(self.completed_monotonic - self.started_monotonic, 6),
            "total_time": round(self.completed_monotonic - self.created_monotonic, 6),
        }


def new_prediction_id() -> str:
    return "".join(secrets.choice(PREDICTION_ID_ALPHABET) for _ in range(PREDICTION_ID_LENGTH))


class Store:
    """All records of one emulator, keyed by ``(owner, name)`` or prediction id, in creation order."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.models: dict[tuple[str, str], ModelRecord] = {}
        self.deployments: dict[tuple[str, str], DeploymentRecord] = {}
        self.predictions: dict[str, PredictionRecord] = {}

    def deployments_using(self, model: ModelRecord, version_id: str) -> list[DeploymentRecord]:
        return [
            deployment
            for deployment in self.deployments.values()
            if deployment.current_release.model == model.full_name
            and deployment.current_release.version == version_id
        ]
