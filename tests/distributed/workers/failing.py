"""Run under ``mpiexec -n 2``: rank 1 fails in the way argv[1] names, between two allreduces.

'raise': an exception; 'kill': SIGKILL; 'hang': sleeps past the timeout; 'exit': leaves with sys.exit(3).
Rank 0 would wait forever in the second allreduce without strided's failure handling.
"""

import os
import signal
import sys
import time

import numpy as np

from strided import distributed as dist

dist.init_process_group()
mode = sys.argv[1]
values = np.ones(3)
dist.all_reduce(values)
if dist.get_rank() == 1:
    if mode == "raise":
        raise ValueError("bad shard\nsecond line")
    if mode == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    if mode == "hang":
        time.sleep(120)
    if mode == "exit":
        sys.exit(3)
dist.all_reduce(values)
print("rank", dist.get_rank(), "finished", flush=True)
