"""`mrp emulator NAME` serves an emulator in the foreground until SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import sys

import httpx
import pytest

# Emulator name -> a read that needs no setup and the status it returns.
PROBES = {
    "replicate": ("/v1/hardware", 200),
    "hub": ("/api/whoami-v2", 200),
}


@pytest.mark.parametrize("name", sorted(PROBES))
def test_emulator_serves_until_sigterm(name):
    process = subprocess.Popen([sys.executable, "-m", "pipeline", "emulator", name, "--port", "0"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = process.stdout.readline().strip()
        path, status = PROBES[name]
        response = httpx.get(url + path, headers={"Authorization": "Bearer test-token"}, timeout=10)
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=10)

    assert url.startswith("http://127.0.0.1:")
    assert response.status_code == status
    assert process.returncode == 0
