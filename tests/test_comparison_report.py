"""focus.report shows vanilla beside every method: a `vanilla (reference)` row per distinct paired reference, interval
and McNemar columns, vanilla per category, and the reference as a point of every trade-off plot."""

import csv
import json

import pytest

from focus.review.report import collect, plot_tradeoffs, write_table
from focus.scoring import summarise
from focus.scoring.metrics import wilson_interval


def make_run(folder, method, right, vanilla_right, fp=3, cats=("a", "b")):
    records = []
    for i, (r, v) in enumerate(zip(right, vanilla_right)):
        records.append({"id": str(i), "prediction": "B" if r else "A", "label": "B", "options": ["x", "y", "z", "w"],
                        "category": cats[i % len(cats)], "error": None, "fp": fp, "seconds": 1.0,
                        "prefill_tokens": 900, "vanilla_prediction": "B" if v else "C",
                        "vanilla_seconds": 0.2, "vanilla_prefill_tokens": 300})
    metrics = summarise(records, "vstar")
    metrics.update(method=method, config={"model": {"name": "demo_llava15", "preset": "paper"},
                                          "dataset": {"name": "demo_scenes"},
                                          "inference_scheme": {"answer": "logits_match"}})
    folder.mkdir(parents=True)
    (folder / "metrics.json").write_text(json.dumps(metrics))


def test_report_has_vanilla_rows_intervals_and_paired_tests(tmp_path):
    vanilla = [True, False, False, False, True, False, False, False]
    make_run(tmp_path / "0_focus", "focus", [True, True, True, True, True, False, True, False], vanilla)
    make_run(tmp_path / "1_focus_s2", "focus", [True, True, False, False, True, False, False, False], vanilla, fp=1)
    table_rows = collect(tmp_path)
    write_table(table_rows, tmp_path)
    drawn = plot_tradeoffs(table_rows, tmp_path)
    assert all("whole image" in labels for labels in drawn.values())  # the reference is a point of every plot
    rows = list(csv.DictReader((tmp_path / "report.csv").open()))
    assert [r["method"] for r in rows] == ["focus", "focus", "vanilla (reference)"]  # one reference for both runs
    ref = rows[2]
    assert float(ref["acc_strict"]) == pytest.approx(25.0) and float(ref["mean_fp"]) == 0
    assert float(ref["mean_prefill_tokens"]) == 300 and "#1, #2" in ref["run"]
    lo, hi = wilson_interval(6, 8)
    assert rows[0]["ci95_strict"] == f"{lo:.1f}–{hi:.1f}"
    assert rows[0]["only_here_vs_vanilla"] == "4/0"
    assert float(rows[0]["p_mcnemar"]) == pytest.approx(2 / 16)  # exact: 2·P(X = 0), X ~ Bin(4, 1/2)
    assert rows[1]["only_here_vs_vanilla"] == "1/0" and float(rows[1]["p_mcnemar"]) == pytest.approx(1.0)
    cats = list(csv.DictReader((tmp_path / "report_categories.csv").open()))
    ref_cats = {c["category"]: c for c in cats if c["method"] == "vanilla (reference)"}
    assert float(ref_cats["a"]["strict"]) == pytest.approx(50.0) and float(ref_cats["b"]["strict"]) == 0.0
    assert "vanilla (reference)" in (tmp_path / "report.md").read_text()
    assert "Wilson" in (tmp_path / "report.md").read_text()


def test_console_and_sweep_lines_carry_intervals_and_the_paired_test(tmp_path, capsys):
    from focus.harness.console import accuracy_line, print_summary

    make_run(tmp_path / "r", "focus", [True, True, True, True, True, False, True, False],
             [True, False, False, False, True, False, False, False])
    metrics = json.loads((tmp_path / "r" / "metrics.json").read_text())
    line = accuracy_line(metrics)
    lo, hi = wilson_interval(6, 8)
    assert f"strict 75.00% [{lo:.1f}–{hi:.1f}]" in line
    assert "vanilla 25.00%" in line and "right only here 4 / only vanilla 0, p=0.125" in line
    print_summary(metrics, tmp_path / "r")
    out = capsys.readouterr().out
    assert "paired test vs vanilla (McNemar, same samples)" in out and "strict: right only here 4, only vanilla 0" in out
    assert "[focus]   a: strict 100.00%" in out and "(n=4); vanilla strict 50.00%" in out
