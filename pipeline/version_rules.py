"""Enforce version bumps: every manifest's version against its last release.

Runs with no network: the ledger and git history are the only inputs. A
problem names the version needed and why, at the line of ``version:``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import semver

from pipeline.baseline import GitHistory, find_baseline
from pipeline.bump import Decision, decide, version_problems
from pipeline.config import Project
from pipeline.errors import Problem
from pipeline.ledger import Ledger
from pipeline.manifest.load import LoadedManifest
from pipeline.release import snapshot_of


def check_versions(project: Project, loaded: Sequence[LoadedManifest]) -> tuple[dict[str, Decision], list[Problem]]:
    """Return each model's bump decision and every version rule it breaks."""
    ledger = Ledger(project.ledger_dir, None)
    decisions: dict[str, Decision] = {}
    problems: list[Problem] = []
    history = GitHistory(project.root)
    for item in loaded:
        baseline = find_baseline(project, item, ledger, history)
        current = snapshot_of(item)
        decision = decide(item.name, current, baseline.snapshot)
        released_files = baseline.released.get(current.version)
        if released_files is not None and dict(released_files) == dict(current.files):
            decision = replace(decision, already_released=True)
        decisions[item.name] = decision

        messages = version_problems(decision, baseline.released, current.files)
        if not messages and _is_new_major(decision) and not item.manifest.migration:
            messages.append(f"{decision.version} is a major release after {decision.baseline}: add a migration "
                            "note (migration: ...) that tells callers what changed and how to move")
        line, column = item.where("version")
        problems.extend(Problem(item.display, line, column, "version", message) for message in messages)
    return decisions, problems


def check_policies(project: Project, loaded: Sequence[LoadedManifest]) -> list[Problem]:
    """Run the policy gates; a failing one is a problem at the manifest field it is about."""
    from pipeline.gates.bench import measured_p95
    from pipeline.gates.hardware import price_table
    from pipeline.gates.policy import policy_gates
    from pipeline.gates.results import Status

    prices = price_table(project.hardware_prices)
    problems = []
    for item in loaded:
        for result in policy_gates(item, measured_p95(project, item), prices):
            if result.status is Status.FAIL:
                path = tuple(part for part in result.field.replace("]", "").replace("[", ".").split(".") if part)
                line, column = item.positions.of_value(tuple(int(part) if part.isdigit() else part for part in path))
                problems.append(Problem(item.display, line, column, result.field,
                                        f"policy gate {result.gate} failed: {result.message}"))
    return problems


def _is_new_major(decision: Decision) -> bool:
    if decision.baseline is None:
        return False
    return semver.Version.parse(decision.version).major > semver.Version.parse(decision.baseline).major
