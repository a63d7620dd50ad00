"""The picture of one sample, fit for a slide (design section 1: reviewing runs; paper Fig. 2 and App. A.5).

Laid out in pixels so nothing is blank: the caption on top (question, options, targets, cost, what the answer was
given on, the method's and the whole-image (vanilla) answer beside the label); below it, in one row at one height,
one panel per target and the crop(s) the answer was given on, then the two scales:

- the relevance map (relevance ÷ the map's mean, 1 = uniform) in a perceptual colormap (viridis), drawn only where it
  exceeds `HEAT_FLOOR` so the scene stays in its own colours; ONE scale for all of a sample's panels;
- ROIs numbered by rank (white on black, print-readable, labels that would overlap moved aside) and outlined in the
  existence confidence c_yes (Eq. 5) on a colour-blind-safe diverging scale (ColorBrewer RdBu, -1 no … +1 yes),
  dotted = not evaluated; ground-truth boxes dashed magenta; the chosen crop cyan.

Width `SAMPLE_WIDTH_PX`; the height follows the content (the image's aspect, the caption's lines).
"""

from __future__ import annotations

import textwrap

import matplotlib
import numpy as np
from matplotlib import patheffects
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle
from PIL import Image

SAMPLE_DPI = 100
SAMPLE_WIDTH_PX = 1400
PAD, GAP, TITLE_PX, LEGEND_PX, BAR_PX = 10, 14, 24, 30, 100  # BAR_PX: one colour bar with its ticks and label
MAX_ROW_PX = 640  # panels are never taller than this (a portrait image does not make a poster)
NARROW_PX = 330  # a panel narrower than this gets its title in two lines
CAPTION_PT, CAPTION_LINE_PT = 10, 12.5  # font size and line pitch of the caption
CAPTION_CHARS = 112  # monospace characters per caption line
MAX_TARGET_PANELS = 3  # type-2 questions may name more targets; the first ones are drawn, the caption lists all
MAX_CROPS = 3
MAX_ROIS = 10  # ROIs drawn per target (the record keeps up to method.max_rois_in_record)
IMAGE_MAX_SIDE = 900  # images are downsampled to this for drawing (an 8K image is not drawn at 8K)
HEAT_CMAP, HEAT_ALPHA, HEAT_FLOOR = "viridis", 0.5, 2.0  # drawn where relevance > 2 × the map's mean
CONF_CMAP = "RdBu"  # ColorBrewer diverging, colour-blind safe: red = no, blue = yes
RANK_PT = 11
CHOSEN_COLOUR, GT_COLOUR, UNEVALUATED_COLOUR = "#00e5ff", "#ff00ff", "white"
FINAL_MODES = {"single": "the best ROI's crop", "union": "the union box of the targets' best ROIs",
               "canvas": "the crops pasted on one canvas", "multi_image": "the whole image with boxes, then each crop",
               "whole_image": "the whole image"}
_OUTLINE = [patheffects.withStroke(linewidth=3.6, foreground="black")]


def conf_colour(confidence):
    """RGBA of an existence confidence in [-1, 1] (a fresh lookup: no Normalize shared between figures, whose
    callback registry would be torn down from other threads' garbage collection)."""
    return matplotlib.colormaps[CONF_CMAP]((float(np.clip(confidence, -1.0, 1.0)) + 1.0) / 2.0)


# ---------------------------------------------------------------------------------------------- caption


def final_input(rec: dict) -> str:
    """What the answer was given on, from the record's `final_mode` (type1_*, type2_*, type2_fallback_*)."""
    mode = rec.get("final_mode") or "whole_image"
    fallback = "_fallback_" in mode
    key = mode.split("_fallback_")[-1] if fallback else mode.split("_", 1)[-1] if mode.startswith("type") else mode
    text = FINAL_MODES.get(key, mode)
    return text + (" (type-2 search kept no ROI above t_type2: answered as type-1)" if fallback else "")


def _mark(ok) -> str:
    return "right" if ok else "wrong"


def _short(prediction, limit: int = 40):
    if isinstance(prediction, str) and len(prediction) > limit:
        return prediction[:limit - 1] + "…"
    return prediction


def caption_lines(rec: dict, width: int = CAPTION_CHARS) -> tuple[list[str], str]:
    """The caption's lines, and its verdict line (drawn in green or red): the prediction, the label, the verdicts,
    and the whole-image answer of the same sample when the run kept it (`run.vanilla_reference`)."""
    head = f"{rec.get('id')}" + (f"  ·  {rec['category']}" if rec.get("category") else "")
    lines = [head] + textwrap.wrap(f"Q: {rec.get('question', '')}", width)
    opts = rec.get("options") or []
    if opts:
        lines += textwrap.wrap("   ".join(f"({'ABCDEFGH'[i]}) {o}" for i, o in enumerate(opts)), width)
    if rec.get("targets_failed"):
        lines.append("targets: none parsed, answered on the whole image")
    elif rec.get("targets"):
        type2 = set(rec.get("type2_targets") or (rec["targets"] if rec.get("type2") else []))
        lines += textwrap.wrap("targets: " + ", ".join(f"{t} (type-2: all instances)" if t in type2 else t
                                                       for t in rec["targets"]), width)
    cost = f"fp {rec.get('fp', 0)} (+{rec.get('fp_extract', 0)} extract, +{rec.get('fp_answer', 0)} answer)"
    if isinstance(rec.get("seconds"), (int, float)):
        cost += f"  ·  {rec['seconds']:.2f} s"
    lines += textwrap.wrap(f"{cost}  ·  answered on {final_input(rec)}", width)
    verdict = (f"prediction: {_short(rec.get('prediction'), 60)!r}   label: {rec.get('label')}   "
               f"strict: {_mark(rec.get('strict'))}   lenient: {_mark(rec.get('lenient'))}")
    if "vanilla_prediction" in rec:
        strict = (rec.get("vanilla_correct") or {}).get("strict")
        verdict += f"   ·   vanilla (whole image): {_short(rec['vanilla_prediction'])!r} {_mark(strict)}"
    if rec.get("error"):
        verdict = f"error: {rec['error']}"
    return lines, verdict


# ---------------------------------------------------------------------------------------------- panels


def chosen_boxes(rec: dict) -> list:
    return [b for b in (rec.get("chosen_boxes") or []) if b and b[2] > b[0] and b[3] > b[1]]


def heat_ratio(rel_map: dict) -> np.ndarray:
    """relevance ÷ the map's mean (1 = uniform)."""
    grid = np.asarray(rel_map["grid"], dtype=np.float64)
    return grid * grid.size / max(grid.sum(), 1e-12)


def _show_image(ax, image: Image.Image) -> None:
    w, h = image.size
    small = image.convert("RGB")
    if max(w, h) > IMAGE_MAX_SIDE:
        small = small.copy()
        small.thumbnail((IMAGE_MAX_SIDE, IMAGE_MAX_SIDE), Image.BILINEAR)
    ax.imshow(np.asarray(small), extent=(0, w, h, 0), interpolation="bilinear")
    ax.set_xlim(0, w)
    ax.set_ylim(h, 0)
    ax.set_xticks([])
    ax.set_yticks([])


def _box(ax, box, colour, lw, ls="-", zorder=3, outline=True):
    x0, y0, x1, y1 = box
    ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, edgecolor=colour, linewidth=lw, linestyle=ls,
                           zorder=zorder, path_effects=_OUTLINE if outline else None))


def _rank_label_positions(boxes: list, label_w: float, label_h: float) -> list:
    """Top-left corner of each rank label: the box's corner, moved right (then down) past labels already placed."""
    placed, out = [], []
    for x0, y0, x1, y1 in boxes:
        x, y = x0, y0
        for _ in range(12):
            if not any(abs(x - px) < label_w and abs(y - py) < label_h for px, py in placed):
                break
            x += label_w
            if x + label_w > max(x1, x0 + label_w):
                x, y = x0, y + label_h
        placed.append((x, y))
        out.append((x, y))
    return out


def _target_panel(ax, image, target, rois, rel_map, heat_norm, gt_boxes, chosen, scale: float, sep: str = "  ·  "):
    """One target: the image, its heat map above the floor, GT boxes, ROIs by rank, the chosen crop. `scale`: drawn
    pixels per image pixel (label sizes in image units). Returns the heat image (or None)."""
    _show_image(ax, image)
    heat = None
    if rel_map is not None:
        ratio = heat_ratio(rel_map)
        x0, y0, x1, y1 = rel_map["layout"]["region"]
        shown = np.ma.masked_less_equal(ratio, HEAT_FLOOR)  # below the floor: the scene as it is
        heat = ax.imshow(shown, extent=(x0, x1, y1, y0), cmap=HEAT_CMAP, norm=heat_norm, alpha=HEAT_ALPHA,
                         interpolation="nearest", zorder=2)
        w, h = image.size
        ax.set_xlim(0, w)
        ax.set_ylim(h, 0)
    for b in gt_boxes:
        _box(ax, b, GT_COLOUR, 1.8, "--", zorder=4)
    for b in chosen:
        _box(ax, b, CHOSEN_COLOUR, 3.2, zorder=4)
    drawn = [(rank, roi) for rank, roi in enumerate(rois, 1) if roi.get("box")][:MAX_ROIS]
    label_w, label_h = (RANK_PT * 1.45 + 6) / scale, (RANK_PT * 1.45 + 4) / scale
    corners = _rank_label_positions([roi["box"] for _, roi in drawn], label_w * 1.1, label_h * 1.05)
    for (rank, roi), (lx, ly) in list(zip(drawn, corners))[::-1]:  # rank 1 drawn last, on top
        conf = roi.get("confidence")
        colour = UNEVALUATED_COLOUR if conf is None else conf_colour(conf)
        _box(ax, roi["box"], colour, 2.6 if rank == 1 else 1.6, ":" if conf is None else "-", zorder=5)
        ax.text(lx, ly, str(rank), fontsize=RANK_PT, weight="bold", color="white", va="top", ha="left", zorder=6,
                clip_on=True, bbox=dict(boxstyle="round,pad=0.18", facecolor="black", edgecolor=colour, linewidth=2))
    title = f"target: {target}" if target else "answered on the whole image (no visual search)"
    if target is not None:
        title += f"{sep}ROIs 1-{len(drawn)} of {len(rois)}" if rois else f"{sep}no ROI"
        if rel_map is None:
            title += "  ·  no map"
    ax.set_title(title, fontsize=10, loc="left", pad=3)
    return heat


def _crop_panel(ax, image, box, index: int, more: int, sep: str = ": ") -> None:
    _show_image(ax, image.crop(tuple(int(v) for v in box)))
    for side in ax.spines.values():
        side.set_edgecolor(CHOSEN_COLOUR)
        side.set_linewidth(3)
    ax.set_title(f"crop {index}{sep}{int(box[2] - box[0])}×{int(box[3] - box[1])} px" + (f" (+{more} more)" if more
                                                                                      else ""), fontsize=10, loc="left",
                 pad=3)


# ---------------------------------------------------------------------------------------------- the figure


def _panels(rec: dict) -> list:
    maps, rois = rec.get("relevance_maps") or {}, rec.get("rois") or {}
    targets = [t for t in (rec.get("targets") or []) if t in rois or t in maps] or list(rois) or [None]
    return targets[:MAX_TARGET_PANELS]


def layout(image_size, rec: dict) -> dict:
    """Pixel geometry: the row's height and each item's width (targets, crops), the bars, the figure's size."""
    w, h = image_size
    targets = _panels(rec)
    crops = chosen_boxes(rec)[:MAX_CROPS]
    crop_aspects = [max(b[2] - b[0], 1) / max(b[3] - b[1], 1) for b in crops]
    # a crop is never wider than a target panel (a square crop beside a tall image would dwarf it)
    aspects = [w / h] * len(targets) + [min(a, w / h) for a in crop_aspects]
    has_map = any(t in (rec.get("relevance_maps") or {}) for t in targets if t)
    has_rois = any((rec.get("rois") or {}).values())
    bars = BAR_PX * (has_map + has_rois)
    free = SAMPLE_WIDTH_PX - 2 * PAD - GAP * (len(aspects) - 1) - bars
    row = min(MAX_ROW_PX, free / sum(aspects))
    widths = [a * row for a in aspects]
    lines, _ = caption_lines(rec)
    caption = (len(lines) + 1) * CAPTION_LINE_PT * SAMPLE_DPI / 72 + 4
    width = min(SAMPLE_WIDTH_PX, round(2 * PAD + sum(widths) + GAP * (len(widths) - 1) + bars))
    narrow = min(widths) < NARROW_PX  # titles in two lines
    height = round(PAD + caption + TITLE_PX * (1 + 0.75 * narrow) + row + LEGEND_PX + PAD)
    heights = [row] * len(targets) + [wd / a for wd, a in zip(widths[len(targets):], crop_aspects)]
    return {"narrow": narrow, "targets": targets, "crops": crops, "row": row, "widths": widths, "heights": heights, "has_map": has_map,
            "has_rois": has_rois, "caption": caption, "size": (width, height)}


def sample_figure(image: Image.Image, rec: dict) -> Figure:
    """The figure of one sample (`rec`: its samples.jsonl record); width ≤ `SAMPLE_WIDTH_PX`, height to fit."""
    geo = layout(image.size, rec)
    W, H = geo["size"]
    fig = Figure(figsize=(W / SAMPLE_DPI, H / SAMPLE_DPI), dpi=SAMPLE_DPI)
    FigureCanvasAgg(fig)

    def axes(x, y_top, w, h):  # pixels from the top-left corner
        return fig.add_axes((x / W, 1 - (y_top + h) / H, w / W, h / H))

    lines, verdict = caption_lines(rec)
    text = dict(va="top", ha="left", fontsize=CAPTION_PT, family="monospace", linespacing=CAPTION_LINE_PT / CAPTION_PT)
    fig.text(PAD / W, 1 - PAD / H, "\n".join(lines), **text)
    fig.text(PAD / W, 1 - (PAD + len(lines) * CAPTION_LINE_PT * SAMPLE_DPI / 72) / H, verdict, weight="bold",
             color="#c62828" if rec.get("error") or not rec.get("strict") else "#2e7d32", **text)
    maps, rois = rec.get("relevance_maps") or {}, rec.get("rois") or {}
    peak = max([float(heat_ratio(maps[t]).max()) for t in geo["targets"] if t in maps] or [2 * HEAT_FLOOR])
    heat_norm = Normalize(HEAT_FLOOR, max(peak, 2 * HEAT_FLOOR))  # one scale for every panel of the sample
    top, row, x = PAD + geo["caption"] + TITLE_PX * (1 + 0.75 * geo["narrow"]), geo["row"], PAD
    heat = None
    n_targets = len(geo["targets"])
    for i, (width, height) in enumerate(zip(geo["widths"], geo["heights"])):
        ax = axes(x, top, width, height)
        if i < n_targets:
            target = geo["targets"][i]
            drawn = _target_panel(ax, image, target, rois.get(target, []) if target else [],
                                  maps.get(target) if target else None, heat_norm, rec.get("gt_boxes") or [],
                                  chosen_boxes(rec), row / image.size[1], "\n" if geo["narrow"] else "  ·  ")
            heat = heat or drawn
        else:
            k = i - n_targets
            more = len(chosen_boxes(rec)) - len(geo["crops"]) if k == len(geo["crops"]) - 1 else 0
            _crop_panel(ax, image, geo["crops"][k], k + 1, more, "\n" if geo["narrow"] else ": ")
        x += width + GAP
    x += 4 - GAP
    if heat is not None:
        bar = fig.colorbar(heat, cax=axes(x, top, 14, row))
        bar.solids.set_alpha(HEAT_ALPHA)
        bar.set_label(f"relevance ÷ map mean (shown above {HEAT_FLOOR:g})", fontsize=9)
        bar.ax.tick_params(labelsize=8)
        x += BAR_PX
    if geo["has_rois"]:
        bar = fig.colorbar(ScalarMappable(Normalize(-1.0, 1.0), CONF_CMAP), cax=axes(x, top, 14, row))
        bar.set_ticks([-1, -0.5, 0, 0.5, 1], labels=["−1 no", "−0.5", "0", "0.5", "+1 yes"])
        bar.set_label("ROI existence confidence c_yes (Eq. 5)", fontsize=9)
        bar.ax.tick_params(labelsize=8)
    handles = [Line2D([], [], color=CHOSEN_COLOUR, lw=3, label="chosen crop (answered on)")] if geo["crops"] else []
    if rec.get("gt_boxes"):
        handles.append(Line2D([], [], color=GT_COLOUR, lw=1.8, ls="--", label="ground truth"))
    if geo["has_rois"]:
        handles += [Line2D([], [], color="black", marker="s", ls="", markersize=9, label="n = ROI rank"),
                    Line2D([], [], color="grey", lw=1.6, ls=":", label="ROI not evaluated")]
    if geo["targets"][0] is not None and not geo["has_map"]:
        handles.append(Line2D([], [], color="none", label="no relevance map in the record"))
    if handles:
        fig.legend(handles=handles, loc="lower left", bbox_to_anchor=(PAD / W, PAD / 2 / H), ncol=len(handles),
                   fontsize=9, frameon=False, handlelength=2.2, borderaxespad=0)
    return fig
