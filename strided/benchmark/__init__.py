"""strided's speed benchmark against PyTorch (``strided bench``, benchmarks/bench_speed.py)."""
