"""Report tables and plot labels a reviewer reads (focus/review/report.py, focus/review/plots.py): numeric row
order, only the overrides that differ, one number format per column, ablations named by their components, point
labels inside the frame and without the `comparison=` prefix."""

import yaml

from test_pictures import LLAVA, fake_run

from focus.review.report import collect, main as report_main, point_labels, plot_tradeoffs


def _choices(run, **choices):
    base = {"targets": "icl", "relevance": "values", "proposer": "default", "ranker": "existence",
            "inference_scheme": "model_default", "method": "focus"}
    (run / ".hydra" / "hydra.yaml").write_text(yaml.safe_dump({"hydra": {"runtime": {"choices": {**base,
                                                                                                  **choices}}}}))


def test_rows_in_numeric_order_with_distinct_overrides_and_one_format_per_column(tmp_path, capsys):
    for job in (0, 1, 2, 10, 11):
        fake_run(tmp_path / f"{job}_ranker.n_steps={job + 1}", [f"ranker.n_steps={job + 1}", "model=llava15",
                                                                "dataset=vstar"], 70.0 + job, job + 0.5 if job
                 else 4, 1.0)
    rows = collect(tmp_path)
    assert [r["run"] for r in rows] == [f"ranker.n_steps={j + 1}" for j in (0, 1, 2, 10, 11)]  # not 0, 10, 11, 1
    assert report_main([str(tmp_path)]) == 0
    table = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("| ")]
    column = table[0].split(" | ").index("mean_fp")
    fp = [ln.split(" | ")[column] for ln in table[1:6]]
    assert fp == ["4.00", "1.50", "2.50", "10.50", "11.50"]  # the integer 4 in the same format as 1.50


def test_ablation_rows_are_named_by_their_components(tmp_path):
    for job, (rel, rank) in enumerate([("values", "existence"), ("random", "existence"), ("values", "none")]):
        run = tmp_path / f"{job}_ablation"
        fake_run(run, [f"relevance={rel}", f"ranker={rank}"], 60.0 - 5 * job, 3.0 - job, 1.0)
        _choices(run, relevance=rel, ranker=rank)
    fake_run(tmp_path / "3_vanilla", ["method=vanilla"], 40.0, 0.0, 0.2, method="vanilla")
    assert [r["method"] for r in collect(tmp_path)] == [
        "focus (relevance=values, ranker=existence)", "focus (relevance=random, ranker=existence)",
        "focus (relevance=values, ranker=none)", "vanilla"]


def test_comparison_labels_name_the_option_and_stay_inside_the_frame(tmp_path):
    for job, (name, acc, fp) in enumerate([("focus_s1", 60.0, 2.0), ("focus_s8", 99.5, 30.0),
                                           ("focus_s2", 61.0, 3.0)]):
        fake_run(tmp_path / f"{job}_{name}", [f"+comparison={name}", "model=llava15"], acc, fp, 1.0, model=LLAVA)
    rows = collect(tmp_path)
    assert point_labels(rows) == ["focus_s1", "focus_s8", "focus_s2"]
    import matplotlib
    matplotlib.use("Agg")
    from focus.review import plots
    seen = []
    real = plots._place_labels

    def spy(fig, ax, anchors):
        out = real(fig, ax, anchors)
        renderer = fig.canvas.get_renderer()
        frame = ax.get_window_extent(renderer)
        seen.append([(a.get_text(), a.get_window_extent(renderer), frame) for a in out])
        return out

    plots._place_labels = spy
    try:
        plot_tradeoffs(rows, tmp_path)
    finally:
        plots._place_labels = real
    assert len(seen) == 3
    for labels in seen:
        assert sorted(t for t, _, _ in labels) == ["focus_s1", "focus_s2", "focus_s8"]
        for text, box, frame in labels:
            assert frame.x0 - 0.5 <= box.x0 and box.x1 <= frame.x1 + 0.5, text
            assert frame.y0 - 0.5 <= box.y0 and box.y1 <= frame.y1 + 0.5, text
