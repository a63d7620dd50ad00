"""Sample pictures fit for a slide (focus/review/sample_figure.py) and the index page's filters
(focus/review/visualize.py): in-process, no model."""

import re

import matplotlib
import numpy as np
from PIL import Image

from test_pictures import two_target_record

from focus.review.plots import render_sample, sample_figure
from focus.review.sample_figure import CONF_CMAP, HEAT_FLOOR, caption_lines, conf_colour
from focus.review.visualize import contact_sheet, outcome


def _picture(rec, size=(600, 400)):
    return np.asarray(render_sample(Image.new("RGB", size, (90, 120, 90)), rec)).astype(int)


def _longest_run(flags) -> int:
    best = run = 0
    for f in flags:
        run = run + 1 if f else 0
        best = max(best, run)
    return best


def test_picture_has_no_blank_canvas():
    """No band of empty canvas: the longest run of all-white rows or columns is a few percent (was 25-40 %)."""
    for size in ((600, 400), (400, 900), (1600, 500)):
        px = _picture(two_target_record(), size)
        white = (px > 245).all(axis=2)
        height, width = white.shape
        assert _longest_run(white.all(axis=1)) < 0.05 * height, size  # blank rows
        assert _longest_run(white.all(axis=0)) < 0.05 * width, size  # blank columns


def test_one_heat_scale_for_all_panels_drawn_only_above_the_floor():
    rec = two_target_record()
    grid = np.full((4, 6), 1.0)
    grid[3, 0] = 8.0
    rec["relevance_maps"]["red car"]["grid"] = (grid / grid.sum()).tolist()
    fig = sample_figure(Image.new("RGB", (600, 400)), rec)
    heats = [im for ax in fig.axes for im in ax.get_images() if im.get_alpha()]
    assert len(heats) == 2
    norms = {(im.norm.vmin, im.norm.vmax) for im in heats}
    cup_peak = 20 * 24 / (23 + 20)  # the hottest cell of both maps, relevance / map mean
    assert norms == {(HEAT_FLOOR, cup_peak)}  # one scale, the largest value of the sample's maps
    for im in heats:
        arr = im.get_array()
        assert (arr.mask == (arr.data <= HEAT_FLOOR)).all() and (~arr.mask).sum() == 1
    assert matplotlib.colormaps[heats[0].get_cmap().name] is not None and heats[0].get_cmap().name == "viridis"
    labels = [ax.get_ylabel() for ax in fig.axes]
    assert any(label.startswith("relevance ÷ map mean") for label in labels)
    assert any(label.startswith("ROI existence confidence") for label in labels)


def test_rank_labels_sharing_a_corner_do_not_overlap_and_are_print_size():
    rec = two_target_record()
    rec["rois"]["cup"] = [{"box": [100, 100, 300, 300], "confidence": 0.9},
                          {"box": [100, 100, 250, 250], "confidence": 0.5},
                          {"box": [100, 100, 200, 200], "confidence": None}]
    fig = sample_figure(Image.new("RGB", (600, 400)), rec)
    fig.canvas.draw()
    cup = next(ax for ax in fig.axes if ax.get_title("left").startswith("target: cup"))
    boxes = [t.get_bbox_patch().get_window_extent() for t in cup.texts]
    assert len(boxes) == 3 and all(t.get_fontsize() >= 10 for t in cup.texts)
    for i in range(3):
        for j in range(i + 1, 3):
            assert not boxes[i].overlaps(boxes[j]), (boxes[i], boxes[j])


def test_confidence_scale_is_colour_blind_safe():
    """No=-1 and yes=+1 differ in lightness and in the blue channel, not only red against green."""
    no, yes = np.array(conf_colour(-1.0)[:3]), np.array(conf_colour(1.0)[:3])
    assert CONF_CMAP not in ("RdYlGn", "jet", "rainbow")
    assert abs(no[2] - yes[2]) > 0.2  # blue channel (RdYlGn: 0.07): seen by red-green colour-blind viewers
    lightness = lambda c: 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]  # noqa: E731
    assert abs(lightness(no) - lightness(yes)) > 0.05 or abs(no[0] - yes[0]) > 0.5


def test_caption_has_the_vanilla_answer_beside_the_method_and_label():
    rec = {**two_target_record(), "prediction": "A", "label": "A", "strict": True, "lenient": True,
           "vanilla_prediction": "D", "vanilla_correct": {"strict": False}}
    _, verdict = caption_lines(rec)
    assert verdict.startswith("prediction: 'A'   label: A   strict: right")
    assert verdict.endswith("vanilla (whole image): 'D' wrong")


def test_index_page_filters_right_wrong_and_outcome_against_vanilla(tmp_path):
    recs = [{"id": "a", "strict": True, "vanilla_prediction": "B", "vanilla_correct": {"strict": False}},
            {"id": "b", "strict": False, "vanilla_prediction": "A", "vanilla_correct": {"strict": True}},
            {"id": "c", "strict": True, "vanilla_prediction": "A", "vanilla_correct": {"strict": True}},
            {"id": "d", "strict": False}]
    assert [outcome(r) for r in recs] == ["method right, vanilla wrong", "method wrong, vanilla right", "both right",
                                          "no vanilla answer"]
    page = contact_sheet([(f"{r['id']}.png", r) for r in recs], tmp_path, "t", {"a.png": (1400, 571)}).read_text()
    figures = re.findall(r'<figure data-verdict="(\w+)" data-outcome="([^"]+)">', page)
    assert figures == [("right", "method right, vanilla wrong"), ("wrong", "method wrong, vanilla right"),
                       ("right", "both right"), ("wrong", "no vanilla answer")]
    assert '<option value="right">right (2)</option>' in page and "both wrong" not in page
    assert 'width="1400" height="571"' in page and 'id="outcome"' in page and "function apply()" in page


def test_maps_are_not_recomputed_from_a_config_naming_foreign_code():
    import pytest

    from focus import FocusError
    from focus.review.maps import recompute_maps
    rec = {"targets": ["cup"], "rois": {"cup": [{"box": [0, 0, 10, 10]}]}}
    config = {"model": {"adapter": {"_target_": "os.system", "command": "echo hacked"}},
              "method": {"relevance": {"_target_": "focus.stages.relevance.Relevance"}}}
    with pytest.raises(FocusError, match="'os.system', not a focus component"):
        recompute_maps(config, [(rec, Image.new("RGB", (10, 10)))])
    assert "relevance_maps" not in rec
    assert recompute_maps({"method": {}}, [(rec, None)]) == 0  # a method without a relevance stage: nothing to do


def test_no_colour_scale_is_shared_between_figures():
    """A module-level Normalize collects every figure's ScalarMappable callbacks; garbage-collected from several
    threads (W&B's, tqdm's), its registry printed `Exception ignored ... KeyError: 'changed'` during sweeps."""
    from matplotlib.colors import Normalize

    from focus.review import plots, sample_figure as module
    for mod in (plots, module):
        assert not [name for name, v in vars(mod).items() if isinstance(v, Normalize)], mod.__name__
    first = sample_figure(Image.new("RGB", (600, 400)), two_target_record())
    second = sample_figure(Image.new("RGB", (600, 400)), two_target_record())
    norms = lambda fig: {id(im.norm) for ax in fig.axes for im in ax.get_images()}  # noqa: E731
    assert not norms(first) & norms(second)
