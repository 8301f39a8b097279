"""Git object ids, LFS pointers and ``.gitattributes`` matching.

The Hub is a git server, so file, folder and commit ids are real git object
ids. They equal what ``huggingface_hub.utils.git_hash`` or a local clone
computes for the same content.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from functools import lru_cache

# Patterns of the ``.gitattributes`` that the Hub writes into every new model
# repo; the exact bytes on the Hub may differ.
DEFAULT_LFS_PATTERNS = (
    "*.7z", "*.arrow", "*.bin", "*.bz2", "*.ckpt", "*.ftz", "*.gz", "*.h5", "*.joblib",
    "*.lfs.*", "*.mlmodel", "*.model", "*.msgpack", "*.npy", "*.npz", "*.onnx", "*.ot",
    "*.parquet", "*.pb", "*.pickle", "*.pkl", "*.pt", "*.pth", "*.rar", "*.safetensors",
    "saved_model/**/*", "*.tar.*", "*.tar", "*.tflite", "*.tgz", "*.wasm", "*.xz", "*.zip",
    "*.zst", "*tfevents*",
)
DEFAULT_GITATTRIBUTES = "".join(
    f"{pattern} filter=lfs diff=lfs merge=lfs -text\n" for pattern in DEFAULT_LFS_PATTERNS
).encode()

LFS_POINTER_TEMPLATE = "version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize {size}\n"


def git_blob_id(data: bytes) -> str:
    """Hash ``data`` as a git blob, like ``git hash-object``."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def lfs_pointer(sha256: str, size: int) -> bytes:
    """Build the git-lfs pointer file that git stores in place of an LFS object."""
    return LFS_POINTER_TEMPLATE.format(oid=sha256, size=size).encode()


def tree_ids(files: Mapping[str, str]) -> dict[str, str]:
    """Compute git tree ids for every folder of a flat ``path -> blob id`` map.

    Returns ``folder path -> tree id``, with ``""`` for the root folder.
    """
    children: dict[str, dict[str, tuple[str, str | None]]] = {"": {}}
    for path, blob_id in files.items():
        parts = path.split("/")
        for depth in range(len(parts) - 1):
            parent = "/".join(parts[:depth])
            folder = "/".join(parts[: depth + 1])
            children.setdefault(parent, {})[parts[depth]] = ("40000", None)
            children.setdefault(folder, {})
        children["/".join(parts[:-1])][parts[-1]] = ("100644", blob_id)

    ids: dict[str, str] = {}
    # Deepest folders first, so each parent finds its children's ids.
    for folder in sorted(children, key=lambda name: name.count("/") + (name != ""), reverse=True):
        entries = []
        for name, (mode, blob_id) in children[folder].items():
            child_id = blob_id
            if child_id is None:
                child_id = ids[f"{folder}/{name}"] if folder else ids[name]
            # Git sorts folder entries as if their name ended with "/".
            sort_key = name + "/" if mode == "40000" else name
            entries.append((sort_key.encode(), f"{mode} {name}".encode() + b"\0" + bytes.fromhex(child_id)))
        body = b"".join(entry for _, entry in sorted(entries))
        ids[folder] = hashlib.sha1(b"tree %d\0" % len(body) + body).hexdigest()
    return ids


def commit_id(tree_id: str, parents: tuple[str, ...], author: str, timestamp: int, message: str) -> str:
    """Hash a git commit object; ``timestamp`` is in whole seconds since the epoch (UTC)."""
    identity = f"{author} <{author}@users.noreply.huggingface.co> {timestamp} +0000"
    lines = [f"tree {tree_id}"]
    lines += [f"parent {parent}" for parent in parents]
    lines += [f"author {identity}", f"committer {identity}", "", message]
    body = "\n".join(lines).encode()
    return hashlib.sha1(b"commit %d\0" % len(body) + body).hexdigest()


@lru_cache(maxsize=256)
def _pattern_regex(pattern: str) -> re.Pattern[str]:
    """Translate one gitattributes pattern to a regex on the full repo path."""
    anchored = "/" in pattern.rstrip("/")
    pattern = pattern.lstrip("/")
    out = []
    index = 0
    while index < len(pattern):
        if pattern.startswith("**/", index):
            out.append("(?:.*/)?")
            index += 3
        elif pattern.startswith("/**", index) and index + 3 == len(pattern):
            out.append("/.*")
            index += 3
        elif pattern[index] == "*":
            out.append("[^/]*")
            index += 1
        elif pattern[index] == "?":
            out.append("[^/]")
            index += 1
        elif pattern[index] == "[":
            end = pattern.find("]", index + 1)
            if end == -1:
                out.append(re.escape("["))
                index += 1
            else:
                out.append("[" + pattern[index + 1 : end].replace("!", "^", 1) + "]")
                index = end + 1
        else:
            out.append(re.escape(pattern[index]))
            index += 1
    prefix = "" if anchored else "(?:.*/)?"
    return re.compile(prefix + "".join(out))


def is_lfs_path(gitattributes: str, path: str) -> bool:
    """Tell whether ``path`` gets ``filter=lfs`` from a ``.gitattributes`` text.

    Later lines override earlier ones, as in git; ``-filter`` and ``!filter``
    unset the attribute.
    """
    lfs = False
    for line in gitattributes.splitlines():
        fields = line.split()
        if not fields or fields[0].startswith("#"):
            continue
        pattern, attributes = fields[0], fields[1:]
        if not _pattern_regex(pattern).fullmatch(path):
            continue
        for attribute in attributes:
            if attribute.startswith("filter="):
                lfs = attribute == "filter=lfs"
            elif attribute in ("-filter", "!filter"):
                lfs = False
    return lfs
