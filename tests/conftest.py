"""Fixtures shared by every test: isolation from $HOME and the network, and real example projects."""

from __future__ import annotations

import ipaddress
import logging
import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

# huggingface_hub reads these when it is first imported, so they are set before any test module imports it.
# The default endpoint is a closed loopback port: a call that escapes a test's emulator fails locally.
os.environ.setdefault("HF_ENDPOINT", "http://127.0.0.1:9")
os.environ.setdefault("HF_HOME", tempfile.mkdtemp(prefix="hf-home-"))
os.environ["HF_HUB_DISABLE_XET"] = "1"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
os.environ["NO_PROXY"] = "127.0.0.1,localhost"
os.environ["no_proxy"] = "127.0.0.1,localhost"

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED = REPO_ROOT.parent / "shared"
EXAMPLE_PATHS = ("models", "artifacts", "eval", "mrp.toml", "schema")


def _is_loopback(address: object) -> bool:
    host = address[0] if isinstance(address, tuple) else address
    if not isinstance(host, str):
        return True  # Unix sockets and the like stay on this machine
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Give each test its own HOME and fail any connection to a non-loopback address."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("HF_HOME", str(home / "hf"))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    for name in ("MRP_TARGETS", "MRP_REGISTRY", "MRP_DEBUG"):
        monkeypatch.delenv(name, raising=False)

    real_connect = socket.socket.connect

    def guarded_connect(self: socket.socket, address: object) -> None:
        if not _is_loopback(address):
            raise AssertionError(f"test tried to reach {address!r}; tests may only contact 127.0.0.1")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    yield


@dataclass
class ExampleProject:
    """A git repository holding a copy of the example models, with its own registry and ledger."""

    root: Path

    @property
    def registry(self) -> Path:
        return self.root / ".mrp" / "registry"

    @property
    def ledger(self) -> Path:
        return self.root / "releases"

    def manifest(self, name: str) -> Path:
        return self.root / "models" / f"{name}.yaml"

    def edit(self, name: str, old: str, new: str) -> None:
        path = self.manifest(name)
        text = path.read_text(encoding="utf-8")
        assert old in text, f"{old!r} not in {path}"
        path.write_text(text.replace(old, new, 1), encoding="utf-8")

    def git(self, *args: str) -> str:
        return subprocess.run(["git", *args], cwd=self.root, check=True, capture_output=True, text=True).stdout


def copy_examples(destination: Path) -> ExampleProject:
    for name in EXAMPLE_PATHS:
        source = REPO_ROOT / name
        if source.is_dir():
            shutil.copytree(source, destination / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, destination / name)
    (destination / ".gitignore").write_text(".mrp/\n__pycache__/\n", encoding="utf-8")
    project = ExampleProject(destination)
    project.git("init", "-q", "-b", "main")
    project.git("add", "-A")
    project.git("-c", "user.name=Test", "-c", "user.email=test@example.invalid", "commit", "-q", "-m", "examples")
    return project


@pytest.fixture
def example_project(tmp_path: Path) -> ExampleProject:
    return copy_examples(tmp_path / "project")


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str


@pytest.fixture
def mrp(capsys: pytest.CaptureFixture[str]):
    """Run the mrp command line in this process and return its exit code and output."""
    from pipeline.cli import main

    def run(*args: str | Path) -> Result:
        capsys.readouterr()
        code = main([str(arg) for arg in args])
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


def run_mrp_process(*args: str, cwd: Path, env: dict[str, str] | None = None,
                    stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``python -m pipeline`` in a child process, as a user's shell would."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "pipeline", *args], cwd=cwd, env=full_env, input=stdin,
                          capture_output=True, text=True, timeout=120)


# --- secrets canary ----------------------------------------------------------------------------
# Token-shaped values, built by concatenation so that no secret scanner flags this file. Every test
# runs with them in the environment, and fails when one shows up in its output, logs or files.
CANARY = "hf_" + "MrpTestCanary" * 3
REPLICATE_CANARY = "r8_" + "MrpTestCanary" * 3
MAX_CANARY_SCAN_BYTES = 1 << 20
MAX_CANARY_SCAN_FILES = 5000


def canary_leaks(texts: list[tuple[str, str]], folders: list[Path],
                 canaries: tuple[str, ...] = (CANARY, REPLICATE_CANARY)) -> list[str]:
    """Return where a canary appears: the label of each text, then each file under ``folders``."""
    found = [label for label, text in texts if any(canary in text for canary in canaries)]
    needles = [canary.encode() for canary in canaries]
    for path in _regular_files(folders):
        data = _file_text(path)
        if any(needle in data for needle in needles):
            found.append(str(path))
    return found


def _regular_files(folders: list[Path]) -> list[Path]:
    """List regular files only: opening a FIFO would block, and links may point at /dev/zero."""
    files: list[Path] = []
    for folder in folders:
        for current, _, names in os.walk(folder):
            for name in names:
                path = Path(current) / name
                if stat.S_ISREG(path.lstat().st_mode):
                    files.append(path)
                if len(files) >= MAX_CANARY_SCAN_FILES:
                    return files
    return files


def _file_text(path: Path) -> bytes:
    """Read the first MiB of a file; a loose git object is decompressed, so committed files are seen too."""
    with path.open("rb") as handle:
        data = handle.read(MAX_CANARY_SCAN_BYTES)
    if path.parent.parent.name == "objects" and len(path.parent.name) == 2:
        try:
            data = zlib.decompressobj().decompress(data, MAX_CANARY_SCAN_BYTES)
        except zlib.error:
            pass
    return data


def _log_texts(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str]]:
    formatter = logging.Formatter()
    texts = []
    for when in ("setup", "call"):
        for record in caplog.get_records(when):
            try:
                texts.append((f"log record of {record.name}", formatter.format(record)))
            except Exception:  # a record whose arguments do not fit its format string
                texts.append((f"log record of {record.name}", f"{record.msg} {record.args}"))
    return texts


@pytest.fixture(autouse=True)
def secrets_canary(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch,
                   caplog: pytest.LogCaptureFixture, tmp_path: Path,
                   tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Fail a test whose output, log records or files under its tmp_path or HOME contain a canary token.

    HF_TOKEN and REPLICATE_API_TOKEN default to the canaries; a test that needs its own token sets it,
    and that token is checked the same way.
    Output read through capsys or capfd is collected as it is read, since those tests consume it.
    NOTE: output of child processes that a test captures itself (run_mrp_process) is not checked here.
    """
    monkeypatch.setenv("MRP_TEST_CANARY", CANARY)
    monkeypatch.setenv("HF_TOKEN", CANARY)
    monkeypatch.setenv("REPLICATE_API_TOKEN", REPLICATE_CANARY)
    read: list[tuple[str, str]] = []
    real_readouterr = pytest.CaptureFixture.readouterr

    def readouterr(self: pytest.CaptureFixture[str]) -> Any:
        result = real_readouterr(self)
        read.extend([("captured stdout", str(result.out)), ("captured stderr", str(result.err))])
        return result

    monkeypatch.setattr(pytest.CaptureFixture, "readouterr", readouterr)
    yield

    # Output that no test read is attached to the item by pytest's capture plugin.
    sections = [(f"{when} {key}", text) for when, key, text in getattr(request.node, "_report_sections", [])]
    folders = [tmp_path]
    home = Path(os.environ.get("HOME", ""))
    if tmp_path_factory.getbasetemp() in home.parents:
        folders.append(home)
    # A token a test set for itself must not leak either.
    own_tokens = tuple(os.environ.get(name, "") for name in ("HF_TOKEN", "REPLICATE_API_TOKEN"))
    canaries = (CANARY, REPLICATE_CANARY, *(token for token in own_tokens if len(token) >= 16))
    leaks = canary_leaks(read + sections + _log_texts(caplog), folders, canaries)
    if leaks:
        pytest.fail("a token from HF_TOKEN, REPLICATE_API_TOKEN or MRP_TEST_CANARY leaked into: "
                    + ", ".join(leaks), pytrace=False)
