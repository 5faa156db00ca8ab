"""Run under ``mpiexec -n N``: the Trainer with DistributedDataParallel and DistributedSampler.

argv: run_dir, mode ('full', 'resume' or 'kill': rank 1 SIGKILLs itself when epoch 2 begins), output .npz.
Rank 0 prints ``RESULT {json}``: the history and, for the last epoch, the validation loss and accuracy
computed by rank 0 alone on the whole validation set (they must equal the reduced ones).
"""

import json
import os
import signal
import sys
from pathlib import Path

import numpy as np

import strided as st
from strided import distributed as dist
from strided.data import ArrayDataset, DataLoader, DistributedSampler
from tests.train.tiny import tiny_cnn, tiny_data

EPOCHS = 3


class KillRankOne(st.train.Callback):
    def __init__(self, armed):
        self.armed = armed

    def on_epoch_begin(self, epoch, logs=None):
        if self.armed and epoch == 1:
            dist.barrier()  # rank 0 has written the checkpoint of epoch 1
            if dist.get_rank() == 1:
                os.kill(os.getpid(), signal.SIGKILL)


def main():
    run_dir, mode, output = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
    dist.init_process_group()
    rank = dist.get_rank()
    st.manual_seed(7)
    model = tiny_cnn(np.float64, dropout=0.25)
    st.manual_seed(100 + rank)  # each rank its own dropout masks (restored per rank on resume)
    x, y = tiny_data(72, dtype=np.float64)
    train_set, val_x, val_y = ArrayDataset(x[:48], y[:48]), x[48:], y[48:]
    val_set = ArrayDataset(val_x, val_y)
    ddp = dist.DistributedDataParallel(model)
    trainer = st.train.Trainer(ddp, st.optim.Adam(model.parameters(), lr=0.01), st.nn.CrossEntropyLoss(),
                               callbacks=[KillRankOne(mode == "kill")], verbose=0, run_dir=run_dir)
    loader = DataLoader(train_set, 4, sampler=DistributedSampler(train_set, seed=5), prefetch=0)
    val_loader = DataLoader(val_set, 5, sampler=DistributedSampler(val_set, shuffle=False), prefetch=0)
    trainer.fit(loader, val_loader, epochs=EPOCHS, checkpoint_path=run_dir / "checkpoint.safetensors", resume=True)
    if rank == 0:
        model.eval()
        with st.no_grad():
            out = model(val_x.astype(np.float32).astype(np.float64))  # as the loader hands it over
        loss = float(st.nn.CrossEntropyLoss()(out, val_y))
        np.savez(output, **model.state_dict())
        print("RESULT " + json.dumps({"history": list(trainer.history), "val_loss": loss,
                                      "val_accuracy": float(np.mean(out.argmax(1) == val_y))}), flush=True)


if __name__ == "__main__":
    sys.exit(main())
