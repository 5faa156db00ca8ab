"""What the Trainer checks before its first step: optional packages, and leftovers of interrupted writes."""

import sys

import pytest

import strided as st

from .tiny import batches, tiny_cnn, tiny_data


def trainer_in(folder):
    st.manual_seed(0)
    model = tiny_cnn()
    return st.train.Trainer(model, st.optim.SGD(model.parameters(), lr=0.1), st.nn.CrossEntropyLoss(),
                            verbose=0, run_dir=folder)


def test_stale_temporaries_are_removed_and_nothing_else(tmp_path):
    leftovers = [".checkpoint.safetensors.k2j_9xq1.tmp", ".history.png.abcdefgh.tmp"]
    kept = ["notes.tmp", ".hidden", "my.x.tmp", ".other.png.abcdefgh.tmp"]  # the last: not a run file
    for name in leftovers + kept:
        (tmp_path / name).write_bytes(b"half written")
    x, y = tiny_data(12)
    trainer_in(tmp_path).fit(batches(x, y, [12]), epochs=1, checkpoint_path=tmp_path / "checkpoint.safetensors")
    names = {p.name for p in tmp_path.iterdir()}
    assert not names & set(leftovers)
    assert set(kept) <= names and "checkpoint.safetensors" in names


def test_a_missing_plotting_package_stops_the_run_before_the_first_step(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as on a light install
    trainer = trainer_in(tmp_path / "run")
    x, y = tiny_data(12)
    with pytest.raises(ImportError, match=r"need matplotlib: pip install 'strided\[train\]'"):
        trainer.fit(batches(x, y, [12]), epochs=1)
    assert trainer.global_step == 0 and not (tmp_path / "run").exists()
