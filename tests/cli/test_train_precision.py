"""`strided train --precision`: the policy and the scaler reach the run folder; bad values are one line."""

import json

import numpy as np

import strided as st
from strided.io import load_checkpoint
from tests.cli.test_cli import FAST, assert_user_error, strided


def test_a_16_mixed_run_keeps_its_policy_and_scaler(tmp_path):
    """(A resumed mixed run's bit-identity is proven in process: tests/train/test_mixed_precision.py.)"""
    out = tmp_path / "mixed"
    strided("train", "--epochs", "1", "--precision", "16-mixed", "--out", out, *FAST)
    assert json.loads((out / "config.json").read_text())["precision"] == "16-mixed"
    scaler = load_checkpoint(out / "checkpoint.safetensors")["grad_scaler"]
    assert set(scaler) == {"scale", "growth_factor", "backoff_factor", "growth_interval", "_growth_tracker"}
    assert all(p.dtype == np.float32 for p in st.load(out / "model.safetensors").parameters())


def test_a_bad_precision_is_one_line(tmp_path):
    result = strided("train", "--precision", "8-mixed", "--out", tmp_path / "x", check=False)
    assert result.returncode != 0 and "invalid choice: '8-mixed'" in result.stderr
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"precision": "64"}))
    assert_user_error(strided("train", "--config", config, "--out", tmp_path / "y", check=False),
                      "precision: expected one of '32', '16-mixed', 'bf16-mixed', got '64'")
