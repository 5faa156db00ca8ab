"""`strided train --precision`: the policy and the scaler reach the run folder; bad values are one line."""

import json

import numpy as np
import pytest

import strided as st
from strided.io import load_checkpoint
from tests.cli.test_cli import FAST, assert_user_error, image_folder, strided


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


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """A 24-image ImageFolder of 8x8 colour images in 3 classes."""
    return image_folder(tmp_path_factory.mktemp("tiny") / "images", (8, 8, 3))


@pytest.mark.parametrize("precision", ["16-mixed", "bf16-mixed"])
def test_a_mixed_resnet_run_resumes_to_the_uninterrupted_weights(folder, tmp_path, precision):
    """A residual network (its blocks store their gradients in 16 bits too) from an ImageFolder, end to end:
    one epoch, then --resume for a second, ends bit for bit where two epochs in one go end, scaler state included
    (its count of clean steps goes on from the checkpoint's, rather than from zero)."""
    run = ["--dataset", folder, "--model", "resnet_cifar20", "--image-size", "8", "--batch-size", "8",
           "--val-split", "0", "--optimizer", "sgd", "--lr", "0.05", "--precision", precision, "--quiet"]
    whole, resumed = tmp_path / "whole", tmp_path / "resumed"
    strided("train", "--epochs", "2", "--out", whole, *run)
    strided("train", "--epochs", "1", "--out", resumed, *run)
    strided("train", "--resume", "--epochs", "2", "--out", resumed, "--quiet")
    assert json.loads((resumed / "config.json").read_text())["precision"] == precision
    ours = st.load(resumed / "model.safetensors").state_dict()
    theirs = st.load(whole / "model.safetensors").state_dict()
    assert list(ours) == list(theirs) and all(np.array_equal(ours[k], theirs[k]) for k in ours)
    scaler = load_checkpoint(resumed / "checkpoint.safetensors")["grad_scaler"]
    assert scaler == load_checkpoint(whole / "checkpoint.safetensors")["grad_scaler"]
    if precision == "16-mixed":  # 3 steps an epoch: a scaler restarted from zero would count 3 at most
        assert scaler["_growth_tracker"] > 3 or scaler["scale"] < 2.0**16, scaler
    else:
        assert scaler == {}  # bfloat16 needs no loss scaling
