"""Gates: benchmarks of the real example models with evidence, promotion checks and policy rules."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import sys
from pathlib import Path

import pytest
import yaml

from pipeline.config import load_project
from pipeline.gates.benchmark import judge
from pipeline.gates.policy import policy_gates
from pipeline.gates.results import Status
from pipeline.gates.runners import CogRunner
from pipeline.gates.bench import read_eval_set
from pipeline.gates.hardware import price_table
from pipeline.manifest.load import load_manifests

DIGITS = Path("artifacts/digits-mlp")


def run_ok(mrp, project, *args):
    result = mrp("-C", project.root, *args)
    assert result.exit_code == 0, result.stdout + result.stderr
    return result


def evidence_of(project, model="digits-mlp", version="1.0.0"):
    return yaml.safe_load((project.ledger / model / "evidence" / f"{version}-cpu.yaml").read_text())


def loaded_manifest(project, model="digits-mlp"):
    (loaded,) = load_manifests(load_project(project.root), [model])
    return loaded


def test_bench_writes_bound_evidence(example_project, mrp):
    result = run_ok(mrp, example_project, "bench", "digits-mlp", "--channel", "staging")

    evidence = evidence_of(example_project)
    assert "accuracy pass: 0.9694 >= 0.95" in result.stdout
    assert evidence["artifacts_digest"] == loaded_manifest(example_project).artifacts.digest
    assert evidence["hardware_class"] == "cpu"
    assert evidence["hardware"]["cpu"]
    assert evidence["hardware"]["cores"] >= 1
    assert evidence["libraries"]["cog"] == "0.23.1"
    assert evidence["mrp_version"]
    assert evidence["for_channel"] == "staging"
    assert evidence["gate_settings"]["accuracy"] == {"min": 0.95, "max": None}
    assert evidence["eval_items"] == 360
    assert len(evidence["samples_ms"]) == 360
    assert evidence["metrics"]["accuracy"] == pytest.approx(0.9694, abs=1e-4)
    assert evidence["metrics"]["latency_p50_ms"] <= evidence["metrics"]["latency_p95_ms"] \
        <= evidence["metrics"]["latency_p99_ms"]
    assert evidence["results"]["task_metric:macro_f1"]["status"] == "pass"
    assert not (example_project.root / DIGITS / "__pycache__").exists()


def test_bench_regression_model(example_project, mrp):
    result = run_ok(mrp, example_project, "bench", "diabetes-progression")

    metrics = evidence_of(example_project, "diabetes-progression")["metrics"]
    assert "task_metric:r2 pass" in result.stdout
    assert metrics["r2"] == pytest.approx(0.3311, abs=1e-3)
    assert metrics["mae"] < 50


def test_promotion_needs_evidence(example_project, mrp):
    run_ok(mrp, example_project, "apply", "--yes")
    example_project.edit("digits-mlp", "channel: dev ", "channel: staging ")

    blocked = mrp("-C", example_project.root, "plan", "digits-mlp")
    run_ok(mrp, example_project, "bench", "digits-mlp")
    allowed = run_ok(mrp, example_project, "plan", "digits-mlp")

    assert blocked.exit_code == 1
    assert "1.0.0 cannot enter staging: gate benchmark missing: no evidence for 1.0.0 on cpu; run " \
           "`mrp bench digits-mlp` on cpu" in blocked.stdout
    assert "move channel staging: (none) -> 1.0.0" in allowed.stdout


def test_evidence_for_other_bytes_refused(example_project, mrp):
    run_ok(mrp, example_project, "apply", "--yes")
    run_ok(mrp, example_project, "bench", "digits-mlp")
    path = example_project.ledger / "digits-mlp" / "evidence" / "1.0.0-cpu.yaml"
    evidence = yaml.safe_load(path.read_text())
    evidence["artifacts_digest"] = "sha256:" + "0" * 64
    path.write_text(yaml.safe_dump(evidence))
    example_project.edit("digits-mlp", "channel: dev ", "channel: staging ")

    result = mrp("-C", example_project.root, "plan", "digits-mlp")

    assert result.exit_code == 1
    assert f"the evidence measured artifacts sha256:{'0' * 64}, but version 1.0.0 has " \
           f"{loaded_manifest(example_project).artifacts.digest}" in result.stdout


def test_cpu_evidence_never_satisfies_gpu_gate(example_project, mrp):
    example_project.edit("digits-mlp", "    hardware: cpu\n    dataset:", "    hardware: gpu-t4\n    dataset:")
    run_ok(mrp, example_project, "apply", "--yes")
    run_ok(mrp, example_project, "bench", "digits-mlp")
    example_project.edit("digits-mlp", "channel: dev ", "channel: staging ")

    result = mrp("-C", example_project.root, "plan", "digits-mlp")

    assert result.exit_code == 1
    assert "no evidence for 1.0.0 on gpu-t4 (evidence from cpu does not satisfy a gpu-t4 gate)" in result.stdout


def test_threshold_failure_exits_1(example_project, mrp):
    example_project.edit("digits-mlp", "accuracy: {min: 0.95}", "accuracy: {min: 0.99}")

    result = mrp("-C", example_project.root, "bench", "digits-mlp")

    assert result.exit_code == 1
    assert "accuracy fail: 0.9694 is below the minimum 0.99" in result.stdout


def _sleep_in_predict(project, seconds: float) -> None:
    path = project.root / DIGITS / "predict.py"
    text = path.read_text()
    text = text.replace("import json\n", "import json\nimport time\n", 1)
    text = text.replace("    ) -> Output:\n", f"    ) -> Output:\n        time.sleep({seconds})\n", 1)
    assert f"time.sleep({seconds})" in text
    path.write_text(text)


def test_slowed_predictor_fails_regression(example_project, mrp):
    run_ok(mrp, example_project, "apply", "--yes")
    run_ok(mrp, example_project, "bench", "digits-mlp")
    _sleep_in_predict(example_project, 0.002)
    example_project.edit("digits-mlp", "version: 1.0.0", "version: 1.0.1")

    result = mrp("-C", example_project.root, "bench", "digits-mlp")

    assert result.exit_code == 1
    assert "regression fail: p50 latency ratio to 1.0.0 is" in result.stdout


def test_ten_percent_slowdown_fails_regression(example_project, mrp):
    example_project.edit("digits-mlp", "    max_slowdown: 1.10", "    max_slowdown: 1.04")
    example_project.edit("digits-mlp", "latency_p50_ms: {max: 5}", "latency_p50_ms: {max: 50}")
    example_project.edit("digits-mlp", "latency_p95_ms: {max: 20}", "latency_p95_ms: {max: 50}")
    example_project.edit("digits-mlp", "throughput_per_s: {min: 100}", "throughput_per_s: {min: 1}")
    example_project.git("-c", "user.name=Test", "-c", "user.email=test@example.invalid", "commit", "-qam", "gates")
    _sleep_in_predict(example_project, 0.005)
    example_project.edit("digits-mlp", "version: 1.0.0", "version: 1.0.1")
    run_ok(mrp, example_project, "bench", "digits-mlp")
    text = (example_project.root / DIGITS / "predict.py").read_text()
    (example_project.root / DIGITS / "predict.py").write_text(text.replace("time.sleep(0.005)", "time.sleep(0.0055)"))
    example_project.edit("digits-mlp", "version: 1.0.1", "version: 1.0.2")

    result = mrp("-C", example_project.root, "bench", "digits-mlp")

    assert result.exit_code == 1
    assert "regression fail: p50 latency ratio to 1.0.1 is 1." in result.stdout


def test_identical_runs_never_fail_regression(example_project):
    loaded = loaded_manifest(example_project)
    inputs, _ = read_eval_set(load_project(example_project.root), "eval/digits-mlp.jsonl")
    runner = CogRunner(loaded.artifacts.root, "predict.py:Predictor")
    baseline = {"version": "0.9.0", "samples_ms": runner.measure(inputs[:120], 5, 1).samples_ms}

    verdicts = []
    for _ in range(100):
        samples = runner.measure(inputs[:120], 5, 1).samples_ms
        verdicts.append(judge(loaded.manifest.gates, {}, samples, baseline)[-1].status)

    assert Status.FAIL not in verdicts
    assert verdicts.count(Status.PASS) + verdicts.count(Status.INCONCLUSIVE) == 100


def test_command_runner(example_project, mrp):
    script = example_project.root / "bench.py"
    script.write_text("import json, os\n"
                      "assert os.environ['MRP_ARTIFACTS'].endswith('digits-mlp')\n"
                      "print('warming up')\n"
                      "print(json.dumps({'samples_ms': [1.0, 2.0, 3.0, 4.0], 'accuracy': 0.97, 'device': 'cpu'}))\n")
    example_project.edit("digits-mlp", "    runner: cog\n    command: null",
                         f"    runner: command\n    command: [{sys.executable}, bench.py]")

    result = run_ok(mrp, example_project, "bench", "digits-mlp")

    assert "accuracy pass: 0.97 >= 0.95" in result.stdout
    assert evidence_of(example_project)["samples_ms"] == [1.0, 2.0, 3.0, 4.0]


def test_fork_pull_request_is_not_benchmarked(example_project, mrp, monkeypatch, tmp_path):
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"head": {"repo": {"full_name": "mallory/models"}},
                                                  "base": {"repo": {"full_name": "acme/models"}}}}))
    monkeypatch.setenv("GITHUB_EVENT_NAME", "pull_request")
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(event))

    result = mrp("-C", example_project.root, "bench", "digits-mlp")

    assert result.exit_code == 1
    assert "refusing to run model code from the fork mallory/models" in result.stderr
    assert not (example_project.ledger / "digits-mlp" / "evidence").exists()


def test_malicious_pickle_caught_without_loading(example_project, mrp):
    marker = example_project.root.parent / "pwned"

    class Exploit:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    (example_project.root / DIGITS / "extra.pkl").write_bytes(pickle.dumps(Exploit()))

    result = mrp("-C", example_project.root, "validate")

    assert result.exit_code == 1
    assert "policy gate pickle-scan failed: extra.pkl imports posix.system when loaded" in result.stderr
    assert not marker.exists()


def test_safe_pickle_passes(example_project, mrp):
    (example_project.root / DIGITS / "extra.pkl").write_bytes(pickle.dumps({"weights": [1.0, 2.0]}))
    example_project.edit("digits-mlp", "version: 1.0.0", "version: 1.1.0")

    assert mrp("-C", example_project.root, "validate").exit_code == 0


def _base(project, repo: str, license_id: str) -> None:
    project.edit("digits-mlp", "  base_model: null", f"  base_model: {repo}")
    project.edit("digits-mlp", "  base_model_license: null", f"  base_model_license: {license_id}")


POLICY_CASES = [
    ("non-commercial with paid tier", lambda p: p.edit("digits-mlp", "license: apache-2.0", "license: cc-by-nc-4.0"),
     "license-pricing", "license cc-by-nc-4.0 forbids commercial use, but pricing has paid tiers"),
    ("llama base under apache", lambda p: _base(p, "meta-llama/Llama-3.1-8B", "llama3.1"),
     "base-model-license", "base model meta-llama/Llama-3.1-8B is licensed llama3.1, whose conditions carry over "
                           "to derivatives, but this model declares apache-2.0"),
    ("non-commercial base", lambda p: _base(p, "acme/research", "cc-by-nc-4.0"),
     "base-model-license", "base model acme/research is licensed cc-by-nc-4.0 (non-commercial), but this model "
                           "declares apache-2.0"),
    ("up_to not increasing", lambda p: p.edit("digits-mlp", "{up_to: 10000, per_run: 0.0005}",
                                              "{up_to: 500, per_run: 0.0005}"),
     "pricing-tiers", "up_to must increase: tier 1 has 500 after 1000"),
    ("last tier bounded", lambda p: p.edit("digits-mlp", "{per_run: 0.0002}", "{up_to: 50000, per_run: 0.0002}"),
     "pricing-tiers", "the last tier stops at up_to 50000"),
    ("unbounded middle tier", lambda p: p.edit("digits-mlp", "{up_to: 10000, per_run: 0.0005}", "{per_run: 0.0005}"),
     "pricing-tiers", "tier 1 has no up_to but is not the last tier"),
    ("price rising", lambda p: p.edit("digits-mlp", "{per_run: 0.0002}", "{per_run: 0.002}"),
     "pricing-tiers", "tier 2 charges 0.002 per run, more than 0.0005"),
    ("card without evaluation", lambda p: p.edit("digits-mlp", "  evaluation: Accuracy", "  summary_note: Accuracy"),
     None, "unknown key"),
]


def test_llama_base_with_llama_license_passes(example_project, mrp):
    _base(example_project, "meta-llama/Llama-3.1-8B", "llama3.1")
    example_project.edit("digits-mlp", "license: apache-2.0", "license: llama3.1")

    assert mrp("-C", example_project.root, "validate").exit_code == 0


@pytest.mark.parametrize("case_id, change, gate, words", POLICY_CASES, ids=[case[0] for case in POLICY_CASES])
def test_policy_gate_fails(example_project, mrp, case_id, change, gate, words):
    change(example_project)

    result = mrp("-C", example_project.root, "validate")

    assert result.exit_code == 1
    if gate:
        assert f"policy gate {gate} failed: " in result.stderr
    assert words in result.stderr


def test_policy_gates_pass_on_examples(example_project):
    for model in ("digits-mlp", "diabetes-progression"):
        results = policy_gates(loaded_manifest(example_project, model), 0.05, price_table())

        assert [result.gate for result in results if result.status is not Status.PASS] == []


def test_card_completeness_needs_evaluation(example_project):
    text = example_project.manifest("digits-mlp").read_text()
    start = text.index("  evaluation:")
    end = text.index("\n", start) + 1
    example_project.manifest("digits-mlp").write_text(text[:start] + text[end:])

    results = {result.gate: result for result in policy_gates(loaded_manifest(example_project), 0.05, price_table())}

    assert results["card-complete"].status is Status.FAIL
    assert "card.evaluation is missing" in results["card-complete"].message


def test_price_below_hardware_cost_fails(example_project, mrp):
    run_ok(mrp, example_project, "bench", "digits-mlp")
    example_project.edit("digits-mlp", "    sku: cpu\n    min_instances: 0\n    max_instances: 3",
                         "    sku: gpu-h100\n    min_instances: 0\n    max_instances: 3")
    prices = example_project.root / "prices.yaml"
    prices.write_text("hardware:\n  gpu-h100: {name: H100, gpu: true, usd_per_second: 50.0}\n")
    config = example_project.root / "mrp.toml"
    config.write_text(config.read_text() + 'hardware_prices = "prices.yaml"\n')

    result = mrp("-C", example_project.root, "validate")

    assert result.exit_code == 1
    assert "policy gate price-cost:stable failed: cheapest per_run 0.0002 vs gpu-h100 50/s x p95" in result.stderr
    assert "raise the price or use cheaper hardware" in result.stderr


def test_price_cost_passes_with_evidence(example_project, mrp):
    run_ok(mrp, example_project, "bench", "digits-mlp")
    loaded = loaded_manifest(example_project)

    results = {result.gate: result for result in policy_gates(loaded, 0.05, price_table())}

    assert results["price-cost:stable"].status is Status.PASS
    assert "cheapest per_run 0.0002 vs cpu 0.0001/s" in results["price-cost:stable"].message


@pytest.mark.skipif(shutil.which("nvidia-smi") is None, reason="no GPU on this machine")
def test_gpu_benchmark_uses_cuda_timing(example_project, mrp):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("torch has no CUDA device")
    folder = example_project.root / "artifacts" / "digits-mlp"
    (folder / "predict.py").write_text(
        "import torch\nfrom cog import BasePredictor, Input\n\n\n"
        "class Predictor(BasePredictor):\n"
        "    def setup(self) -> None:\n"
        "        self.weights = torch.randn(4096, 4096, device='cuda')\n\n"
        "    def predict(self, pixels: str = Input(description='ignored'), top_k: int = Input(default=1)) -> str:\n"
        "        out = self.weights @ self.weights\n"
        "        return str(int(out.argmax().item()) % 10)\n")
    example_project.edit("digits-mlp", "    hardware: cpu\n    dataset:", "    hardware: gpu-h100\n    dataset:")
    example_project.edit("digits-mlp", "accuracy: {min: 0.95}", "accuracy: {min: 0.0}")
    example_project.edit("digits-mlp", "task_metric: {name: macro_f1, min: 0.95}", "task_metric: {name: macro_f1, min: 0.0}")

    mrp("-C", example_project.root, "bench", "digits-mlp")

    files = list((example_project.ledger / "digits-mlp" / "evidence").glob("*.yaml"))
    evidence = yaml.safe_load(files[0].read_text())
    assert evidence["hardware_class"].startswith("gpu:")
    assert evidence["hardware"]["gpu"]["memory_mb"] > 0
    assert evidence["metrics"]["peak_memory_mb"] >= 64  # CUDA max allocated: the 4096 x 4096 float32 weights


def test_card_results_come_from_evidence(example_project, mrp):
    import subprocess

    run_ok(mrp, example_project, "bench", "digits-mlp")
    run_ok(mrp, example_project, "apply", "--yes")

    def card(model: str) -> str:
        return subprocess.run(["git", "show", "v1.0.0:README.md"], cwd=example_project.registry / f"{model}.git",
                              check=True, capture_output=True, text=True).stdout

    accuracy = evidence_of(example_project)["metrics"]["accuracy"]
    metadata = yaml.safe_load(card("digits-mlp").split("---\n")[1])
    metrics = {item["type"]: item["value"] for item in metadata["model-index"][0]["results"][0]["metrics"]}
    assert metrics["accuracy"] == round(accuracy, 6)
    assert "| Accuracy | 0.9694 |" in card("digits-mlp")
    assert "model-index" not in card("diabetes-progression")


def test_card_metadata_matches_rendered_front_matter(example_project, mrp):
    from pipeline.release import build_release
    from pipeline.targets.huggingface.cardcheck import card_metadata

    run_ok(mrp, example_project, "bench", "digits-mlp")
    evidence = evidence_of(example_project)

    for model, measured in (("digits-mlp", evidence), ("diabetes-progression", None)):
        release = build_release(loaded_manifest(example_project, model), measured)

        assert release.card_metadata == card_metadata(release.card)
    assert "model-index" in build_release(loaded_manifest(example_project), evidence).card_metadata
