"""Benchmarks (BENCHMARKS.md): run one with `python -m bench <name>`."""
