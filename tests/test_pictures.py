"""Pictures and tables a reviewer reads: focus.review.report (labels, fronts, per-category table), focus.review.visualize (one
figure per sample, contact sheet, no-maps message), the W&B table image (focus/review/plots.py)."""

import json
import os
import re

import numpy as np
import pytest
import yaml
from matplotlib.colors import to_rgba
from matplotlib.patches import Rectangle
from PIL import Image

from test_end_to_end import focus_run

from focus.review.plots import (CHOSEN_COLOUR, CONF_CMAP, SAMPLE_SIZE_PX, TRADEOFF_SIZE_PX, axis_range, caption_lines,
                         render_sample, sample_figure)
from focus.review.report import collect, main as report_main, model_name, point_labels

LLAVA = {"name": "llava-hf/llava-1.5-7b-hf", "family": "llava15"}


def fake_run(run, overrides, acc, fp, seconds, method="focus", model=LLAVA):
    (run / ".hydra").mkdir(parents=True)
    (run / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    cats = {"attribute": {"n": 3, "strict": acc, "lenient": acc, "lmms_eval": acc, "vlmevalkit": acc},
            "spatial": {"n": 2, "strict": 50.0, "lenient": 100.0, "lmms_eval": 50.0, "vlmevalkit": 0.0}}
    (run / "metrics.json").write_text(json.dumps({
        "n": 5, "errors": 0, "accuracy_strict": acc, "accuracy_lenient": acc, "accuracy_lmms_eval": acc,
        "accuracy_vlmevalkit": acc, "mean_fp": fp, "mean_seconds": seconds, "per_category": cats, "method": method,
        "mean_prefill_tokens": 600 * fp + 40,
        "config": {"model": model, "dataset": {"name": "vstar"}, "method": {"name": method}}}))


@pytest.fixture
def sweep(tmp_path):
    """n_steps study (two runs coincide), the vanilla baseline, and a tiny model run made before `model.name`."""
    for i, (steps, overrun, acc, fp) in enumerate([(1, "false", 70.0, 1.5), (2, "false", 72.5, 3.0),
                                                   (1, "true", 72.5, 3.0), (4, "true", 75.0, 6.0)]):
        fake_run(tmp_path / f"{i}_steps", [f"ranker.n_steps={steps}", f"ranker.overrun={overrun}", "model=llava15",
                                           "run_dir=x", "logger.wandb.mode=disabled"], acc, fp, 0.5 * fp)
    fake_run(tmp_path / "5_vanilla", ["method=vanilla", "model=llava15"], 62.0, 0.0, 0.3, method="vanilla")
    fake_run(tmp_path / "6_tiny", ["model=tiny_llava15"], 20.0, 9.0, 2.0,
             model={"family": "llava15", "tiny": True, "path": None})
    return tmp_path


def test_report_labels_names_and_tables(sweep, capsys):
    rows = collect(sweep)
    assert [r["model"] for r in rows] == ["llava-hf/llava-1.5-7b-hf"] * 5 + ["tiny_llava15"]
    # only what differs inside a series is a label; a series of one run needs none
    assert point_labels(rows) == ["n_steps=1, overrun=false", "n_steps=2, overrun=false", "n_steps=1, overrun=true",
                                  "n_steps=4, overrun=true", "", ""]
    assert model_name({"model": {"family": "qwen25vl", "path": "/ckpt/qwen-7b"}}) == "/ckpt/qwen-7b"
    assert report_main([str(sweep)]) == 0
    printed = capsys.readouterr().out
    assert "| 6 | model=tiny_llava15 | focus | tiny_llava15 | vstar |" in printed
    cats = (sweep / "report_categories.csv").read_text().splitlines()
    assert cats[0] == "#,method,model,dataset,category,n,strict,lenient,lmms_eval,vlmevalkit,ci95_strict"
    assert "1,focus,llava-hf/llava-1.5-7b-hf,vstar,spatial,2,50.0,100.0,50.0,0.0," in cats and len(cats) == 13
    table = (sweep / "report.csv").read_text().splitlines()
    prefill = table[0].split(",").index("mean_prefill_tokens")
    assert [line.split(",")[prefill] for line in table[1:]] == ["940.0", "1840.0", "1840.0", "3640.0", "40.0", "5440.0"]
    for name in ("pareto.png", "accuracy_vs_prefill_tokens.png", "accuracy_vs_seconds.png"):
        with Image.open(sweep / name) as im:
            assert im.size == TRADEOFF_SIZE_PX


def test_trade_off_plots_merge_coincident_points_into_one_label(sweep):
    from focus.review.report import plot_tradeoffs
    drawn = plot_tradeoffs(collect(sweep), sweep)
    # runs 2 and 3 sit on one point (same accuracy, fp and seconds): one label naming both
    expected = sorted(["n_steps=1, overrun=false", "n_steps=4, overrun=true",
                       "n_steps=1, overrun=true\nn_steps=2, overrun=false"])
    assert sorted(drawn["pareto.png"]) == expected and sorted(drawn["accuracy_vs_seconds.png"]) == expected
    assert sorted(drawn["accuracy_vs_prefill_tokens.png"]) == expected


def test_axis_range_has_a_minimum_span_inside_bounds():
    lo, hi = axis_range([72.5, 72.5], 5.0, lower=0.0, upper=100.0)
    assert hi - lo == pytest.approx(6.0) and lo < 72.5 < hi  # 5 points + 10 % each side, not +-0.04 %
    lo, hi = axis_range([0.0, 1.0], 5.0, lower=0.0, upper=100.0)
    assert lo == pytest.approx(-0.5) and hi == pytest.approx(5.5)  # shifted into [0, 100], then padded
    lo, hi = axis_range([40.0, 90.0], 5.0, lower=0.0, upper=100.0)
    assert (lo, hi) == (pytest.approx(35.0), pytest.approx(95.0))


def two_target_record():
    grid = np.full((4, 6), 1.0)
    grid[1, 4] = 20.0  # one hot cell at column 4, row 1
    layout = {"rows": 4, "cols": 6, "region": [0, 0, 600, 400], "image_size": [600, 400]}
    rois = {"cup": [{"box": [400, 100, 500, 200], "confidence": 0.9}, {"box": [0, 0, 100, 100], "confidence": -0.8},
                    {"box": [100, 300, 200, 400], "confidence": None}],
            "red car": [{"box": [200, 200, 300, 300], "confidence": 0.1}]}
    return {"id": "q7", "question": "Is the cup left of the red car?", "options": ["yes", "no"], "label": "B",
            "prediction": "B", "strict": True, "lenient": True, "category": "spatial", "targets": ["cup", "red car"],
            "type2": False, "fp": 6, "fp_extract": 1, "fp_answer": 1, "seconds": 0.7, "rois": rois,
            "chosen_boxes": [[200, 100, 500, 300]], "final_mode": "type1_union", "gt_boxes": [[410, 110, 480, 190]],
            "relevance_maps": {"cup": {"grid": (grid / grid.sum()).tolist(), "layout": layout},
                               "red car": {"grid": np.full((4, 6), 1 / 24).tolist(), "layout": layout}}}


def test_sample_figure_draws_every_target_map_numbered_coloured_rois_and_the_crop():
    image = Image.new("RGB", (600, 400), (90, 90, 90))
    rec = two_target_record()
    fig = sample_figure(image, rec)
    panels = {ax.get_title("left").split("  ·  ")[0]: ax for ax in fig.axes if ax.get_title("left").startswith("target: ")}
    assert list(panels) == ["target: cup", "target: red car"]
    cup = panels["target: cup"]
    heat = [im for im in cup.get_images() if im.get_alpha()]
    assert len(heat) == 1 and heat[0].get_extent() == [0, 600, 400, 0]
    ratio = heat[0].get_array()
    assert ratio.shape == (4, 6) and np.unravel_index(np.argmax(ratio), ratio.shape) == (1, 4)
    assert ratio.data.mean() == pytest.approx(1.0)  # shown as relevance / map mean
    assert ratio.mask.sum() == 23  # only the hot cell is above the floor; the rest of the scene is not tinted
    assert sum(bool(im.get_alpha()) for im in panels["target: red car"].get_images()) == 1
    # ROIs: numbered 1..3 by rank, at their box corners, coloured by confidence (None: white dotted)
    labels = {t.get_text(): t.get_position() for t in cup.texts}
    assert labels == {"1": (400, 100), "2": (0, 0), "3": (100, 300)}
    edges = {tuple(p.get_xy()): p for p in cup.patches if isinstance(p, Rectangle)}
    import matplotlib
    cmap = matplotlib.colormaps[CONF_CMAP]
    assert edges[(400, 100)].get_edgecolor() == pytest.approx(cmap(0.95))  # c_yes 0.9 on [-1, 1]
    assert edges[(0, 0)].get_edgecolor() == pytest.approx(cmap(0.1))
    assert edges[(100, 300)].get_edgecolor() == pytest.approx(to_rgba("white"))
    assert edges[(100, 300)].get_linestyle() == ":"
    assert edges[(200, 100)].get_edgecolor() == pytest.approx(to_rgba(CHOSEN_COLOUR))
    crops = [ax for ax in fig.axes if ax.get_title("left").startswith("crop 1: 300×200 px")]
    assert len(crops) == 1
    fig.savefig(os.devnull, format="png")  # draws without error
    full = render_sample(image, rec)
    assert full.size == tuple(round(v) for v in fig.get_size_inches() * fig.dpi) and full.size[0] <= SAMPLE_SIZE_PX[0]
    assert render_sample(image, rec, max_side=700).size == (700, round(700 * full.size[1] / full.size[0]))


def test_caption_names_type2_targets_and_what_was_answered_on():
    rec = {**two_target_record(), "type2_targets": ["red car"], "final_mode": "type2_fallback_union",
           "prediction": "I think (A)", "strict": False, "lenient": True}
    lines, verdict = caption_lines(rec)
    assert lines[:3] == ["q7  ·  spatial", "Q: Is the cup left of the red car?", "(A) yes   (B) no"]
    assert lines[3] == "targets: cup, red car (type-2: all instances)"
    assert " ".join(lines[4:]) == ("fp 6 (+1 extract, +1 answer)  ·  0.70 s  ·  answered on the union box of the "
                                   "targets' best ROIs (type-2 search kept no ROI above t_type2: answered as type-1)")
    assert all(len(line) <= 112 for line in lines)
    assert verdict == "prediction: 'I think (A)'   label: B   strict: wrong   lenient: right"
    assert caption_lines({**rec, "final_mode": "type1_canvas"})[0][4].endswith("the crops pasted on one canvas")


def test_visualize_run_folder_pictures_contact_sheet_and_no_maps_message(tmp_path, tiny_cache, capsys):
    from focus.review.visualize import main as visualize
    run = tmp_path / "run"
    proc = focus_run("dataset.limit=2", "method.save_maps=true", "logger.wandb.mode=disabled", run_dir=run,
                     tiny_cache=tiny_cache)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert visualize([str(run)]) == 0
    assert "kept no relevance maps" not in capsys.readouterr().err
    pictures = sorted((run / "viz").glob("*.png"))
    assert [p.name for p in pictures] == ["synthetic-0.png", "synthetic-1.png"]
    for p in pictures:
        with Image.open(p) as im:
            assert im.size[0] <= SAMPLE_SIZE_PX[0] and 250 < im.size[1] < 900
    sheet = (run / "viz" / "index.html").read_text()
    assert re.findall(r'<img src="([^"]+)"', sheet) == ["synthetic-0.png", "synthetic-1.png"]
    # the same run without maps: pictures still drawn, and the command says why there is no heat map
    recs = [json.loads(line) for line in (run / "samples.jsonl").read_text().splitlines()]
    (run / "samples.jsonl").write_text("".join(json.dumps({k: v for k, v in r.items() if k != "relevance_maps"})
                                               + "\n" for r in recs))
    assert visualize([str(run), "--ids", "synthetic-1", "--out", str(tmp_path / "nomaps"), "--no-recompute"]) == 0
    assert "kept no relevance maps (it ran without method.save_maps=true)" in capsys.readouterr().err
    assert [p.name for p in (tmp_path / "nomaps").glob("*.png")] == ["synthetic-1.png"]
    # by default the maps of the samples drawn are recomputed with the run's model: the same maps the run saved
    from focus.review.maps import recompute_maps
    from focus.review.visualize import run_config
    stripped = [{k: v for k, v in r.items() if k != "relevance_maps"} for r in recs]
    from omegaconf import OmegaConf
    from focus.harness.config import build
    config = run_config(run)
    images = {s.id: s.load_image() for s in build(OmegaConf.create({**config["dataset"]["loader"], "limit": 2}))}
    assert recompute_maps(config, [(r, images[r["id"]]) for r in stripped]) == 2
    for saved, again in zip(recs, stripped):
        assert saved["relevance_maps"].keys() == again["relevance_maps"].keys()
        for t in saved["relevance_maps"]:
            assert np.allclose(saved["relevance_maps"][t]["grid"], again["relevance_maps"][t]["grid"], atol=1e-5)
            assert saved["relevance_maps"][t]["layout"] == again["relevance_maps"][t]["layout"]
    assert visualize([str(run), "--ids", "synthetic-1", "--out", str(tmp_path / "again")]) == 0
    assert "recomputing them for the 1 sample(s) drawn" in capsys.readouterr().err
