"""A cache of file sha256 digests, so that a re-plan does not hash unchanged artifacts again.

Hashing is the one step of a plan whose cost grows with the size of the
artifacts: about 1 s per GiB on one core of the benchmark machine (see
BENCHMARKS.md). An entry maps a file's absolute path
to its digest and to the file's size, mtime_ns, ctime_ns, inode and device,
read by ``os.stat`` before hashing. A lookup returns the digest only when all
five fields are unchanged; any difference means the file is hashed again.

- ``ctime_ns`` is part of the key because tools such as ``cp -p``, ``rsync -t``
  and ``touch -r`` can restore a file's old mtime after changing its content,
  but nothing short of changing the system clock sets ctime back.
- A file changed twice within one timestamp tick keeps its mtime. So no
  digest is stored for a file whose mtime or ctime lies within
  ``RACY_WINDOW_NS`` of the moment hashing started, or whose key changed
  while it was hashed. The next run hashes that file again. Git handles its
  "racily clean" index entries the same way.
- A fresh checkout gives every file a new inode and ctime, so a cache copied
  to another machine or restored by CI never matches, and only costs a hash.

The cache is one JSON file, ``.mrp/cache/digests.json`` under the project
root (``.mrp/`` is ignored by git). It is read once by ``load`` and written
by ``save`` through a temporary file and ``os.replace``, so a reader never
sees half a file and concurrent writers lose entries, never integrity. An
unreadable or malformed file, or a malformed entry, is ignored. At most
``max_entries`` entries are kept: ``save`` drops the least recently used.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import astuple, dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

CACHE_PATH = Path(".mrp") / "cache" / "digests.json"
FORMAT_VERSION = 1
# Ten models at the artifacts limit of 10,000 files each; one entry is about 150 bytes of JSON.
DEFAULT_MAX_ENTRIES = 100_000
# FAT stores mtime in 2 s steps; ext4, XFS and btrfs in the kernel's clock tick (a few ms).
RACY_WINDOW_NS = 2_000_000_000
SHA256_HEX = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class FileKey:
    """The ``os.stat`` fields that must all be unchanged for a cached digest to be used."""

    size: int
    mtime_ns: int
    ctime_ns: int
    inode: int
    device: int

    @classmethod
    def of(cls, status: os.stat_result) -> FileKey:
        return cls(status.st_size, status.st_mtime_ns, status.st_ctime_ns, status.st_ino, status.st_dev)


def hash_file(path: Path) -> str:
    """Return the sha256 hex digest of a file's content."""
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


class DigestCache:
    """File digests by absolute path, each valid only while its ``FileKey`` is unchanged.

    Safe to share between threads. ``sha256`` never writes to disk; call
    ``save`` once the command has hashed what it needs.
    """

    def __init__(self, path: Path, max_entries: int = DEFAULT_MAX_ENTRIES,
                 clock_ns: Callable[[], int] = time.time_ns) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries must be at least 1, got {max_entries}")
        self.path = path
        self.max_entries = max_entries
        self._clock_ns = clock_ns
        self._entries: OrderedDict[str, tuple[FileKey, str]] = OrderedDict()
        self._changed = False
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @classmethod
    def for_project(cls, root: Path) -> DigestCache:
        """Load the cache of the project at ``root``."""
        cache = cls(root / CACHE_PATH)
        cache.load()
        return cache

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def sha256(self, path: Path, compute: Callable[[Path], str] = hash_file) -> str:
        """Return the file's sha256 from the cache when its key is unchanged, else ``compute(path)``.

        Errors of ``os.stat`` and of ``compute`` propagate unchanged.
        """
        absolute = os.path.abspath(path)
        key = FileKey.of(os.stat(absolute))
        with self._lock:
            cached = self._entries.get(absolute)
            if cached is not None and cached[0] == key:
                self._entries.move_to_end(absolute)
                self.hits += 1
                return cached[1]
            self.misses += 1

        started_ns = self._clock_ns()
        digest = compute(path)
        if FileKey.of(os.stat(absolute)) != key:
            logger.debug("%s changed while it was hashed; its digest is not cached", absolute)
            return digest
        if started_ns - max(key.mtime_ns, key.ctime_ns) < RACY_WINDOW_NS:
            logger.debug("%s was modified less than %d ms before it was hashed; its digest is not cached",
                         absolute, RACY_WINDOW_NS // 1_000_000)
            return digest
        with self._lock:
            self._entries[absolute] = (key, digest)
            self._entries.move_to_end(absolute)
            self._changed = True
        return digest

    def load(self) -> None:
        """Read the cache file; a missing, unreadable or malformed file leaves the cache empty."""
        try:
            data = json.loads(self.path.read_bytes())
        except FileNotFoundError:
            return
        except (OSError, ValueError) as error:
            logger.warning("ignoring the digest cache %s, which cannot be read (%s); files will be hashed",
                           self.path, error)
            return
        if not isinstance(data, dict) or data.get("version") != FORMAT_VERSION \
                or not isinstance(data.get("entries"), dict):
            logger.info("ignoring the digest cache %s, written in another format", self.path)
            return
        entries = OrderedDict()
        for absolute, fields in data["entries"].items():
            entry = _parse_entry(fields)
            if entry is not None:
                entries[absolute] = entry
        with self._lock:
            self._entries = entries
            self._changed = False

    def save(self) -> None:
        """Write the cache when ``sha256`` added entries, dropping the least recently used beyond the bound.

        A failure to write is logged and ignored: the cache only saves time.
        """
        with self._lock:
            if not self._changed:
                return
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
            payload = {"version": FORMAT_VERSION,
                       "entries": {absolute: [*astuple(key), digest] for absolute, (key, digest) in self._entries.items()}}
            self._changed = False
        try:
            _write_atomically(self.path, json.dumps(payload, separators=(",", ":")).encode())
        except OSError as error:
            logger.warning("cannot write the digest cache %s (%s); the next run hashes these files again",
                           self.path, error)


def _parse_entry(fields: object) -> tuple[FileKey, str] | None:
    """Return the key and digest of a stored entry, or None unless it is five integers and a sha256."""
    if not isinstance(fields, list) or len(fields) != 6:
        return None
    *numbers, digest = fields
    if not all(type(number) is int for number in numbers):
        return None
    if not isinstance(digest, str) or SHA256_HEX.fullmatch(digest) is None:
        return None
    return FileKey(*numbers), digest


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass
        raise
