"""Region proposals on the relevance map (paper Sec. 3.3, App. A.5 algorithm lines 1-4; design section 4.3).

All functions work on the grid, in cells: anchors (top-k with minimum Euclidean distance), `s_min` squares,
growth to `s_max` under the expansion threshold, ordering by anchor relevance, NMS. `Proposer` (the `proposer`
config group) chains them and converts the cell boxes to pixel boxes of the original image through the layout.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from ..core.geometry import CellBox, GridLayout, box_area, enlarge_to_min_size, iou


@dataclass
class ROI:
    cells: CellBox  # (r0, c0, r1, c1), half-open
    anchor: tuple[int, int]
    anchor_score: float  # relevance at the anchor: the proposal order (Sec. 3.3)
    box: tuple[int, int, int, int] | None = None  # pixel box in the original image
    target: str = ""
    confidence: float | None = None  # existence confidence c_yes once evaluated (Eq. 5)
    says_yes: bool | None = None  # l_Yes > l_No
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"target": self.target, "cells": list(self.cells), "anchor": list(self.anchor),
                "anchor_score": self.anchor_score, "box": list(self.box) if self.box else None,
                "confidence": self.confidence, "says_yes": self.says_yes}


def select_anchors(rel_map: torch.Tensor, k: int, s_dist: float) -> list[tuple[int, int]]:
    """Visit cells by descending relevance; accept one if its Euclidean distance to every accepted anchor is
    ≥ s_dist; stop at k anchors. Ties are broken by raster order (stable sort)."""
    rows, cols = rel_map.shape
    order = torch.sort(rel_map.reshape(-1), descending=True, stable=True).indices.tolist()
    anchors: list[tuple[int, int]] = []
    for idx in order:
        r, c = divmod(idx, cols)
        if all(math.hypot(r - ar, c - ac) >= s_dist for ar, ac in anchors):
            anchors.append((r, c))
            if len(anchors) == k:
                break
    return anchors


def square_at(anchor: tuple[int, int], size: int, shape: tuple[int, int]) -> CellBox:
    """A size × size square centred on the anchor, shifted to lie inside the grid (shrunk where the grid is
    smaller than `size`)."""
    rows, cols = shape
    sh, sw = min(size, rows), min(size, cols)
    r0 = min(max(anchor[0] - sh // 2, 0), rows - sh)
    c0 = min(max(anchor[1] - sw // 2, 0), cols - sw)
    return r0, c0, r0 + sh, c0 + sw


def mean_inside(rel_map: torch.Tensor, cells: CellBox) -> float:
    r0, c0, r1, c1 = cells
    return float(rel_map[r0:r1, c0:c1].mean())


def grow_roi(rel_map: torch.Tensor, anchor: tuple[int, int], s_min: int, s_max: int, threshold: float) -> CellBox:
    """Start from the s_min square; grow by one cell on each side (size + 2) while the size stays ≤ s_max and the
    mean relevance inside the grown ROI stays ≥ threshold (App. A.5 Expand-ROIs)."""
    shape = tuple(rel_map.shape)
    cells = square_at(anchor, s_min, shape)
    size = s_min
    while size + 2 <= s_max:
        grown = square_at(anchor, size + 2, shape)
        if grown == cells or mean_inside(rel_map, grown) < threshold:
            break
        cells, size = grown, size + 2
    return cells


def nms(rois: list[ROI], threshold: float) -> list[ROI]:
    """Greedy non-maximum suppression in the given order (highest anchor relevance first)."""
    kept: list[ROI] = []
    for roi in rois:
        if all(iou(roi.cells, k.cells) <= threshold for k in kept):  # (r0, c0, r1, c1): IoU ignores axis order
            kept.append(roi)
    return kept


def propose_rois(rel_map: torch.Tensor, k: int, s_min: int, s_max: int, s_dist: float, expand_threshold: float,
                 reference: str = "map_mean", nms_threshold: float = 0.3) -> list[ROI]:
    """Anchors → s_min squares → growth → order by anchor relevance → NMS (App. A.5 lines 1-4), in cells.

    reference: what `expand_threshold` multiplies (the paper does not say): `map_mean` (default, the mean of the
    whole map) or `anchor` (the anchor's own relevance).
    """
    if reference not in ("map_mean", "anchor"):
        raise ValueError(f"proposer.reference must be map_mean or anchor, got {reference!r}")
    map_mean = float(rel_map.mean())
    rois = []
    for anchor in select_anchors(rel_map, k, s_dist):
        score = float(rel_map[anchor])
        ref = map_mean if reference == "map_mean" else score
        cells = grow_roi(rel_map, anchor, s_min, s_max, expand_threshold * ref)
        rois.append(ROI(cells=cells, anchor=anchor, anchor_score=score))
    rois.sort(key=lambda r: -r.anchor_score)  # anchors already come in this order; kept explicit (Sec. 3.3)
    return nms(rois, nms_threshold)


class Proposer:
    """The `proposer` config group (Table 7 values live in conf/model and conf/dataset)."""

    def __init__(self, k: int = 15, s_min: int = 3, s_max: int = 5, s_dist: float = 2, expand_threshold: float = 0.5,
                 reference: str = "map_mean", nms: float = 0.3, min_crop: int | None = None):
        if s_min > s_max:
            raise ValueError(f"proposer.s_min ({s_min}) must be <= proposer.s_max ({s_max})")
        if k < 1 or s_min < 1:
            raise ValueError("proposer.k and proposer.s_min must be >= 1")
        self.k, self.s_min, self.s_max, self.s_dist = int(k), int(s_min), int(s_max), float(s_dist)
        self.expand_threshold, self.reference, self.nms = float(expand_threshold), reference, float(nms)
        self.min_crop = min_crop

    def __call__(self, rel_map: torch.Tensor, layout: GridLayout, target: str = "",
                 min_crop: int | None = None) -> list[ROI]:
        rois = propose_rois(rel_map, self.k, self.s_min, self.s_max, self.s_dist, self.expand_threshold,
                            self.reference, self.nms)
        min_crop = self.min_crop if self.min_crop is not None else min_crop
        kept = []
        for roi in rois:
            roi.target = target
            roi.box = layout.cell_box(roi.cells)
            if box_area(roi.box) == 0:  # entirely in the model's padding (LLaVA-1.5 pad-to-square): nothing to crop
                continue
            if min_crop:
                roi.box = enlarge_to_min_size(roi.box, int(min_crop), layout.image_size)
            kept.append(roi)
        return kept
