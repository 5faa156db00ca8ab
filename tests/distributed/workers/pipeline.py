"""Run under ``mpiexec -n N``: Pipeline training equals one process on the whole batch.

Every rank also trains the whole model alone (the reference) and compares its own stage's parameters
after 3 SGD steps, and the inference output, for both schedules and M = 1, 3 and 4 micro-batches of a
batch of 12. Rank 0 prints ``RESULT {json}``.
"""

import json
import sys

import numpy as np

import strided as st
from strided import distributed as dist

STEPS, BATCH = 3, 12


def model(dtype):
    st.manual_seed(9)
    return st.nn.Sequential(
        st.nn.Conv2d(2, 4, 3, padding=1), st.nn.ReLU(), st.nn.Conv2d(4, 4, 3, padding=1), st.nn.Tanh(),
        st.nn.MaxPool2d(2), st.nn.Flatten(), st.nn.Linear(4 * 3 * 3, 8), st.nn.ReLU(), st.nn.Linear(8, 5),
    ).to(dtype)


def data(dtype, step):
    rng = np.random.default_rng([3, step])
    return rng.standard_normal((BATCH, 2, 6, 6)).astype(dtype), rng.integers(0, 5, BATCH)


def main():
    dist.init_process_group()
    rank, world = dist.get_rank(), dist.get_world_size()
    results = {}
    for dtype in (np.float64, np.float32):
        reference = model(dtype)
        ref_opt, loss = st.optim.SGD(reference.parameters(), lr=0.1, momentum=0.9), st.nn.CrossEntropyLoss()
        for step in range(STEPS):
            x, y = data(dtype, step)
            reference.zero_grad()
            loss(reference(x), y)
            reference.backward(loss.backward())
            ref_opt.step()
        for schedule in ("gpipe", "1f1b"):
            for micro in (1, 3, 4):
                whole = model(dtype)
                balance = {2: None, 3: [2, 4, 3]}[world]  # every stage gets parameters
                pipe = dist.Pipeline(whole, stages=world, micro_batches=micro, schedule=schedule, balance=balance)
                opt = st.optim.SGD(pipe.parameters(), lr=0.1, momentum=0.9)
                for step in range(STEPS):
                    x, y = data(dtype, step)
                    pipe.zero_grad()
                    pipe.step(x, y, st.nn.CrossEntropyLoss())
                    opt.step()
                # whole's layers are the stages' layers: this rank's part was trained, compare only it.
                own = {id(p) for p in pipe.parameters()}
                worst = max(float(np.max(np.abs(p.data - q.data)) / np.max(np.abs(q.data)))
                            for p, q in zip(whole.parameters(), reference.parameters(), strict=True) if id(p) in own)
                out = pipe(data(dtype, 9)[0])
                expected = reference.eval()(data(dtype, 9)[0])
                reference.train()
                out_err = float(np.max(np.abs(out - expected)) / np.max(np.abs(expected))) if pipe.is_last else 0.0
                results[f"{np.dtype(dtype).name}-{schedule}-M{micro}"] = max(dist.all_gather_object(max(worst,
                                                                                                      out_err)))
    if rank == 0:
        print("RESULT " + json.dumps(results), flush=True)


if __name__ == "__main__":
    sys.exit(main())
