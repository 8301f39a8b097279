"""Task metrics on an eval set: accuracy and macro F1 for labels, MAE, RMSE and R2 for numbers."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any


def task_metrics(predicted: Sequence[Any], expected: Sequence[Any]) -> dict[str, float]:
    """Score numbers against numbers as a regression; anything else, such as label strings, as classification.

    An eval set may write class 7 as ``7`` or ``"7"``: both match a model that predicts the label ``"7"``.
    """
    numbers = all(isinstance(value, int | float) and not isinstance(value, bool) for value in expected)
    labels = any(isinstance(value, str) for value in predicted)
    if expected and numbers and not labels:
        return _regression([float(value) for value in predicted], [float(value) for value in expected])
    return _classification([str(value) for value in predicted], [str(value) for value in expected])


def _classification(predicted: list[str], expected: list[str]) -> dict[str, float]:
    correct = sum(p == e for p, e in zip(predicted, expected))
    scores = []
    for label in sorted(set(expected) | set(predicted)):
        true_positive = sum(p == label and e == label for p, e in zip(predicted, expected))
        predicted_count = sum(p == label for p in predicted)
        actual_count = sum(e == label for e in expected)
        precision = true_positive / predicted_count if predicted_count else 0.0
        recall = true_positive / actual_count if actual_count else 0.0
        scores.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
    return {"accuracy": correct / len(expected), "macro_f1": sum(scores) / len(scores)}


def _regression(predicted: list[float], expected: list[float]) -> dict[str, float]:
    errors = [p - e for p, e in zip(predicted, expected)]
    mean = sum(expected) / len(expected)
    total = sum((e - mean) ** 2 for e in expected)
    residual = sum(error**2 for error in errors)
    return {
        "mae": sum(abs(error) for error in errors) / len(errors),
        "rmse": math.sqrt(residual / len(errors)),
        "r2": 1 - residual / total if total else 0.0,
    }


# Fields that carry the prediction in predictor and transformers pipeline outputs, in order of preference.
PREDICTION_FIELDS = ("label", "answer", "generated_text", "summary_text", "translation_text")


def label_of(output: Any) -> Any:
    """Return the comparable prediction of an output: the first of its ``PREDICTION_FIELDS``, else the output."""
    for name in PREDICTION_FIELDS:
        if isinstance(output, dict) and name in output:
            return output[name]
        if hasattr(output, name):
            return getattr(output, name)
    return output
