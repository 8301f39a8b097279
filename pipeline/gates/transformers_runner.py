"""The transformers runner: a model's pipeline loaded from its artifacts folder and timed per eval item.

Only trusted code may reach this module (``mrp bench`` rejects forks). The
model is loaded with the Hub switched offline and without remote code. Eval
items may not name URLs: this module reads each image from the repository, so
the pipeline has nothing to fetch and a benchmark never reaches the network.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.errors import MrpError
from pipeline.gates.runners import Measurement, cuda_torch, peak_memory_mb, synchronise, time_predictions

logger = logging.getLogger(__name__)
INSTALL_HINT = "from the mrp checkout, run pip install -e '.[transformers]'"
# Eval item keys passed as the pipeline's first argument, in order of preference. Other keys are keyword arguments.
PRIMARY_KEYS = ("image", "text", "inputs")


@dataclass(frozen=True)
class PipelineCall:
    """One eval item as pipeline arguments, prepared before timing starts."""

    number: int
    primary: Any
    options: dict[str, Any] = field(default_factory=dict)


class TransformersRunner:
    """A transformers pipeline for ``task``, built from the artifacts folder and called once per eval item."""

    def __init__(self, artifacts_root: Path, task: str, eval_folder: Path, project_root: Path,
                 batch_size: int = 1) -> None:
        self.artifacts_root = artifacts_root
        self.task = task
        self.eval_folder = eval_folder
        self.project_root = project_root
        self.batch_size = batch_size

    def measure(self, items: Sequence[dict[str, Any]], warmup: int, concurrency: int) -> Measurement:
        calls = [self.prepare(item, number) for number, item in enumerate(items, start=1)]
        pipe, setup_s = self._load()

        def predict(call: PipelineCall) -> Any:
            try:
                if call.primary is None:
                    return pipe(**call.options)
                return pipe(call.primary, **call.options)
            except (TypeError, ValueError, KeyError) as error:
                raise MrpError(f"eval item {call.number}: the {self.task} pipeline rejected it ({error}); give the "
                               f"input as image, text or inputs, and only keyword arguments the pipeline accepts") \
                    from error

        samples, outputs, throughput = time_predictions(predict, calls, warmup, concurrency)
        if self.batch_size > 1:
            throughput = self._batched_throughput(pipe, calls)
        return Measurement(setup_s, samples, throughput, peak_memory_mb(), [top_prediction(out) for out in outputs],
                           device="cuda" if cuda_torch() is not None else "cpu")

    def prepare(self, item: dict[str, Any], number: int) -> PipelineCall:
        """Turn an eval item into pipeline arguments, reading images here so that the pipeline never fetches one."""
        for key, value in item.items():
            if _names_url(value):
                raise MrpError(f"eval item {number}: {key} contains a URL; a benchmark reads nothing from the "
                               f"network, so store the file in the repository and name it in image, relative to "
                               f"the eval set")
        options = dict(item)
        key = next((name for name in PRIMARY_KEYS if name in options), None)
        if key is None:
            return PipelineCall(number, None, options)
        primary = options.pop(key)
        if key == "image":
            primary = self._image(primary, number)
        return PipelineCall(number, primary, options)

    def _image(self, relative: Any, number: int) -> Any:
        try:
            from PIL import Image
        except ImportError as error:
            raise MrpError(f"image eval items need Pillow: {INSTALL_HINT}") from error
        if not isinstance(relative, str):
            raise MrpError(f"eval item {number}: image must be a file path relative to the eval set, "
                           f"got {type(relative).__name__}")
        path = (self.eval_folder / relative).resolve()
        if not path.is_relative_to(self.project_root.resolve()):
            raise MrpError(f"eval item {number}: image {relative} is outside the repository; "
                           f"keep eval images beside the eval set")
        try:
            with Image.open(path) as image:
                image.load()
                return image.copy()
        except OSError as error:
            raise MrpError(f"eval item {number}: cannot read image {relative} ({error})") from error

    def _load(self) -> tuple[Callable[..., Any], float]:
        try:
            import torch
            from transformers import pipeline as build_pipeline
        except ImportError as error:
            raise MrpError(f"the transformers runner needs transformers and torch: {INSTALL_HINT}") from error

        device = "cuda:0" if torch.cuda.is_available() else "cpu"
        logger.info("loading the %s pipeline from %s on %s", self.task, self.artifacts_root, device)
        started = time.perf_counter()
        try:
            with _hub_offline():
                pipe = build_pipeline(self.task, model=str(self.artifacts_root), device=device,
                                      trust_remote_code=False)
        except (OSError, ValueError, KeyError) as error:
            raise MrpError(f"cannot load the {self.task} pipeline from {self.artifacts_root}: {error}; check "
                           f"gates.benchmark.task and that the artifacts hold config.json, the weights and the "
                           f"tokenizer or processor files") from error
        synchronise()
        return pipe, time.perf_counter() - started

    def _batched_throughput(self, pipe: Callable[..., Any], calls: Sequence[PipelineCall]) -> float:
        """Items per second when the whole eval set goes through the pipeline in batches of ``batch_size``."""
        options = calls[0].options
        if any(call.primary is None or call.options != options for call in calls):
            raise MrpError(f"batch_size {self.batch_size} needs every eval item to have an image, text or inputs "
                           f"field and the same other fields; set batch_size: 1 for this eval set")
        started = time.perf_counter()
        try:
            for _ in pipe([call.primary for call in calls], batch_size=self.batch_size, **options):
                pass
        except (TypeError, ValueError, KeyError) as error:
            raise MrpError(f"the {self.task} pipeline rejected the eval set in batches of {self.batch_size} "
                           f"({error}); check the eval items, or set batch_size: 1 to find the item") from error
        synchronise()
        return len(calls) / (time.perf_counter() - started)


@contextmanager
def _hub_offline() -> Iterator[None]:
    """Block every Hub HTTP request and hide progress bars while the pipeline loads, whatever HF_HUB_OFFLINE is."""
    from huggingface_hub import constants
    from transformers.utils import logging as transformers_logging

    offline, bars = constants.HF_HUB_OFFLINE, transformers_logging.is_progress_bar_enabled()
    constants.HF_HUB_OFFLINE = True
    transformers_logging.disable_progress_bar()  # a bar per weights file would fill CI logs
    try:
        yield
    finally:
        constants.HF_HUB_OFFLINE = offline
        if bars:
            transformers_logging.enable_progress_bar()


def _names_url(value: Any) -> bool:
    """Return True when ``value``, or any string nested in it, contains a URL scheme separator."""
    if isinstance(value, str):
        return "://" in value
    if isinstance(value, dict):
        return any(_names_url(key) or _names_url(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_names_url(item) for item in value)
    return False


def top_prediction(output: Any) -> Any:
    """Return the best candidate of a pipeline output, because classification pipelines list candidates best first."""
    if isinstance(output, list) and output:
        return output[0]
    return output
