"""Checkpoints: nested state with arrays round-trips exactly; writes are atomic."""

import os

import numpy as np
import pytest

from strided.io import ModelFileError, atomic_write_bytes, load_checkpoint, save_checkpoint


def test_nested_state_round_trips(tmp_path):
    state = {
        "model": {"0.weight": np.arange(6, dtype=np.float32).reshape(2, 3), "1.num_batches_tracked": np.array(3)},
        "optimizer": {"state": {0: {"step": 4, "exp_avg": np.ones(2)}}, "param_groups": [{"lr": 0.1, "params": [0]}]},
        "epoch": 2,
        "rng": {"bit_generator": "PCG64", "state": {"state": 2**100 + 7, "inc": 12345}},
        "betas": (0.9, 0.999),
        "history": [{"loss": 0.5}, {"loss": 0.25}],
        "note": None,
    }
    path = save_checkpoint(tmp_path / "ckpt.safetensors", state)
    back = load_checkpoint(path)
    np.testing.assert_array_equal(back["model"]["0.weight"], state["model"]["0.weight"])
    assert back["model"]["0.weight"].dtype == np.float32
    assert back["optimizer"]["state"][0]["step"] == 4  # int keys stay ints
    assert back["rng"]["state"]["state"] == 2**100 + 7
    assert back["betas"] == (0.9, 0.999)
    assert back["history"] == state["history"] and back["note"] is None


def test_unsupported_values_are_named(tmp_path):
    with pytest.raises(TypeError, match="type set at '/bad'"):
        save_checkpoint(tmp_path / "c.safetensors", {"bad": {1, 2}})


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    target = tmp_path / "ckpt.safetensors"
    atomic_write_bytes(target, b"good")

    def broken_fsync(fd):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"good"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt.safetensors"]


def test_not_a_checkpoint(tmp_path):
    (tmp_path / "x").write_bytes(b"hello")
    with pytest.raises(ModelFileError, match="not a readable checkpoint"):
        load_checkpoint(tmp_path / "x")
