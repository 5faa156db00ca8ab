"""strided bench's arithmetic on known figures: medians, ranges, ratios of medians, per-round ratios."""

import pytest

from strided.benchmark import summary

ROUNDS = [{"strided": 10.0, "torch": 5.0}, {"strided": 12.0, "torch": 4.0}, {"strided": 11.0, "torch": 6.0}]


def test_a_library_figure_is_the_median_of_the_process_medians_with_their_range():
    assert summary.spread([12.0, 10.0, 11.0]) == {"median": 11.0, "min": 10.0, "max": 12.0,
                                                  "rounds": [12.0, 10.0, 11.0]}
    assert summary.spread([4.0, 1.0])["median"] == 2.5  # an even count: the mean of the middle two


def test_a_ratio_is_the_ratio_of_the_medians_and_its_range_that_of_the_per_round_ratios():
    ratio = summary.ratio(ROUNDS, "strided", "torch")
    assert ratio["ratio"] == pytest.approx(11.0 / 5.0)  # not the median of the per-round ratios (2.0)
    assert ratio["rounds"] == pytest.approx([2.0, 3.0, 11.0 / 6.0])
    assert (ratio["min"], ratio["max"]) == (pytest.approx(11.0 / 6.0), pytest.approx(3.0))


@pytest.mark.parametrize("target, met", [(2.2, True), (2.1, False)])
def test_a_case_meets_its_target_when_the_ratio_of_medians_is_at_most_the_target(target, met):
    row = summary.summarize_case(ROUNDS, ["strided", "torch"], target)
    assert row["met"] is met and row["target"] == target
    assert row["ms"]["torch"]["median"] == 5.0 and list(row["ratios"]) == ["strided/torch"]


def test_a_baseline_adds_its_own_ratio_to_pytorch_and_the_tree_against_the_baseline():
    rounds = [{"strided": 8.0, "baseline": 16.0, "torch": 4.0}, {"strided": 10.0, "baseline": 20.0, "torch": 5.0}]
    row = summary.summarize_case(rounds, ["strided", "baseline", "torch"], 1.0)
    assert list(row["ratios"]) == ["strided/torch", "baseline/torch", "strided/baseline"]
    assert row["ratios"]["strided/baseline"]["ratio"] == pytest.approx(0.5)
    assert row["ratios"]["baseline/torch"]["rounds"] == pytest.approx([4.0, 4.0])


def test_a_layer_rate_divides_its_flops_by_the_median_time_and_the_range_comes_from_the_extremes():
    layer = {"names": ["net/0"], "flops": 2_000_000_000}
    rounds = [{"strided": 10.0}, {"strided": 20.0}, {"strided": 40.0}]  # ms
    rate = summary.summarize_layer(layer, rounds, ["strided"])["gflops"]["strided"]
    assert (rate["gflops"], rate["min"], rate["max"]) == pytest.approx((100.0, 50.0, 200.0))


def test_memory_compares_the_growth_of_a_step_not_the_peak():
    memory = summary.summarize_memory({"strided": {"step_mb": 45.0, "peak_mb": 100.0},
                                       "torch": {"step_mb": 50.0, "peak_mb": 400.0}}, 1.0)
    assert memory["ratio"] == pytest.approx(0.9) and memory["met"] is True
