"""ViCrop ("MLLMs know where to look") as a method of this harness: crop where the model's own attention points
(a baseline of the paper: Sec. 4.2, App. A.4, Tables 4, 10, 16).

Read from the original code, saccharomycetes/mllms_know (`llava_methods.py` `rel_attention_llava`,
`gradient_attention_llava`; `qwen2_5_methods.py`; `utils.py` `bbox_from_att_image_adaptive`, `high_res`,
`high_res_split_threshold`; `run.py`); docs/baselines.md summarises it and the README section "Baselines" lists
every place where this implementation differs.

- Map (`map=rel_att | grad_att`): the attention of the prompt's last token to the image tokens at one decoder layer,
  averaged over heads. rel-att divides the map of the question by the map of the generic prompt "Write a general
  description of the image." (`relative_attention`); grad-att weights the attention by the positive part of its
  gradient of the answer loss (`grad_weighted_attention`).
- High resolution (`high_res`): the image is cut into blocks of at most ~1024 px (`split_blocks`), one map per
  block, stitched in block order (`stitch_blocks`).
- Box (`select_box`): windows of window·r px, r ∈ {1, 1.2, …, 2}, slide over the map; per r the window with the
  largest attention sum; the r whose best window stands out most from its four neighbours (per cell) wins; the
  box is centred there and kept inside the image.
- Answer: on [image, crop] (as the original does for LLaVA-1.5 and Qwen2.5-VL) or on the crop alone.

Forward passes (paper App. A.2, the same accounting as FOCUS): `fp` = the map passes — 2 per map for rel-att
(question + generic prompt), 1 for grad-att (one forward, its backward is not a model call) — times the number of
blocks with `high_res`; `fp_extract` = 0 (no targets); `fp_answer` = the final answer.
"""

from __future__ import annotations

import logging
import math

import numpy as np
import torch
import torch.nn.functional as F

from ..core.cost import stage
from ..core.geometry import GridLayout
from ..stages.relevance import scaled_layer

log = logging.getLogger(__name__)

RATIOS = (1, 1.2, 1.4, 1.6, 1.8, 2)  # utils.py `bbox_from_att_image_adaptive`


def relative_attention(question_map: torch.Tensor, general_map: torch.Tensor) -> torch.Tensor:
    """rel-att: question attention / generic-prompt attention, element-wise (llava_methods.py
    `rel_attention_llava`). The divisor is kept away from 0 (a float32 attention weight that underflowed)."""
    return question_map / general_map.clamp_min(torch.finfo(torch.float32).tiny)


def grad_weighted_attention(attention: torch.Tensor, gradient: torch.Tensor) -> torch.Tensor:
    """grad-att: mean over heads of attention · relu(d loss / d attention) (llava_methods.py
    `gradient_attention_llava`). attention, gradient: [heads, M] → [M]."""
    return (attention * gradient.clamp_min(0)).mean(dim=0)


def window_sums(att_map: np.ndarray, win_cols: int, win_rows: int) -> np.ndarray:
    """Sum of `att_map` over every win_rows × win_cols window, stride 1: [rows − win_rows + 1, cols − win_cols + 1]."""
    padded = np.pad(np.asarray(att_map, dtype=np.float64).cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    return (padded[win_rows:, win_cols:] - padded[:-win_rows, win_cols:] - padded[win_rows:, :-win_cols]
            + padded[:-win_rows, :-win_cols])


def select_box(att_map: np.ndarray, region, image_size, window: int, ratios=RATIOS) -> tuple[tuple, dict]:
    """ViCrop's adaptive box (utils.py `bbox_from_att_image_adaptive`) on a map covering `region` (x0, y0, x1, y1)
    of the image (pixels); the original's region is the whole image. Returns ((x0, y0, x1, y1), details).

    For each ratio r: the window is int(window·r / cell size) cells (at most the map); if it covers the whole map,
    r = 1 returns the whole image and larger r are skipped. The window with the largest sum wins (the first in
    x-major order on ties, as the original's loops); its sharpness is (sum − mean of its 4 neighbours' sums) /
    window cells. The sharpest ratio wins; the box of side window·r is centred on its window, shifted inside the
    image and clipped.
    """
    rows, cols = att_map.shape
    width, height = image_size
    cell_w, cell_h = (region[2] - region[0]) / cols, (region[3] - region[1]) / rows
    best = None
    for ratio in ratios:
        n_x = max(1, min(int(window * ratio / cell_w), cols))  # >= 1: a cell wider than the window is one cell
        n_y = max(1, min(int(window * ratio / cell_h), rows))
        if cols - n_x < 1 and rows - n_y < 1:
            if ratio == ratios[0]:
                return (0, 0, width, height), {"ratio": ratio, "window_cells": [n_y, n_x], "whole_image": True}
            continue
        sums = window_sums(att_map, n_x, n_y)  # [y, x]
        flat = int(np.argmax(sums.T))  # x-major order, first maximum
        x, y = divmod(flat, sums.shape[0])
        neighbours = [sums[y, x + dx] for dx in (-1, 1) if 0 <= x + dx < sums.shape[1]]
        neighbours += [sums[y + dy, x] for dy in (-1, 1) if 0 <= y + dy < sums.shape[0]]
        sharpness = (sums[y, x] - (np.mean(neighbours) if neighbours else 0.0)) / (n_x * n_y)
        if best is None or sharpness > best[0]:
            best = (sharpness, ratio, x, y, n_x, n_y)
    sharpness, ratio, x, y, n_x, n_y = best
    side = window * ratio
    half = side // 2
    cx = int(region[0] + x * cell_w + cell_w * n_x / 2)
    cy = int(region[1] + y * cell_h + cell_h * n_y / 2)
    cx = min(max(cx, half), width - half)  # the original clamps low first, then high
    cy = min(max(cy, half), height - half)
    box = (max(0, round(cx - half)), max(0, round(cy - half)), min(width, round(cx + half)),
           min(height, round(cy + half)))
    return box, {"ratio": ratio, "window_cells": [n_y, n_x], "cell": [y, x], "sharpness": float(sharpness),
                 "whole_image": False}


def split_blocks(width: int, height: int, threshold: int = 1024) -> tuple[list[tuple[int, int, int, int]], int, int]:
    """High-resolution blocks (utils.py `high_res_split_threshold`): ceil(H/threshold) rows, int(rows·W/H) columns
    (at least 1: the original gets 0 columns for tall images), each ceil(W/cols) × ceil(H/rows) px, row-major.
    Returns (boxes, rows, cols)."""
    n_rows = math.ceil(height / threshold)
    n_cols = max(1, int(n_rows * width / height))
    bw, bh = math.ceil(width / n_cols), math.ceil(height / n_rows)
    boxes = [(i * bw, j * bh, (i + 1) * bw, (j + 1) * bh) for j in range(n_rows) for i in range(n_cols)]
    return boxes, n_rows, n_cols


def trim_to_image(grid: torch.Tensor, layout: GridLayout) -> tuple[torch.Tensor, tuple[float, float, float, float]]:
    """The rows and columns of a map whose cells overlap the image (drops LLaVA-1.5's pad-to-square padding);
    returns (map, the pixel region it covers)."""
    cw, ch = layout.cell_size
    x0, y0 = layout.region[0], layout.region[1]
    width, height = layout.image_size
    rows = [r for r in range(layout.rows) if y0 + (r + 1) * ch > 0 and y0 + r * ch < height]
    cols = [c for c in range(layout.cols) if x0 + (c + 1) * cw > 0 and x0 + c * cw < width]
    r0, r1, c0, c1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    return grid[r0:r1, c0:c1], (x0 + c0 * cw, y0 + r0 * ch, x0 + c1 * cw, y0 + r1 * ch)


def stitch_blocks(maps: list[torch.Tensor], n_rows: int, n_cols: int) -> torch.Tensor:
    """Block maps (row-major) side by side (utils.py `high_res`, `np.block`). Maps of another shape than the first
    (blocks at the border, or models whose grid follows the block's size) are resized to it bilinearly."""
    shape = tuple(maps[0].shape)
    same = [m if tuple(m.shape) == shape else
            F.interpolate(m[None, None].float(), size=shape, mode="bilinear", align_corners=False)[0, 0]
            for m in maps]
    return torch.cat([torch.cat(same[r * n_cols:(r + 1) * n_cols], dim=1) for r in range(n_rows)], dim=0)


class ViCrop:
    """The `method=vicrop` node. Per-family `layer` and `window` come from conf/method/vicrop.yaml's `per_family`
    table (llava_methods.py ATT_LAYER=14 and run.py bbox_size=336 for LLaVA-1.5; qwen2_5_methods.py ATT_LAYER=22 and
    bbox_size=224 for Qwen2.5-VL)."""

    name = "vicrop"

    def __init__(self, inference_scheme, map: str = "rel_att", high_res: bool = False, high_res_block: int = 1024,
                 layer: int = 14, window: int = 336, ratios=RATIOS,
                 prompt: str = "{question} Answer the question using a single word or phrase.",
                 general_question: str = "Write a general description of the image.",
                 answer_on: str = "image_and_crop", save_maps: bool = False, name: str = "vicrop",
                 per_family: dict | None = None, layer_depth_ref: int | None = None):
        if map not in ("rel_att", "grad_att"):
            raise ValueError(f"vicrop map must be rel_att or grad_att, got {map!r}")
        if answer_on not in ("image_and_crop", "crop"):
            raise ValueError(f"vicrop answer_on must be image_and_crop or crop, got {answer_on!r}")
        if "{question}" not in prompt:
            raise ValueError("vicrop prompt must contain {question}")
        self.inference_scheme, self.map, self.high_res = inference_scheme, map, bool(high_res)
        self.high_res_block, self.layer, self.window = int(high_res_block), int(layer), int(window)
        self.ratios, self.prompt, self.general_question = tuple(ratios), prompt, general_question
        self.answer_on, self.save_maps, self.name = answer_on, save_maps, name
        self.layer_depth_ref = layer_depth_ref  # `layer` counts a model this deep (the one it was set for)

    def attention_map(self, adapter, image, question: str) -> tuple[torch.Tensor, GridLayout, int]:
        """One map on `image`: (map [rows, cols], layout, forward passes)."""
        layer = scaled_layer(self.layer, adapter.num_layers, self.layer_depth_ref, key="method.layer")
        text = self.prompt.format(question=question)
        if self.map == "grad_att":
            p = adapter.last_token_attention(image, text, layer, gradient=True)
            flat, passes = grad_weighted_attention(p.attention, p.gradient), 1
        else:
            p = adapter.last_token_attention(image, text, layer)
            g = adapter.last_token_attention(image, self.prompt.format(question=self.general_question), layer)
            flat, passes = relative_attention(p.attention.mean(0), g.attention.mean(0)), 2
        return flat.reshape(p.layout.rows, p.layout.cols), p.layout, passes

    def __call__(self, adapter, sample, image) -> dict:
        with stage(adapter, "relevance"):  # the attention map(s) and the box chosen on them
            fp = 0
            if self.high_res:
                blocks, n_rows, n_cols = split_blocks(*image.size, self.high_res_block)
                maps = []
                for block in blocks:
                    grid, layout, passes = self.attention_map(adapter, image.crop(block), sample.question)
                    maps.append(trim_to_image(grid, layout)[0])
                    fp += passes
                att = stitch_blocks(maps, n_rows, n_cols)
                region = (0.0, 0.0, float(image.width), float(image.height))  # as the original: blocks tile the image
            else:
                grid, layout, fp = self.attention_map(adapter, image, sample.question)
                att, region = trim_to_image(grid, layout)
                n_rows = n_cols = 1
            box, details = select_box(att.double().numpy(), region, image.size, self.window, self.ratios)
        crop = image.crop(box)
        images = [image, crop] if self.answer_on == "image_and_crop" else [crop]
        with stage(adapter, "answer"):
            prediction, fp_answer, extra = self.inference_scheme.answer(adapter, images, sample)
        rec = {"prediction": prediction, "fp": fp, "fp_extract": 0, "fp_answer": fp_answer,
               "chosen_boxes": [list(box)], "final_mode": self.answer_on,
               "rois": {"attention": [{"target": "", "box": list(box), "confidence": None, **details}]},
               "vicrop": {"map": self.map, "high_res": self.high_res, "blocks": [n_rows, n_cols],
                          "map_shape": list(att.shape)}, **extra}
        if self.save_maps:
            lay = GridLayout(att.shape[0], att.shape[1], tuple(region), image.size)
            rec["relevance_maps"] = {"attention": {"grid": [[round(float(v), 6) for v in row] for row in att.tolist()],
                                                   "layout": lay.to_dict()}}
        return rec
