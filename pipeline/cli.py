"""The ``mrp`` command line: parse options, call ``pipeline.operations``, render, choose the exit code.

Exit codes: 0 success, 1 an expected error (the message gives the next step),
2 changes present (``plan --detailed-exitcode``), 3 a bug (traceback with
MRP_DEBUG=1), 130 interrupted. Results go to stdout, diagnostics to stderr.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from pipeline import __version__
from pipeline.errors import MrpError

EXIT_ERROR = 1
EXIT_CHANGES = 2
EXIT_BUG = 3
EXIT_INTERRUPTED = 130
# `mrp validate` names at most this many models, so a repository of thousands prints one readable line.
MAX_LISTED = 20

logger = logging.getLogger("pipeline")


def _project_options(command: Callable[..., Any]) -> Callable[..., Any]:
    command = click.option("--registry", metavar="DIR", help="Folder of the local registry [env: MRP_REGISTRY; "
                           "default: .mrp/registry].")(command)
    command = click.option("--target", "targets", multiple=True, metavar="NAME",
                           help="Target to act on; repeat for several [env: MRP_TARGETS, comma-separated; "
                           "default: targets in mrp.toml, else local].")(command)
    return command


def _project(ctx: click.Context, targets: tuple[str, ...], registry: str | None) -> Any:
    from pipeline.config import load_project

    return load_project(ctx.obj["root"], targets=targets, registry=registry)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mrp")
@click.option("-C", "--project-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Repository root [default: the nearest folder with mrp.toml, else the current folder].")
@click.option("-v", "--verbose", count=True, help="Log progress to stderr; -vv for debug detail.")
@click.pass_context
def cli(ctx: click.Context, project_dir: Path | None, verbose: int) -> None:
    """Release ML models from manifests in git: validate, plan, apply."""
    level = logging.WARNING
    if verbose == 1:
        level = logging.INFO
    elif verbose > 1:
        level = logging.DEBUG
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("mrp: %(levelname)s: %(message)s"))
    logger.handlers[:] = [handler]
    logger.setLevel(level)
    ctx.obj = {"root": project_dir}


@cli.command()
@click.argument("models", nargs=-1)
@click.option("--format", "output_format", type=click.Choice(["terminal", "github"]), default="terminal",
              show_default=True, help="github: one ::error annotation per problem on stdout, for Actions.")
@click.pass_context
def validate(ctx: click.Context, models: tuple[str, ...], output_format: str) -> None:
    """Check manifests, versions, policy gates and artifacts without contacting any target."""
    from pipeline import operations
    from pipeline.errors import ManifestError
    from pipeline.github import annotation

    project = _project(ctx, (), None)
    try:
        loaded = operations.validate(project, models)
    except ManifestError as error:
        if output_format != "github":
            raise
        for problem in error.problems:
            click.echo(annotation(problem))
        click.echo(f"{len(error.problems)} problems found.", err=True)
        ctx.exit(EXIT_ERROR)
    listed = [f"{item.name} {item.manifest.version} ({item.manifest.channel})" for item in loaded[:MAX_LISTED]]
    if len(loaded) > MAX_LISTED:
        listed.append(f"and {len(loaded) - MAX_LISTED} more")
    click.echo(f"{len(loaded)} manifest{'s' if len(loaded) != 1 else ''} valid: " + ", ".join(listed))


@cli.command()
@_project_options
@click.argument("models", nargs=-1)
@click.option("--format", "output_format", type=click.Choice(["terminal", "markdown", "json"]), default="terminal",
              show_default=True, help="How to print the plan.")
@click.option("--out", "out_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Also save the plan as JSON with the live state it was computed from, for apply --plan.")
@click.option("--detailed-exitcode", is_flag=True,
              help="Exit 0 with no changes, 2 with changes, 1 on error or when some live state was not read.")
@click.option("--changed-since", metavar="REF",
              help="Plan only models whose manifest, artifacts or eval set changed since REF (e.g. origin/main).")
@click.option("--include-drift", is_flag=True,
              help="With --changed-since, also plan models whose live state differs from their manifest.")
@click.pass_context
def plan(ctx: click.Context, models: tuple[str, ...], targets: tuple[str, ...], registry: str | None,
         output_format: str, out_file: Path | None, detailed_exitcode: bool, changed_since: str | None,
         include_drift: bool) -> None:
    """Show what apply would change on each target."""
    from pipeline import operations
    from pipeline.github import append_step_summary
    from pipeline.plan import render

    if include_drift and not changed_since:
        raise click.UsageError("--include-drift works with --changed-since; without it every model is planned")
    project = _project(ctx, targets, registry)
    workspace = operations.open_workspace(project, models)
    if changed_since:
        result, changed = operations.plan_changed(workspace, changed_since, include_drift)
        click.echo(f"planning the models changed between {changed_since} and {changed.head}: "
                   f"{', '.join(sorted(changed.names)) or 'none'}", err=True)
        if changed.deleted:
            click.echo(f"manifests deleted since {changed_since}: {', '.join(sorted(changed.deleted))}; "
                       "their releases stay on the targets", err=True)
    else:
        result = operations.plan(workspace)

    if out_file is not None:
        out_file.parent.mkdir(parents=True, exist_ok=True)
        out_file.write_text(render.render_json(result), encoding="utf-8")
    if output_format == "json":
        click.echo(render.render_json(result), nl=False)
    elif output_format == "markdown":
        click.echo(render.render_markdown(result), nl=False)
    else:
        render.render_terminal(result, sys.stdout)
    append_step_summary(render.render_markdown(result, limit=render.STEP_SUMMARY_LIMIT))

    if result.violations:
        if output_format != "terminal":
            # Machine-readable stdout carries them too, but a CI log shows stderr.
            click.echo("\n".join(f"error: {violation}" for violation in result.violations), err=True)
        ctx.exit(EXIT_ERROR)
    if detailed_exitcode and result.unread:
        # Drift jobs read 0 as "matches": a state that was not read must never look like that.
        click.echo(f"error: the live state of {len(result.unread)} model(s) was not read, so whether it matches "
                   "the manifests is unknown; fix the credentials named above", err=True)
        ctx.exit(EXIT_ERROR)
    if detailed_exitcode and result.has_changes:
        ctx.exit(EXIT_CHANGES)


@cli.command()
@_project_options
@click.argument("models", nargs=-1)
@click.option("--plan", "plan_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Apply this saved plan; it is rejected when the live state changed since it was saved.")
@click.option("--yes", "-y", is_flag=True, help="Apply without asking; required when stdin is not a terminal.")
@click.option("--lock-timeout", type=float, default=30.0, show_default=True, metavar="SECONDS",
              help="How long to wait for another apply that holds a target's lock (the local registry's).")
@click.option("--approve-cost", is_flag=True,
              help="Allow changes that keep instances running (min_instances above 0), which bill around the clock.")
@click.pass_context
def apply(ctx: click.Context, models: tuple[str, ...], targets: tuple[str, ...], registry: str | None,
          plan_file: Path | None, yes: bool, lock_timeout: float, approve_cost: bool) -> None:
    """Carry out the plan: versions first, then settings, then channel moves."""
    from pipeline import operations
    from pipeline.plan import render

    if not yes and not sys.stdin.isatty():
        raise MrpError("refusing to apply without confirmation: stdin is not a terminal. "
                       "Review the plan with mrp plan, then run the same mrp apply command with --yes")
    project = _project(ctx, targets, registry)
    workspace = operations.open_workspace(project, models)

    def confirm(current: Any) -> bool:
        render.render_terminal(current, sys.stdout)
        if yes:
            return True
        return click.confirm(f"Apply these {len(current.actions)} actions?", default=False)

    def progress(action: Any, result: Any) -> None:
        platform_id = result.platform_id or ""
        is_commit = len(platform_id) == 40 and all(char in "0123456789abcdef" for char in platform_id)
        suffix = f" ({platform_id[:12] if is_commit else platform_id})" if platform_id else ""
        click.echo(f"  done {action.target} {action.model}: {action.describe()}{suffix}")

    current, report = operations.apply(workspace, plan_file, confirm, progress, lock_timeout, approve_cost)
    if not current.has_changes:
        click.echo(render.summary_line(current))
    elif report is None:
        click.echo("Apply cancelled; nothing was changed.")
    else:
        count = len(report.applied)
        click.echo(f"Apply complete: {count} action{'s' if count != 1 else ''} applied.")


@cli.command("bump")
@click.argument("models", nargs=-1)
@click.option("--dry-run", is_flag=True, help="Print the versions needed without writing them.")
@click.pass_context
def bump_command(ctx: click.Context, models: tuple[str, ...], dry_run: bool) -> None:
    """Write the version each change needs (major, minor or patch) into its manifest."""
    from pipeline import operations

    project = _project(ctx, (), None)
    for result in operations.bump(project, models, dry_run):
        decision = result.decision
        if result.new_version is None:
            click.echo(f"{decision.model}: {decision.version} needs no bump ({decision.summary()})")
            continue
        verb = "would change" if dry_run else "changed"
        click.echo(f"{decision.model}: {verb} {decision.version} -> {result.new_version}")
        for change in decision.changes:
            click.echo(f"    {change}")


@cli.command("bench")
@click.argument("model")
@click.option("--channel", type=click.Choice(["dev", "staging", "stable"]), default=None,
              help="Record in the evidence which channel the measurement is for; what is measured stays the same.")
@click.pass_context
def bench_command(ctx: click.Context, model: str, channel: str | None) -> None:
    """Run MODEL's benchmark on this machine's hardware and write the evidence into releases/.

    The evidence counts for a gate only on the hardware class the gate names
    (CPU evidence never satisfies a GPU gate). This imports and runs the
    model's code: run it on trusted branches only. Exits 1 when a gate fails.
    """
    from pipeline import operations

    project = _project(ctx, (), None)
    report = operations.bench(project, model, channel)
    metrics = report.evidence["metrics"]
    click.echo(f"{model} {report.evidence['version']} on {report.evidence['hardware_class']}: "
               f"p50 {metrics['latency_p50_ms']:.3g} ms, p95 {metrics['latency_p95_ms']:.3g} ms, "
               f"p99 {metrics['latency_p99_ms']:.3g} ms, {metrics['throughput_per_s']:.4g}/s, "
               f"peak memory {metrics['peak_memory_mb']:.4g} MB")
    for result in report.results:
        click.echo(f"  {result}")
    click.echo(f"evidence: {project.display(report.path)}")
    if any(result.status == "fail" for result in report.results):
        ctx.exit(EXIT_ERROR)


@cli.group()
def emulator() -> None:
    """Serve a platform API emulator on 127.0.0.1 to rehearse releases."""


def _emulator_options(command: Callable[..., Any]) -> Callable[..., Any]:
    command = click.option("--latency", type=float, default=0.0, show_default=True, metavar="SECONDS",
                           help="Delay added to every request.")(command)
    return click.option("--port", type=int, default=0, show_default=True,
                        help="TCP port on 127.0.0.1; 0 picks a free one.")(command)


@emulator.command("hub")
@_emulator_options
@click.pass_context
def emulator_hub(ctx: click.Context, port: int, latency: float) -> None:
    """Serve the Hugging Face Hub API; point clients at it with HF_ENDPOINT=URL."""
    from pipeline.emulators.hub import run as run_hub

    logger.setLevel(min(logger.level, logging.INFO))
    ctx.exit(run_hub(port=port, latency_s=latency))


@emulator.command("replicate")
@_emulator_options
@click.pass_context
def emulator_replicate(ctx: click.Context, port: int, latency: float) -> None:
    """Serve the Replicate API; point clients at it with REPLICATE_BASE_URL=URL."""
    from pipeline.emulators.replicate import run as run_replicate

    logger.setLevel(min(logger.level, logging.INFO))
    ctx.exit(run_replicate(port=port, latency_s=latency))


@cli.command()
def schema() -> None:
    """Print the JSON Schema of a manifest, for editors and CI."""
    from pipeline.manifest.schema import json_schema

    click.echo(json.dumps(json_schema(), indent=2))


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and map every outcome to an exit code."""
    try:
        code = cli.main(args=argv, prog_name="mrp", standalone_mode=False)
    except click.exceptions.Exit as done:
        return done.exit_code
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return EXIT_INTERRUPTED
    except click.ClickException as error:
        error.show()
        return EXIT_ERROR
    except MrpError as error:
        click.echo("\n".join(error.report_lines()), err=True)
        return EXIT_ERROR
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        return EXIT_INTERRUPTED
    except Exception as error:  # the one place where any remaining exception is a bug
        if os.environ.get("MRP_DEBUG") == "1":
            traceback.print_exc()
        else:
            click.echo(f"mrp hit a bug: {type(error).__name__}: {error}. "
                       "Run again with MRP_DEBUG=1 to see the traceback, and report it.", err=True)
        return EXIT_BUG
    return code if isinstance(code, int) else 0


def run() -> None:
    """Entry point of the ``mrp`` console script."""
    sys.exit(main())
