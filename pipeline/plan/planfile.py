"""Save a plan with the live state it was computed from, and load it back for apply.

The saved file is the JSON rendering of the plan. ``apply --plan FILE``
re-reads live state and refuses the plan when its fingerprint differs, listing
what moved.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from pipeline.errors import MrpError, StalePlanError
from pipeline.plan.model import Action, LiveState, ModelSummary, Plan, Violation, fingerprint

FORMAT_VERSION = 1
MAX_PLAN_BYTES = 64 << 20


def plan_to_json(plan: Plan) -> dict[str, Any]:
    from pipeline import __version__

    return {
        "format_version": FORMAT_VERSION,
        "mrp_version": __version__,
        "fingerprint": plan.fingerprint,
        "summary": plan.counts(),
        "models": [vars(summary) for summary in plan.models],
        "actions": [action.to_json() for action in plan.actions],
        "violations": [vars(violation) for violation in plan.violations],
        "live": [state.to_json() for state in plan.live],
    }


def load_plan(path: Path) -> Plan:
    try:
        if path.stat().st_size > MAX_PLAN_BYTES:
            raise MrpError(f"{path}: the plan file is over {MAX_PLAN_BYTES} bytes; save a new plan with mrp plan --out")
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise MrpError(f"{path}: no such plan file; save one with mrp plan --out {path}") from error
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise MrpError(f"{path}: not a plan file ({error}); save one with mrp plan --out {path}") from error
    if not isinstance(data, dict) or data.get("format_version") != FORMAT_VERSION:
        raise MrpError(f"{path}: not a plan of format version {FORMAT_VERSION}; save a new one with mrp plan --out")
    try:
        live = tuple(LiveState.from_json(state) for state in data["live"])
        plan = Plan(
            actions=tuple(Action.from_json(action) for action in data["actions"]),
            violations=tuple(Violation(**violation) for violation in data["violations"]),
            models=tuple(ModelSummary(**summary) for summary in data["models"]),
            live=live,
            fingerprint=str(data["fingerprint"]),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise MrpError(f"{path}: the plan file is damaged ({error!r}); save a new one with mrp plan --out") from error
    if fingerprint(live) != plan.fingerprint:
        raise MrpError(f"{path}: the plan's live state does not match its fingerprint; the file was edited. "
                       "Save a new plan with mrp plan --out")
    return plan


def check_fresh(plan: Plan, plan_file: str, current: Sequence[LiveState]) -> None:
    """Raise StalePlanError when ``current`` live state differs from the plan's."""
    if fingerprint(current) == plan.fingerprint:
        return
    saved = {(state.target, state.model): state.to_json() for state in plan.live}
    now = {(state.target, state.model): state.to_json() for state in current}
    changes: list[str] = []
    for key in sorted(set(saved) | set(now)):
        label = f"{key[0]} {key[1]}"
        changes.extend(f"{label} {line}" for line in _differences(saved.get(key), now.get(key)))
    raise StalePlanError(plan_file, changes or ["the set of models read differs"])


def _differences(before: Any, after: Any, path: str = "") -> Iterable[str]:
    if isinstance(before, dict) and isinstance(after, dict):
        for key in sorted(set(before) | set(after)):
            yield from _differences(before.get(key), after.get(key), f"{path}.{key}" if path else str(key))
    elif before != after:
        yield f"{path or 'state'}: {_brief(before)} -> {_brief(after)}"


def _brief(value: Any) -> str:
    if value is None:
        return "(none)"
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= 80 else text[:77] + "..."
