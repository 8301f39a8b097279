"""Generate a release repository of N synthetic models for the benchmarks.

Every manifest is a copy of ``models/digits-mlp.yaml`` with its own name,
artifacts folder, Hub repo and Replicate model. Hub repos are spread over a
few namespaces, so the plan lists more than one; Replicate models all belong
to the emulator's default account, ``acme``, as a team's models would.

Each model's artifacts are the example's text files plus a 64-byte binary
``model.safetensors`` that differs per model, so every model has a distinct
artifacts digest and one Git LFS file on the Hub.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = REPO_ROOT / "models" / "digits-mlp.yaml"
TEMPLATE_ARTIFACTS = REPO_ROOT / "artifacts" / "digits-mlp"
EVAL_SET = "eval/digits-mlp.jsonl"
TEXT_ARTIFACTS = ("cog.yaml", "config.json", "predict.py", "requirements.txt")
HUB_NAMESPACES = ("acme", "acme-research", "acme-labs")
REPLICATE_OWNER = "acme"
GIT_IDENTITY = ("-c", "user.name=mrp benchmark", "-c", "user.email=benchmark@example.invalid")


@dataclass(frozen=True)
class SyntheticModel:
    name: str
    hub_repo: str
    replicate_model: str

    @property
    def manifest(self) -> str:
        return f"models/{self.name}.yaml"

    @property
    def artifacts(self) -> str:
        return f"artifacts/{self.name}"


@dataclass(frozen=True)
class SyntheticProject:
    root: Path
    models: tuple[SyntheticModel, ...]

    def manifest_path(self, model: SyntheticModel) -> Path:
        return self.root / model.manifest

    def edit(self, model: SyntheticModel, old: str, new: str) -> None:
        """Replace the first ``old`` in a manifest, and fail loudly when the template no longer has it."""
        path = self.manifest_path(model)
        text = path.read_text(encoding="utf-8")
        if old not in text:
            raise ValueError(f"{old!r} is not in {path}; the template manifest changed, update the benchmark")
        path.write_text(text.replace(old, new, 1), encoding="utf-8")

    def git(self, *args: str) -> str:
        done = subprocess.run(["git", *GIT_IDENTITY, *args], cwd=self.root, check=True, capture_output=True,
                              text=True)
        return done.stdout

    def commit(self, message: str) -> None:
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)


def model_name(index: int) -> str:
    return f"bench-{index:04d}"


def synthetic_models(count: int) -> tuple[SyntheticModel, ...]:
    models = []
    for index in range(count):
        name = model_name(index)
        namespace = HUB_NAMESPACES[index % len(HUB_NAMESPACES)]
        models.append(SyntheticModel(name, f"{namespace}/{name}", f"{REPLICATE_OWNER}/{name}"))
    return tuple(models)


def manifest_text(template: str, model: SyntheticModel, with_gates: bool) -> str:
    """Rewrite the template for one model; without gates, a promotion needs no benchmark evidence."""
    text = template
    replacements = [
        ("name: digits-mlp", f"name: {model.name}"),
        ("path: artifacts/digits-mlp", f"path: {model.artifacts}"),
        ("repository: digits-mlp", f"repository: {model.name}"),
        ("repo: acme/digits-mlp", f"repo: {model.hub_repo}"),
        ("model: acme/digits-mlp", f"model: {model.replicate_model}"),
    ]
    for old, new in replacements:
        if old not in text:
            raise ValueError(f"{old!r} is not in {TEMPLATE}; the template manifest changed, update the benchmark")
        text = text.replace(old, new, 1)
    if not with_gates:
        text = text[:text.index("\npricing:")] + "\n"
    return text


def weights_of(model: SyntheticModel) -> bytes:
    """Return 64 repeatable bytes, distinct per model; the NUL byte makes the Hub store them with LFS."""
    return b"\0" + hashlib.sha256(model.name.encode()).digest() + bytes(31)


def write_models(root: Path, models: tuple[SyntheticModel, ...], ungated: frozenset[str]) -> None:
    template = TEMPLATE.read_text(encoding="utf-8")
    (root / "models").mkdir(parents=True, exist_ok=True)
    for model in models:
        (root / model.manifest).write_text(manifest_text(template, model, model.name not in ungated),
                                           encoding="utf-8")
        folder = root / model.artifacts
        folder.mkdir(parents=True)
        for name in TEXT_ARTIFACTS:
            shutil.copyfile(TEMPLATE_ARTIFACTS / name, folder / name)
        (folder / "model.safetensors").write_bytes(weights_of(model))


def create_project(root: Path, count: int, ungated: int = 1) -> SyntheticProject:
    """Create a committed git repository with ``count`` models; the first ``ungated`` have no gates."""
    models = synthetic_models(count)
    root.mkdir(parents=True)
    shutil.copyfile(REPO_ROOT / "mrp.toml", root / "mrp.toml")
    (root / "eval").mkdir()
    shutil.copyfile(REPO_ROOT / EVAL_SET, root / EVAL_SET)
    (root / ".gitignore").write_text(".mrp/\n__pycache__/\n", encoding="utf-8")
    write_models(root, models, frozenset(model.name for model in models[:ungated]))
    project = SyntheticProject(root, models)
    project.git("init", "-q", "-b", "main")
    project.commit(f"{count} synthetic models")
    logger.info("created %d models in %s", count, root)
    return project
