"""``run()`` serves the emulator in a foreground process until SIGTERM."""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
from pathlib import Path

import httpx

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
# A safety limit so that a broken server cannot hang the test run; no assert depends on it.
STARTUP_LIMIT_S = 30


def read_first_line(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    ready = selector.select(timeout=STARTUP_LIMIT_S)
    selector.close()
    assert ready, f"the emulator printed nothing within {STARTUP_LIMIT_S} s"
    return process.stdout.readline().strip()


def test_run_prints_url_and_stops_on_sigterm() -> None:
    environment = {**os.environ, "NO_PROXY": "127.0.0.1,localhost", "PYTHONPATH": str(REPOSITORY_ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-c", "from pipeline.emulators.replicate import run; run()"],
        cwd=REPOSITORY_ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        url = read_first_line(process)
        response = httpx.get(f"{url}/v1/hardware", headers={"Authorization": "Bearer t"}, trust_env=False)
        process.send_signal(signal.SIGTERM)
        returncode = process.wait(timeout=STARTUP_LIMIT_S)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()

    assert url.startswith("http://127.0.0.1:")
    assert response.status_code == 200
    assert {"sku": "cpu", "name": "CPU"} in response.json()
    assert returncode == 0
