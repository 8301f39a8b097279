"""Train the two example models in artifacts/ from data sets that scikit-learn ships.

For each model the script writes ``artifacts/NAME/model.safetensors``,
``artifacts/NAME/config.json`` and the held-out split as ``eval/NAME.jsonl``.
The predictor code next to the weights (``predict.py``, ``cog.yaml``,
``requirements.txt``) is written by hand and is not touched here.

Two runs write byte-identical files: the seeds and splits are fixed, BLAS runs
on one thread, weights are rounded before they are stored as float32, JSON keys
are sorted, and the safetensors metadata is fixed.

Usage: python scripts/train_examples.py [--out DIR]
"""

import argparse
import json
import logging
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import save_file
from sklearn.datasets import load_diabetes, load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import Ridge
from sklearn.metrics import accuracy_score, mean_absolute_error, r2_score
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

logger = logging.getLogger("train_examples")

REPO_ROOT = Path(__file__).resolve().parent.parent

SEED = 0
TEST_SIZE = 0.2

# Rounding to 6 decimals hides the last-bit differences that BLAS kernels for
# different CPUs leave in the trained weights, so the stored bytes match. With
# OpenBLAS 0.3.30 forced to its SkylakeX, Haswell, SandyBridge and Prescott
# kernels (OPENBLAS_CORETYPE), the raw MLP weights differ but the files do not.
# NOTE: MKL or Accelerate builds and other numpy or scikit-learn versions were
# not checked, and Adam's few hundred iterations could grow a difference past
# the 6th decimal there.
WEIGHT_DECIMALS = 6

# safetensors 0.8 keeps the metadata in a hash map, so a header with several
# metadata keys lists them in a different order on each run. One key is stable.
SAFETENSORS_METADATA = {"format": "np"}

DIGITS_MAX_PIXEL = 16
DIGITS_HIDDEN_SIZES = [64]

DIABETES_RIDGE_ALPHA = 1.0

# Public input names for the diabetes columns, in the column order of
# load_diabetes(). The comments give scikit-learn's description of each column.
DIABETES_FEATURES = {
    "age": "age",  # age in years
    "sex": "sex",  # coded 1 or 2
    "bmi": "bmi",  # body mass index
    "bp": "blood_pressure",  # average blood pressure
    "s1": "total_cholesterol",  # tc, total serum cholesterol
    "s2": "ldl",  # ldl, low-density lipoproteins
    "s3": "hdl",  # hdl, high-density lipoproteins
    "s4": "cholesterol_ratio",  # tch, total cholesterol / HDL
    "s5": "triglycerides_log",  # ltg, possibly log of serum triglycerides level
    "s6": "blood_sugar",  # glu, blood sugar level
}


@dataclass(frozen=True)
class TrainedModel:
    """Everything the script writes for one model, plus its held-out metrics."""

    name: str
    tensors: dict[str, np.ndarray]
    config: dict[str, Any]
    eval_items: list[dict[str, Any]]
    metrics: dict[str, float]


def to_stored_tensor(array: np.ndarray) -> np.ndarray:
    """Round weights and convert them to contiguous float32 for storage."""
    return np.ascontiguousarray(np.round(array, WEIGHT_DECIMALS).astype(np.float32))


def train_digits() -> TrainedModel:
    """Train a one-hidden-layer MLP on the 8x8 digit images of load_digits()."""
    digits = load_digits()
    pixels = digits.data
    labels = digits.target
    train_x, test_x, train_y, test_y = train_test_split(
        pixels, labels, test_size=TEST_SIZE, random_state=SEED, stratify=labels
    )

    model = MLPClassifier(
        hidden_layer_sizes=tuple(DIGITS_HIDDEN_SIZES),
        activation="relu",
        solver="adam",
        max_iter=500,
        random_state=SEED,
    )
    # A ConvergenceWarning only means max_iter ended training, and the held-out
    # accuracy logged below is what matters, so the warning is logged instead.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        model.fit(train_x / DIGITS_MAX_PIXEL, train_y)
    for warning in caught:
        logger.warning("digits-mlp: %s", warning.message)
    logger.info("digits-mlp: trained for %d iterations", model.n_iter_)

    accuracy = accuracy_score(test_y, model.predict(test_x / DIGITS_MAX_PIXEL))

    # sklearn stores coefs_ as (in, out), and the file stores (out, in) like torch.nn.Linear.
    tensors = {
        "dense1.weight": to_stored_tensor(model.coefs_[0].T),
        "dense1.bias": to_stored_tensor(model.intercepts_[0]),
        "dense2.weight": to_stored_tensor(model.coefs_[1].T),
        "dense2.bias": to_stored_tensor(model.intercepts_[1]),
    }

    class_names = [str(label) for label in model.classes_]
    config = {
        "architectures": ["MLPClassifier"],
        "model_type": "mlp",
        "task": "image-classification",
        "num_features": pixels.shape[1],
        "image_size": [8, 8],
        "max_pixel_value": DIGITS_MAX_PIXEL,
        "hidden_sizes": DIGITS_HIDDEN_SIZES,
        "hidden_act": "relu",
        "num_labels": len(class_names),
        "id2label": {str(index): name for index, name in enumerate(class_names)},
        "label2id": {name: index for index, name in enumerate(class_names)},
    }

    eval_items = [
        {"input": {"pixels": format_pixels(row)}, "expected": str(label)}
        for row, label in zip(test_x, test_y)
    ]
    return TrainedModel("digits-mlp", tensors, config, eval_items, {"accuracy": accuracy})


def format_pixels(row: np.ndarray) -> str:
    """Format one image as the comma-separated integer intensities predict() accepts."""
    return ",".join(str(int(value)) for value in row)


def train_diabetes() -> TrainedModel:
    """Train a ridge regression on standardized load_diabetes(scaled=False) features."""
    diabetes = load_diabetes(scaled=False)
    features = diabetes.data
    target = diabetes.target
    train_x, test_x, train_y, test_y = train_test_split(
        features, target, test_size=TEST_SIZE, random_state=SEED
    )

    scaler = StandardScaler().fit(train_x)
    model = Ridge(alpha=DIABETES_RIDGE_ALPHA).fit(scaler.transform(train_x), train_y)

    predicted = model.predict(scaler.transform(test_x))
    metrics = {
        "r2": r2_score(test_y, predicted),
        "mae": mean_absolute_error(test_y, predicted),
    }

    tensors = {
        "scaler.mean": to_stored_tensor(scaler.mean_),
        "scaler.scale": to_stored_tensor(scaler.scale_),
        "linear.weight": to_stored_tensor(model.coef_.reshape(1, -1)),
        "linear.bias": to_stored_tensor(np.array([model.intercept_])),
    }

    source_names = list(diabetes.feature_names)
    feature_names = [DIABETES_FEATURES[name] for name in source_names]
    config = {
        "architectures": ["Ridge"],
        "model_type": "ridge",
        "task": "tabular-regression",
        "num_features": len(feature_names),
        "feature_names": feature_names,
        "source_feature_names": source_names,
        "preprocessing": "standardize: (x - scaler.mean) / scaler.scale",
        "alpha": DIABETES_RIDGE_ALPHA,
        "target": {
            "name": "disease_progression",
            "description": "Quantitative measure of disease progression one year after baseline",
        },
    }

    eval_items = [
        {"input": diabetes_input(row, feature_names), "expected": float(value)}
        for row, value in zip(test_x, test_y)
    ]
    return TrainedModel("diabetes-progression", tensors, config, eval_items, metrics)


def diabetes_input(row: np.ndarray, feature_names: list[str]) -> dict[str, float | int]:
    """Map one data row to predict() keyword arguments, with sex as an integer choice."""
    values: dict[str, float | int] = {}
    for name, value in zip(feature_names, row):
        values[name] = int(value) if name == "sex" else float(value)
    return values


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write JSON with sorted keys and a trailing newline so the bytes are stable."""
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def write_jsonl(path: Path, items: list[dict[str, Any]]) -> None:
    """Write one JSON object per line with sorted keys."""
    lines = [json.dumps(item, sort_keys=True) + "\n" for item in items]
    path.write_text("".join(lines), encoding="utf-8")


def write_model(trained: TrainedModel, out_dir: Path) -> list[Path]:
    """Write the weights, config and eval set of one model and return their paths."""
    artifact_dir = out_dir / "artifacts" / trained.name
    eval_dir = out_dir / "eval"
    artifact_dir.mkdir(parents=True, exist_ok=True)
    eval_dir.mkdir(parents=True, exist_ok=True)

    weights_path = artifact_dir / "model.safetensors"
    config_path = artifact_dir / "config.json"
    eval_path = eval_dir / f"{trained.name}.jsonl"

    save_file(trained.tensors, str(weights_path), metadata=SAFETENSORS_METADATA)
    write_json(config_path, trained.config)
    write_jsonl(eval_path, trained.eval_items)
    return [weights_path, config_path, eval_path]


TRAINERS: dict[str, Callable[[], TrainedModel]] = {
    "digits-mlp": train_digits,
    "diabetes-progression": train_diabetes,
}


def train_all(out_dir: Path) -> list[tuple[TrainedModel, list[Path]]]:
    """Train every example model on one BLAS thread and write its files under out_dir."""
    results = []
    with threadpool_limits(limits=1):
        for name, trainer in TRAINERS.items():
            logger.info("%s: training", name)
            trained = trainer()
            paths = write_model(trained, out_dir)
            logger.info("%s: wrote %d files", name, len(paths))
            results.append((trained, paths))
    return results


def format_summary(results: list[tuple[TrainedModel, list[Path]]], out_dir: Path) -> str:
    """Format the held-out metrics and file sizes of each model, one model per block."""
    lines = []
    for trained, paths in results:
        metrics = ", ".join(f"{key}={value:.4f}" for key, value in sorted(trained.metrics.items()))
        lines.append(f"{trained.name}: {metrics} on {len(trained.eval_items)} held-out items")
        for path in paths:
            lines.append(f"  {path.relative_to(out_dir)}  {path.stat().st_size} bytes")
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out",
        type=Path,
        default=REPO_ROOT,
        help="folder that receives artifacts/NAME/ and eval/NAME.jsonl (default: the repository root)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Train the example models, write their files and print a summary."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    out_dir = args.out.resolve()
    results = train_all(out_dir)
    print(format_summary(results, out_dir))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
