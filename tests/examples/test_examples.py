"""Tests for the example models: reproducible training and the cog predictors.

The training script runs as a subprocess, the way a user runs it. The predictors
are loaded in-process with the cog SDK, and every input goes through cog's own
check_input, which applies defaults and the Input() bounds as a cog server does.
"""

import hashlib
import json
import subprocess
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from cog._inspector import check_input, create_predictor
from cog.predictor import load_predictor_from_ref
from sklearn.datasets import load_diabetes

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / "scripts" / "train_examples.py"
MODEL_NAMES = ["digits-mlp", "diabetes-progression"]

# Files the training script writes, relative to its --out folder.
GENERATED_FILES = [
    path
    for name in MODEL_NAMES
    for path in (f"artifacts/{name}/model.safetensors", f"artifacts/{name}/config.json", f"eval/{name}.jsonl")
]

# Files under artifacts/NAME/ that are written by hand, not by the training script.
HAND_WRITTEN_FILES = {"predict.py", "cog.yaml", "requirements.txt"}

# cog 0.23 keeps BasePredictor and predict() working but warns that they are deprecated.
pytestmark = pytest.mark.filterwarnings(
    "ignore:.*(BasePredictor|predict\\(\\)) is deprecated:DeprecationWarning"
)


def hash_files(root: Path) -> dict[str, str]:
    """Map each file's path relative to root to its sha256."""
    return {
        path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def run_training(out_dir: Path) -> dict[str, str]:
    """Run the training script into out_dir and return the hashes of what it wrote."""
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(out_dir)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, f"train_examples.py failed:\n{result.stderr}"
    return hash_files(out_dir)


@pytest.fixture(scope="module")
def trained_twice(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], dict[str, str]]:
    """Hashes of two independent training runs."""
    first = run_training(tmp_path_factory.mktemp("first"))
    second = run_training(tmp_path_factory.mktemp("second"))
    return first, second


def test_training_writes_expected_files(trained_twice):
    first, _ = trained_twice

    assert sorted(first) == sorted(GENERATED_FILES)


def test_training_is_byte_identical(trained_twice):
    first, second = trained_twice

    assert first == second


@pytest.mark.parametrize("relative_path", GENERATED_FILES)
def test_committed_file_matches_training(trained_twice, relative_path):
    first, _ = trained_twice
    committed = REPO_ROOT / relative_path

    assert committed.is_file(), f"{relative_path} is missing. Run scripts/train_examples.py."
    assert hashlib.sha256(committed.read_bytes()).hexdigest() == first[relative_path], (
        f"{relative_path} differs from a fresh training run. Run scripts/train_examples.py."
    )


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_artifact_folder_contents(name):
    folder = REPO_ROOT / "artifacts" / name
    files = {path.name for path in folder.iterdir()}

    assert HAND_WRITTEN_FILES <= files
    assert {"model.safetensors", "config.json"} <= files
    assert "__pycache__" not in files


@dataclass
class LoadedPredictor:
    """A predictor after setup(), with the input fields cog read from its signature."""

    predictor: Any
    info: Any

    def run(self, values: dict[str, Any]) -> Any:
        """Apply cog's input checks and defaults, then call predict()."""
        return self.predictor.predict(**check_input(self.info.inputs, values))


def load_predictor(name: str) -> LoadedPredictor:
    """Load artifacts/NAME/predict.py with the cog SDK and call setup() once.

    Both predictors are modules named "predict", so the entry cog adds to
    sys.modules is removed again. Bytecode writing is off so that no
    __pycache__ folder appears in the artifact folder.
    """
    predict_file = REPO_ROOT / "artifacts" / name / "predict.py"
    previous_module = sys.modules.pop("predict", None)
    previous_dont_write = sys.dont_write_bytecode
    sys.dont_write_bytecode = True
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "BasePredictor is deprecated", DeprecationWarning)
            warnings.filterwarnings("ignore", r".*predict\(\) is deprecated", DeprecationWarning)
            predictor = load_predictor_from_ref(f"{predict_file}:Predictor")
            info = create_predictor("predict", "Predictor")
    finally:
        sys.dont_write_bytecode = previous_dont_write
        sys.modules.pop("predict", None)
        if previous_module is not None:
            sys.modules["predict"] = previous_module

    predictor.setup()
    return LoadedPredictor(predictor, info)


def read_eval_items(name: str) -> list[dict[str, Any]]:
    """Read eval/NAME.jsonl."""
    lines = (REPO_ROOT / "eval" / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def read_config(name: str) -> dict[str, Any]:
    """Read artifacts/NAME/config.json."""
    return json.loads((REPO_ROOT / "artifacts" / name / "config.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def digits() -> LoadedPredictor:
    return load_predictor("digits-mlp")


@pytest.fixture(scope="module")
def diabetes() -> LoadedPredictor:
    return load_predictor("diabetes-progression")


def test_digits_inputs(digits):
    inputs = digits.info.inputs

    assert list(inputs) == ["pixels", "top_k"]
    assert inputs["top_k"].default == 1
    assert inputs["top_k"].ge == 1
    assert inputs["top_k"].le == 10


def test_digits_config_labels():
    config = read_config("digits-mlp")

    assert config["id2label"] == {str(digit): str(digit) for digit in range(10)}
    assert config["label2id"] == {str(digit): digit for digit in range(10)}
    assert config["num_features"] == 64
    assert config["task"] == "image-classification"


def test_digits_eval_accuracy(digits):
    items = read_eval_items("digits-mlp")

    correct = sum(digits.run(item["input"]).label == item["expected"] for item in items)
    accuracy = correct / len(items)

    assert len(items) == 360
    assert accuracy >= 0.9, f"accuracy {accuracy:.4f} on {len(items)} eval items"


def test_digits_top_k_sorted(digits):
    item = read_eval_items("digits-mlp")[0]

    output = digits.run({**item["input"], "top_k": 3})

    assert len(output.top_labels) == 3
    assert len(set(output.top_labels)) == 3
    assert output.top_labels[0] == output.label
    assert output.top_confidences[0] == output.confidence
    assert output.top_confidences == sorted(output.top_confidences, reverse=True)
    assert sum(output.top_confidences) <= 1.0 + 1e-9


def test_digits_top_10_sums_to_one(digits):
    item = read_eval_items("digits-mlp")[0]

    output = digits.run({**item["input"], "top_k": 10})

    assert sorted(output.top_labels) == [str(digit) for digit in range(10)]
    assert sum(output.top_confidences) == pytest.approx(1.0)


def test_cog_rejects_top_k_11(digits):
    item = read_eval_items("digits-mlp")[0]

    with pytest.raises(ValueError, match="top_k"):
        digits.run({**item["input"], "top_k": 11})


@pytest.mark.parametrize("pixels, message", [
    (",".join(["0"] * 63), "64 comma-separated values"),
    (",".join(["0"] * 65), "64 comma-separated values"),
    (",".join(["0"] * 63 + ["17"]), "outside the valid range"),
    (",".join(["-1"] + ["0"] * 63), "outside the valid range"),
    (",".join(["nan"] + ["0"] * 63), "outside the valid range"),
    (",".join(["x"] + ["0"] * 63), "not a number"),
    ("", "64 comma-separated values"),
])
def test_digits_bad_pixels_rejected(digits, pixels, message):
    with pytest.raises(ValueError, match=message):
        digits.predictor.predict(pixels=pixels, top_k=1)


@pytest.mark.parametrize("pixels", [
    ",".join(["0"] * 64),
    ",".join(["16"] * 64),
    ",".join(["16"] * 32 + ["0.5"] * 32),
    " " + ", ".join(["8"] * 64) + " ",
])
def test_digits_valid_pixels_accepted(digits, pixels):
    output = digits.predictor.predict(pixels=pixels, top_k=1)

    assert output.label in {str(digit) for digit in range(10)}
    assert 0.0 < output.confidence <= 1.0


def test_diabetes_inputs_follow_config(diabetes):
    config = read_config("diabetes-progression")

    assert list(diabetes.info.inputs) == config["feature_names"]
    assert config["task"] == "tabular-regression"
    assert diabetes.info.inputs["sex"].choices == [1, 2]


def test_diabetes_bounds_cover_data_set(diabetes):
    data = load_diabetes(scaled=False).data
    config = read_config("diabetes-progression")

    for column, name in enumerate(config["feature_names"]):
        field = diabetes.info.inputs[name]
        low = data[:, column].min()
        high = data[:, column].max()
        if field.choices is not None:
            assert set(np.unique(data[:, column]).astype(int)) <= set(field.choices), name
        else:
            assert field.ge < low, f"{name}: ge={field.ge}, data minimum {low}"
            assert field.le > high, f"{name}: le={field.le}, data maximum {high}"


def test_diabetes_eval_quality(diabetes):
    items = read_eval_items("diabetes-progression")

    outputs = [diabetes.run(item["input"]) for item in items]
    predicted = np.array(outputs)
    expected = np.array([item["expected"] for item in items])
    r2 = 1.0 - np.sum((expected - predicted) ** 2) / np.sum((expected - expected.mean()) ** 2)
    mae = np.mean(np.abs(expected - predicted))

    assert len(items) == 89
    assert all(type(output) is float for output in outputs)
    assert r2 >= 0.3, f"R2 {r2:.4f} on {len(items)} eval items"
    assert mae <= 50.0, f"MAE {mae:.2f} on {len(items)} eval items"


def test_cog_rejects_diabetes_out_of_range(diabetes):
    item = read_eval_items("diabetes-progression")[0]

    with pytest.raises(ValueError, match="bmi"):
        diabetes.run({**item["input"], "bmi": 80.0})
    with pytest.raises(ValueError, match="sex"):
        diabetes.run({**item["input"], "sex": 3})


@pytest.mark.parametrize("top_k", [0, 11])
def test_digits_predict_checks_top_k(digits, top_k):
    item = read_eval_items("digits-mlp")[0]

    with pytest.raises(ValueError, match="top_k must be between 1 and 10"):
        digits.predictor.predict(pixels=item["input"]["pixels"], top_k=top_k)
