"""Intervals and the paired test against vanilla (metrics.json `interval_95`, `vanilla_reference`), checked against
values computed by hand from the textbook formulas."""

import math

import pytest

from focus.scoring import summarise
from focus.scoring.metrics import mcnemar, wilson_interval


def test_wilson_interval_matches_the_closed_form():
    # 12 of 40: p = 0.3, z = 1.959964; centre (p + z²/2n)/(1 + z²/n) = 0.317525, half-width 0.136776
    assert wilson_interval(12, 40) == pytest.approx([18.0749, 45.4301], abs=1e-3)
    # 0 of 10: the interval starts at 0 and reaches z²/(n + z²) = 0.277533 (not the Wald interval's [0, 0])
    assert wilson_interval(0, 10) == pytest.approx([0.0, 27.7533], abs=1e-3)
    assert wilson_interval(0, 0) is None


def test_mcnemar_counts_and_p_values():
    here = [True] * 12 + [False] * 1 + [True] * 5 + [False] * 22
    vanilla = [False] * 12 + [True] * 1 + [True] * 5 + [False] * 22
    m = mcnemar(here, vanilla)
    assert (m["right_only_here"], m["right_only_vanilla"]) == (12, 1)
    assert m["p_value"] == pytest.approx(2 * (1 + 13) / 2 ** 13)  # exact: 2·P(X <= 1), X ~ Bin(13, 1/2)
    assert m["test"] == "exact binomial"
    big = mcnemar([True] * 30 + [False] * 10, [False] * 30 + [True] * 10)
    chi2 = (30 - 10 - 1) ** 2 / 40  # continuity-corrected statistic, 1 df: p = erfc(sqrt(chi2 / 2))
    assert big["p_value"] == pytest.approx(math.erfc(math.sqrt(chi2 / 2)))
    assert mcnemar([True, False], [True, False])["p_value"] == 1.0
    with pytest.raises(ValueError):
        mcnemar([True], [True, False])


def test_metrics_carry_intervals_and_the_paired_test_against_vanilla():
    def rec(i, pred, vanilla_right, category="a", error=None):
        r = {"id": str(i), "prediction": pred, "label": "B", "options": ["x", "y", "z", "w"], "category": category,
             "error": error, "fp": 3}
        if vanilla_right is not None:
            r["vanilla_correct"] = {p: vanilla_right for p in ("strict", "lenient", "lmms_eval", "vlmevalkit")}
            r["vanilla_fp_answer"] = 1
        return r

    records = ([rec(i, "B", False) for i in range(3)] + [rec(3, "A", True), rec(4, "B", True, "b"),
               rec(5, None, None, "b", error="ValueError: bad image")])
    m = summarise(records, "vstar")
    assert m["accuracy_strict"] == pytest.approx(400 / 6)
    assert m["interval_95"]["strict"] == pytest.approx(wilson_interval(4, 6))
    assert "Wilson" in m["interval_95"]["method"]
    ref = m["vanilla_reference"]
    assert ref["accuracy"]["strict"] == pytest.approx(200 / 6)  # the error sample has no vanilla answer: wrong
    assert ref["mcnemar"]["strict"]["right_only_here"] == 3 and ref["mcnemar"]["strict"]["right_only_vanilla"] == 1
    assert ref["mcnemar"]["strict"]["p_value"] == pytest.approx(2 * 5 / 16)  # 2·P(X <= 1), X ~ Bin(4, 1/2)
    assert ref["per_category"]["b"]["strict"] == pytest.approx(50.0)
    assert ref["per_category"]["a"]["mcnemar"]["strict"]["right_only_here"] == 3
    assert m["per_category_interval_95"]["b"]["strict"] == pytest.approx(wilson_interval(1, 2))
    assert ref["mean_fp"] == 0 and ref["mean_fp_answer"] == 1
