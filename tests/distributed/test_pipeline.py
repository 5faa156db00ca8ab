"""Pipeline: stages over ranks with GPipe and 1F1B schedules, exact to one process on the whole batch."""

import numpy as np
import pytest

import strided as st
from strided.distributed.pipeline import chain_of, split_evenly
from tests.distributed.mpirun import WORKERS, result_of, run_mpi

TOLERANCE = {"float64": 1e-12, "float32": 1e-5}


@pytest.mark.parametrize("nproc", [2, 3])
def test_pipeline_training_equals_one_process(nproc):
    results = result_of(run_mpi(nproc, [WORKERS / "pipeline.py"], timeout=120))
    assert len(results) == 12  # 2 dtypes x 2 schedules x M in (1, 3, 4)
    for case, error in results.items():
        assert error <= TOLERANCE[case.split("-")[0]], f"{case}: relative difference {error:.3e}"


def layers():
    return [st.nn.Linear(4, 4), st.nn.ReLU(), st.nn.Linear(4, 2)]


def test_one_stage_is_the_model_and_schedules_are_orderly():
    st.manual_seed(0)
    model = st.nn.Sequential(*layers()).double()
    pipe = st.distributed.Pipeline(model, micro_batches=2)
    x, y = np.random.default_rng(0).standard_normal((6, 4)), np.array([0, 1, 0, 1, 1, 0])
    loss = st.nn.CrossEntropyLoss()
    value = pipe.step(x, y, loss)
    assert value == pytest.approx(float(st.nn.CrossEntropyLoss()(model(x), y)))
    np.testing.assert_array_equal(pipe(x), model(x))
    pipe.rank, pipe.stages, pipe.micro_batches, pipe.schedule = 0, 3, 4, "1f1b"
    assert pipe.order() == [("F", 0), ("F", 1), ("F", 2), ("B", 0), ("F", 3), ("B", 1), ("B", 2), ("B", 3)]
    pipe.rank = 2
    assert pipe.order() == [("F", 0), ("B", 0), ("F", 1), ("B", 1), ("F", 2), ("B", 2), ("F", 3), ("B", 3)]
    pipe.schedule = "gpipe"
    assert pipe.order() == [("F", m) for m in range(4)] + [("B", m) for m in range(4)]


def test_graph_chains_split_and_errors():
    graph = st.nn.Graph()
    graph.add("a", st.nn.Linear(4, 4)).add("b", st.nn.ReLU()).add("c", st.nn.Linear(4, 2))
    assert [type(m).__name__ for m in chain_of(graph)] == ["Linear", "ReLU", "Linear"]
    fork = st.nn.Graph()
    fork.add("a", st.nn.ReLU()).add("b", st.nn.ReLU(), inputs="x").add("sum", st.nn.Add(), inputs=("a", "b"))
    with pytest.raises(ValueError, match="only a chain of blocks"):
        chain_of(fork)
    assert split_evenly(7, 3) == [3, 2, 2]
    with pytest.raises(ValueError, match="stages must equal the number of ranks \\(1\\), got 2"):
        st.distributed.Pipeline(st.nn.Sequential(*layers()), stages=2)
    with pytest.raises(ValueError, match="balance must give each of the 1 stages"):
        st.distributed.Pipeline(st.nn.Sequential(*layers()), balance=[2])
    with pytest.raises(TypeError, match="expected a Sequential or a Graph"):
        st.distributed.Pipeline(st.nn.ReLU())
