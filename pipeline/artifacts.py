"""Collect the files of a version and compute their digest.

The artifacts digest is the sha256 of the lines ``"<file sha256>  <path>\\n"``
for every file, sorted by path (the format of ``sha256sum``), so it depends on
file names and contents only, never on timestamps or the order of a walk.

Symbolic links are followed while they stay inside the repository: a file under
a linked folder is part of the version. A link that leaves the repository, a
link loop, a FIFO, a device file and an empty file are errors, never skipped.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from pipeline.digestcache import DigestCache, hash_file

MAX_FILES = 10_000
# Folders nested deeper than this are rejected before the recursive walk could exhaust the stack.
MAX_FOLDER_DEPTH = 32
# Empty files that are meaningful as they are, such as a package marker.
EMPTY_FILES_ALLOWED = frozenset({"__init__.py", "py.typed"})


class ArtifactProblem(Exception):
    """The artifacts folder cannot be published; the message names the change to make."""


@dataclass(frozen=True)
class ArtifactFile:
    path: str  # POSIX path inside the version
    size: int
    sha256: str
    source: Path  # absolute path on disk, after resolving links


@dataclass(frozen=True)
class ArtifactSet:
    root: Path
    files: tuple[ArtifactFile, ...]
    digest: str

    @property
    def size(self) -> int:
        return sum(item.size for item in self.files)


def digest_of(entries: list[tuple[str, str]]) -> str:
    """Return the artifacts digest of ``(path, file sha256)`` pairs."""
    hasher = hashlib.sha256()
    for path, file_sha in sorted(entries):
        hasher.update(f"{file_sha}  {path}\n".encode())
    return f"sha256:{hasher.hexdigest()}"


def scan_artifacts(project_root: Path, relative: str, cache: DigestCache | None = None) -> ArtifactSet:
    """Check the artifacts folder ``relative`` and hash every file in it, through ``cache`` when one is given."""
    root_real = project_root.resolve()
    if Path(relative).is_absolute():
        raise ArtifactProblem(f"{relative} is an absolute path; give a folder relative to the repository root")
    if "\0" in relative:
        raise ArtifactProblem(f"{relative!r} contains a NUL character; give a folder relative to the repository root")
    folder = project_root / relative
    real = _resolve_inside(folder, root_real, relative)
    if real == root_real:
        raise ArtifactProblem(f"{relative!r} is the repository root; point artifacts.path at the folder of the "
                              "version's files, e.g. artifacts/NAME")
    try:
        mode = real.stat().st_mode
    except FileNotFoundError:
        raise ArtifactProblem(f"the folder {relative} does not exist; create it or correct the path") from None
    except OSError as error:
        raise ArtifactProblem(f"the folder {relative} cannot be read ({error.strerror}); correct the path") from error
    if not stat.S_ISDIR(mode):
        raise ArtifactProblem(f"{relative} is not a folder; point artifacts.path at the folder of the version's files")

    found: list[tuple[str, Path]] = []
    _walk(real, "", root_real, relative, found, visiting={real})
    if not found:
        raise ArtifactProblem(f"the folder {relative} has no files; add the model's files to it")

    files = tuple(
        ArtifactFile(path=path, size=source.stat().st_size, sha256=_sha256(source, cache), source=source)
        for path, source in sorted(found)
    )
    return ArtifactSet(root=real, files=files, digest=digest_of([(item.path, item.sha256) for item in files]))


def _resolve_inside(path: Path, root_real: Path, shown: str) -> Path:
    try:
        real = path.resolve(strict=False)
    except RuntimeError as error:  # pathlib raises this on a symlink loop
        raise ArtifactProblem(f"{shown} is part of a symbolic link loop; remove the loop") from error
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise ArtifactProblem(f"{shown} is part of a symbolic link loop; remove the loop") from error
        raise ArtifactProblem(f"{shown} cannot be resolved ({error.strerror}); correct the path") from error
    if real != root_real and root_real not in real.parents:
        raise ArtifactProblem(
            f"{shown} resolves to {real}, outside the repository {root_real}; "
            "artifacts must live inside the repository"
        )
    return real


def _walk(folder: Path, prefix: str, root_real: Path, shown_root: str, found: list[tuple[str, Path]],
          visiting: set[Path]) -> None:
    if len(visiting) > MAX_FOLDER_DEPTH:
        raise ArtifactProblem(f"{shown_root}/{prefix} is nested more than {MAX_FOLDER_DEPTH} folders deep; "
                              "flatten the folder structure")
    try:
        entries = sorted(os.scandir(folder), key=lambda item: item.name)
    except OSError as error:
        raise ArtifactProblem(f"{shown_root}/{prefix} cannot be listed ({error.strerror}); fix its permissions "
                              "or remove it") from error
    for entry in entries:
        inner = f"{prefix}{entry.name}"
        shown = f"{shown_root}/{inner}"
        if entry.name == ".git":
            raise ArtifactProblem(f"{shown} is a git folder; artifacts must not contain a repository")
        path = Path(entry.path)
        real = _resolve_inside(path, root_real, shown) if entry.is_symlink() else path
        try:
            mode = real.stat().st_mode
        except OSError as error:
            raise ArtifactProblem(f"{shown} cannot be read ({error.strerror}); fix or remove it") from error

        if stat.S_ISDIR(mode):
            if real in visiting:
                raise ArtifactProblem(f"{shown} links back to a folder it is in; remove the link loop")
            _walk(real, f"{inner}/", root_real, shown_root, found, visiting | {real})
        elif stat.S_ISREG(mode):
            if real.stat().st_size == 0 and entry.name not in EMPTY_FILES_ALLOWED:
                raise ArtifactProblem(f"{shown} is empty; a 0-byte artifact is almost always a failed export. "
                                      "Regenerate it or remove it")
            found.append((inner, real))
            if len(found) > MAX_FILES:
                raise ArtifactProblem(f"{shown_root} has more than {MAX_FILES} files; pack them into fewer files")
        else:
            raise ArtifactProblem(f"{shown} is not a regular file (a FIFO, socket or device); remove it")


def _sha256(path: Path, cache: DigestCache | None) -> str:
    try:
        return cache.sha256(path, hash_file) if cache is not None else hash_file(path)
    except OSError as error:
        raise ArtifactProblem(f"{path} cannot be read ({error.strerror}); fix its permissions or remove it") from error
