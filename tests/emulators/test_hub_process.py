"""The emulator as a foreground process, driven by a client in another process as ``mrp`` rehearsals do."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]

# Runs with HF_ENDPOINT set before import, as a user's `HF_ENDPOINT=... mrp apply` would.
CLIENT_SCRIPT = """
import sys
from pathlib import Path
from huggingface_hub import HfApi, metadata_update, snapshot_download

folder = Path(sys.argv[1])
(folder / "model.safetensors").write_bytes(bytes(range(256)) * 8)
(folder / "README.md").write_text("---\\nlicense: mit\\n---\\n# Model\\n")
api = HfApi()
api.create_repo("acme/digits-mlp")
api.upload_folder(folder_path=folder, repo_id="acme/digits-mlp")
metadata_update("acme/digits-mlp", {"pipeline_tag": "tabular-classification"})
snapshot = snapshot_download("acme/digits-mlp", cache_dir=folder / "cache")
print(sorted(path.name for path in Path(snapshot).iterdir()))
print(api.model_info("acme/digits-mlp").card_data["pipeline_tag"])
"""


@pytest.fixture
def emulator_process() -> Iterator[tuple[subprocess.Popen[str], str]]:
    env = {**os.environ, "NO_PROXY": "127.0.0.1,localhost", "PYTHONPATH": str(REPO_ROOT)}
    process = subprocess.Popen([sys.executable, "-c", "from pipeline.emulators.hub import run; run()"],
                               cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        yield process, process.stdout.readline().strip()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()


def test_run_prints_url_and_stops_on_sigterm(emulator_process) -> None:
    process, url = emulator_process
    assert url.startswith("http://127.0.0.1:")

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(f"{url}/api/agent-harnesses", timeout=10) as response:
        assert json.load(response) == {"standardEnvVars": [], "harnesses": {}}
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=10) == 0


def test_client_process_with_endpoint_env(emulator_process) -> None:
    _, url = emulator_process
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "HF_ENDPOINT": url, "HF_HUB_DISABLE_XET": "1", "HF_HUB_DISABLE_TELEMETRY": "1",
               "HF_TOKEN": "hf_fake", "HF_HOME": home, "HF_HUB_DISABLE_PROGRESS_BARS": "1",
               "NO_PROXY": "127.0.0.1,localhost", "PYTHONWARNINGS": "ignore"}
        (Path(home) / "upload").mkdir()
        result = subprocess.run([sys.executable, "-c", CLIENT_SCRIPT, str(Path(home) / "upload")], env=env,
                                capture_output=True, text=True, timeout=120)

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["['.gitattributes', 'README.md', 'model.safetensors']",
                                        "tabular-classification"]
