"""Speed of strided against PyTorch on the cases of issue 4 (same as `strided bench`).

    python benchmarks/bench_speed.py [--cases seed-net fmnist-cnn ...] [--repeats 30] [--json]
"""

import sys

from strided.benchmark.runner import main

if __name__ == "__main__":
    sys.exit(main())
