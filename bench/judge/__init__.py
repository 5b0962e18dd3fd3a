"""Benchmark of the canary judge (``python -m bench.judge``)."""
