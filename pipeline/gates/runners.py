"""Runners: load a model where the command runs and time it on eval items.

Only trusted code may reach this module: it imports and runs the model's
predictor. ``mrp bench`` refuses to run for a pull request from a fork.
"""

from __future__ import annotations

import json
import logging
import resource
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.errors import MrpError

logger = logging.getLogger(__name__)


@dataclass
class Measurement:
    setup_s: float
    samples_ms: list[float]
    throughput_per_s: float
    peak_memory_mb: float
    outputs: list[Any]
    device: str = "cpu"
    extra: dict[str, float] = field(default_factory=dict)


def cuda_torch() -> Any | None:
    """Return the torch module when the predictor put work on a CUDA device, else None."""
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        return torch
    return None


def synchronise() -> None:
    torch = cuda_torch()
    if torch is not None:
        torch.cuda.synchronize()


def peak_memory_mb() -> float:
    torch = cuda_torch()
    if torch is not None:
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports kibibytes


class CogRunner:
    """A cog predictor loaded in-process: ``setup()`` once, ``predict()`` per eval item."""

    def __init__(self, artifacts_root: Path, ref: str) -> None:
        self.artifacts_root = artifacts_root
        self.ref = ref

    def measure(self, items: Sequence[dict[str, Any]], warmup: int, concurrency: int) -> Measurement:
        predict, setup_s = self._load()
        samples, outputs, throughput = time_predictions(predict, items, warmup, concurrency)
        return Measurement(setup_s, samples, throughput, peak_memory_mb(), outputs,
                           device="cuda" if cuda_torch() is not None else "cpu")

    def _load(self) -> tuple[Callable[[dict[str, Any]], Any], float]:
        try:
            from cog._inspector import check_input, create_predictor
            from cog.predictor import load_predictor_from_ref
        except ImportError as error:
            raise MrpError("the cog runner needs the cog SDK: from the mrp checkout, run pip install -e '.[bench]'") \
                from error

        file, _, name = self.ref.partition(":")
        module = Path(file).stem
        previous = sys.modules.pop(module, None)
        write_bytecode = sys.dont_write_bytecode
        sys.dont_write_bytecode = True  # a __pycache__ folder would change the artifacts digest
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                predictor = load_predictor_from_ref(f"{self.artifacts_root / file}:{name}")
                info = create_predictor(module, name)
        finally:
            sys.dont_write_bytecode = write_bytecode
            sys.modules.pop(module, None)
            if previous is not None:
                sys.modules[module] = previous

        started = time.perf_counter()
        predictor.setup()
        setup_s = time.perf_counter() - started
        entry = predictor.run if hasattr(type(predictor), "run") and not hasattr(type(predictor), "predict") \
            else predictor.predict

        def predict(item: dict[str, Any]) -> Any:
            return entry(**check_input(info.inputs, item))

        return predict, setup_s


def time_predictions(predict: Callable[[Any], Any], items: Sequence[Any], warmup: int,
                     concurrency: int) -> tuple[list[float], list[Any], float]:
    """Time one call per item after ``warmup`` untimed calls; return latencies in ms, outputs and items per second.

    On CUDA each call is bracketed by a synchronisation, so a latency covers the
    kernels it launched rather than only their queueing. The peak memory counter
    is reset here, so a peak during loading does not count.
    """
    torch = cuda_torch()
    if torch is not None:
        torch.cuda.reset_peak_memory_stats()

    for item in items[:warmup]:
        predict(item)

    samples, outputs = [], []
    for item in items:
        synchronise()
        started = time.perf_counter()
        outputs.append(predict(item))
        synchronise()
        samples.append((time.perf_counter() - started) * 1000)

    if concurrency == 1:
        return samples, outputs, len(items) / (sum(samples) / 1000)
    return samples, outputs, concurrent_throughput(predict, items, concurrency)


def concurrent_throughput(predict: Callable[[Any], Any], items: Sequence[Any], workers: int) -> float:
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(predict, items))
    synchronise()
    return len(items) / (time.perf_counter() - started)


class CommandRunner:
    """A command that runs the model itself and prints its metrics as one JSON object on the last line."""

    REQUIRED = ("samples_ms",)

    def __init__(self, command: Sequence[str], cwd: Path, env: dict[str, str]) -> None:
        self.command = list(command)
        self.cwd = cwd
        self.env = env

    def measure(self, items: Sequence[dict[str, Any]], warmup: int, concurrency: int) -> Measurement:
        completed = subprocess.run(self.command, cwd=self.cwd, env=self.env, capture_output=True, text=True,
                                   timeout=3600)
        if completed.returncode != 0:
            raise MrpError(f"benchmark command {self.command[0]} exited {completed.returncode}: "
                           f"{completed.stderr.strip()[-500:]}")
        try:
            metrics = json.loads(completed.stdout.strip().splitlines()[-1])
            samples = [float(value) for value in metrics["samples_ms"]]
        except (IndexError, KeyError, TypeError, ValueError, json.JSONDecodeError) as error:
            raise MrpError(f"benchmark command {self.command[0]} must print one JSON object with samples_ms on its "
                           f"last line ({error!r})") from error
        return Measurement(
            setup_s=float(metrics.get("setup_s", 0.0)),
            samples_ms=samples,
            throughput_per_s=float(metrics.get("throughput_per_s", 1000 * len(samples) / sum(samples))),
            peak_memory_mb=float(metrics.get("peak_memory_mb", 0.0)),
            outputs=list(metrics.get("outputs", [])),
            device=str(metrics.get("device", "cpu")),
            extra={key: float(value) for key, value in metrics.items()
                   if key not in ("samples_ms", "outputs", "device") and isinstance(value, int | float)},
        )
