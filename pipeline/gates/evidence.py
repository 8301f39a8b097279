"""Evidence files: the recorded result of a benchmark, bound to what was measured and where.

``releases/MODEL/evidence/VERSION-HARDWARE.yaml`` contains the artifacts digest,
the eval set's digest, the gate settings, the hardware (CPU model, or GPU name, memory, driver and
CUDA version), library versions, the tool version, every latency sample and
the gate verdicts. A newer run on the same version and hardware replaces it.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import semver
import yaml

from pipeline.digestcache import FileKey, hash_file
from pipeline.ledger import utc_now

LIBRARIES = ("numpy", "safetensors", "cog", "torch", "transformers")
# Evidence contains every latency sample, which libyaml's safe loader reads far faster than the pure-Python one.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


# Parsed evidence by folder, with the name and stat key of each file it was parsed from.
_READ_CACHE: dict[Path, tuple[tuple[tuple[str, FileKey], ...], list[dict[str, Any]]]] = {}


def evidence_folder(ledger_dir: Path, model: str) -> Path:
    return ledger_dir / model / "evidence"


def evidence_path(ledger_dir: Path, model: str, version: str, hardware_class: str) -> Path:
    safe_class = re.sub(r"[^A-Za-z0-9_.-]+", "-", hardware_class).strip("-").lower()
    return evidence_folder(ledger_dir, model) / f"{version}-{safe_class}.yaml"


def write_evidence(path: Path, evidence: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(yaml.safe_dump(evidence, sort_keys=False), encoding="utf-8")
    os.replace(temporary, path)


def read_all(ledger_dir: Path, model: str) -> list[dict[str, Any]]:
    """Return every evidence record of ``model``.

    A plan reads a model's evidence up to four times (policy gates, card,
    promotion gates), and each file lists every latency sample. So the records
    are parsed once per process, and parsed again only when a file's name or
    stat key (size, mtime, ctime, inode, device) changes. ``write_evidence``
    replaces a file, which gives it a new inode.
    """
    folder = evidence_folder(ledger_dir, model)
    if not folder.is_dir():
        return []
    files = sorted(folder.glob("*.yaml"))
    key = tuple((file.name, FileKey.of(file.stat())) for file in files)
    cached = _READ_CACHE.get(folder)
    if cached is not None and cached[0] == key:
        return [dict(record) for record in cached[1]]

    found = []
    for file in files:
        data = yaml.load(file.read_text(encoding="utf-8"), Loader=_YAML_LOADER)  # noqa: S506 - a safe loader
        if isinstance(data, dict) and semver.Version.is_valid(str(data.get("version"))):
            found.append({**data, "file": str(file)})
    _READ_CACHE[folder] = (key, found)
    return [dict(record) for record in found]



def previous_release_evidence(ledger_dir: Path, model: str, version: str, hardware_class: str) -> dict | None:
    """Return the evidence of the highest lower version measured on the same hardware class."""
    lower = [item for item in read_all(ledger_dir, model)
             if item.get("hardware_class") == hardware_class
             and semver.Version.parse(str(item["version"])) < semver.Version.parse(version)]
    return max(lower, key=lambda item: semver.Version.parse(str(item["version"])), default=None)


def eval_set_digest(path: Path) -> str | None:
    """Return the sha256 of the eval set file, or None when it cannot be read.

    NOTE: files that eval items name, such as images, are not part of the digest.
    """
    try:
        return f"sha256:{hash_file(path)}"
    except OSError:
        return None


def hardware_info() -> dict[str, Any]:
    """Describe where this process runs: the CPU, and the first GPU when one is visible."""
    info: dict[str, Any] = {"cpu": _cpu_model(), "cores": os.cpu_count(), "machine": platform.machine(),
                            "gpu": None}
    gpu = _gpu()
    if gpu is not None:
        info["gpu"] = gpu
    return info


def hardware_class(info: dict[str, Any], device: str) -> str:
    if device == "cuda" and info.get("gpu"):
        return f"gpu:{info['gpu']['name']}"
    return "cpu"


def libraries() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return found


def base_evidence(model: str, version: str, digest: str, gate_settings: dict[str, Any]) -> dict[str, Any]:
    from pipeline import __version__

    return {"model": model, "version": version, "artifacts_digest": digest, "measured_at": utc_now(),
            "mrp_version": __version__, "gate_settings": gate_settings, "libraries": libraries()}


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _gpu() -> dict[str, Any] | None:
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        properties = torch.cuda.get_device_properties(0)
        return {"name": properties.name, "memory_mb": properties.total_memory // 2**20,
                "cuda": torch.version.cuda, "driver": _nvidia_smi("driver_version")}
    name = _nvidia_smi("name")
    if name is None:
        return None
    memory = _nvidia_smi("memory.total")
    return {"name": name, "memory_mb": int(memory.split()[0]) if memory else None, "cuda": None,
            "driver": _nvidia_smi("driver_version")}


def _nvidia_smi(query: str) -> str | None:
    if shutil.which("nvidia-smi") is None:
        return None
    try:
        output = subprocess.run(["nvidia-smi", f"--query-gpu={query}", "--format=csv,noheader,nounits"],
                                capture_output=True, text=True, timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return output.splitlines()[0].strip() if output.strip() else None
