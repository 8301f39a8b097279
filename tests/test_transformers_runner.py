"""The transformers runner: a real vision transformer, trained on scikit-learn's digits, benchmarked by mrp bench."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from tests import transformers_model

pytest.importorskip("transformers")
pytest.importorskip("torch")

MODEL = "digits-vit"


@pytest.fixture(scope="session")
def trained_vit(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Train the model once per session, so that each test only copies the files into its own project."""
    root = tmp_path_factory.mktemp("digits-vit")
    accuracy = transformers_model.train(root / "artifacts" / MODEL)
    assert accuracy >= 0.9, f"the digits ViT reached only {accuracy:.3f} on held-out images"
    transformers_model.write_eval_set(root)
    return root


@pytest.fixture
def vit_project(example_project, trained_vit):
    for folder in ("artifacts", "eval"):
        shutil.copytree(trained_vit / folder, example_project.root / folder, dirs_exist_ok=True)
    example_project.manifest(MODEL).write_text(transformers_model.MANIFEST, encoding="utf-8")
    return example_project


def bench(mrp, project, *args):
    return mrp("-C", project.root, "bench", MODEL, *args)


def evidence_of(project):
    return yaml.safe_load((project.ledger / MODEL / "evidence" / "1.0.0-cpu.yaml").read_text())


def test_bench_measures_the_pipeline(vit_project, mrp):
    result = bench(mrp, vit_project)

    assert result.exit_code == 0, result.stdout + result.stderr
    evidence = evidence_of(vit_project)
    metrics = evidence["metrics"]
    assert evidence["runner"] == "transformers"
    assert evidence["eval_items"] == transformers_model.EVAL_ITEMS
    assert len(evidence["samples_ms"]) == transformers_model.EVAL_ITEMS
    assert metrics["accuracy"] >= 0.9
    assert 0 < metrics["latency_p50_ms"] <= metrics["latency_p95_ms"] <= metrics["latency_p99_ms"]
    assert metrics["throughput_per_s"] > 0
    assert metrics["setup_s"] > 0
    assert metrics["peak_memory_mb"] > 0
    assert evidence["gate_settings"]["benchmark"]["batch_size"] == 1
    assert evidence["eval_set"] == "eval/digits-vit.jsonl"
    assert evidence["eval_set_digest"].startswith("sha256:")
    assert evidence["libraries"]["transformers"].startswith("5.")
    assert evidence["libraries"]["torch"]
    assert "accuracy pass" in result.stdout


def test_batched_throughput(vit_project, mrp):
    vit_project.edit(MODEL, "    warmup: 5\n", "    warmup: 5\n    batch_size: 16\n")

    result = bench(mrp, vit_project)

    assert result.exit_code == 0, result.stdout + result.stderr
    evidence = evidence_of(vit_project)
    assert evidence["gate_settings"]["benchmark"]["batch_size"] == 16
    assert evidence["metrics"]["throughput_per_s"] > 0


def test_accuracy_below_threshold_fails(vit_project, mrp):
    vit_project.edit(MODEL, "accuracy: {min: 0.9}", "accuracy: {min: 0.9999}")

    result = bench(mrp, vit_project)

    assert result.exit_code == 1
    assert "is below the minimum 0.9999" in result.stdout


def test_promotion_planned_with_evidence(vit_project, mrp):
    assert mrp("-C", vit_project.root, "apply", "--yes").exit_code == 0
    vit_project.edit(MODEL, "channel: dev", "channel: staging")
    vit_project.edit(MODEL, "hardware:\n", "hardware:\n  staging: {sku: cpu, min_instances: 0, max_instances: 1}\n")
    waiting = mrp("-C", vit_project.root, "plan", MODEL)
    assert bench(mrp, vit_project).exit_code == 0

    result = mrp("-C", vit_project.root, "plan", MODEL)

    assert "no evidence for 1.0.0 on cpu; run `mrp bench digits-vit`" in waiting.stdout
    assert "move channel staging" not in waiting.stdout
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "gates: 7/7 pass" in result.stdout
    assert "move channel staging: (none) -> 1.0.0" in result.stdout


def _rewrite_first_item(project, item):
    path = project.root / "eval" / "digits-vit.jsonl"
    lines = path.read_text().splitlines()
    path.write_text("\n".join([json.dumps(item), *lines[1:]]) + "\n")


def test_url_rejected_before_loading(vit_project, mrp):
    _rewrite_first_item(vit_project, {"input": {"image": "https://example.invalid/seven.png"}, "expected": "7"})

    result = bench(mrp, vit_project)

    assert result.exit_code == 1
    assert "eval item 1: image contains a URL" in result.stderr
    assert not (vit_project.ledger / MODEL / "evidence").exists()


@pytest.mark.parametrize("item", [
    {"inputs": ["http://127.0.0.1:9/seven.png"]},
    {"inputs": {"image": "https://example.invalid/seven.png"}},
    {"image": "digits-vit/0000.png", "prompt": ["ftp://example.invalid/x"]},
], ids=["list", "mapping", "keyword"])
def test_nested_url_rejected(vit_project, mrp, item):
    _rewrite_first_item(vit_project, {"input": item, "expected": "7"})

    result = bench(mrp, vit_project)

    assert result.exit_code == 1
    assert "eval item 1:" in result.stderr
    assert "contains a URL" in result.stderr
    assert not (vit_project.ledger / MODEL / "evidence").exists()


@pytest.mark.parametrize("item, words", [
    ({"image": "digits-vit/0000.png", "bogus_option": 1}, "bogus_option"),
    ({"inputs": "digits-vit/0000.png"}, "Incorrect"),
], ids=["unknown-keyword", "relative-path-in-inputs"])
def test_rejected_item_is_user_error(vit_project, mrp, item, words):
    _rewrite_first_item(vit_project, {"input": item, "expected": "7"})

    result = bench(mrp, vit_project)

    assert result.exit_code == 1, result.stderr
    assert "eval item 1: the image-classification pipeline rejected it" in result.stderr
    assert words in result.stderr
    assert "give the input as image, text or inputs" in result.stderr


def test_numeric_labels_score_accuracy(vit_project, mrp):
    path = vit_project.root / "eval" / "digits-vit.jsonl"
    items = [json.loads(line) for line in path.read_text().splitlines()]
    path.write_text("".join(json.dumps({**item, "expected": int(item["expected"])}) + "\n" for item in items))

    result = bench(mrp, vit_project)

    assert result.exit_code == 0, result.stdout + result.stderr
    assert evidence_of(vit_project)["metrics"]["accuracy"] >= 0.9


def test_changed_eval_set_invalidates_evidence(vit_project, mrp):
    assert mrp("-C", vit_project.root, "apply", "--yes").exit_code == 0
    assert bench(mrp, vit_project).exit_code == 0
    vit_project.edit(MODEL, "channel: dev", "channel: staging")
    vit_project.edit(MODEL, "hardware:\n", "hardware:\n  staging: {sku: cpu, min_instances: 0, max_instances: 1}\n")
    path = vit_project.root / "eval" / "digits-vit.jsonl"
    path.write_text(path.read_text().splitlines()[0] + "\n")

    result = mrp("-C", vit_project.root, "plan", MODEL)

    assert result.exit_code == 1
    assert "but the eval set eval/digits-vit.jsonl is now sha256:" in result.stdout
    assert "run `mrp bench digits-vit` again" in result.stdout
    assert "move channel staging" not in result.stdout


def test_image_outside_repository_rejected(vit_project, mrp, tmp_path):
    (tmp_path / "outside.png").write_bytes((vit_project.root / "eval" / "digits-vit" / "0000.png").read_bytes())
    _rewrite_first_item(vit_project, {"input": {"image": "../../outside.png"}, "expected": "7"})

    result = bench(mrp, vit_project)

    assert result.exit_code == 1
    assert "eval item 1: image ../../outside.png is outside the repository" in result.stderr


def test_missing_task_names_the_fields(vit_project, mrp):
    vit_project.edit(MODEL, "  pipeline_tag: image-classification\n", "")

    result = bench(mrp, vit_project)

    assert result.exit_code == 1
    assert "set gates.benchmark.task or card.pipeline_tag" in result.stderr


def test_wrong_task_is_a_clear_error(vit_project, mrp):
    vit_project.edit(MODEL, "    runner: transformers\n", "    runner: transformers\n    task: text-classification\n")

    result = bench(mrp, vit_project)

    assert result.exit_code == 1
    assert "cannot load the text-classification pipeline from" in result.stderr
    assert "check gates.benchmark.task" in result.stderr


def test_batch_size_needs_transformers_runner(example_project, mrp):
    example_project.edit("digits-mlp", "    concurrency: 1\n", "    concurrency: 1\n    batch_size: 8\n")

    result = mrp("-C", example_project.root, "validate")

    assert result.exit_code == 1
    assert "batch_size 8 needs runner: transformers" in result.stderr
    assert "digits-mlp.yaml:" in result.stderr


@pytest.mark.skipif(shutil.which("nvidia-smi") is None, reason="no GPU on this machine")
def test_gpu_pipeline_uses_cuda(vit_project, mrp):
    import torch

    if not torch.cuda.is_available():
        pytest.skip("torch has no CUDA device")
    vit_project.edit(MODEL, "    hardware: cpu\n    dataset:", "    hardware: gpu-h100\n    dataset:")

    result = bench(mrp, vit_project, "--channel", "dev")

    assert result.exit_code == 0, result.stdout + result.stderr
    (path,) = (vit_project.ledger / MODEL / "evidence").glob("*.yaml")
    evidence = yaml.safe_load(path.read_text())
    assert evidence["hardware_class"].startswith("gpu:")
    assert evidence["metrics"]["accuracy"] >= 0.9
    assert 0 < evidence["metrics"]["peak_memory_mb"] < 1024  # CUDA max allocated: a tiny model, not process RSS
