"""The arithmetic of `strided bench`: from each process's median to the figures reported.

Each round runs every library once, each in a fresh process that reports the median of its timed
steps. Over the rounds, a library's figure is the median of those per-process medians, and its range
the lowest and highest of them. A ratio (strided / PyTorch) is the ratio of the two medians; its range
is that of the per-round ratios, each taken between processes that ran back to back, so it shows how
far one round's verdict could stray.
"""

import statistics


def spread(values) -> dict:
    """Median, lowest and highest of ``values``, and the values themselves."""
    values = list(values)
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "rounds": values}


def ratio(rounds: list, numerator: str, denominator: str) -> dict:
    """``numerator`` / ``denominator`` over ``rounds`` ({label: ms} each): the ratio of the medians, and the
    range of the per-round ratios."""
    per_round = [r[numerator] / r[denominator] for r in rounds]
    medians = [statistics.median(r[label] for r in rounds) for label in (numerator, denominator)]
    return {"ratio": medians[0] / medians[1], "min": min(per_round), "max": max(per_round), "rounds": per_round}


def ratio_pairs(labels) -> list:
    """The ratios worth reporting: each strided tree against PyTorch, then the tree against the baseline."""
    pairs = [(label, "torch") for label in labels if label != "torch"]
    if "baseline" in labels:
        pairs.append(("strided", "baseline"))
    return pairs


def summarize_case(rounds: list, labels, target: float) -> dict:
    """One case's figures from ``rounds`` (a {label: median ms} per round), against ``target`` (strided/torch)."""
    times = {label: spread(r[label] for r in rounds) for label in labels}
    ratios = {f"{a}/{b}": ratio(rounds, a, b) for a, b in ratio_pairs(labels)}
    return {"ms": times, "ratios": ratios, "target": target, "met": ratios["strided/torch"]["ratio"] <= target}


def summarize_layer(layer: dict, rounds: list, labels) -> dict:
    """One conv layer's GFLOP/s per library (``rounds``: a {label: median ms} per round); the range comes from
    the slowest and fastest round."""
    rates = {}
    for label in labels:
        ms = spread(r[label] for r in rounds)
        rates[label] = {"gflops": layer["flops"] / ms["median"] / 1e6, "min": layer["flops"] / ms["max"] / 1e6,
                        "max": layer["flops"] / ms["min"] / 1e6, "ms": ms}
    return {**layer, "gflops": rates}


def summarize_memory(results: dict, target: float) -> dict:
    """Peak-memory growth per library ({label: worker result}) and strided's against PyTorch's."""
    growth = results["strided"]["step_mb"] / max(results["torch"]["step_mb"], 1e-9)
    return {**results, "ratio": growth, "target": target, "met": growth <= target}
