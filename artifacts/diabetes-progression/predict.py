"""Cog predictor for diabetes-progression: a ridge regression on ten baseline measurements.

The weights come from scripts/train_examples.py, which fits scikit-learn's Ridge
on standardized load_diabetes(scaled=False) features. Inference needs only
numpy and safetensors. The input bounds cover the range of the 442 patients in
that data set with a margin, and the model was never fitted outside that range.
"""

from pathlib import Path

import numpy as np
from cog import BasePredictor, Input
from safetensors.numpy import load_file

MODEL_DIR = Path(__file__).resolve().parent


class Predictor(BasePredictor):
    """Loads the standardization and regression weights once and scores one patient per call."""

    def setup(self) -> None:
        """Load the weights stored next to this file."""
        tensors = load_file(str(MODEL_DIR / "model.safetensors"))
        self.mean = tensors["scaler.mean"].astype(np.float64)
        self.scale = tensors["scaler.scale"].astype(np.float64)
        self.weight = tensors["linear.weight"].astype(np.float64)[0]
        self.bias = float(tensors["linear.bias"][0])

    def predict(
        self,
        age: float = Input(description="Age in years", ge=18, le=100),
        sex: int = Input(
            description="Sex, coded 1 or 2 as in the source data set",
            choices=[1, 2],
        ),
        bmi: float = Input(description="Body mass index in kg/m2", ge=10, le=60),
        blood_pressure: float = Input(description="Average blood pressure", ge=40, le=200),
        total_cholesterol: float = Input(description="Total serum cholesterol (tc)", ge=50, le=400),
        ldl: float = Input(description="Low-density lipoproteins (ldl)", ge=20, le=350),
        hdl: float = Input(description="High-density lipoproteins (hdl)", ge=10, le=150),
        cholesterol_ratio: float = Input(
            description="Total cholesterol divided by HDL (tch)", ge=1, le=15
        ),
        triglycerides_log: float = Input(
            description="Log of the serum triglycerides level (ltg)", ge=2, le=8
        ),
        blood_sugar: float = Input(description="Blood sugar level (glu)", ge=30, le=200),
    ) -> float:
        """Predict the disease progression score one year after baseline."""
        features = np.array(
            [
                age,
                sex,
                bmi,
                blood_pressure,
                total_cholesterol,
                ldl,
                hdl,
                cholesterol_ratio,
                triglycerides_log,
                blood_sugar,
            ],
            dtype=np.float64,
        )
        standardized = (features - self.mean) / self.scale
        return float(standardized @ self.weight + self.bias)
