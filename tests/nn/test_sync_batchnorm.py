"""SyncBatchNorm in one process (it is BatchNorm2d there) and convert_sync_batchnorm.

Its multi-rank math (global statistics, one allreduce in backward, running statistics) is proven
under mpiexec -n 2 and 3 in tests/distributed/test_ddp.py against BatchNorm2d on the whole batch.
"""

import numpy as np
import pytest

import strided as st


def test_one_process_equals_batchnorm2d_in_both_modes():
    rng = np.random.default_rng(0)
    x, g = rng.standard_normal((6, 3, 4, 4)) + 5, rng.standard_normal((6, 3, 4, 4))
    bn, sync = st.nn.BatchNorm2d(3, dtype=np.float64), st.nn.SyncBatchNorm(3, dtype=np.float64)
    for training in (True, False):
        bn.train(training), sync.train(training)
        np.testing.assert_array_equal(sync(x), bn(x))
        np.testing.assert_array_equal(sync.backward(g), bn.backward(g))
    np.testing.assert_array_equal(sync.weight.grad, bn.weight.grad)
    for key, value in bn.state_dict().items():
        np.testing.assert_array_equal(sync.state_dict()[key], value)


def test_convert_replaces_every_batch_norm_keeping_weights_and_statistics():
    st.manual_seed(0)
    model = st.models.build_model("resnet_cifar", depth=8, num_classes=4)
    x = np.random.default_rng(1).standard_normal((2, 3, 32, 32)).astype(np.float32)
    model(x)  # running statistics move away from their initial values
    before = {k: v.copy() for k, v in model.state_dict().items()}
    count = sum(isinstance(m, st.nn.BatchNorm2d) for m in model.modules())
    converted = st.nn.SyncBatchNorm.convert_sync_batchnorm(model)
    assert converted is model
    assert sum(isinstance(m, st.nn.SyncBatchNorm) for m in model.modules()) == count > 0
    assert not any(isinstance(m, st.nn.BatchNorm2d) for m in model.modules())
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[key], err_msg=key)
    model.eval()
    reference = st.models.build_model("resnet_cifar", depth=8, num_classes=4)
    reference.load_state_dict(before)
    np.testing.assert_array_equal(model(x), reference.eval()(x))  # Graph nodes use the new layers too


def test_convert_a_lone_layer_and_save_the_model_file(tmp_path):
    bn = st.nn.BatchNorm1d(5, momentum=None, dtype=np.float64)
    sync = st.nn.SyncBatchNorm.convert_sync_batchnorm(bn)
    assert isinstance(sync, st.nn.SyncBatchNorm) and sync.momentum is None and sync.weight.dtype == np.float64
    model = st.nn.SyncBatchNorm.convert_sync_batchnorm(st.nn.Sequential(st.nn.Linear(4, 5), st.nn.BatchNorm1d(5)))
    st.save(model, tmp_path / "m.safetensors")
    assert isinstance(st.load(tmp_path / "m.safetensors")[1], st.nn.SyncBatchNorm)
    with pytest.raises(ValueError, match="only the world group"):
        st.nn.SyncBatchNorm.convert_sync_batchnorm(model, process_group="group")
    with pytest.raises(ValueError, match=r"SyncBatchNorm\(5\): expected input of shape"):
        model[1](np.zeros((2, 4, 3), np.float32))
