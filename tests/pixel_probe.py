"""Pixel-planted geometry probe: which language-model input positions change when pixels of the original image do.

For each family and image size, small boxes of pixels of the ORIGINAL image are changed, both images go through the
processor and the model, and the input positions whose language-model input embeddings change are read from a hook
on `model.model.language_model`. They must be the positions the adapter reports for the cells whose pixel boxes (its
`GridLayout`) hold the change. The vision tower's mixing layers (attention, MLP output layers) contribute zeros in a
copy of the tiny model, so every visual token depends only on its own patch (2×2 patches for Qwen2.5-VL's merger);
what remains is the real resizing, padding, tiling, unpadding, downsampling and packing.

Tolerances, each derived from what the processor and model do (only the resize scale is read off the layout's
region, divided by the source grid the model itself reports):
- resizing is bicubic: a changed source pixel reaches resized pixels whose centres lie within 2·max(1, scale) source
  pixels of it, so each box is dilated by that radius (`spread`) for the set of cells that MAY change;
- LLaVA-OneVision's 384-px tiles hold 27 patches of 14 px (378 px): the uniform layout is off by up to 6 resized px
  at the end of a tile (`tile_slack`), added to the dilation;
- LLaVA-OneVision's bilinear downsampling of large grids makes token k depend on the source patches within one patch
  of its centre, so there the cells that may change are those whose centre lies within the dilated box plus 1.5
  source patches.
The cell at whose centre a box sits MUST change. For LLaVA-1.5 and Qwen2.5-VL the may-set equals the must-set for
every size but the tiniest (30×20, whose cells are smaller than the bicubic spread: larger boxes, bounds only), so
the check is exact there: a one-cell error fails. For LLaVA-OneVision the may-set is wider, but a layout or position
list one cell off still fails the must-check: the box sits mid-cell, so the neighbouring token rarely changes.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

ANCHORS = [(0.71, 0.33), (0.22, 0.78), (0.5, 0.5)]  # where the boxes go, as fractions of width and height
PROMPT = "Is there a red car in the image? Answer Yes or No."


class _Captured(Exception):
    pass


class _NoMixing(torch.nn.Module):
    """Stands in for a vision attention module: contributes zeros to the residual stream, without computing them.
    CLIP/SigLIP `self_attn` modules return (output, weights); Qwen2.5-VL's `attn` returns the output alone."""

    def __init__(self, returns_weights: bool):
        super().__init__()
        self.returns_weights = returns_weights

    def forward(self, hidden_states, *args, **kwargs):
        zeros = torch.zeros_like(hidden_states)
        return (zeros, None) if self.returns_weights else zeros


def identity_vision_copy(model):
    """A copy of the model whose vision encoder layers are identities: attention replaced by zeros and MLP output
    layers zeroed (the residuals carry the input through), so tokens do not mix across patches."""
    model = copy.deepcopy(model)
    replaced = 0
    for name, module in list(model.named_modules()):
        layer = re.search(r"(encoder\.layers?|blocks)\.\d+$", name)  # InternVL: encoder.layer.N
        if not layer:
            continue
        for attn_name in ("self_attn", "attn", "attention"):
            if isinstance(getattr(module, attn_name, None), torch.nn.Module):
                setattr(module, attn_name, _NoMixing(returns_weights=attn_name != "attn"))
                replaced += 1
        for out_name in ("fc2", "down_proj"):
            out = getattr(getattr(module, "mlp", None), out_name, None)
            if isinstance(out, torch.nn.Linear):
                torch.nn.init.zeros_(out.weight)
                if out.bias is not None:
                    torch.nn.init.zeros_(out.bias)
                replaced += 1
    assert replaced >= 4, "no vision encoder layers found to make identity"
    return model


def lm_input_embeddings(model, inputs):
    """The embeddings the language model receives, [B, N, D], and the (input, output) shapes of every interpolation
    the model applied on the way (LLaVA-OneVision's anyres_max downsampling). The decoder itself is not run."""
    captured, resizes = {}, []

    def pre_hook(_module, _args, kwargs):
        captured["embeds"] = kwargs["inputs_embeds"].detach().clone()
        raise _Captured

    interpolate = torch.nn.functional.interpolate

    def recording_interpolate(x, size=None, *args, **kwargs):
        out = interpolate(x, size, *args, **kwargs)
        resizes.append((tuple(x.shape[-2:]), tuple(out.shape[-2:])))
        return out

    handle = model.model.language_model.register_forward_pre_hook(pre_hook, with_kwargs=True)
    torch.nn.functional.interpolate = recording_interpolate
    try:
        with torch.inference_mode():
            model(**inputs)
    except _Captured:
        pass
    finally:
        handle.remove()
        torch.nn.functional.interpolate = interpolate
    return captured["embeds"], resizes


@dataclass
class Probe:
    """An adapter, a copy of its model with identity vision layers, and what the check needs to know about the
    family, read from the checkpoint's configs (not from the adapter's layout code)."""

    adapter: object
    model: torch.nn.Module
    resized_px_per_unit: int  # resized pixels per source unit of the token grid (a patch; Qwen: a merged 2×2)
    tile_slack: float  # resized px the uniform layout may be off (OneVision: 384 - 27·14 at the end of a tile)
    base_tokens: int  # leading image tokens that are not the grid (OneVision's base view)
    thumbnail_tokens: int = 0  # trailing image tokens that are not the grid when an image has several tiles (InternVL)


def make_probe(adapter) -> Probe:
    vision = adapter.model.config.vision_config
    model = identity_vision_copy(adapter.model)
    if adapter.family == "qwen25vl":
        return Probe(adapter, model, vision.patch_size * vision.spatial_merge_size, 0.0, 0)
    if adapter.family == "internvl":  # a token is 2×2 patches after pixel shuffle; the thumbnail follows the tiles
        patch = vision.patch_size[0] if isinstance(vision.patch_size, (list, tuple)) else vision.patch_size
        merged = int(round(patch / adapter.model.config.downsample_ratio))
        return Probe(adapter, model, merged, 0.0, 0, adapter.processor.image_seq_length)
    if adapter.family == "llava_ov":
        return Probe(adapter, model, vision.patch_size, float(vision.image_size % vision.patch_size),
                     adapter.processor.num_image_tokens)
    return Probe(adapter, model, vision.patch_size, 0.0, 0)


def background(w: int, h: int, seed: int) -> np.ndarray:
    """Dark noise (0..119), so a changed pixel (255) differs from every original one."""
    noise = np.frombuffer(np.random.default_rng(seed).bytes(h * w * 3), dtype=np.uint8)
    return (noise % 120).reshape(h, w, 3)


def interval_hits(lo: float, hi: float, a: float, b: float) -> bool:
    """Open intervals (lo, hi) and (a, b) overlap."""
    return lo < b and a < hi


def plan_boxes(layout, anchors, loose: bool):
    """Boxes (x0, y0, x1, y1) in original pixels, one at the centre of the layout cell holding each anchor (moved
    inward while the cell's centre is near the image border or in LLaVA-1.5's padding), with the cell it sits in.
    Loose sizes get larger boxes."""
    w, h = layout.image_size
    cw, ch = layout.cell_size
    boxes, used = [], set()
    for fx, fy in anchors:
        r, c = layout.cell_of_pixel(fx * w, fy * h)
        for _ in range(max(layout.rows, layout.cols)):  # move inward until the cell's centre is in the image
            cx, cy = layout.region[0] + (c + 0.5) * cw, layout.region[1] + (r + 0.5) * ch
            dr = 1 if cy < ch / 2 else -1 if cy > h - ch / 2 else 0
            dc = 1 if cx < cw / 2 else -1 if cx > w - cw / 2 else 0
            if not (dr or dc) or not (0 <= r + dr < layout.rows and 0 <= c + dc < layout.cols):
                break
            r, c = r + dr, c + dc
        if (r, c) in used:
            continue
        used.add((r, c))
        side = max(1, int(min(w, h) / 4)) if loose else max(1, int(min(cw, ch) / 4))
        cx, cy = layout.region[0] + (c + 0.5) * cw, layout.region[1] + (r + 0.5) * ch
        bx0 = min(max(0, int(round(cx - side / 2))), w - side)
        by0 = min(max(0, int(round(cy - side / 2))), h - min(side, h))
        boxes.append(((bx0, by0, bx0 + side, by0 + min(side, h)), (r, c)))
    return boxes


def may_change(layout, box, spread, source_grid, source_px) -> set:
    """Cells that may change when `box` changes (see the module doc)."""
    x0, y0, x1, y1 = box
    sx, sy = spread
    cw, ch = layout.cell_size
    gx0, gy0 = layout.region[0], layout.region[1]
    downsampled = source_grid != (layout.rows, layout.cols)
    px, py = source_px
    cells = set()
    for r in range(layout.rows):
        for c in range(layout.cols):
            if downsampled:  # bilinear: the cell's centre within one source patch of a changed patch's centre
                ccx, ccy = gx0 + (c + 0.5) * cw, gy0 + (r + 0.5) * ch
                hit = (x0 - sx - 1.5 * px < ccx < x1 + sx + 1.5 * px) and (y0 - sy - 1.5 * py < ccy < y1 + sy + 1.5 * py)
            else:
                hit = (interval_hits(x0 - sx, x1 + sx, gx0 + c * cw, gx0 + (c + 1) * cw)
                       and interval_hits(y0 - sy, y1 + sy, gy0 + r * ch, gy0 + (r + 1) * ch))
            if hit:
                cells.add((r, c))
    return cells


def check_size(probe: Probe, w: int, h: int, loose: bool = False) -> bool:
    """Plant boxes in a w×h image and check the changed positions; returns whether the check was exact (the cells
    that may change are exactly the cells that must)."""
    adapter = probe.adapter
    image_arr = background(w, h, seed=w * 7 + h)
    image = Image.fromarray(image_arr)
    layout = adapter.layout(image)
    boxes = plan_boxes(layout, ANCHORS, loose)
    modified = image_arr.copy()
    for (x0, y0, x1, y1), _ in boxes:
        modified[y0:y1, x0:x1] = 255
    text = adapter.chat(1, PROMPT)
    inputs = adapter.encode([image, Image.fromarray(modified)], [text, text])  # same size: same tokens, no padding
    input_ids = inputs["input_ids"][0]
    assert torch.equal(inputs["input_ids"][1], input_ids)
    positions, reported_layout = adapter.visual_grid_positions(input_ids, inputs, image)
    assert reported_layout == layout
    positions = positions.tolist()
    assert len(positions) == layout.rows * layout.cols
    embeds, resizes = lm_input_embeddings(probe.model, inputs)
    changed = set(torch.nonzero((embeds[0] != embeds[1]).any(-1)).reshape(-1).tolist())

    # the grid of source units before any downsampling: the model's own interpolation call says it
    source_grid = resizes[-1][0] if resizes else (layout.rows, layout.cols)
    if resizes:
        assert resizes[-1][1] == (layout.rows, layout.cols), (w, h, resizes, layout)
    region_w, region_h = layout.region[2] - layout.region[0], layout.region[3] - layout.region[1]
    source_px = (region_w / source_grid[1], region_h / source_grid[0])  # original px per source unit
    scale = [p / probe.resized_px_per_unit for p in source_px]  # original px per resized px
    spread = tuple(2 * max(1.0, s) + probe.tile_slack * s for s in scale)
    must = {home for _, home in boxes}
    may = set().union(*(may_change(layout, box, spread, source_grid, source_px) for box, _ in boxes))

    image_positions = torch.nonzero(input_ids == adapter.image_token_id).reshape(-1).tolist()
    outside_grid = set(image_positions[:probe.base_tokens])  # OneVision's base view changes too; not the grid
    if probe.thumbnail_tokens and len(inputs["pixel_values"]) > 2:  # InternVL: tiles of each of the two images
        outside_grid |= set(image_positions[len(image_positions) - probe.thumbnail_tokens:])
    assert changed - set(positions) <= outside_grid, (w, h, sorted(changed - set(positions))[:10])
    changed_grid = changed & set(positions)
    must_pos = {positions[r * layout.cols + c] for r, c in must}
    may_pos = {positions[r * layout.cols + c] for r, c in may}
    cell_of = {p: divmod(i, layout.cols) for i, p in enumerate(positions)}
    detail = (f"{adapter.family} {w}x{h} grid {layout.rows}x{layout.cols} boxes {boxes}: changed cells "
              f"{sorted(cell_of[p] for p in changed_grid)}, must {sorted(must)}, may {sorted(may)}")
    assert must_pos <= changed_grid, "a cell holding a changed box did not change: " + detail
    assert changed_grid <= may_pos, "a cell away from every changed box changed: " + detail
    return must == may
