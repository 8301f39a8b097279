"""Run a command in a child process and measure its wall time and peak memory.

``os.wait4`` returns the resource usage of that one child, so ``ru_maxrss``
is the child's own peak resident set, not the maximum over every child this
process ever waited for.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 1800.0


class ChildFailed(Exception):
    """A measured command exited with an unexpected status. The message contains the end of its output."""


@dataclass(frozen=True)
class ChildResult:
    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    wall_s: float
    max_rss_mib: float


def run_child(args: list[str], cwd: Path, env: dict[str, str] | None = None,
              timeout_s: float = DEFAULT_TIMEOUT_S, expect: tuple[int, ...] = (0,)) -> ChildResult:
    """Run ``args`` to completion and kill it after ``timeout_s``.

    Raises ChildFailed when the exit code is not in ``expect``.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        process = subprocess.Popen(args, cwd=cwd, env=env, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        killer = threading.Timer(timeout_s, process.kill)
        killer.start()
        try:
            _, status, usage = os.wait4(process.pid, 0)
        finally:
            killer.cancel()
        wall_s = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        result = ChildResult(tuple(args), process.returncode, out.read().decode(errors="replace"),
                             err.read().decode(errors="replace"), wall_s, usage.ru_maxrss / 1024)
    if result.returncode not in expect:
        raise ChildFailed(f"{' '.join(args)} exited with {result.returncode} (expected {expect}) after "
                          f"{wall_s:.1f} s:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


def mrp_command(*args: str) -> list[str]:
    """Return the command line of ``mrp ARGS`` run by this interpreter, as a user's shell would run it."""
    return [sys.executable, "-m", "pipeline", *args]
