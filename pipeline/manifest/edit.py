"""Write a new version into a manifest, changing nothing else in the file.

ruamel.yaml's round-trip loader finds where the ``version`` value sits; only
that scalar's characters are replaced, in its original quoting. Comments, key
order, anchors, flow style, blank lines, a byte-order mark and CRLF line
endings stay byte for byte, which a dump of the loaded document would not
guarantee.
"""

from __future__ import annotations

import io
import os
import re
import tempfile
from pathlib import Path

from pipeline.errors import MrpError

_BOM = "\ufeff"


def set_version(path: Path, expected: str, new: str) -> None:
    """Replace the version ``expected`` with ``new`` in the manifest at ``path``."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    raw = path.read_bytes().decode("utf-8")
    bom = _BOM if raw.startswith(_BOM) else ""
    text = raw[len(bom):]
    loader = YAML(typ="rt")
    try:
        data = loader.load(text)
        line, column = data.lc.value("version")
    except (YAMLError, AttributeError, KeyError) as error:
        raise MrpError(f"{path}: cannot find the version to edit ({error}); fix the manifest first") from error

    lines = text.splitlines(keepends=True)
    current = lines[line]
    quote = current[column] if current[column] in "'\"" else ""
    if quote:
        end = current.index(quote, column + 1) + 1
        written = current[column + 1:end - 1]
    else:
        match = re.match(r"[^\s#]+", current[column:])
        end = column + (match.end() if match else 0)
        written = current[column:end]
    if written != expected:
        raise MrpError(f"{path}:{line + 1}: the version is written as {written!r}, not as the plain value "
                       f"{expected!r} mrp can edit; set version: {new} by hand")

    lines[line] = f"{current[:column]}{quote}{new}{quote}{current[end:]}"
    updated = "".join(lines)
    if YAML(typ="rt").load(io.StringIO(updated))["version"] != new:
        raise MrpError(f"{path}: editing the version did not give {new}; set it by hand")
    _write_atomic(path, (bom + updated).encode("utf-8"))


def _write_atomic(path: Path, content: bytes) -> None:
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", delete=False) as handle:
        handle.write(content)
    os.replace(handle.name, path)
