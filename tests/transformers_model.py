"""A small real transformers model for the transformers runner: a vision transformer trained on digits.

scikit-learn ships the digits images, so the model is trained here on the CPU,
in under half a minute, rather than downloaded. The held-out images become PNG
files and a JSON Lines eval set, the way a user keeps an image eval set.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

LABELS = [str(digit) for digit in range(10)]
EVAL_ITEMS = 200

MANIFEST = """\
name: digits-vit
version: 1.0.0
channel: dev
description: Classifies 8x8 handwritten digits with a two-layer vision transformer.
license: apache-2.0
artifacts:
  path: artifacts/digits-vit
interface:
  config: config.json
card:
  summary: A two-layer vision transformer trained on the scikit-learn digits data set.
  intended_use: Tests of the transformers benchmark runner.
  limitations: Recognises 8x8 digits in the style of the UCI data set only.
  training_data: scikit-learn's load_digits(), all but the last 200 images after a seeded shuffle.
  evaluation: Accuracy on the last 200 images (eval/digits-vit.jsonl).
  how_to_use: "`pipeline('image-classification', model='acme/digits-vit')`"
  pipeline_tag: image-classification
targets:
  local:
    repository: digits-vit
hardware:
  dev: {sku: cpu, min_instances: 0, max_instances: 1}
gates:
  benchmark:
    hardware: cpu
    dataset: eval/digits-vit.jsonl
    runner: transformers
    warmup: 5
  latency_p95_ms: {max: 1000}
  accuracy: {min: 0.9}
"""


def train(artifacts: Path, seed: int = 0) -> float:
    """Train the model, save it with its image processor into ``artifacts``, and return held-out accuracy."""
    import torch
    from transformers import ViTConfig, ViTForImageClassification, ViTImageProcessorPil

    torch.manual_seed(seed)
    images, targets = _shuffled_digits(seed)
    pixels = torch.tensor(images[:-EVAL_ITEMS], dtype=torch.float32)[:, None].repeat(1, 3, 1, 1)
    pixels = (pixels / 16.0 - 0.5) / 0.5  # the same scaling as the processor below
    labels = torch.tensor(targets[:-EVAL_ITEMS])
    config = ViTConfig(image_size=8, patch_size=2, num_channels=3, hidden_size=64, num_hidden_layers=2,
                       num_attention_heads=4, intermediate_size=128, id2label=dict(enumerate(LABELS)),
                       label2id={label: index for index, label in enumerate(LABELS)})
    model = ViTForImageClassification(config)

    optimiser = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(40):
        order = torch.randperm(len(pixels))
        for start in range(0, len(pixels), 64):
            batch = order[start:start + 64]
            loss = model(pixel_values=pixels[batch], labels=labels[batch]).loss
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    model.eval()

    processor = ViTImageProcessorPil(do_resize=True, size={"height": 8, "width": 8}, do_rescale=True,
                                     rescale_factor=1 / 255, do_normalize=True, image_mean=[0.5] * 3,
                                     image_std=[0.5] * 3)
    model.save_pretrained(artifacts)
    processor.save_pretrained(artifacts)
    with torch.no_grad():
        held_out = torch.tensor(images[-EVAL_ITEMS:], dtype=torch.float32)[:, None].repeat(1, 3, 1, 1)
        predicted = model(pixel_values=(held_out / 16.0 - 0.5) / 0.5).logits.argmax(-1).numpy()
    return float((predicted == targets[-EVAL_ITEMS:]).mean())


def write_eval_set(root: Path, seed: int = 0) -> Path:
    """Write the held-out digits as RGB PNG files and eval/digits-vit.jsonl naming them, and return its path."""
    from PIL import Image

    images, targets = _shuffled_digits(seed)
    folder = root / "eval" / "digits-vit"
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for index, (image, target) in enumerate(zip(images[-EVAL_ITEMS:], targets[-EVAL_ITEMS:])):
        name = f"{index:04d}.png"
        grey = Image.fromarray(np.round(image * 255 / 16).astype("uint8"), mode="L")
        grey.convert("RGB").save(folder / name)
        lines.append(json.dumps({"input": {"image": f"digits-vit/{name}"}, "expected": str(target)}))
    path = root / "eval" / "digits-vit.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _shuffled_digits(seed: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    digits = load_digits()
    order = np.random.default_rng(seed).permutation(len(digits.images))
    return digits.images[order], digits.target[order]
