"""Hostile and broken input: every case is rejected by validate, plan and apply, with a located fix.

Each file under tests/hostile/manifests/ is one case. Its first comment lines state what the command line
must report:

    # hostile case NAME: what the file contains
    # install: models/OTHER.yaml   optional; by default the file replaces models/digits-mlp.yaml
    # limits: subprocess           optional; run in a child process under a memory and time limit
    # expect: FILE[:LINE] [FIELD]  where the problem is reported
    # words: PHRASE | PHRASE       phrases the error output must contain

Token cases hold placeholders such as <<HF_TOKEN>>, which the test replaces at run time, so the
repository never contains a token-like string. Artifact cases that need symbolic links, FIFOs, sockets
or device files are built at run time, because git cannot store them. Files under
tests/hostile/accepted/ are valid manifests in unusual encodings (BOM, CRLF) that must load.
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import socket
import stat
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from pipeline.manifest.secrets import redact, token_prefixes, tokens_in_comments
from tests.conftest import ExampleProject, Result, canary_leaks

HOSTILE = Path(__file__).parent / "hostile"
DIGITS = "models/digits-mlp.yaml"
ARTIFACTS = "artifacts/digits-mlp"
ARTIFACTS_LINE = 10  # the line of artifacts.path in models/digits-mlp.yaml
MEMORY_LIMIT = 1 << 30
TIME_LIMIT_S = 20
MAX_STDERR = 10_000
COMMANDS = (("validate",), ("plan",), ("apply", "--yes"))

# Built by concatenation so that no secret scanner flags this file.
TOKENS = {
    "<<HF_TOKEN>>": "hf_" + "Hostile" + "Case" * 8,
    "<<R8_TOKEN>>": "r8_" + "HostileCase" * 4,
    "<<GHP_TOKEN>>": "ghp_" + ("HostileCase" * 4)[:36],
    "<<GITHUB_PAT>>": "github_pat_" + "Hostile_Case_" * 3,
}
# Every message names the fix with one of these words.
FIX_WORDS = ("should", "use ", "write", "remove", "give", "rename", "replace", "flatten", "keep", "save", "set ",
             "add ", "fix", "create", "point", "correct", "quote", "lower", "rotate", "needs", "must", "simplify",
             "did you mean", "allowed here")


@dataclass(frozen=True)
class Case:
    """One hostile manifest and what the command line must report for it."""

    name: str
    source: Path
    install: str
    subprocess: bool
    file: str
    line: int
    field: str
    words: tuple[str, ...]

    @classmethod
    def read(cls, source: Path) -> Case:
        header = {}
        with source.open("rb") as handle:
            for raw in handle:
                text = raw.decode("utf-8", errors="replace").lstrip("\ufeff").rstrip("\r\n")
                if not text.startswith("# ") or ":" not in text:
                    break
                key, _, value = text[2:].partition(": ")
                header[key.split()[0]] = value
        location, _, field = header["expect"].partition(" ")
        file, _, line = location.partition(":")
        return cls(name=source.stem, source=source, install=header.get("install", DIGITS),
                   subprocess=header.get("limits") == "subprocess", file=file, line=int(line or 0),
                   field=field, words=tuple(word.strip() for word in header["words"].split("|")))

    def content(self) -> bytes:
        data = self.source.read_bytes()
        for placeholder, token in TOKENS.items():
            data = data.replace(placeholder.encode(), token.encode())
        return data


def _cases() -> list[Case]:
    return [Case.read(path) for path in sorted((HOSTILE / "manifests").glob("*.yaml"))]


CASES = _cases()


def run_limited(root: Path, *args: str) -> Result:
    """Run the command line in a child process with 1 GiB of address space and a 20 s timeout."""
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))

    completed = subprocess.run([sys.executable, "-m", "pipeline", "-C", str(root), *args], cwd=root,
                               capture_output=True, timeout=TIME_LIMIT_S, preexec_fn=limit)
    return Result(completed.returncode, completed.stdout.decode("utf-8", "replace"),
                  completed.stderr.decode("utf-8", "replace"))


def snapshot(project: ExampleProject) -> dict[str, str]:
    """Return the sha256 of every file in the registry and the ledger, by path."""
    files = {}
    for folder in (project.registry, project.ledger):
        if not folder.exists():
            continue
        for path in sorted(folder.rglob("*")):
            if path.is_file() and not path.is_symlink():
                files[str(path.relative_to(project.root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return files


def assert_rejected(result: Result, file: str, line: int, field: str, words: tuple[str, ...]) -> None:
    """Check one command's result: exit 1, the located problem, its fix, and a bounded output."""
    assert result.exit_code == 1, result.stderr[:2000]
    assert result.stdout == ""
    assert len(result.stderr) < MAX_STDERR, result.stderr[:2000]
    location = f"{file}:{line}:" if line else f"{file}: "
    located = [text for text in result.stderr.splitlines() if location in text]
    assert located, f"{location!r} not in {result.stderr[:2000]!r}"
    if field:
        assert any(f" {field}:" in text for text in located), result.stderr[:2000]
    for word in words:
        assert word in result.stderr, f"{word!r} not in {result.stderr[:2000]!r}"
    assert any(word in text.lower() for text in located for word in FIX_WORDS), located
    assert result.stderr.rstrip().endswith("nothing was planned or applied."), result.stderr[-300:]
    for token in TOKENS.values():
        assert token not in result.stderr


def run_commands(project: ExampleProject, mrp: Callable[..., Result], limited: bool) -> list[Result]:
    results = []
    for command in COMMANDS:
        if limited:
            results.append(run_limited(project.root, *command))
        else:
            results.append(mrp("-C", project.root, *command))
    return results


def test_corpus_has_sixty_cases():
    assert len(CASES) >= 60
    assert len({case.name for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_hostile_manifest_rejected(example_project, mrp, case):
    (example_project.root / case.install).write_bytes(case.content())
    before = snapshot(example_project)

    results = run_commands(example_project, mrp, case.subprocess)

    for result in results:
        assert_rejected(result, case.file, case.line, case.field, case.words)
    assert snapshot(example_project) == before
    assert not example_project.registry.exists()


ACCEPTED = sorted((HOSTILE / "accepted").glob("*.yaml"))


@pytest.mark.parametrize("source", ACCEPTED, ids=[path.stem for path in ACCEPTED])
def test_unusual_encoding_accepted(example_project, mrp, source):
    example_project.manifest("digits-mlp").write_bytes(source.read_bytes())

    validated = mrp("-C", example_project.root, "validate")
    planned = mrp("-C", example_project.root, "plan")

    assert validated.exit_code == 0, validated.stderr
    assert "digits-mlp 1.0.0 (dev)" in validated.stdout
    assert planned.exit_code == 0, planned.stderr
    assert "create version 1.0.0" in planned.stdout


# --- artifact folders built at run time -----------------------------------------------------------

def _folder(project: ExampleProject) -> Path:
    return project.root / ARTIFACTS


def _link_folder_outside(project: ExampleProject) -> None:
    outside = project.root.parent / "outside"
    outside.mkdir()
    (outside / "weights.bin").write_bytes(b"not part of the repository")
    os.symlink(outside, _folder(project) / "linked")


def _link_file_outside(project: ExampleProject) -> None:
    secret = project.root.parent / "secret.txt"
    secret.write_text("outside\n", encoding="utf-8")
    os.symlink(secret, _folder(project) / "secret.txt")


def _link_artifacts_folder_outside(project: ExampleProject) -> None:
    outside = project.root.parent / "elsewhere"
    _folder(project).rename(outside)
    os.symlink(outside, _folder(project))


def _link_loop(project: ExampleProject) -> None:
    os.symlink("second", _folder(project) / "first")
    os.symlink("first", _folder(project) / "second")


def _link_to_own_folder(project: ExampleProject) -> None:
    os.symlink(_folder(project), _folder(project) / "again")


def _dangling_link(project: ExampleProject) -> None:
    os.symlink(_folder(project) / "missing.bin", _folder(project) / "dangling.bin")


def _fifo(project: ExampleProject) -> None:
    os.mkfifo(_folder(project) / "weights.pipe")


def _socket(project: ExampleProject) -> None:
    server = socket.socket(socket.AF_UNIX)
    try:
        server.bind(str(_folder(project) / "serve.sock"))
    except OSError as error:  # a socket path longer than 107 bytes
        pytest.skip(f"cannot bind a Unix socket here: {error}")
    server.close()


def _character_device(project: ExampleProject) -> None:
    try:
        os.mknod(_folder(project) / "null", 0o600 | stat.S_IFCHR, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("creating a device file needs root")


def _empty_file(project: ExampleProject) -> None:
    (_folder(project) / "model.safetensors").write_bytes(b"")


def _git_folder(project: ExampleProject) -> None:
    subprocess.run(["git", "init", "-q", str(_folder(project))], check=True)


def _deep_folders(project: ExampleProject) -> None:
    folder = _folder(project).joinpath(*["d"] * 40)
    folder.mkdir(parents=True)
    (folder / "leaf.txt").write_text("deep\n", encoding="utf-8")


def _predictor_not_utf8(project: ExampleProject) -> None:
    path = _folder(project) / "predict.py"
    path.write_bytes(path.read_bytes() + "\n# caf\u00e9\n".encode("latin-1"))


def _config_deeply_nested(project: ExampleProject) -> None:
    path = _folder(project) / "config.json"
    config = json.loads(path.read_text(encoding="utf-8"))
    config["nested"] = "@"
    path.write_text(json.dumps(config).replace('"@"', "[" * 5000 + "]" * 5000), encoding="utf-8")


def _token_in_readme(project: ExampleProject) -> None:
    (_folder(project) / "README.md").write_text(
        f"# Digits\n\nDownload with\n    HF_TOKEN={TOKENS['<<HF_TOKEN>>']} hf download acme/digits-mlp\n",
        encoding="utf-8")


def _token_in_predictor(project: ExampleProject) -> None:
    path = _folder(project) / "predict.py"
    text = path.read_text(encoding="utf-8")
    path.write_text(f"API_TOKEN = \"{TOKENS['<<R8_TOKEN>>']}\"\n" + text, encoding="utf-8")


def _token_in_notes(project: ExampleProject) -> None:
    (_folder(project) / "NOTES.txt").write_text(f"ci token: {TOKENS['<<GHP_TOKEN>>']}\n", encoding="utf-8")


AT_PATH = (DIGITS, ARTIFACTS_LINE, "artifacts.path")
AT_PREDICTOR = (DIGITS, 12, "interface.predictor")
AT_CONFIG = (DIGITS, 13, "interface.config")
# (case, setup, run under limits, (file, line, field), words)
ARTIFACT_CASES = [
    ("symlink-folder-outside", _link_folder_outside, False, AT_PATH, ["linked resolves to", "outside the repository"]),
    ("symlink-file-outside", _link_file_outside, False, AT_PATH, ["secret.txt resolves to", "outside the repository"]),
    ("symlink-artifacts-folder-outside", _link_artifacts_folder_outside, False, AT_PATH,
     [f"{ARTIFACTS} resolves to", "outside the repository"]),
    ("symlink-dev-null", lambda p: os.symlink("/dev/null", _folder(p) / "null.bin"), True, AT_PATH,
     ["resolves to /dev/null", "outside the repository"]),
    ("symlink-dev-zero", lambda p: os.symlink("/dev/zero", _folder(p) / "zero.bin"), True, AT_PATH,
     ["resolves to /dev/zero", "outside the repository"]),
    ("symlink-loop", _link_loop, False, AT_PATH, ["first is part of a symbolic link loop", "remove the loop"]),
    ("symlink-to-own-folder", _link_to_own_folder, False, AT_PATH, ["again links back to a folder it is in"]),
    ("symlink-dangling", _dangling_link, False, AT_PATH, ["dangling.bin cannot be read", "fix or remove it"]),
    ("fifo", _fifo, True, AT_PATH, ["weights.pipe is not a regular file", "remove it"]),
    ("unix-socket", _socket, True, AT_PATH, ["serve.sock is not a regular file"]),
    ("character-device", _character_device, True, AT_PATH, ["null is not a regular file"]),
    ("empty-file", _empty_file, False, AT_PATH, ["model.safetensors is empty", "Regenerate it or remove it"]),
    ("git-folder", _git_folder, False, AT_PATH, [".git is a git folder"]),
    ("folders-40-deep", _deep_folders, False, AT_PATH, ["nested more than 32 folders deep", "flatten"]),
    ("predictor-not-utf8", _predictor_not_utf8, False, AT_PREDICTOR, ["predict.py is not UTF-8", "save it as UTF-8"]),
    ("config-deeply-nested", _config_deeply_nested, True, AT_CONFIG, ["nests too deeply", "simplify"]),
    ("token-in-readme", _token_in_readme, False, (f"{ARTIFACTS}/README.md", 4, ""),
     ["looks like an access token (hf_...)", "rotate the token"]),
    ("token-in-predictor", _token_in_predictor, False, (f"{ARTIFACTS}/predict.py", 1, ""),
     ["looks like an access token (r8_...)"]),
    ("token-in-notes", _token_in_notes, False, (f"{ARTIFACTS}/NOTES.txt", 1, ""),
     ["looks like an access token (ghp_...)"]),
]


@pytest.mark.parametrize("case_id, setup, limited, where, words", ARTIFACT_CASES,
                         ids=[case[0] for case in ARTIFACT_CASES])
def test_hostile_artifacts_rejected(example_project, mrp, case_id, setup, limited, where, words):
    setup(example_project)
    before = snapshot(example_project)

    results = run_commands(example_project, mrp, limited)

    for result in results:
        assert_rejected(result, *where, tuple(words))
    assert snapshot(example_project) == before
    assert not example_project.registry.exists()


# --- token detection as a unit ------------------------------------------------------------------

@pytest.mark.parametrize("token", list(TOKENS.values()), ids=list(TOKENS))
def test_redact_keeps_only_prefix(token):
    redacted = redact(f"before {token} after")

    assert token not in redacted
    assert redacted.startswith("before ")
    assert redacted.endswith("... after")


@pytest.mark.parametrize("text", ["hf_short", "pdf_" + "a" * 40, "hf_hub_download", "r8_" + "a" * 29,
                                  "ghp_" + "a" * 35, "model_hf_" + "a" * 40])
def test_token_patterns_ignore_lookalikes(text):
    assert list(token_prefixes(text)) == []


def test_token_in_comment_found():
    text = f"license: mit  # was {TOKENS['<<HF_TOKEN>>']}\nname: {TOKENS['<<R8_TOKEN>>']}\n"

    assert list(tokens_in_comments(text)) == [(1, 21, "hf_")]


def test_canary_leak_detected(tmp_path):
    canary = os.environ["MRP_TEST_CANARY"]
    record = tmp_path / "ledger.yaml"
    record.write_text(f"token: {canary}\n", encoding="utf-8")

    leaks = canary_leaks([("stdout", f"x {canary} y")], [tmp_path])

    record.unlink()
    assert leaks == ["stdout", str(record)]


def test_type_message_shows_value_once(example_project, mrp):
    example_project.edit("digits-mlp", "version: 1.0.0", "version: {major: 1}")

    result = mrp("-C", example_project.root, "validate")

    assert result.exit_code == 1
    assert result.stderr.count("got mapping {'major': 1}") == 1
