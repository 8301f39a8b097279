"""The commands' work as plain functions: validate, plan and apply.

The CLI parses options, calls one of these and renders what it returns; tests
call them directly. Manifests are always validated in full before any target
is contacted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any
from pathlib import Path

from pipeline.apply import ApplyReport, execute
from pipeline.config import Project
from pipeline.bump import Decision
from pipeline.errors import ManifestError, MrpError, PlanError
from pipeline.gates.results import GateResult
from pipeline.ledger import Ledger
from pipeline.manifest.load import LoadedManifest, load_manifests
from pipeline.plan.compute import compute_plan
from pipeline.plan.model import Action, DesiredState, LiveState, Plan
from pipeline.plan.planfile import check_fresh, load_plan
from pipeline.release import Release, build_release
from pipeline.targets import create_target
from pipeline.targets.base import ActionResult, Target
from pipeline.version_rules import check_policies, check_versions

if TYPE_CHECKING:
    from pipeline.changes import ChangedModels
    from pipeline.gates.bench import BenchReport

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Workspace:
    """Everything a plan or an apply works on: releases by name and active targets by name."""

    project: Project
    releases: dict[str, Release]
    targets: dict[str, Target]
    decisions: dict[str, Decision] = field(default_factory=dict)


def validate(project: Project, names: Sequence[str] = ()) -> list[LoadedManifest]:
    """Load every manifest and check its version against its last release; no network."""
    loaded, _ = _load_checked(project, names)
    return loaded


def _load_checked(project: Project, names: Sequence[str]) -> tuple[list[LoadedManifest], dict[str, Decision]]:
    loaded = load_manifests(project, names)
    decisions, problems = check_versions(project, loaded)
    problems += check_policies(project, loaded)
    if problems:
        raise ManifestError(problems)
    return loaded, decisions


def open_workspace(project: Project, names: Sequence[str] = ()) -> Workspace:
    loaded, decisions = _load_checked(project, names)
    targets = {name: create_target(name, project) for name in project.targets}
    releases = {item.name: build_release(item, _evidence_for(project, item)) for item in loaded}
    return Workspace(project, releases, targets, decisions)


def _evidence_for(project: Project, loaded: LoadedManifest) -> dict | None:
    """Return the newest benchmark evidence for this version's exact artifacts, if any."""
    from pipeline.gates import evidence as evidence_files

    matching = [item for item in evidence_files.read_all(project.ledger_dir, loaded.name)
                if str(item["version"]) == loaded.manifest.release_version
                and item.get("artifacts_digest") == loaded.artifacts.digest]
    return max(matching, key=lambda item: str(item.get("measured_at")), default=None)


def desired_states(workspace: Workspace) -> list[DesiredState]:
    return [
        target.desired_state(release)
        for target in workspace.targets.values()
        for release in workspace.releases.values()
        if target.describes(release.manifest)
    ]


def read_live(workspace: Workspace) -> dict[tuple[str, str], LiveState]:
    """Read every active target concurrently; each target reads its models in one call."""
    def read(target: Target) -> list[LiveState]:
        releases = [release for release in workspace.releases.values() if target.describes(release.manifest)]
        return target.read(releases)

    with ThreadPoolExecutor(max_workers=max(1, len(workspace.targets))) as pool:
        results = list(pool.map(read, workspace.targets.values()))
    return {(state.target, state.model): state for states in results for state in states}


def plan_changed(workspace: Workspace, ref: str, include_drift: bool = False) -> tuple[Plan, ChangedModels]:
    """Plan the models changed since ``ref``, and with ``include_drift`` also those whose live state drifted."""
    from pipeline.changes import changed_models

    changed = changed_models(workspace.project, ref, [release.loaded for release in workspace.releases.values()])
    if include_drift:
        full = plan(workspace)
        keep = set(changed.names) | {action.model for action in full.actions} | {
            state.model for state in full.unread}
        return _only_models(full, keep), changed
    subset = replace(workspace, releases={name: release for name, release in workspace.releases.items()
                                          if name in changed.names})
    return plan(subset), changed


def _only_models(full: Plan, names: set[str]) -> Plan:
    return replace(
        full,
        actions=tuple(action for action in full.actions if action.model in names),
        violations=tuple(violation for violation in full.violations if violation.model in names),
        models=tuple(summary for summary in full.models if summary.name in names),
    )


def plan(workspace: Workspace) -> Plan:
    return _compute(workspace, read_live(workspace))


def _compute(workspace: Workspace, live: dict[tuple[str, str], LiveState]) -> Plan:
    gates = gate_results(workspace)
    computed = compute_plan(desired_states(workspace), live, gates)
    return with_costs(with_bumps(computed, workspace, gates), workspace)


def with_costs(current: Plan, workspace: Workspace) -> Plan:
    """Attach each setting's change of always-on cost, for targets that bill instances around the clock."""
    from pipeline.gates.hardware import price_table

    prices = price_table(workspace.project.hardware_prices)
    actions = []
    for action in current.actions:
        daily_cost_change = getattr(workspace.targets.get(action.target), "daily_cost_change", None)
        if daily_cost_change is not None:
            action = replace(action, cost_per_day=daily_cost_change(action, prices))
        actions.append(action)
    return replace(current, actions=tuple(actions))


def check_cost_approved(current: Plan, workspace: Workspace, approve_cost: bool) -> None:
    """Raise unless every model's added always-on cost is approved by --approve-cost or its manifest."""
    if approve_cost:
        return
    for name, release in workspace.releases.items():
        added = current.cost_per_day(name)
        allowed = release.manifest.approved_cost_increase
        if added > allowed:
            changes = "; ".join(f"{action.target} {action.describe()} ({action.cost_note()})"
                                for action in current.actions_for(name) if action.cost_per_day > 0)
            raise MrpError(f"{name}: this apply adds ${added:,.2f}/day of always-on hardware ({changes}), above the "
                           f"approved ${allowed:,.2f}/day. Rerun with --approve-cost, or set "
                           f"approved_cost_increase: {added:g} in {release.source}")


def gate_results(workspace: Workspace) -> dict[str, list[GateResult]]:
    """Judge each model's promotion gates: recorded benchmark evidence and the policy gates."""
    from pipeline.gates.bench import measured_p95, promotion_gates
    from pipeline.gates.hardware import price_table
    from pipeline.gates.policy import policy_gates

    prices = price_table(workspace.project.hardware_prices)
    results = {}
    for name, release in workspace.releases.items():
        loaded = release.loaded
        results[name] = [*promotion_gates(workspace.project, loaded),
                         *policy_gates(loaded, measured_p95(workspace.project, loaded), prices)]
    return results


def with_bumps(current: Plan, workspace: Workspace, gates: dict[str, list[GateResult]] | None = None) -> Plan:
    """Attach each model's version decision and gate results to the plan's model summaries."""
    summaries = []
    for summary in current.models:
        if summary.name in workspace.decisions:
            summary = replace(summary, bump=workspace.decisions[summary.name].summary())
        if gates and summary.name in gates:
            summary = replace(summary, gates=tuple(
                {"gate": result.gate, "status": str(result.status), "message": result.message}
                for result in gates[summary.name]))
        summaries.append(summary)
    return replace(current, models=tuple(summaries))


@dataclass(frozen=True)
class BumpResult:
    decision: Decision
    new_version: str | None
    written: bool


def bump(project: Project, names: Sequence[str] = (), dry_run: bool = False) -> list[BumpResult]:
    """Write the version each model needs into its manifest; models that need none are left alone."""
    from pipeline.manifest.edit import set_version

    loaded = load_manifests(project, names)
    decisions, _ = check_versions(project, loaded)
    ledger = Ledger(project.ledger_dir, None)
    results = []
    for item in loaded:
        decision = decisions[item.name]
        needed = _needed_version(decision, item, ledger, project)
        if needed is not None and not dry_run:
            set_version(item.file, item.manifest.version, needed)
            logger.info("%s: wrote version %s", item.display, needed)
        results.append(BumpResult(decision, needed, needed is not None and not dry_run))
    return results


def _needed_version(decision: Decision, item: LoadedManifest, ledger: Ledger, project: Project) -> str | None:
    from pipeline.baseline import find_baseline
    from pipeline.bump import version_problems
    from pipeline.release import snapshot_of

    required = decision.required_version
    if required is None:
        return None
    released = find_baseline(project, item, ledger).released
    if version_problems(decision, released, snapshot_of(item).files):
        return required
    return None


def bench(project: Project, model: str, channel: str | None = None) -> BenchReport:
    """Benchmark one model's working-tree artifacts and record the evidence."""
    from pipeline.gates.bench import run_bench

    loaded, _ = _load_checked(project, [model])
    return run_bench(project, loaded[0], channel)


def source_commit(root: Path) -> str | None:
    """Return the commit of the manifests repository, marked ``-dirty`` with uncommitted changes."""
    import git

    try:
        repo = git.Repo(root)
        commit = repo.head.commit.hexsha
    except (git.InvalidGitRepositoryError, git.NoSuchPathError, ValueError):
        return None
    return f"{commit}-dirty" if repo.is_dirty(untracked_files=False) else commit


def apply(
    workspace: Workspace,
    plan_file: Path | None = None,
    confirm: Callable[[Plan], bool] = lambda plan: True,
    on_action: Callable[[Action, ActionResult], None] | None = None,
    lock_timeout_s: float = 30.0,
    approve_cost: bool = False,
) -> tuple[Plan, ApplyReport | None]:
    """Plan (or load a saved plan), confirm, and apply under every target's lock.

    Returns the plan and the report, or no report when there was nothing to do
    or the user declined.
    """
    ledger = Ledger(workspace.project.ledger_dir, source_commit(workspace.project.root))
    with ExitStack() as stack:
        for target in workspace.targets.values():
            stack.enter_context(target.lock(lock_timeout_s))

        live = read_live(workspace)
        ledger.reconcile(live.values(), lambda model, version: _ledger_fields(workspace, model, version))
        if plan_file is None:
            current = _compute(workspace, live)
        else:
            current = load_plan(plan_file)
            _check_saved_plan(current, workspace, live, str(plan_file))

        if current.violations:
            raise PlanError([str(violation) for violation in current.violations])
        if current.unread:
            unread = "; ".join(f"{state.target} {state.model}: {state.reason}" for state in current.unread)
            raise MrpError(f"cannot apply while live state is not read: {unread}. Fix the credentials or leave "
                           "that target out with --target")
        check_cost_approved(current, workspace, approve_cost)
        if not current.has_changes or not confirm(current):
            return current, None
        return current, execute(current, workspace.releases, workspace.targets, ledger, on_action)


def _ledger_fields(workspace: Workspace, model: str, version: str) -> dict[str, Any] | None:
    """Return the ledger fields of ``model`` when this run releases exactly ``version`` of it."""
    release = workspace.releases.get(model)
    if release is None or release.manifest.release_version != version:
        return None
    return release.ledger_fields()


def _check_saved_plan(saved: Plan, workspace: Workspace, live: dict[tuple[str, str], LiveState],
                      plan_file: str) -> None:
    missing = sorted({action.model for action in saved.actions} - set(workspace.releases))
    if missing:
        raise MrpError(f"{plan_file}: the plan changes {', '.join(missing)}, which this run did not load; "
                       "apply it without naming models, or save a new plan")
    unknown_targets = sorted({action.target for action in saved.actions} - set(workspace.targets))
    if unknown_targets:
        raise MrpError(f"{plan_file}: the plan acts on targets {', '.join(unknown_targets)}, which are not active; "
                       "activate them with --target or save a new plan")
    current = [live.get((state.target, state.model), LiveState(state.target, state.model))
               for state in saved.live]
    check_fresh(saved, plan_file, current)
