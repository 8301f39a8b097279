"""Semantic versions of models: precedence, tags and the next version a change needs.

Precedence follows SemVer 2.0.0 section 11 through the ``semver`` package
(``1.0.0-rc.9 < 1.0.0-rc.10 < 1.0.0``); build metadata is ignored.
"""

from __future__ import annotations

from enum import StrEnum

import semver

from pipeline.manifest.schema import CHANNELS


class Bump(StrEnum):
    MAJOR = "major"
    MINOR = "minor"
    PATCH = "patch"
    NONE = "none"


def tag_name(version: str) -> str:
    """Return the tag of a version: always ``v`` and the version without build metadata."""
    return f"v{semver.Version.parse(version).replace(build=None)}"


def version_of_tag(tag: str) -> str | None:
    """Return the version a ``vX.Y.Z`` tag names, or None for any other tag."""
    if tag.startswith("v") and semver.Version.is_valid(tag[1:]):
        return tag[1:]
    return None


def is_version(text: str | None) -> bool:
    return text is not None and semver.Version.is_valid(text)


def compare(left: str, right: str) -> int:
    """Compare two versions by SemVer precedence: -1, 0 or 1."""
    return semver.Version.parse(left).compare(right)


def next_version(version: str, bump: Bump) -> str:
    parsed = semver.Version.parse(version)
    if bump is Bump.MAJOR:
        return str(parsed.bump_major())
    if bump is Bump.MINOR:
        return str(parsed.bump_minor())
    if bump is Bump.PATCH:
        return str(parsed.bump_patch())
    return version


def channels_up_to(channel: str) -> tuple[str, ...]:
    """Return the channels a version on ``channel`` occupies: that one and every lower one."""
    return CHANNELS[: CHANNELS.index(channel) + 1]


def channel_below(channel: str) -> str | None:
    index = CHANNELS.index(channel)
    return CHANNELS[index - 1] if index else None
