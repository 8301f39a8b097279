"""Carry out a plan: one action at a time, in the plan's order, recording each in the ledger.

Actions are ordered repositories, versions, settings, channel moves, so a
failure part-way leaves no channel pointing at an incomplete version. Every
target action is idempotent, so running apply again after any failure
finishes the job without duplicating versions, tags or commits.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from pipeline.errors import MrpError, PlanError
from pipeline.ledger import Ledger
from pipeline.plan.model import Action, Plan
from pipeline.release import Release
from pipeline.targets.base import ActionResult, Target

logger = logging.getLogger(__name__)


class ApplyError(MrpError):
    """An action failed; ``applied`` counts the actions done before it."""

    def __init__(self, action: Action, applied: int, total: int, cause: Exception) -> None:
        self.action = action
        self.applied = applied
        self.total = total
        super().__init__(
            f"{action.target}: {action.model}: {action.describe()} failed: {cause}\n"
            f"{applied} of {total} actions were applied before the failure. No channel moved past an "
            "incomplete version. Fix the cause and run mrp apply again: completed steps are skipped."
        )


@dataclass
class ApplyReport:
    applied: list[tuple[Action, ActionResult]] = field(default_factory=list)


def execute(
    plan: Plan,
    releases: Mapping[str, Release],
    targets: Mapping[str, Target],
    ledger: Ledger,
    on_action: Callable[[Action, ActionResult], None] | None = None,
) -> ApplyReport:
    """Apply every action of ``plan``; stop at the first failure."""
    if plan.violations:
        raise PlanError([str(violation) for violation in plan.violations])

    report = ApplyReport()
    total = len(plan.actions)
    for index, action in enumerate(plan.actions, start=1):
        logger.info("[%d/%d] %s %s: %s", index, total, action.target, action.model, action.describe())
        try:
            release = releases[action.model]
            result = targets[action.target].apply(action, release)
            ledger.record_action(action, result.platform_id, release.ledger_fields())
        except MrpError as error:
            raise ApplyError(action, len(report.applied), total, error) from error
        report.applied.append((action, result))
        if on_action is not None:
            on_action(action, result)
    return report
