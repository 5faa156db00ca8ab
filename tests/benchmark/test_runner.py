"""strided bench's bookkeeping with the child processes faked: the order of the processes, what they are
asked, the result it assembles, its errors (never its timings: those are for benchmarks/, not tests)."""

import json
from itertools import count
from pathlib import Path

import pytest

from strided import cli
from strided.benchmark import runner


def fake_tree(tmp_path, name="tree") -> Path:
    (tmp_path / name / "strided").mkdir(parents=True)
    (tmp_path / name / "strided" / "__init__.py").write_text("")
    return tmp_path / name


def fake_children(monkeypatch, step_ms=None):
    """Replace every child process by a function that records (label, kind, case) and answers as the worker
    does; ``step_ms``: {label: [ms of round 1, round 2, ...]}."""
    calls, rounds = [], {}

    def fake(variant, kind, threads, **options):
        calls.append((variant.label, kind, options.get("case")))
        if kind == "info":
            if variant.library == "torch":
                return {"numpy": "2", "torch": "2.13", "threads": threads, "backend": ["CPU capability usage: AVX2"],
                        "cpu_capability": "AVX2", "thread_pools": [], "load": 0.5}
            return {"numpy": "2", "strided": "0.1", "strided_file": str(Path(variant.path, "strided", "__init__.py")),
                    "threads": None, "matmul_gflops": 100.0, "thread_pools": [], "load": 0.5}
        if kind == "step":
            index = next(rounds.setdefault((variant.label, options["case"]), count()))
            ms = step_ms[variant.label][index] if step_ms else 1.0
            return {"ms": ms, "cpu_ms": ms, "steps": [ms], "load": 0.5}
        if kind == "layers":
            return {"ms": [2.0] * len(options["layers"]), "load": 0.5}
        return {"case": "resnet-cifar", "peak_mb": 100.0, "step_mb": 45.0 if variant.library == "strided" else 50.0,
                "baseline_mb": 55.0, "load": 0.5}

    monkeypatch.setattr(runner, "run_child", fake)
    return calls


def test_the_libraries_alternate_their_order_from_round_to_round(monkeypatch, capsys):
    calls = fake_children(monkeypatch)
    assert runner.main(["--cases", "seed-net", "--rounds", "4", "--no-layers", "--no-memory", "--json"]) == 0
    steps = [label for label, kind, _ in calls if kind == "step"]
    assert steps == ["strided", "torch", "torch", "strided", "strided", "torch", "torch", "strided"]


def test_with_a_baseline_the_three_take_turns_first(monkeypatch, tmp_path, capsys):
    calls = fake_children(monkeypatch)
    argv = ["--cases", "inference-b1", "--rounds", "3", "--baseline-path", str(fake_tree(tmp_path)), "--no-layers",
            "--no-memory", "--json"]
    assert runner.main(argv) == 0
    steps = [label for label, kind, _ in calls if kind == "step"]
    assert steps == ["strided", "baseline", "torch", "baseline", "torch", "strided", "torch", "strided", "baseline"]
    result = json.loads(capsys.readouterr().out)
    assert result["header"]["libraries"]["baseline"]["path"] == str((tmp_path / "tree").resolve())
    assert list(result["cases"][0]["ratios"]) == ["strided/torch", "baseline/torch", "strided/baseline"]


def test_the_result_holds_the_figures_of_every_process_and_their_summary(monkeypatch, tmp_path, capsys):
    fake_children(monkeypatch, {"strided": [10.0, 14.0, 12.0], "torch": [5.0, 8.0, 6.0]})
    out = tmp_path / "runs" / "bench.json"
    assert runner.main(["--cases", "resnet-cifar", "--rounds", "3", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    row = result["cases"][0]
    assert row["ms"]["strided"]["median"] == 12.0 and row["ms"]["torch"]["median"] == 6.0
    assert row["ratios"]["strided/torch"]["ratio"] == 2.0 and row["target"] == 1.3 and row["met"] is False
    assert [p["order"] for p in row["processes"]] == [["strided", "torch"], ["torch", "strided"], ["strided", "torch"]]
    assert row["processes"][1]["torch"]["ms"] == 8.0
    assert row["cpu_ms"]["strided"]["median"] == 12.0 and row["cpu_ratios"]["strided/torch"]["ratio"] == 2.0
    header = result["header"]
    assert {"cpu", "flags", "cores", "load_start", "load_end", "threads", "libraries"} <= set(header)
    assert header["threads"] == 2 and header["libraries"]["strided"]["matmul_gflops"] == 100.0
    assert all(layer["gflops"]["strided"]["gflops"] > 0 for layer in result["layers"])
    assert result["memory"]["ratio"] == pytest.approx(0.9) and result["memory"]["target"] == 1.0
    table = capsys.readouterr().out  # without --json: the tables
    assert "resnet-cifar" in table and "MISSED" in table and "3x3 conv layers" in table and "peak RSS" in table


def test_the_targets_are_issue_18s():
    assert runner.TARGETS == {"seed-net": 1.0, "fmnist-cnn": 1.0, "resnet-cifar": 1.3, "inference-b1": 0.8,
                              "inference-b256": 0.9}
    assert runner.MEMORY_TARGET == 1.0


def test_each_child_gets_its_tree_first_on_pythonpath_and_the_thread_variables(monkeypatch):
    monkeypatch.setenv("PYTHONPATH", "/somewhere/else")
    monkeypatch.setenv("OMP_NUM_THREADS", "16")
    env = runner.child_env(runner.Variant("baseline", "strided", "/trees/main"), 3)
    assert env["PYTHONPATH"].split(":") == ["/trees/main", "/somewhere/else"]
    assert env["OMP_NUM_THREADS"] == env["OPENBLAS_NUM_THREADS"] == env["MKL_NUM_THREADS"] == "3"


def test_a_strided_imported_from_elsewhere_than_its_tree_is_an_error(monkeypatch, tmp_path, capsys):
    calls = fake_children(monkeypatch)
    real = runner.run_child

    def elsewhere(variant, kind, threads, **options):
        answer = real(variant, kind, threads, **options)
        return {**answer, "strided_file": "/site-packages/strided/__init__.py"} if kind == "info" else answer

    monkeypatch.setattr(runner, "run_child", elsewhere)
    assert runner.main(["--strided-path", str(fake_tree(tmp_path)), "--no-layers", "--no-memory"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "imported strided from /site-packages/strided/__init__.py, not from" in err
    assert not [call for call in calls if call[1] == "step"]  # found before any timing


@pytest.mark.parametrize("argv, message", [
    (["--rounds", "0"], "argument --rounds: expected a whole number of at least 1, got '0'"),
    (["--repeats", "-3"], "argument --repeats: expected a whole number of at least 1, got '-3'"),
    (["--threads", "two"], "argument --threads: expected a whole number of at least 1, got 'two'"),
    (["--cases", "lenet"], "argument --cases: invalid choice: 'lenet'"),
])
def test_bad_numbers_and_unknown_cases_are_refused_by_the_parser(argv, message, capsys):
    with pytest.raises(SystemExit) as stop:
        cli.main(["bench", *argv])
    assert stop.value.code == 2 and message in capsys.readouterr().err


def test_without_pytorch_one_line_says_how_to_install_it(monkeypatch, capsys):
    calls = fake_children(monkeypatch)
    monkeypatch.setattr(runner.importlib.util, "find_spec", lambda name: None)
    assert runner.main([]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pip install torch --index-url https://download.pytorch.org/whl/cpu" in err
    assert calls == []


@pytest.mark.parametrize("option", ["--strided-path", "--baseline-path"])
def test_a_tree_without_strided_in_it_is_refused_before_any_process(option, monkeypatch, tmp_path, capsys):
    calls = fake_children(monkeypatch)
    assert runner.main([option, str(tmp_path)]) == 1
    assert f"{option} {tmp_path}: expected a source tree with strided/__init__.py" in capsys.readouterr().err
    assert calls == []


def test_an_out_file_that_cannot_be_written_is_refused_before_any_process(monkeypatch, tmp_path, capsys):
    calls = fake_children(monkeypatch)
    assert runner.main(["--out", str(tmp_path)]) == 1  # a folder
    assert f"--out {tmp_path}: cannot write there" in capsys.readouterr().err and calls == []
