"""Render a plan for a terminal, for a pull-request comment (Markdown) and for machines (JSON)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import IO

from pipeline.plan.model import Action, Kind, Plan, Resource
from pipeline.plan.planfile import plan_to_json

MARKDOWN_MARKER = "<!-- mrp-plan -->"
_SYMBOLS = {Kind.CREATE: "+", Kind.UPDATE: "~", Kind.DELETE: "-"}


def summary_line(plan: Plan) -> str:
    if plan.violations:
        count = len(plan.violations)
        return f"The plan breaks {count} release rule{'s' if count != 1 else ''}; nothing can be applied."
    if not plan.has_changes:
        return "No changes. The live state matches the manifests."
    counts = plan.counts()
    parts = [f"{counts['create']} to create", f"{counts['update']} to update"]
    if counts["delete"]:
        parts.append(f"{counts['delete']} to delete")
    parts.append(f"{counts['channel']} channel move{'s' if counts['channel'] != 1 else ''}")
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
            console.print(f"    ? {state.target:<12} not read: {state.reason}", style="yellow")
    for violation in plan.violations:
        console.print(f"error: {violation}", style="bold red")
    console.print()
    console.print(summary_line(plan), style="bold")


def _terminal_line(action: Action) -> object:
    from rich.text import Text

    symbol = "!" if action.rollback else _SYMBOLS[action.kind]
    style = "red" if action.rollback else {"+": "green", "~": "yellow", "-": "red"}[symbol]
    return Text.assemble(f"    {symbol} ", (f"{action.target:<12}", "cyan"), (action.describe(), style),
                         (f"  # {action.reason}", "dim"))


def render_markdown(plan: Plan) -> str:
    lines = [MARKDOWN_MARKER, f"**{summary_line(plan)}**", ""]
    lines += ["| model | version | channel | changes | version check | gates |",
              "| --- | --- | --- | --- | --- | --- |"]
    for summary in plan.models:
        actions = plan.actions_for(summary.name)
        moves = [action for action in actions if action.resource is Resource.CHANNEL]
        others = len(actions) - len(moves)
        changes = ", ".join(_markdown_move(action) for action in moves)
        if others:
            changes += f"{' and ' if changes else ''}{others} other action{'s' if others != 1 else ''}"
        changes = changes or "no changes"
        bump = summary.bump.replace("|", "\\|") or "-"
        lines.append(f"| `{summary.name}` | {summary.version} | {summary.channel} | {changes} | {bump} | "
                     f"{_gate_cell(summary.gates)} |")
    if plan.violations:
        lines += ["", "**Release rules broken:**", ""]
        lines += [f"- {violation}" for violation in plan.violations]
    if plan.unread:
        lines += ["", "**Live state not read:**", ""]
        lines += [f"- {state.target} `{state.model}`: {state.reason}" for state in plan.unread]
    if plan.actions:
        lines += ["", "<details><summary>All actions</summary>", "", "```diff"]
        lines += [f"{'!' if action.rollback else _SYMBOLS[action.kind]} {action.target} {action.model}: "
                  f"{action.describe()}  # {action.reason}" for action in plan.actions]
        lines += ["```", "", "</details>"]
    return "\n".join(lines) + "\n"


def _gate_cell(gates: tuple[Mapping[str, str], ...]) -> str:
    if not gates:
        return "-"
    passing = sum(gate["status"] == "pass" for gate in gates)
    others = [f"{gate['gate']} {gate['status']}" for gate in gates if gate["status"] != "pass"]
    return f"{passing}/{len(gates)} pass" + (f"; {', '.join(others)}" if others else "")


def _markdown_move(action: Action) -> str:
    label = "**rollback** " if action.rollback else ""
    return f"{label}{action.target} {action.key}: {action.before or '-'} → {action.after}"
