"""Run under ``mpiexec -n N``: the Trainer with a Pipeline equals the Trainer with the whole model in one process.

argv: run_dir. Every rank also trains the whole model alone with the same Trainer settings (the reference:
Adam, gradient accumulation over 2 batches with an incomplete last group, clip_grad_norm, 2 epochs) and
compares its own stage's parameters. Then a fresh Pipeline trains 1 epoch, a fresh Trainer resumes it from
its checkpoint to epoch 2, and must end with the uninterrupted run's parameters. Rank 0 prints
``RESULT {json}``: the largest relative differences, the histories and what rank 0 read from the files.
"""

import json
import sys
from pathlib import Path

import numpy as np

import strided as st
from strided import distributed as dist
from strided.io import load_checkpoint
from tests.distributed.workers.pipeline import model

BATCHES, BATCH, EPOCHS = 5, 6, 2


def batches():
    rng = np.random.default_rng(11)
    return [(rng.standard_normal((BATCH, 2, 6, 6)), rng.integers(0, 5, BATCH)) for _ in range(BATCHES)]


def trainer_for(net, run_dir=None, callbacks=()):
    return st.train.Trainer(net, st.optim.Adam(net.parameters(), lr=0.01), st.nn.CrossEntropyLoss(), verbose=0,
                            grad_accum_steps=2, clip_grad_norm=0.1, run_dir=run_dir, callbacks=list(callbacks))


def pipeline(whole):
    balance = {2: None, 3: [2, 4, 3]}[dist.get_world_size()]  # every stage gets parameters
    return dist.Pipeline(whole, micro_batches=3, schedule="1f1b", balance=balance)


def relative(a, b) -> float:
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def main():
    run_dir = Path(sys.argv[1])
    dist.init_process_group()
    data, val = batches(), batches()[:2]
    reference = model(np.float64)
    reference_trainer = trainer_for(reference)
    reference_trainer.fit(data, val, epochs=EPOCHS)
    expected = reference.state_dict()

    whole = model(np.float64)
    pipe = pipeline(whole)
    saver = st.train.ModelCheckpoint(run_dir / "model.safetensors", monitor="val_loss")
    trainer = trainer_for(pipe, run_dir / "full", [saver])
    trainer.fit(data, val, epochs=EPOCHS, checkpoint_path=run_dir / "full" / "checkpoint.safetensors")
    own = {id(p) for p in pipe.parameters()}
    stage_error = max(relative(p.data, q.data) for p, q in zip(whole.parameters(), reference.parameters(),
                                                                  strict=True) if id(p) in own)
    predictions = trainer.predict(val[0][0])  # on every rank, from the last stage

    resumed_whole = model(np.float64)
    first = trainer_for(pipeline(resumed_whole), run_dir / "run")
    first.fit(data, val, epochs=1, checkpoint_path=run_dir / "run" / "checkpoint.safetensors")
    fresh_whole = model(np.float64)
    fresh_pipe = pipeline(fresh_whole)
    second = trainer_for(fresh_pipe, run_dir / "run")
    second.fit(data, val, epochs=EPOCHS, checkpoint_path=run_dir / "run" / "checkpoint.safetensors", resume=True)
    own = {id(p) for p in fresh_pipe.parameters()}
    resume_equal = all(np.array_equal(p.data, q.data) for p, q in zip(fresh_whole.parameters(), whole.parameters(),
                                                                       strict=True) if id(p) in own)

    reports = dist.all_gather_object({
        "stage_error": stage_error, "resume_equal": resume_equal, "history": list(trainer.history),
        "resumed_history": list(second.history),
        "prediction_error": relative(predictions, reference.eval()(val[0][0])),
    })
    if dist.get_rank() == 0:
        saved = st.load(run_dir / "model.safetensors").state_dict()
        checkpoint = load_checkpoint(run_dir / "full" / "checkpoint.safetensors")
        print("RESULT " + json.dumps({
            "ranks": reports, "reference_history": list(reference_trainer.history),
            "model_file_error": max(relative(saved[k], v) for k, v in expected.items()),
            "checkpoint_error": max(relative(checkpoint["model"][k], v) for k, v in expected.items()),
            "checkpoint_keys_equal": list(checkpoint["model"]) == list(expected),
            "optimizer_stages": len(checkpoint["optimizer_ranks"]),
            "files": sorted(p.name for p in (run_dir / "full").iterdir()),
            "metrics_lines": len((run_dir / "full" / "metrics.jsonl").read_text().splitlines()),
        }), flush=True)


if __name__ == "__main__":
    sys.exit(main())
