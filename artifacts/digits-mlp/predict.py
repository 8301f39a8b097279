"""Cog predictor for digits-mlp: classify an 8x8 handwritten digit with a two-layer MLP.

The weights come from scripts/train_examples.py, which trains scikit-learn's
MLPClassifier on load_digits(). Inference needs only numpy and safetensors.
"""

import json
from pathlib import Path

import numpy as np
from cog import BaseModel, BasePredictor, Input
from safetensors.numpy import load_file

MODEL_DIR = Path(__file__).resolve().parent

NUM_PIXELS = 64

# load_digits() intensities run from 0 to 16, and training divided them by 16.
MAX_PIXEL = 16


class Output(BaseModel):
    """The most probable digit, its probability, and the top_k digits by probability."""

    label: str
    confidence: float
    top_labels: list[str]
    top_confidences: list[float]


def parse_pixels(pixels: str) -> np.ndarray:
    """Parse 64 comma-separated intensities, raising ValueError on a wrong count or range."""
    parts = [part.strip() for part in pixels.split(",")]
    if len(parts) != NUM_PIXELS:
        raise ValueError(
            f"pixels must contain {NUM_PIXELS} comma-separated values (an 8x8 image, "
            f"row by row), got {len(parts)}"
        )

    values = np.empty(NUM_PIXELS, dtype=np.float64)
    for index, part in enumerate(parts):
        try:
            value = float(part)
        except ValueError:
            raise ValueError(f"pixels[{index}] is {part!r}, which is not a number") from None
        # The chained comparison is False for NaN, so NaN is rejected here too.
        if not 0 <= value <= MAX_PIXEL:
            raise ValueError(
                f"pixels[{index}] is {part}, outside the valid range 0 to {MAX_PIXEL}"
            )
        values[index] = value
    return values


def softmax(logits: np.ndarray) -> np.ndarray:
    """Convert logits to probabilities, shifted by the maximum to avoid overflow."""
    shifted = np.exp(logits - logits.max())
    return shifted / shifted.sum()


class Predictor(BasePredictor):
    """Loads the MLP once and classifies one image per call."""

    def setup(self) -> None:
        """Load the weights and the label names stored next to this file."""
        tensors = load_file(str(MODEL_DIR / "model.safetensors"))
        self.weights = {name: array.astype(np.float64) for name, array in tensors.items()}

        config = json.loads((MODEL_DIR / "config.json").read_text(encoding="utf-8"))
        id2label = config["id2label"]
        self.labels = [id2label[str(index)] for index in range(len(id2label))]

    def predict(
        self,
        pixels: str = Input(
            description=(
                "64 comma-separated pixel intensities from 0 to 16, row by row of an "
                "8x8 image, as in scikit-learn's load_digits()"
            ),
        ),
        top_k: int = Input(
            default=1,
            ge=1,
            le=10,
            description="Number of most probable digits listed in top_labels and top_confidences",
        ),
    ) -> Output:
        """Classify one 8x8 digit image."""
        if not 1 <= top_k <= len(self.labels):
            raise ValueError(f"top_k must be between 1 and {len(self.labels)}, got {top_k}")

        features = parse_pixels(pixels) / MAX_PIXEL
        probabilities = self.forward(features)

        # A stable sort keeps the lower label first when two probabilities tie.
        order = np.argsort(-probabilities, kind="stable")[:top_k]
        top_labels = [self.labels[index] for index in order]
        top_confidences = [float(probabilities[index]) for index in order]
        return Output(
            label=top_labels[0],
            confidence=top_confidences[0],
            top_labels=top_labels,
            top_confidences=top_confidences,
        )

    def forward(self, features: np.ndarray) -> np.ndarray:
        """Run dense1, ReLU, dense2 and softmax, as MLPClassifier does for 10 classes."""
        hidden = self.weights["dense1.weight"] @ features + self.weights["dense1.bias"]
        hidden = np.maximum(hidden, 0.0)
        logits = self.weights["dense2.weight"] @ hidden + self.weights["dense2.bias"]
        return softmax(logits)
