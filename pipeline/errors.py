"""Errors of mrp.

Every failure the user can fix is an ``MrpError``; the command line prints its
message and exits with code 1. Anything else is a bug (exit code 3).

    MrpError                 base; ``str(error)`` is the whole message
    ├── ConfigError          mrp.toml, options or environment variables invalid
    ├── ManifestError        problems in manifests or artifacts, all of them at once
    ├── PlanError            the plan breaks a release rule (channel order, immutable versions)
    ├── StalePlanError       a saved plan no longer matches the live state
    ├── LockError            another apply holds the registry lock
    ├── TargetError          a target failed to read or write; names target and model
    └── LedgerError          a ledger record in releases/ cannot be read or written

Errors carry the values they are about as attributes, so callers and tests
never parse messages.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One problem in one file, at a line and column (both 1-based; 0 when unknown)."""

    file: str
    line: int
    column: int
    field: str
    message: str

    def __str__(self) -> str:
        where = self.file
        if self.line:
            where = f"{where}:{self.line}:{self.column}"
        subject = f" {self.field}:" if self.field else ""
        return f"{where}:{subject} {self.message}"


class MrpError(Exception):
    """An expected failure with a message that gives the next step."""

    def report_lines(self) -> list[str]:
        """Return the lines the command line prints, each problem marked as an error."""
        return [f"error: {self}"]


class ConfigError(MrpError):
    pass


class ManifestError(MrpError):
    """One or more problems found while loading and validating manifests."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        count = len(self.problems)
        self.summary = f"{count} problem{'s' if count != 1 else ''} found; nothing was planned or applied."
        super().__init__("\n".join([*(str(problem) for problem in self.problems), self.summary]))

    def report_lines(self) -> list[str]:
        return [*(f"error: {problem}" for problem in self.problems), self.summary]


class PlanError(MrpError):
    """The desired state breaks a release rule; ``violations`` lists each one."""

    def __init__(self, violations: Sequence[str]) -> None:
        self.violations = tuple(violations)
        super().__init__("\n".join(self.violations))

    def report_lines(self) -> list[str]:
        return [f"error: {violation}" for violation in self.violations]


class StalePlanError(MrpError):
    """The live state changed after the plan was saved; ``changes`` lists what moved."""

    def __init__(self, plan_file: str, changes: Sequence[str]) -> None:
        self.plan_file = plan_file
        self.changes = tuple(changes)
        lines = [f"the saved plan {plan_file} is stale: the live state changed since it was computed:"]
        lines += [f"  {change}" for change in self.changes]
        lines.append("Run `mrp plan --out FILE` again, review it, then apply the new plan.")
        super().__init__("\n".join(lines))


class LockError(MrpError):
    def __init__(self, lock_file: str, waited_s: float) -> None:
        self.lock_file = lock_file
        self.waited_s = waited_s
        super().__init__(
            f"another mrp apply holds the lock {lock_file} (waited {waited_s:g} s). "
            "Wait for it to finish, then run mrp apply again; use --lock-timeout to wait longer."
        )


class TargetError(MrpError):
    def __init__(self, target: str, model: str, message: str) -> None:
        self.target = target
        self.model = model
        super().__init__(f"{target}: {model}: {message}")


class LedgerError(MrpError):
    pass
