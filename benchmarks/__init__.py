"""The benchmark suite of mrp: ``python benchmarks/run.py`` writes BENCHMARKS.md."""
