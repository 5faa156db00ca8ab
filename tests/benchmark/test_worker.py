"""The worker processes of strided bench, for real: their one JSON line, the source tree they import
strided from, their threads, and a crash reported as one line naming library and case."""

import importlib.util
from pathlib import Path

import pytest

import strided
from strided.benchmark import runner

HERE = str(Path(strided.__file__).resolve().parents[1])
STRIDED = runner.Variant("strided", "strided", HERE)


def test_a_step_child_prints_its_median_times_as_one_json_line():
    result = runner.run_child(STRIDED, "step", 1, case="tiny", warmup=1, repeats=3)
    assert set(result) == {"ms", "cpu_ms", "steps", "load"} and len(result["steps"]) == 3
    assert result["ms"] == sorted(result["steps"])[1] and result["ms"] > 0


def test_a_layers_child_times_each_layer_it_is_given():
    layer = {"shape": [2, 3, 6, 6], "in_channels": 3, "out_channels": 4, "stride": 2, "padding": 1, "bias": False}
    result = runner.run_child(STRIDED, "layers", 1, layers=[layer, {**layer, "stride": 1}], warmup=1, repeats=2)
    assert len(result["ms"]) == 2 and min(result["ms"]) > 0


def test_a_pytorch_child_runs_the_twin_with_its_threads_set():
    pytest.importorskip("torch")
    torch = runner.Variant("torch", "torch", HERE)
    assert runner.run_child(torch, "step", 1, case="tiny", warmup=1, repeats=2)["ms"] > 0


def test_a_child_imports_strided_from_the_tree_it_is_given_and_reports_its_threads(tmp_path):
    # A tree whose strided is not this one: the child must report it, with strided's own thread setting left
    # at the tree's default (3 here), and BLAS at the threads it was asked for (1: OpenBLAS caps its threads
    # at the core count, so a larger number may not show).
    (tmp_path / "strided").mkdir()
    (tmp_path / "strided" / "__init__.py").write_text(
        "__version__ = 'fake'\n_threads = 3\n"
        "def set_num_threads(n):\n    global _threads\n    _threads = n\n"
        "def get_num_threads():\n    return _threads\n")
    info = runner.run_child(runner.Variant("baseline", "strided", str(tmp_path)), "info", 1, matmul_size=32)
    assert info["strided"] == "fake" and Path(info["strided_file"]) == tmp_path / "strided" / "__init__.py"
    assert info["threads"] == 3 and info["matmul_gflops"] > 0 and info["numpy"]
    if importlib.util.find_spec("threadpoolctl"):  # else the child reports NumPy's build, without threads
        blas = [pool for pool in info["thread_pools"] if pool["user_api"] == "blas"]
        assert blas and all(pool["num_threads"] == 1 for pool in blas)  # OPENBLAS_NUM_THREADS, for this child alone


def test_a_crashing_child_is_one_line_naming_the_library_the_case_and_its_last_error(tmp_path):
    (tmp_path / "strided").mkdir()
    (tmp_path / "strided" / "__init__.py").write_text("raise RuntimeError('this tree is broken')\n")
    with pytest.raises(runner.BenchError) as error:
        runner.run_child(runner.Variant("baseline", "strided", str(tmp_path)), "step", 1, case="seed-net")
    assert str(error.value) == ("the baseline process (step seed-net) failed (exit 1): "
                                "RuntimeError: this tree is broken")
