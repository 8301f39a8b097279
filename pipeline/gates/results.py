"""Gate results: one pass, fail, missing or inconclusive verdict per gate, with its reason and numbers."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Status(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    MISSING = "missing"  # no evidence yet; the message names the command that produces it
    INCONCLUSIVE = "inconclusive"  # measured, but the numbers cannot decide


@dataclass(frozen=True)
class GateResult:
    gate: str
    status: Status
    message: str
    field: str = ""

    def __str__(self) -> str:
        return f"{self.gate} {self.status}: {self.message}"

    @property
    def blocks(self) -> bool:
        """Return True when this result keeps a version from moving up."""
        return self.status is not Status.PASS
