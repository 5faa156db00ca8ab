"""strided bench's bookkeeping (never its timings: those are for benchmarks/, not tests)."""

import pytest

from strided.benchmark import runner


def test_compare_runs_reports_the_median_ratio_and_every_run(monkeypatch):
    ratios = iter([1.4, 1.1, 1.2])

    def fake_compare(name, repeats):
        ratio = next(ratios)
        return {"case": name, "strided_ms": 10 * ratio, "torch_ms": 10.0, "ratio": ratio, "target": 1.0}

    monkeypatch.setattr(runner, "compare", fake_compare)
    row = runner.compare_runs("seed-net", repeats=5, runs=3)
    assert row["ratio"] == 1.2 and row["ratios"] == [1.1, 1.2, 1.4]
    assert row["strided_ms"] == 12.0  # the times of the median run, not a mix of runs

    ratios = iter([1.4, 1.0])
    row = runner.compare_runs("seed-net", repeats=5, runs=2)
    assert row["ratio"] == pytest.approx(1.2) and row["ratios"] == [1.0, 1.4]  # even count: the middle two's mean


@pytest.mark.parametrize("option", ["--runs", "--repeats"])
def test_bench_refuses_fewer_than_one_run_or_repeat(option, capsys):
    with pytest.raises(SystemExit) as stop:
        runner.main([option, "0"])
    assert stop.value.code == 2 and "--repeats and --runs must be at least 1" in capsys.readouterr().err
