"""Run mrp as ``python -m pipeline``."""

from pipeline.cli import run

run()
