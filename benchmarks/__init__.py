"""Benchmarks: scripts that print figures and ratios (not tests). `python -m benchmarks` runs them all."""
