import torch

from focus.core.geometry import GridLayout
from focus.stages.proposer import ROI, Proposer, grow_roi, nms, propose_rois, select_anchors, square_at


def peaked_map(shape, peaks):
    m = torch.full(shape, 1e-3)
    for (r, c), v in peaks.items():
        m[r, c] = v
    return m / m.sum()


def test_anchors_respect_distance_and_k():
    m = peaked_map((10, 10), {(2, 2): 0.9, (2, 3): 0.8, (7, 7): 0.7, (5, 5): 0.6})
    assert select_anchors(m, 3, s_dist=2) == [(2, 2), (7, 7), (5, 5)]  # (2,3) is 1 cell from (2,2)
    assert select_anchors(m, 2, s_dist=1) == [(2, 2), (2, 3)]


def test_square_is_shifted_inside_borders():
    assert square_at((0, 0), 3, (10, 10)) == (0, 0, 3, 3)
    assert square_at((9, 9), 3, (10, 10)) == (7, 7, 10, 10)
    assert square_at((5, 5), 3, (10, 10)) == (4, 4, 7, 7)
    assert square_at((1, 5), 5, (3, 10)) == (0, 3, 3, 8)  # grid shorter than the square


def test_growth_stops_at_threshold_and_at_s_max():
    m = torch.zeros(12, 12)
    m[4:9, 4:9] = 1.0  # a 5×5 blob around (6, 6)
    m = m / m.sum()
    ref = float(m.mean())
    # 3x3 → 5x5 keeps mean 1/25 > 0.5·mean; 7x7 has mean 25/49/25 = 1/49 ≥ 0.5/144 too, so only s_max stops it
    assert grow_roi(m, (6, 6), 3, 5, 0.5 * ref) == (4, 4, 9, 9)
    assert grow_roi(m, (6, 6), 3, 9, 0.5 * ref) == (2, 2, 11, 11)
    # a high threshold (the anchor's own value) stops at the first ring that includes zeros
    assert grow_roi(m, (6, 6), 3, 9, 0.9 * float(m[6, 6])) == (4, 4, 9, 9)
    assert grow_roi(m, (6, 6), 3, 9, 1.01 * float(m[6, 6])) == (5, 5, 8, 8)


def test_nms_suppresses_overlaps():
    a = ROI(cells=(0, 0, 3, 3), anchor=(1, 1), anchor_score=0.9)
    b = ROI(cells=(0, 1, 3, 4), anchor=(1, 2), anchor_score=0.8)  # IoU 6/12 = 0.5
    c = ROI(cells=(5, 5, 8, 8), anchor=(6, 6), anchor_score=0.7)
    assert nms([a, b, c], 0.3) == [a, c]
    assert nms([a, b, c], 0.6) == [a, b, c]


def test_propose_orders_by_anchor_relevance():
    m = peaked_map((12, 12), {(2, 2): 0.5, (9, 9): 0.9})
    rois = propose_rois(m, k=2, s_min=3, s_max=3, s_dist=2, expand_threshold=0.5)
    assert [r.anchor for r in rois] == [(9, 9), (2, 2)]
    assert rois[0].cells == (8, 8, 11, 11)


def test_pixel_conversion_removes_padding():
    # a 1200×700 image padded to a 1200 square: 250 px of padding on top, 50 px per cell
    layout = GridLayout(24, 24, (0, -250, 1200, 950), (1200, 700))
    assert layout.cell_box((5, 0, 6, 1)) == (0, 0, 50, 50)  # row 5 starts exactly at the image top
    assert layout.cell_box((0, 0, 3, 3)) == (0, 0, 150, 0)  # entirely in the padding → empty after clipping
    assert layout.cell_box((10, 10, 13, 13)) == (500, 250, 650, 400)
    assert layout.cell_of_pixel(525, 260) == (10, 10)
    m = peaked_map((24, 24), {(10, 10): 1.0})
    rois = Proposer(k=1, s_min=3, s_max=3, s_dist=2)(m, layout, target="cat")
    assert rois[0].box == (450, 200, 600, 350) and rois[0].target == "cat"
    big = Proposer(k=1, s_min=3, s_max=3, s_dist=2, min_crop=336)(m, layout)
    box = big[0].box
    assert box[2] - box[0] == 336 and box[3] - box[1] == 336  # enlarged to the base resolution around the centre


def test_proposer_rejects_bad_sizes():
    import pytest
    with pytest.raises(ValueError, match="s_min"):
        Proposer(s_min=7, s_max=5)


def test_rois_in_padding_are_dropped():
    layout = GridLayout(24, 24, (0, -250, 1200, 950), (1200, 700))
    m = peaked_map((24, 24), {(0, 12): 1.0, (12, 12): 0.5})  # the strongest peak lies in the top padding
    rois = Proposer(k=2, s_min=3, s_max=3, s_dist=2)(m, layout)
    assert [r.anchor for r in rois] == [(12, 12)]
