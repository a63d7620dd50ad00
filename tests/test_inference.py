from PIL import Image

from focus.stages.inference import canvas_composition, compose_inputs
from focus.stages.proposer import ROI


def roi(box, conf=None):
    return ROI(cells=(0, 0, 1, 1), anchor=(0, 0), anchor_score=1.0, box=box, confidence=conf)


IMAGE = Image.new("RGB", (3000, 2000), (50, 50, 50))


def test_type1_single_and_union():
    imgs, d = compose_inputs(IMAGE, [roi((100, 100, 400, 400))], None, False, 1200, 672)
    assert d["mode"] == "type1_single" and imgs[0].size == (300, 300)
    imgs, d = compose_inputs(IMAGE, [roi((100, 100, 400, 400)), roi((600, 500, 900, 800))], None, False, 1200, 672)
    assert d["mode"] == "type1_union" and d["boxes"] == [(100, 100, 900, 800)] and imgs[0].size == (800, 700)


def test_type1_far_apart_goes_on_a_canvas():
    far = [roi((0, 0, 300, 300)), roi((2600, 1600, 3000, 2000))]  # centres ~3000 px apart > t_obj_dist
    imgs, d = compose_inputs(IMAGE, far, None, False, 1200, 672)
    assert d["mode"] == "type1_canvas" and len(imgs) == 1 and max(imgs[0].size) == 672


def test_type2_merges_overlaps_and_multi_image():
    rois = [roi((0, 0, 200, 200), 0.9), roi((100, 100, 300, 300), 0.8), roi((1000, 1000, 1200, 1200), 0.7)]
    imgs, d = compose_inputs(IMAGE, [rois[0]], rois, True, 1200, 672)
    assert d["mode"] == "type2_multi_image" and d["boxes"] == [(0, 0, 300, 300), (1000, 1000, 1200, 1200)]
    assert len(imgs) == 3 and imgs[0].size == IMAGE.size and imgs[1].size == (300, 300)  # whole image + crops
    imgs, d = compose_inputs(IMAGE, [rois[0]], rois, False, 1200, 672)
    assert d["mode"] == "type2_canvas"


def test_canvas_keeps_relative_positions():
    src = Image.new("RGB", (2000, 1000), (0, 0, 0))
    src.paste((255, 0, 0), (0, 0, 100, 100))
    src.paste((0, 0, 255), (1900, 900, 2000, 1000))
    canvas = canvas_composition(src, [(0, 0, 100, 100), (1900, 900, 2000, 1000)], 600, (0, 0, 0))
    assert canvas.size == (600, 300)
    assert canvas.getpixel((5, 5)) == (255, 0, 0) and canvas.getpixel((595, 295)) == (0, 0, 255)
