"""Render a run's results as BENCHMARKS.md: the targets, then a table per measure, then the profile."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.results import Results

# The hand-written analysis of the last full run's missed targets, written from its figures and profile.
ANALYSIS = Path(__file__).resolve().parent / "analysis.md"
TARGET_SIZE = 1000
MB_PER_MIB = 1.048576

MEASURES = [
    ("noop_plan", "1. No-op plan of N models on the Hub and Replicate together"),
    ("naive_baseline", "2. Naive baseline on the same state"),
    ("changed_plan", "3. Plan with 1% of the models changed (`--changed-since HEAD`)"),
    ("noop_apply", "4a. No-op apply"),
    ("promotion", "4b. One promotion (full apply)"),
    ("validate_released", "7a. `mrp validate` of N manifests, all released (ledger records exist)"),
    ("validate_unreleased", "7b. `mrp validate` of N manifests before the first release (git history fallback)"),
    ("setup", "Setup: first apply that publishes N models (no injected latency)"),
    ("plan_phases", "Phases of the no-op plan at the largest N (in one process)"),
]


@dataclass(frozen=True)
class Target:
    name: str
    goal: str
    measured: str
    met: bool | None
    note: str = ""


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def evaluate_targets(results: Results) -> list[Target]:
    sizes = results.sizes("noop_plan")
    top = max(sizes) if sizes else None
    note = "" if top == TARGET_SIZE or top is None else f"measured at N={top}; the target is for N={TARGET_SIZE}"
    targets: list[Target] = []
    if top is not None:
        targets += _plan_targets(results, sizes, top, note)
        targets += _apply_targets(results, sizes)
    targets += _local_targets(results)
    return targets


def _plan_targets(results: Results, sizes: list[int], top: int, note: str) -> list[Target]:
    ratio = results.value("noop_plan", "requests_over_minimum", top)
    speedup = results.value("naive_baseline", "speedup_of_plan", top)
    peak_mb = results.value("noop_plan", "peak_memory", top) * MB_PER_MIB
    targets = [
        Target("no-op plan requests", "<= 1.2 x minimum", f"{ratio:.3g} x minimum", ratio <= 1.2, note),
        *_changed_plan_targets(results, sizes),
        Target("no-op plan vs naive baseline", ">= 30 x faster", f"{speedup:.3g} x faster", speedup >= 30, note),
        Target("peak memory of the no-op plan", "< 300 MB", f"{peak_mb:.0f} MB", peak_mb < 300, note),
    ]
    if len(sizes) >= 2:
        previous = sizes[-2]
        wall_growth = results.value("noop_plan", "wall_time", top) / results.value("noop_plan", "wall_time", previous)
        request_growth = results.value("noop_plan", "requests", top) / results.value("noop_plan", "requests", previous)
        targets.append(Target(f"no-op plan wall time growth N={previous} -> {top}", "<= request growth",
                              f"wall x{wall_growth:.3g}, requests x{request_growth:.3g}",
                              wall_growth <= request_growth))
    return targets


def _changed_plan_targets(results: Results, sizes: list[int]) -> list[Target]:
    """Compare the 1% plan at two sizes with the same number of changed models, where only N differs."""
    for before, after in zip(sizes, sizes[1:]):
        changed = results.value("changed_plan", "changed_models", before)
        if changed != results.value("changed_plan", "changed_models", after):
            continue
        requests = _growth(results, "changed_plan", "requests", before, after)
        wall = _growth(results, "changed_plan", "wall_time", before, after)
        label = f"plan of {changed} changed model{'s' if changed != 1 else ''}, N={before} -> {after}"
        return [Target(f"{label}: requests", "constant: grow with the changes, not N", f"x{requests:.3g}",
                       requests <= 1.0),
                Target(f"{label}: wall time", "constant: grow with the changes, not N", f"x{wall:.3g}",
                       wall <= 1.2)]
    return []


def _growth(results: Results, measure: str, metric: str, before: int, after: int) -> float:
    return results.value(measure, metric, after) / results.value(measure, metric, before)


def _apply_targets(results: Results, sizes: list[int]) -> list[Target]:
    writes = [results.value("noop_apply", "write_requests", size) for size in sizes]
    top = max(sizes)
    commits = results.value("promotion", "hub_commits", top)
    lfs = results.value("promotion", "hub_lfs_bytes_uploaded", top)
    updates = results.value("promotion", "replicate_deployment_updates", top)
    return [
        Target("no-op apply writes", "0 at every N", ", ".join(_fmt(value) for value in writes),
               all(value == 0 for value in writes)),
        Target("promotion on the Hub", "1 commit, 0 LFS bytes", f"{commits} commit, {lfs} LFS bytes",
               commits == 1 and lfs == 0),
        Target("promotion on Replicate", "1 deployment update", f"{updates} update", updates == 1),
    ]


def _local_targets(results: Results) -> list[Target]:
    targets = []
    warm = results.value("artifact_digests", "warm_over_cold")
    if warm is not None:
        size = results.value("artifact_digests", "artifacts_size")
        targets.append(Target("re-plan digests with the cache", "< 5% of a cold full hash",
                              f"{warm:.3g}% ({size} MiB)", warm < 5))
    help_ms = results.value("startup", "help_median")
    if help_ms is not None:
        forbidden = results.value("startup", "help_forbidden_imports")
        targets.append(Target("`mrp --help`", "< 150 ms", f"{help_ms:.0f} ms", help_ms < 150))
        targets.append(Target("`mrp --help` imports", "no huggingface_hub, replicate, torch, numpy",
                              results.value("startup", "help_heavy_imports"), forbidden == 0))
    sizes = results.sizes("validate_released")
    if sizes:
        top = max(sizes)
        note = "" if top == TARGET_SIZE else f"measured at N={top}; the target is for N={TARGET_SIZE}"
        for measure, label in (("validate_released", "released"), ("validate_unreleased", "before the first release")):
            wall = results.value(measure, "wall_time", top)
            targets.append(Target(f"validate {top} manifests, {label}", "< 1.5 s", f"{wall:.3g} s", wall < 1.5, note))
    return targets


def render(results: Results, command: str) -> str:
    lines = _header(results, command)
    lines += _targets_table(evaluate_targets(results))
    lines += _analysis()
    for measure, title in MEASURES:
        lines += _measure_table(results, measure, title)
    lines += _single_tables(results)
    lines += _explanations(results)
    lines += _profile(results)
    return "\n".join(lines) + "\n"


def _header(results: Results, command: str) -> list[str]:
    machine = results.machine
    settings = results.settings
    return [
        "# Benchmarks",
        "",
        f"Produced by `{command}` on {machine.get('cpu')} ({machine.get('cores')} cores, "
        f"{machine.get('memory_gib')} GiB), {machine.get('os')}, Python {machine.get('python')}, "
        f"on {machine.get('date')} at commit {machine.get('commit')}.",
        f"Sizes N = {', '.join(str(size) for size in settings['sizes'])}; injected latency "
        f"{settings['latency_ms']} ms per request on both emulators, which serve on 127.0.0.1 in the "
        f"benchmark's process; full run {settings.get('runtime_s', 0):.0f} s.",
        "",
        "Every `mrp` command runs in its own process, as CI runs it, so wall times include interpreter "
        "start-up. Request counts come from the emulators' request logs. Regenerate this page with "
        "`python benchmarks/run.py` (all sizes) or `python benchmarks/run.py --quick` (N up to 100, "
        "the setting for CI); `--json FILE` also writes every figure with its unit.",
        "",
    ]


def _analysis() -> list[str]:
    """Return the hand-written analysis of the missed targets, kept in a file so that a new run keeps it."""
    if not ANALYSIS.exists():
        return []
    return [ANALYSIS.read_text(encoding="utf-8").rstrip(), ""]


def _targets_table(targets: list[Target]) -> list[str]:
    lines = ["## Targets", "", "| measure | target | measured | met |", "| --- | --- | --- | --- |"]
    for target in targets:
        met = "yes" if target.met else "**no**"
        measured = target.measured + (f" ({target.note})" if target.note else "")
        lines.append(f"| {target.name} | {target.goal} | {measured} | {met} |")
    return lines + [""]


def _measure_table(results: Results, measure: str, title: str) -> list[str]:
    sizes = results.sizes(measure)
    if not sizes:
        return []
    metrics = list(dict.fromkeys(figure.metric for figure in results.figures if figure.measure == measure))
    header = ["metric", "unit", *(f"N={size}" for size in sizes)]
    ratios = list(zip(sizes, sizes[1:]))
    header += [f"N={after} / N={before}" for before, after in ratios]
    lines = [f"## {title}", "", "| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for metric in metrics:
        values = [results.get(measure, metric, size) for size in sizes]
        unit = next((figure.unit for figure in values if figure is not None), "")
        row = [metric, unit, *(_fmt(figure.value) if figure is not None else "-" for figure in values)]
        for before, after in ratios:
            row.append(_ratio(results.value(measure, metric, before), results.value(measure, metric, after)))
        lines.append("| " + " | ".join(row) + " |")
    return lines + [""]


def _ratio(before: Any, after: Any) -> str:
    if isinstance(before, (int, float)) and isinstance(after, (int, float)) and before:
        return f"x{after / before:.3g}"
    return "-"


def _single_tables(results: Results) -> list[str]:
    lines = []
    for measure, title in (("artifact_digests", "5. Artifact digests of one model, cold hash against the digest cache"),
                           ("startup", "6. Start-up")):
        figures = [figure for figure in results.figures if figure.measure == measure]
        if not figures:
            continue
        lines += [f"## {title}", "", "| metric | value | unit |", "| --- | --- | --- |"]
        lines += [f"| {figure.metric} | {_fmt(figure.value)} | {figure.unit} |" for figure in figures]
        lines.append("")
    return lines


def _explanations(results: Results) -> list[str]:
    routes = results.notes.get("noop_plan_routes", {})
    lines = [
        "## How the figures are derived",
        "",
        "**Setup.** Each N gets a new git repository of synthetic models (copies of `models/digits-mlp.yaml` "
        "with distinct names, Hub repos in three namespaces, Replicate models of the account `acme`, and a "
        "64-byte binary weights file each) and new emulators. `mrp apply` publishes all of them with no "
        "injected latency; then the first model gets 1.0.0 on staging and 1.1.0 on dev. The measured "
        "commands then run with the injected latency.",
        "",
        "**Minimum requests.** Hub: one `GET /api/models?author=NS` page per 1000 repos of each namespace "
        "(existence, privacy, gating); per repo, one `GET .../refs`, one page of `GET .../commits/releases` "
        "per 50 commits of the `releases` branch (the version digests are in the commit messages), and one "
        "more page per channel branch whose head is a copy commit rather than a version commit or the "
        "initial commit. No Hub list call returns refs or commit messages. Replicate: one `GET /v1/account` "
        "(the account whose deployments the list covers); per model, one page of `GET .../versions` per 100 "
        "versions (it answers 404 for a missing model, so it also tells existence); and one `GET "
        "/v1/deployments` page per 100 deployments of the account. Page sizes are the Hub's (1000, 50) and "
        "the Replicate emulator's (100); Replicate does not document its page size.",
        "",
        "Formula: `min = sum over namespaces of ceil(repos/1000) + sum over repos of (1 + ceil(commits/50) + "
        "copy-commit channels) + 1 + sum over models of ceil(versions/100) + ceil(deployments/100)`, which is "
        "about 3N + 15 here.",
        "",
        "**Naive baseline.** `benchmarks/naive.py`: per model, one after another, `HfApi.model_info` and "
        "`list_repo_refs`, then `replicate` `models.get` and one `deployments.get` per channel: 6 requests "
        "per model, each waiting for the injected latency. It reads less than a plan (no version digests).",
        "",
        "**1% changed.** 1% of the models (at least one) get `max_instances: 2` and `gated: auto`, and "
        "`mrp plan --changed-since HEAD` plans them only; it still loads and validates every manifest.",
        "",
        "**Artifact digests.** One model folder of 8 files of random bytes (1 GiB in a full run, 128 MiB "
        "with `--quick`), untouched for the cache's racy window of 2 s. The cold figure is "
        "`pipeline.artifacts.scan_artifacts`, which hashes every byte. The cache figures call "
        "`pipeline.digestcache.DigestCache` on the same files: the first run hashes them and writes "
        "`.mrp/cache/digests.json`, the warm run loads that file as a new process would and stats each "
        "file. `scan_artifacts` does not use the cache yet.",
        "",
        "**Writes** are requests other than GET, HEAD and QUERY. The Hub's `POST .../paths-info` is a read "
        "sent as POST, so the Hub's write count of the promotion includes two of them. The promotion moves "
        "the first model's staging channel from 1.0.0 to 1.1.0 with a full `mrp apply`.",
        "",
    ]
    if routes:
        top = max(routes, key=int)
        lines += [f"Requests of the no-op plan at N={top}, by route:", "", "| route | requests |", "| --- | --- |"]
        lines += [f"| `{route}` | {count:,} |" for route, count in routes[top].items()]
        lines.append("")
    writes = results.notes.get("promotion_writes", {})
    if writes:
        top = max(writes, key=int)
        lines += [f"Write requests of the promotion at N={top}:", ""]
        lines += [f"- `{line}`" for line in writes[top]]
        lines.append("")
    return lines


def _profile(results: Results) -> list[str]:
    profile = results.notes.get("profile")
    if not profile:
        return []
    lines = [f"## Profile of the no-op plan at N={profile['size']}", "",
             "cProfile of the plan's main thread (the reads run on worker threads, so `read_live` shows the "
             "time the main thread waits for them). Top functions by cumulative time:", "", "```"]
    lines += [_short_paths(line) for line in profile["top_cumulative"]]
    lines += ["```", "", "Top functions by own time:", "", "```"]
    lines += [_short_paths(line) for line in profile["top_own"]]
    return lines + ["```", ""]


def _short_paths(line: str) -> str:
    """Cut the machine's folders out of a profile line: ``.../site-packages/yaml/x.py`` becomes ``yaml/x.py``."""
    line = re.sub(r"\S*/site-packages/", "", line)
    return re.sub(r"\S*/(pipeline|benchmarks)/", r"\1/", line)
