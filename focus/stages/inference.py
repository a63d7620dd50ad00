"""Final VQA inference on the chosen crop(s) (paper Sec. 3.3 "Final VQA inference", App. A.5; design 4.5).

`compose_inputs` turns the ranked ROIs into the image(s) the model answers on:
- type-1: the best ROI per target; several targets → their union box. Global-view models (one image): if two
  chosen ROI centres are farther apart than `t_obj_dist` px, the crops are pasted on an empty canvas at their
  relative positions instead (App. A.5).
- type-2: every ROI of a type-2 target with c_yes > `t_type2` (not limited by n_steps), plus the best ROI of each
  type-1 target, overlapping ones merged; several regions go on a canvas (global view) or as separate crops
  (global-local).
- global-local / multi-image models: the whole image with the chosen ROIs drawn on it, then each crop.
`FinalInference` (the `inference_scheme` group) then answers with `generate` (greedy letter, the paper's protocol)
or `logits_match` (lowest mean token loss over the options).
"""

from __future__ import annotations

import itertools
import math
import string

from PIL import Image, ImageDraw

from ..core.geometry import box_center, merge_overlapping, union_box
from .proposer import ROI


def draw_boxes(image: Image.Image, boxes, color=(255, 0, 0), width: int | None = None) -> Image.Image:
    out = image.copy()
    draw = ImageDraw.Draw(out)
    width = width or max(2, round(max(image.size) / 300))
    for b in boxes:
        draw.rectangle(list(b), outline=tuple(color), width=width)
    return out


def canvas_composition(image: Image.Image, boxes, canvas_side: int, fill=(0, 0, 0)) -> Image.Image:
    """Paste each crop, resized, onto an empty canvas at its position relative to the others (App. A.5).

    The paper gives no sizes: the canvas has the aspect ratio of the boxes' union with long side `canvas_side`;
    each crop is resized so its long side is canvas_side / n_crops and centred at its scaled centre (clamped
    inside the canvas), so the spatial relation between the objects is kept while the background between them is
    dropped.
    """
    u = union_box(boxes)
    uw, uh = max(1, u[2] - u[0]), max(1, u[3] - u[1])
    g = canvas_side / max(uw, uh)
    cw, ch = max(1, round(uw * g)), max(1, round(uh * g))
    canvas = Image.new("RGB", (cw, ch), tuple(fill))
    slot = canvas_side / len(boxes)
    for b in boxes:
        crop = image.crop(b)
        s = slot / max(crop.size)
        crop = crop.resize((max(1, round(crop.size[0] * s)), max(1, round(crop.size[1] * s))), Image.BICUBIC)
        cx, cy = box_center(b)
        x = min(max(round((cx - u[0]) * g - crop.size[0] / 2), 0), max(0, cw - crop.size[0]))
        y = min(max(round((cy - u[1]) * g - crop.size[1] / 2), 0), max(0, ch - crop.size[1]))
        canvas.paste(crop, (x, y))
    return canvas


def max_center_distance(boxes) -> float:
    return max((math.dist(box_center(a), box_center(b)) for a, b in itertools.combinations(boxes, 2)), default=0.0)


def compose_inputs(image: Image.Image, best_per_target: list[ROI], type2_rois: list[ROI] | None, multi_image: bool,
                   t_obj_dist: float, canvas_side: int, canvas_fill=(0, 0, 0)) -> tuple[list[Image.Image], dict]:
    """Returns the images for the final prompt and a description (boxes, mode) for the record.
    best_per_target: the best ROI of each type-1 target; type2_rois: the ROIs of type-2 targets above t_type2."""
    if type2_rois:
        boxes = merge_overlapping([r.box for r in type2_rois] + [r.box for r in best_per_target])
        kind = "type2"
    else:
        boxes = [r.box for r in best_per_target]
        kind = "type1"
    if multi_image:
        return [draw_boxes(image, boxes)] + [image.crop(b) for b in boxes], {"mode": f"{kind}_multi_image",
                                                                            "boxes": boxes}
    if len(boxes) > 1 and (kind == "type2" or max_center_distance(boxes) > t_obj_dist):
        return [canvas_composition(image, boxes, canvas_side, canvas_fill)], {"mode": f"{kind}_canvas", "boxes": boxes}
    final = union_box(boxes)
    return [image.crop(final)], {"mode": f"{kind}_union" if len(boxes) > 1 else f"{kind}_single", "boxes": [final]}


LETTERS = string.ascii_uppercase


class FinalInference:
    """The `inference_scheme` group. answer: generate | logits_match."""

    def __init__(self, answer: str = "generate", t_type2: float = 0.6, t_obj_dist: float = 1200,
                 canvas_side: int = 672, canvas_fill=(0, 0, 0), max_new_tokens: int = 16):
        if answer not in ("generate", "logits_match"):
            raise ValueError(f"inference_scheme.answer must be generate or logits_match, got {answer!r}")
        self.answer_mode, self.t_type2, self.t_obj_dist = answer, float(t_type2), float(t_obj_dist)
        self.canvas_side, self.canvas_fill, self.max_new_tokens = int(canvas_side), tuple(canvas_fill), max_new_tokens

    def compose(self, adapter, image, best_per_target, type2_rois):
        return compose_inputs(image, best_per_target, type2_rois, adapter.multi_image, self.t_obj_dist,
                              self.canvas_side, self.canvas_fill)

    def answer(self, adapter, images: list[Image.Image], sample) -> tuple[str, int, dict]:
        """Returns (prediction, forward passes, extra record fields)."""
        if self.answer_mode == "generate":
            return adapter.generate(images, sample.prompt, max_new_tokens=self.max_new_tokens), 1, {}
        options = sample.option_sentences or sample.options
        losses = adapter.score_options(images, sample.question, options)
        best = min(range(len(losses)), key=losses.__getitem__)
        return LETTERS[best], len(options), {"option_losses": losses}
