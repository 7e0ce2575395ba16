"""Benchmarks of mediamon: run one with `python -m benchmarks NAME` (docs/benchmarks/)."""
