"""Speed of strided against PyTorch on the cases of issues 4 and 18: the same as `strided bench`.

    python benchmarks/bench_speed.py [--cases seed-net ...] [--rounds 5] [--baseline-path DIR] [--json] [--out FILE]

The method (each library in its own fresh process, alternating over rounds) is in benchmarks/README.md.
"""

import sys

from strided.benchmark.runner import main

if __name__ == "__main__":
    sys.exit(main())
