"""The manifest schema: one ``models/NAME.yaml`` is the desired state of one model.

The pydantic models are strict (no string-to-number coercion, no NaN or
infinity) and reject unknown keys, so a typo is an error rather than a silently
ignored setting. ``mrp schema`` prints the JSON Schema generated from them.
"""

from __future__ import annotations

import datetime
import re
from functools import cache
from importlib import resources
from pathlib import PurePosixPath
from typing import Annotated, Literal

import semver
import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from pipeline.manifest.licenses import HUB_LICENSES

Channel = Literal["dev", "staging", "stable"]
CHANNELS: tuple[Channel, ...] = ("dev", "staging", "stable")

NAME_PATTERN = r"^[a-z0-9](?:[a-z0-9._-]{0,94}[a-z0-9])?$"
REPO_ID_PATTERN = r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?/[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?$"
REPLICATE_ID_PATTERN = r"^[a-z0-9][a-z0-9_.-]*/[a-z0-9][a-z0-9_.-]*$"
LANGUAGE_PATTERN = r"^[a-z]{2,3}$"
# SemVer sets no maximum length; this bound keeps tags, ledger paths and messages readable.
MAX_VERSION_LENGTH = 128
MAX_SHOWN = 80


# Names of the values YAML produces, in the words a manifest author uses.
YAML_TYPES = {str: "text", int: "number", float: "number", bool: "boolean", dict: "mapping", list: "list"}


def yaml_type(value: object) -> str:
    return YAML_TYPES.get(type(value), type(value).__name__)


def shown(value: object) -> str:
    """Return ``repr(value)``, cut to 80 characters so that a huge value cannot flood an error message."""
    text = repr(value)
    if len(text) <= MAX_SHOWN:
        return text
    return f"{text[:MAX_SHOWN]}... ({len(text)} characters)"


def check_repo_name(value: str) -> str:
    """Apply the Hugging Face Hub's rules for repository names that a pattern cannot express.

    The Hub rejects ``--`` and ``..`` anywhere and a name ending in ``.git``
    (``huggingface_hub.utils.validate_repo_id``); model names are repository names on every target.
    """
    if "--" in value or ".." in value:
        raise PydanticCustomError("repo_name", "{value} contains -- or ..; repository names may not, so use a "
                                  "single - or .", {"value": shown(value)})
    if value.endswith(".git"):
        raise PydanticCustomError("repo_name", "{value} ends with .git, which repository names may not; "
                                  "remove the .git suffix", {"value": shown(value)})
    return value


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


@cache
def hardware_skus() -> dict[str, dict[str, object]]:
    """Return the hardware table shipped in ``pipeline/data/hardware.yaml``."""
    text = resources.files("pipeline").joinpath("data", "hardware.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)["hardware"]


def check_version(value: object) -> str:
    """Accept a strict SemVer 2.0.0 string and explain every near miss."""
    if not isinstance(value, str):
        raise PydanticCustomError(
            "version_not_text",
            "expected a version string such as 1.2.0, got {kind} {value}; write three numbers, "
            "quoted if YAML reads it as a number",
            {"kind": yaml_type(value), "value": shown(value)},
        )
    if len(value) > MAX_VERSION_LENGTH:
        raise PydanticCustomError(
            "version_length",
            "the version is {length} characters long; write one of at most {limit}, such as 1.2.0",
            {"length": len(value), "limit": MAX_VERSION_LENGTH},
        )
    if value[:1] in ("v", "V") and semver.Version.is_valid(value[1:]):
        raise PydanticCustomError(
            "version_prefix",
            "write {bare}; tags are named v{bare} by the tool",
            {"bare": value[1:]},
        )
    if not semver.Version.is_valid(value):
        raise PydanticCustomError(
            "version_format",
            "{value} is not a semantic version (MAJOR.MINOR.PATCH, for example 1.2.0 or 2.0.0-rc.1)",
            {"value": shown(value)},
        )
    return value


Version = Annotated[str, Field(description="Semantic version (SemVer 2.0.0) without a leading v, e.g. 1.2.0")]


class Artifacts(StrictModel):
    """The files of one version, from a folder of this repository."""

    path: str = Field(description="Folder relative to the repository root, e.g. artifacts/digits-mlp")


class Interface(StrictModel):
    """The files that declare the model's public interface, read without running code."""

    predictor: str | None = Field(
        None, description="cog-style predictor in the artifacts folder, e.g. predict.py:Predictor"
    )
    config: str | None = Field(None, description="transformers-style config.json in the artifacts folder")

    @field_validator("predictor")
    @classmethod
    def _predictor_ref(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[\w./-]+\.py:[A-Za-z_]\w*", value):
            raise PydanticCustomError(
                "predictor_ref", "expected FILE.py:NAME, e.g. predict.py:Predictor, got {value}", {"value": shown(value)}
            )
        return value


class Card(StrictModel):
    """Model card text and metadata; the numbers in it come from gate evidence, never from here."""

    summary: str = Field(min_length=1, description="What the model does, in a paragraph")
    intended_use: str = Field(min_length=1)
    limitations: str = Field(min_length=1)
    training_data: str = Field(min_length=1)
    how_to_use: str = Field(min_length=1, description="Usage example, Markdown")
    evaluation: str | None = Field(None, description="How the model is evaluated; results come from evidence")
    language: list[Annotated[str, Field(pattern=LANGUAGE_PATTERN)]] = Field(
        default_factory=list, description="Lowercase ISO 639-1 or 639-3 codes"
    )
    tags: list[str] = Field(default_factory=list)
    datasets: list[str] = Field(default_factory=list)
    metrics: list[str] = Field(default_factory=list)
    pipeline_tag: str | None = None
    library_name: str | None = None
    base_model: str | None = Field(None, description="Repository id of the model this one derives from")
    base_model_license: str | None = Field(None, description="License identifier of base_model, e.g. llama3.1")

    @field_validator("base_model_license")
    @classmethod
    def _base_license(cls, value: str | None) -> str | None:
        if value is not None and value not in HUB_LICENSES:
            raise PydanticCustomError("license_id", "{value} is not a Hugging Face license identifier; use the "
                                      "base model's identifier from the Hub, such as llama3.1 or apache-2.0",
                                      {"value": shown(value)})
        return value


class LocalTarget(StrictModel):
    """The embedded registry: a git repository per model."""

    repository: str | None = Field(None, pattern=NAME_PATTERN, description="Defaults to the model name")

    @field_validator("repository")
    @classmethod
    def _repository(cls, value: str | None) -> str | None:
        return value if value is None else check_repo_name(value)


class HuggingFaceTarget(StrictModel):
    repo: str = Field(pattern=REPO_ID_PATTERN, description="namespace/name on the Hub")
    private: bool = False
    gated: Literal[False, "auto", "manual"] = False

    @field_validator("repo")
    @classmethod
    def _repo(cls, value: str) -> str:
        return check_repo_name(value)


class ReplicateTarget(StrictModel):
    model: str = Field(pattern=REPLICATE_ID_PATTERN, description="owner/name on Replicate")
    visibility: Literal["public", "private"] = "public"
    description: str | None = None
    hardware: str = Field("cpu", description="Hardware SKU the model is created with")

    @field_validator("hardware")
    @classmethod
    def _sku(cls, value: str) -> str:
        return check_sku(value)


class Targets(StrictModel):
    local: LocalTarget | None = Field(default_factory=LocalTarget)
    huggingface: HuggingFaceTarget | None = None
    replicate: ReplicateTarget | None = None


def check_sku(value: str) -> str:
    skus = hardware_skus()
    if value not in skus:
        raise PydanticCustomError(
            "hardware_sku", "unknown hardware SKU {value}; use one of: {options}",
            {"value": shown(value), "options": ", ".join(skus)},
        )
    return value


class ChannelHardware(StrictModel):
    """The hardware that serves one channel and how many instances run."""

    sku: str = Field(description="Hardware SKU, e.g. cpu, gpu-t4, gpu-l40s")
    min_instances: int = Field(0, ge=0, le=5, description="Instances kept running; above 0 bills around the clock")
    max_instances: int = Field(1, ge=0, le=20)

    @field_validator("sku")
    @classmethod
    def _sku(cls, value: str) -> str:
        return check_sku(value)

    @model_validator(mode="after")
    def _bounds(self) -> ChannelHardware:
        if self.min_instances > self.max_instances:
            raise PydanticCustomError(
                "instance_bounds", "min_instances {low} is above max_instances {high}; lower min or raise max",
                {"low": self.min_instances, "high": self.max_instances},
            )
        return self


class Hardware(StrictModel):
    dev: ChannelHardware | None = None
    staging: ChannelHardware | None = None
    stable: ChannelHardware | None = None


class PriceTier(StrictModel):
    up_to: int | None = Field(None, gt=0, description="Runs per month this tier covers; none for the last tier")
    per_run: float = Field(ge=0, description="Price of one run in the pricing currency")


class Pricing(StrictModel):
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code, e.g. USD")
    free_runs: int = Field(0, ge=0, description="Runs per month free of charge")
    tiers: list[PriceTier] = Field(min_length=1)
    margin: float = Field(0.30, ge=0, description="Minimum margin over hardware cost, 0.30 is 30%")


class Threshold(StrictModel):
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _some_bound(self) -> Threshold:
        if self.min is None and self.max is None:
            raise PydanticCustomError("threshold_empty", "give min, max or both", {})
        return self


class NamedThreshold(Threshold):
    name: str = Field(description="Task metric computed on the eval set, e.g. f1, r2, mae")


class BenchmarkSettings(StrictModel):
    hardware: str = Field(description="Hardware class the evidence must come from: cpu or a GPU SKU")
    dataset: str = Field(description="Eval set (JSON Lines) relative to the repository root")
    runner: Literal["cog", "transformers", "command"] = "cog"
    command: list[str] | None = Field(None, description="For runner: command; it prints JSON metrics")
    task: str | None = Field(None, pattern=r"^[a-z][a-z0-9-]*$", description="For runner: transformers, the "
                             "pipeline task, e.g. image-classification; defaults to card.pipeline_tag")
    warmup: int = Field(5, ge=0)
    concurrency: int = Field(1, ge=1, le=64)
    batch_size: int = Field(1, ge=1, le=1024, description="Items per call when measuring throughput; the "
                            "transformers runner batches, the others predict one item per call")

    @field_validator("dataset")
    @classmethod
    def _dataset_inside(cls, value: str) -> str:
        path = PurePosixPath(value)
        if path.is_absolute() or ".." in path.parts or "\0" in value:
            raise PydanticCustomError(
                "dataset_path", "{value} is not a path inside the repository; give the eval set's path relative "
                "to the repository root, without ..", {"value": shown(value)},
            )
        return value

    @model_validator(mode="after")
    def _batch_for_transformers(self) -> BenchmarkSettings:
        if self.batch_size > 1 and self.runner != "transformers":
            raise PydanticCustomError(
                "batch_size_runner", "batch_size {size} needs runner: transformers; the {runner} runner predicts one "
                "item per call, so set concurrency instead", {"size": self.batch_size, "runner": self.runner},
            )
        return self


class Regression(StrictModel):
    max_slowdown: float = Field(gt=1.0, description="Largest accepted ratio of p50 latency to the previous release")
    confidence: float = Field(0.95, gt=0.5, lt=1.0)
    noise_floor_ms: float = Field(0.1, ge=0, description="Slowdowns of the median smaller than this count as "
                                  "timer noise, whatever their ratio")


class Gates(StrictModel):
    benchmark: BenchmarkSettings | None = None
    latency_p50_ms: Threshold | None = None
    latency_p95_ms: Threshold | None = None
    latency_p99_ms: Threshold | None = None
    throughput_per_s: Threshold | None = None
    peak_memory_mb: Threshold | None = None
    accuracy: Threshold | None = None
    task_metric: NamedThreshold | None = None
    regression: Regression | None = None


class Deprecation(StrictModel):
    """A released version that is deprecated, with the date its support ends."""

    version: Version
    deprecated_on: datetime.date
    end_of_support: datetime.date | None = Field(None, description="Defaults to six months after deprecated_on")
    note: str | None = Field(None, description="What users of this version should do")

    @field_validator("version", mode="before")
    @classmethod
    def _version(cls, value: object) -> str:
        return check_version(value)

    @property
    def support_ends(self) -> datetime.date:
        if self.end_of_support is not None:
            return self.end_of_support
        month = self.deprecated_on.month + 6
        year = self.deprecated_on.year + (month - 1) // 12
        month = (month - 1) % 12 + 1
        day = min(self.deprecated_on.day, 28)
        return datetime.date(year, month, day)


class Manifest(StrictModel):
    """Desired state of one model: its version, channel, card, targets and gates."""

    name: str = Field(pattern=NAME_PATTERN, description="Lowercase model name; must match the file name")
    version: Version
    channel: Channel = Field(description="The highest channel this version should be on")
    description: str = Field(min_length=1, max_length=300, description="One line shown on every platform")
    license: str = Field(description="Hugging Face license identifier, or other with license_name and license_link")
    license_name: str | None = None
    license_link: str | None = None
    artifacts: Artifacts
    interface: Interface = Field(default_factory=Interface)
    card: Card
    targets: Targets = Field(default_factory=Targets)
    hardware: Hardware = Field(default_factory=Hardware)
    pricing: Pricing | None = None
    gates: Gates = Field(default_factory=Gates)
    approved_cost_increase: float = Field(0.0, ge=0, description="USD per day of always-on instances (min_instances "
                                          "above 0) this manifest may add without apply --approve-cost")
    deprecations: list[Deprecation] = Field(default_factory=list)
    migration: str | None = Field(None, description="How callers move to this major version; required for a major bump")

    @field_validator("version", mode="before")
    @classmethod
    def _version(cls, value: object) -> str:
        return check_version(value)

    @field_validator("license")
    @classmethod
    def _license(cls, value: str) -> str:
        if value not in HUB_LICENSES:
            raise PydanticCustomError(
                "license_id",
                "{value} is not a license identifier the Hugging Face Hub accepts; use one such as "
                "apache-2.0, mit or cc-by-nc-4.0, or other with license_name and license_link",
                {"value": shown(value)},
            )
        return value

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return check_repo_name(value)

    @model_validator(mode="after")
    def _prerelease_not_stable(self) -> Manifest:
        if self.channel == "stable" and semver.Version.parse(self.version).prerelease:
            raise PydanticCustomError(
                "prerelease_stable",
                "the prerelease {version} may sit on dev or staging, never on stable; release {final} for stable",
                {"version": self.version, "final": str(semver.Version.parse(self.version).finalize_version())},
            )
        return self

    @property
    def release_version(self) -> str:
        """The version without build metadata: what tags, channels and the ledger identify it by."""
        return str(semver.Version.parse(self.version).replace(build=None))

    @model_validator(mode="after")
    def _other_license(self) -> Manifest:
        if self.license == "other" and not (self.license_name and self.license_link):
            raise PydanticCustomError(
                "license_other", "license other needs license_name and license_link", {}
            )
        return self

    @property
    def semver(self) -> semver.Version:
        return semver.Version.parse(self.version)


def json_schema() -> dict[str, object]:
    """Return the JSON Schema of a manifest, for editors and ``mrp schema``."""
    schema = Manifest.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "mrp model manifest"
    return schema
