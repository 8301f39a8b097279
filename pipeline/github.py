"""GitHub Actions output: error annotations and the job summary."""

from __future__ import annotations

import os
from pathlib import Path

from pipeline.errors import Problem


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(problem: Problem) -> str:
    """Return the ``::error`` workflow command that marks ``problem`` on its file and line."""
    properties = [f"file={_escape_property(problem.file)}"]
    if problem.line:
        properties += [f"line={problem.line}", f"col={problem.column}"]
    subject = f"{problem.field}: " if problem.field else ""
    return f"::error {','.join(properties)}::{_escape_data(subject + problem.message)}"


def append_step_summary(markdown: str) -> bool:
    """Append ``markdown`` to the job summary when running in GitHub Actions; return True when written."""
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if not target:
        return False
    with Path(target).open("a", encoding="utf-8") as summary:
        summary.write(markdown)
        summary.write("\n")
    return True
