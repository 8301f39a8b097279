"""Render a plan for a terminal, for a pull-request comment (Markdown) and for machines (JSON)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import IO

from pipeline.plan.model import Action, Kind, ModelSummary, Plan, Resource
from pipeline.plan.planfile import plan_to_json

MARKDOWN_MARKER = "<!-- mrp-plan -->"
COMMENT_LIMIT = 60_000  # GitHub rejects comments over 65,536 characters
STEP_SUMMARY_LIMIT = 1_000_000  # GitHub's job summary holds up to 1 MiB per step
MAX_LISTED = 50
FULL_PLAN_POINTER = ("The full plan is in the job summary and in the plan artifact "
                     "(mrp plan --format json).")
_SYMBOLS = {Kind.CREATE: "+", Kind.UPDATE: "~", Kind.DELETE: "-"}


def summary_line(plan: Plan) -> str:
    if plan.violations:
        count = len(plan.violations)
        return f"The plan breaks {count} release rule{'s' if count != 1 else ''}; nothing can be applied."
    if not plan.has_changes and plan.unread:
        return (f"No changes planned, but the live state of {len(plan.unread)} model target(s) was not read, "
                "so whether it matches the manifests is unknown.")
    if not plan.has_changes:
        return "No changes. The live state matches the manifests."
    counts = plan.counts()
    parts = [f"{counts['create']} to create", f"{counts['update']} to update"]
    if counts["delete"]:
        parts.append(f"{counts['delete']} to delete")
    parts.append(f"{counts['channel']} channel move{'s' if counts['channel'] != 1 else ''}")
    cost = plan.cost_per_day()
    if cost:
        parts.append(f"always-on cost {'+' if cost > 0 else '-'}${abs(cost):,.2f}/day")
    if counts["rollback"]:
        parts.append(f"{counts['rollback']} rollback{'s' if counts['rollback'] != 1 else ''}")
    return "Plan: " + ", ".join(parts) + "."


def render_json(plan: Plan) -> str:
    return json.dumps(plan_to_json(plan), indent=2, sort_keys=False) + "\n"


def render_terminal(plan: Plan, stream: IO[str]) -> None:
    """Write the plan with rich; colour only when ``stream`` is a terminal."""
    from rich.console import Console
    from rich.text import Text

    console = Console(file=stream, highlight=False, soft_wrap=True)
    for summary in plan.models:
        console.print(Text.assemble((summary.name, "bold"), f" {summary.version} on {summary.channel}",
                                    (f"  ({summary.source})", "dim")))
        if summary.bump:
            console.print(f"    version: {summary.bump}", style="dim")
        if summary.gates:
            console.print(f"    gates: {_gate_cell(summary.gates)}", style="dim")
        for gate in summary.gates:
            if gate["status"] != "pass":
                console.print(f"      {gate['gate']} {gate['status']}: {gate['message']}", style="yellow")
        actions = plan.actions_for(summary.name)
        unread = [state for state in plan.unread if state.model == summary.name]
        if not actions and not unread:
            console.print("    no changes", style="dim")
        for action in actions:
            console.print(_terminal_line(action))
        for state in unread:
            reason = state.reason if state.reason.startswith("not read") else f"not read: {state.reason}"
            console.print(f"    ? {state.target:<12} {reason}", style="yellow")
    for violation in plan.violations:
        console.print(f"error: {violation}", style="bold red")
    console.print()
    console.print(summary_line(plan), style="bold")


def _terminal_line(action: Action) -> object:
    from rich.text import Text

    symbol = "!" if action.rollback else _SYMBOLS[action.kind]
    style = "red" if action.rollback else {"+": "green", "~": "yellow", "-": "red"}[symbol]
    cost = (f"  [{action.cost_note()}]", "bold red") if action.cost_per_day > 0 else ("", "")
    return Text.assemble(f"    {symbol} ", (f"{action.target:<12}", "cyan"), (action.describe(), style), cost,
                         (f"  # {action.reason}", "dim"))


def render_markdown(plan: Plan, limit: int = COMMENT_LIMIT) -> str:
    """Render the pull-request comment, never longer than ``limit`` characters.

    The marker, the summary and the table stay whole while they fit; the
    folded details are cut first, with a line that gives how many lines were
    left out and where the full plan is.
    """
    head = [MARKDOWN_MARKER, f"**{summary_line(plan)}{_gate_totals(plan)}**", ""]
    head += ["| model | version | channel | changes | version check | gates |",
             "| --- | --- | --- | --- | --- | --- |"]
    rows = [_markdown_row(plan, summary) for summary in plan.models]
    notes = _markdown_notes(plan)
    details = []
    if plan.actions:
        details = [f"{'!' if action.rollback else _SYMBOLS[action.kind]} {action.target} {action.model}: "
                   f"{action.describe()}{' [' + action.cost_note() + ']' if action.cost_per_day else ''}"
                   f"  # {action.reason}" for action in plan.actions]

    budget = limit - len(FULL_PLAN_POINTER) - 200
    kept_rows, left_rows = _fit(rows, budget - _length(head) - _length(notes))
    if left_rows:
        kept_rows.append(f"| … | {left_rows} more models | | | | |")
    lines = head + kept_rows + notes
    if details:
        opening = ["", "<details><summary>All actions</summary>", "", "```diff"]
        closing = ["```", "", "</details>"]
        kept, left = _fit(details, budget - _length(lines) - _length(opening) - _length(closing))
        lines += opening + kept + closing
        if left:
            lines += ["", f"*{left} of {len(details)} action lines left out.* {FULL_PLAN_POINTER}"]
    return "\n".join(lines) + "\n"


def _markdown_row(plan: Plan, summary: ModelSummary) -> str:
    actions = plan.actions_for(summary.name)
    moves = [action for action in actions if action.resource is Resource.CHANNEL]
    others = len(actions) - len(moves)
    changes = ", ".join(_markdown_move(action) for action in moves)
    if others:
        changes += f"{' and ' if changes else ''}{others} other action{'s' if others != 1 else ''}"
    changes = changes or "no changes"
    bump = _cell(summary.bump) or "-"
    cost = plan.cost_per_day(summary.name)
    if cost:
        changes += f" (always-on cost {'+' if cost > 0 else '-'}${abs(cost):,.2f}/day)"
    return f"| `{summary.name}` | {summary.version} | {summary.channel} | {_cell(changes)} | {bump} | " \
           f"{_cell(_gate_cell(summary.gates))} |"


def _markdown_notes(plan: Plan) -> list[str]:
    notes: list[str] = []
    if plan.violations:
        notes += ["", "**Release rules broken:**", ""]
        notes += [f"- {_cell(str(violation))}" for violation in plan.violations[:MAX_LISTED]]
        if len(plan.violations) > MAX_LISTED:
            notes.append(f"- … {len(plan.violations) - MAX_LISTED} more in the full plan")
    if plan.unread:
        notes += ["", "**Live state not read:**", ""]
        notes += [f"- {state.target} `{state.model}`: {_cell(state.reason)}" for state in plan.unread[:MAX_LISTED]]
        if len(plan.unread) > MAX_LISTED:
            notes.append(f"- … {len(plan.unread) - MAX_LISTED} more in the full plan")
    return notes


def _gate_totals(plan: Plan) -> str:
    failing = sum(any(gate["status"] == "fail" for gate in summary.gates) for summary in plan.models)
    missing = sum(any(gate["status"] in ("missing", "inconclusive") for gate in summary.gates)
                  for summary in plan.models)
    if not failing and not missing:
        return ""
    return f" Gates: {failing} failing, {missing} waiting for evidence."


def _fit(lines: list[str], budget: int) -> tuple[list[str], int]:
    """Return the leading lines that fit in ``budget`` characters and how many were left out."""
    kept, used = [], 0
    for line in lines:
        if used + len(line) + 1 > budget:
            return kept, len(lines) - len(kept)
        kept.append(line)
        used += len(line) + 1
    return kept, 0


def _length(lines: list[str]) -> int:
    return sum(len(line) + 1 for line in lines)


def _cell(text: str, width: int = 300) -> str:
    """Make ``text`` safe and short enough for one table cell."""
    text = text.replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= width else text[: width - 1] + "…"


def _gate_cell(gates: tuple[Mapping[str, str], ...]) -> str:
    if not gates:
        return "-"
    passing = sum(gate["status"] == "pass" for gate in gates)
    others = [f"{gate['gate']} {gate['status']}" for gate in gates if gate["status"] != "pass"]
    return f"{passing}/{len(gates)} pass" + (f"; {', '.join(others)}" if others else "")


def _markdown_move(action: Action) -> str:
    label = "**rollback** " if action.rollback else ""
    return f"{label}{action.target} {action.key}: {action.before or '-'} → {action.after}"
