"""`strided bench`: strided's speed against PyTorch, each library timed in fresh processes of its own
(runner.py, worker.py), and the one-process block timing that benchmarks/ scripts reuse (blocks.py).
benchmarks/README.md describes the method."""
