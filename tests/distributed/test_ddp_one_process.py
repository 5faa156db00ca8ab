"""DistributedDataParallel in a world of one process (no mpiexec, with or without mpi4py): the plain
model, PyTorch's state-dict names, buckets and errors. The multi-rank proofs are in test_ddp.py."""

import numpy as np
import pytest

import strided as st


def small_model(dtype=np.float64):
    st.manual_seed(3)
    return st.nn.Sequential(st.nn.Conv2d(1, 3, 3), st.nn.BatchNorm2d(3), st.nn.ReLU(), st.nn.Flatten(),
                            st.nn.Linear(3 * 4 * 4, 2)).to(dtype)


def test_world_of_one_without_mpiexec_is_the_plain_model():
    ddp = st.nn.parallel.DistributedDataParallel(small_model())
    plain = small_model()
    assert st.distributed.get_world_size() == 1 and st.distributed.get_rank() == 0
    x = np.random.default_rng(0).standard_normal((4, 1, 6, 6))
    np.testing.assert_array_equal(ddp(x), plain(x))
    g = np.ones((4, 2))
    np.testing.assert_array_equal(ddp.backward(g), plain.backward(g))
    for (name, ours), (_, theirs) in zip(ddp.module.named_parameters(), plain.named_parameters(), strict=True):
        np.testing.assert_array_equal(ours.grad, theirs.grad, err_msg=name)
    assert list(ddp.state_dict()) == ["module." + key for key in plain.state_dict()]
    a = np.arange(3.0)
    st.distributed.all_reduce(a)
    st.distributed.broadcast(a)
    st.distributed.barrier()
    np.testing.assert_array_equal(a, np.arange(3.0))


def test_buckets_follow_the_cap_in_reverse_order():
    model = small_model()
    sizes = [p.size for p in model.parameters()][::-1]
    assert st.distributed.DistributedDataParallel(model).bucket_sizes() == [sum(sizes)]
    tiny = st.distributed.DistributedDataParallel(small_model(), bucket_cap_mb=1e-9)
    assert tiny.bucket_sizes() == sizes


def test_errors_say_what_arrived():
    with pytest.raises(TypeError, match="expected a strided Module, got list"):
        st.distributed.DistributedDataParallel([])
    with pytest.raises(ValueError, match="bucket_cap_mb must be positive"):
        st.distributed.DistributedDataParallel(small_model(), bucket_cap_mb=0)
    with pytest.raises(TypeError, match="expected a NumPy array"):
        st.distributed.all_reduce([1.0])
    with pytest.raises(ValueError, match="backend must be 'mpi'"):
        st.distributed.init_process_group("nccl")


def test_a_weight_shared_by_two_layers_is_sent_after_both_backwards():
    first, second = st.nn.Linear(3, 3), st.nn.Linear(3, 3)
    second.weight = first.weight  # tied: both backwards add to it
    ddp = st.distributed.DistributedDataParallel(st.nn.Sequential(first, st.nn.Tanh(), second).double())
    ddp._syncing = True  # what backward sets on several ranks; here, check the bookkeeping alone
    for bucket in ddp._buckets:
        bucket.pending = {id(p): ddp._reports.get(id(p), 1) for p in bucket.params}
    assert ddp._reports[id(first.weight)] == 2
    ddp._grads_ready([first.weight])
    assert id(first.weight) in ddp._buckets[0].pending  # one report of two: not sent yet


def test_trainer_with_a_one_stage_pipeline_is_the_trainer_with_the_model(tmp_path):
    """The Pipeline paths of the Trainer in a world of one; the multi-rank proof is test_pipeline_trainer.py."""
    from strided.io import load_checkpoint

    def layers():
        st.manual_seed(4)
        return st.nn.Sequential(st.nn.Linear(6, 5), st.nn.Tanh(), st.nn.Linear(5, 3)).double()

    rng = np.random.default_rng(1)
    data = [(rng.standard_normal((4, 6)), rng.integers(0, 3, 4)) for _ in range(3)]
    whole, pipe = layers(), st.distributed.Pipeline(layers(), micro_batches=2)
    histories = []
    for net, path in ((whole, None), (pipe, tmp_path / "c.safetensors")):
        trainer = st.train.Trainer(net, st.optim.Adam(net.parameters(), lr=0.01), st.nn.CrossEntropyLoss(),
                                   grad_accum_steps=2, clip_grad_norm=0.1, verbose=0)
        histories.append(trainer.fit(data, data[:1], epochs=2, checkpoint_path=path))
    for ours, theirs in zip(pipe.whole.parameters(), whole.parameters(), strict=True):
        np.testing.assert_allclose(ours.data, theirs.data, rtol=1e-12, atol=0)
    assert [r["val_loss"] for r in histories[0]] == pytest.approx([r["val_loss"] for r in histories[1]], rel=1e-12)
    saved = load_checkpoint(tmp_path / "c.safetensors")
    assert list(saved["model"]) == list(whole.state_dict()) and len(saved["optimizer_ranks"]) == 1
    fresh = st.distributed.Pipeline(st.nn.Sequential(st.nn.Linear(6, 5), st.nn.Tanh(), st.nn.Linear(5, 3)).double())
    fresh.load_full_state_dict(saved["model"])
    np.testing.assert_array_equal(fresh(data[0][0]), pipe(data[0][0]))
