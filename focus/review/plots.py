"""Every picture focus draws (design section 1: reviewing runs), with matplotlib's object API (no pyplot state).

- `sample_figure`: one sample — a caption (question, options, targets, prediction, label, verdicts, forward passes),
  one panel per target with its relevance map as a semi-transparent heat map (colour bar: relevance ÷ the map's mean,
  so 1 = uniform) and its ROIs numbered by rank and coloured by existence confidence c_yes (Eq. 5), the ground-truth
  boxes, and beside them the crop(s) the final answer was given on (App. A.5). Used by `focus.review.visualize` and by the
  W&B table (`render_sample`).
- `tradeoff_plot`: accuracy against a cost (mean fp: Fig. 3 / Table 10; seconds per question), one series per
  method/model/dataset, each point labelled with what distinguishes its run, coincident points merged into one label,
  the Pareto front of each series as a staircase, and axes fitted to the data with a minimum span.

Sizes are fixed (`SAMPLE_SIZE_PX`, `TRADEOFF_SIZE_PX`), so pictures of different samples and runs line up.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle
from PIL import Image

SAMPLE_DPI = 100
SAMPLE_SIZE_PX = (1400, 800)
TRADEOFF_DPI = 120
TRADEOFF_SIZE_PX = (1080, 720)
CAPTION_PT, CAPTION_LINE_PT = 10, 12.5  # font size and line pitch of the caption
CAPTION_CHARS = 112  # monospace characters of CAPTION_PT that fit the caption's 70 % of the width
MAX_TARGET_PANELS = 3  # type-2 questions may name more targets; the first ones are drawn, the caption lists all
MAX_CROPS = 3
CROP_COLUMN = 0.55  # width of the crops' column, relative to one target panel
MAX_ROIS = 10  # ROIs drawn per target (the record keeps up to method.max_rois_in_record)
IMAGE_MAX_SIDE = 900  # images are downsampled to this for drawing (an 8K image is not drawn at 8K)
HEAT_CMAP, HEAT_ALPHA = "jet", 0.35  # alpha: the object under the map stays visible
CONF_CMAP, CONF_NORM = "RdYlGn", Normalize(-1.0, 1.0)
CHOSEN_COLOUR, GT_COLOUR, UNEVALUATED_COLOUR = "#00e5ff", "#ff00ff", "white"
FINAL_MODES = {"single": "the best ROI's crop", "union": "the union box of the targets' best ROIs",
               "canvas": "the crops pasted on one canvas", "multi_image": "the whole image with boxes, then each crop",
               "whole_image": "the whole image"}


def _figure(size_px, dpi) -> Figure:
    fig = Figure(figsize=(size_px[0] / dpi, size_px[1] / dpi), dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save(fig: Figure, path) -> Path:
    """PNG at the figure's own size (no tight bounding box: every picture of a kind has the same size)."""
    path = Path(path)
    fig.savefig(path, dpi=fig.dpi)
    return path


def to_image(fig: Figure) -> Image.Image:
    fig.canvas.draw()
    return Image.fromarray(np.asarray(fig.canvas.buffer_rgba())[..., :3].copy())


# ---------------------------------------------------------------------------------------------- one sample


def final_input(rec: dict) -> str:
    """What the answer was given on, from the record's `final_mode` (type1_*, type2_*, type2_fallback_*)."""
    mode = rec.get("final_mode") or "whole_image"
    fallback = "_fallback_" in mode
    key = mode.split("_fallback_")[-1] if fallback else mode.split("_", 1)[-1] if mode.startswith("type") else mode
    text = FINAL_MODES.get(key, mode)
    return text + (" (type-2 search kept no ROI above t_type2: answered as type-1)" if fallback else "")


def _mark(ok) -> str:
    return "right" if ok else "wrong"


def caption_lines(rec: dict, width: int = CAPTION_CHARS) -> tuple[list[str], str]:
    """The caption's lines, and its verdict line (drawn in green or red)."""
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
    prediction = rec.get("prediction")
    if isinstance(prediction, str) and len(prediction) > 60:
        prediction = prediction[:59] + "…"
    verdict = (f"prediction: {prediction!r}   label: {rec.get('label')}   strict: {_mark(rec.get('strict'))}   "
               f"lenient: {_mark(rec.get('lenient'))}")
    if rec.get("error"):
        verdict = f"error: {rec['error']}"
    return lines, verdict


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


def _box(ax, box, colour, lw, ls="-", zorder=3):
    x0, y0, x1, y1 = box
    ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, edgecolor=colour, linewidth=lw, linestyle=ls,
                           zorder=zorder))


def _target_panel(fig, ax, image, target, rois, rel_map, gt_boxes, chosen) -> None:
    _show_image(ax, image)
    w, h = image.size
    if rel_map is not None:
        grid = np.asarray(rel_map["grid"], dtype=np.float64)
        x0, y0, x1, y1 = rel_map["layout"]["region"]
        ratio = grid * grid.size / max(grid.sum(), 1e-12)  # relevance ÷ the map's mean: 1 = uniform
        # the scale starts at 0 and spans at least 0..2, so a flat map (all 1) does not look like a strong one
        heat = ax.imshow(ratio, extent=(x0, x1, y1, y0), cmap=HEAT_CMAP, alpha=HEAT_ALPHA, interpolation="nearest",
                         vmin=0.0, vmax=max(2.0, float(ratio.max())), zorder=2)
        ax.set_xlim(0, w)
        ax.set_ylim(h, 0)
        cax = ax.inset_axes([1.015, 0.0, 0.025, 1.0])  # as tall as the image, whatever its aspect
        bar = fig.colorbar(heat, cax=cax)
        bar.set_label("relevance ÷ map mean (1 = uniform)", fontsize=8)
        bar.ax.tick_params(labelsize=7)
    for b in gt_boxes:
        _box(ax, b, GT_COLOUR, 1.5, "--", zorder=4)
    for rank, roi in list(enumerate(rois, 1))[:MAX_ROIS][::-1]:  # rank 1 drawn last, on top
        if not roi.get("box"):
            continue
        conf = roi.get("confidence")
        colour = UNEVALUATED_COLOUR if conf is None else ScalarMappable(CONF_NORM, CONF_CMAP).to_rgba(conf)
        _box(ax, roi["box"], colour, 2.2 if rank == 1 else 1.3, ":" if conf is None else "-", zorder=5)
        bx0, by0 = roi["box"][0], roi["box"][1]
        ax.text(bx0, by0, str(rank), fontsize=7, color="black", va="top", ha="left", zorder=6, clip_on=True,
                bbox=dict(boxstyle="square,pad=0.15", facecolor=colour, edgecolor="none"))
    for b in chosen:
        _box(ax, b, CHOSEN_COLOUR, 3.0, zorder=4)
    shown = min(len(rois), MAX_ROIS)
    title = f"target: {target}" if target else "answered on the whole image (no visual search)"
    if target is not None:
        title += f"  ·  ROIs 1-{shown} of {len(rois)}" if rois else "  ·  no ROI"
        if rel_map is None:
            title += "\n(no relevance map saved: run with method.save_maps=true)"
    ax.set_title(title, fontsize=9)


def chosen_boxes(rec: dict) -> list:
    return [b for b in (rec.get("chosen_boxes") or []) if b and b[2] > b[0] and b[3] > b[1]]


def _crop_panels(fig, spec, image, boxes) -> None:
    shown = boxes[:MAX_CROPS]
    sub = spec.subgridspec(len(shown), 1)
    for i, box in enumerate(shown):
        ax = fig.add_subplot(sub[i])
        ax.set_anchor("NW")
        _show_image(ax, image.crop(tuple(int(v) for v in box)))
        for side in ax.spines.values():
            side.set_edgecolor(CHOSEN_COLOUR)
            side.set_linewidth(3)
        more = f" (+{len(boxes) - len(shown)} more)" if i == len(shown) - 1 and len(boxes) > len(shown) else ""
        ax.set_title(f"crop {i + 1}: {int(box[2] - box[0])}×{int(box[3] - box[1])} px{more}", fontsize=9)


def stack_panels(image_size: tuple[int, int], n: int) -> bool:
    """True when `n` target panels show the image larger stacked in a column than side by side in a row."""
    w, h = image_size
    width = SAMPLE_SIZE_PX[0] * n / (n + CROP_COLUMN) - 90 * n  # minus each panel's colour bar
    height = SAMPLE_SIZE_PX[1] * 0.8 - 25 * n  # minus caption and titles
    row = min(width / n / w, height / h)
    column = min((width + 90 * (n - 1)) / w, height / n / h)
    return n > 1 and column > row


def sample_figure(image: Image.Image, rec: dict) -> Figure:
    """The figure of one sample (`SAMPLE_SIZE_PX`); `rec` is its samples.jsonl record."""
    fig = _figure(SAMPLE_SIZE_PX, SAMPLE_DPI)
    maps = rec.get("relevance_maps") or {}
    rois = rec.get("rois") or {}
    targets = [t for t in (rec.get("targets") or []) if t in rois or t in maps] or list(rois) or [None]
    panels = targets[:MAX_TARGET_PANELS]
    lines, verdict = caption_lines(rec)
    caption_h = (len(lines) + 1.6) * CAPTION_LINE_PT * SAMPLE_DPI / 72 / SAMPLE_SIZE_PX[1]
    grid = fig.add_gridspec(2, 1, height_ratios=[caption_h, 1 - caption_h])
    top = grid[0].subgridspec(1, 2, width_ratios=[0.7, 0.3])
    cap, key = fig.add_subplot(top[0]), fig.add_subplot(top[1])
    cap.axis("off")
    key.axis("off")
    text = dict(va="top", ha="left", fontsize=CAPTION_PT, family="monospace", linespacing=CAPTION_LINE_PT / CAPTION_PT)
    cap.annotate("\n".join(lines), (0, 1), xycoords="axes fraction", **text)
    cap.annotate(verdict, (0, 1), xycoords="axes fraction", xytext=(0, -CAPTION_LINE_PT * len(lines)),
                 textcoords="offset points", weight="bold",
                 color="#c62828" if rec.get("error") or not rec.get("strict") else "#2e7d32", **text)
    crops = chosen_boxes(rec)
    crop_column = [CROP_COLUMN] if crops else []
    if stack_panels(image.size, len(panels)):
        body = grid[1].subgridspec(1, 1 + len(crop_column), width_ratios=[1.0] + crop_column)
        cells = list(body[0, 0].subgridspec(len(panels), 1))
    else:
        body = grid[1].subgridspec(1, len(panels) + len(crop_column), width_ratios=[1.0] * len(panels) + crop_column)
        cells = [body[0, i] for i in range(len(panels))]
    for cell, target in zip(cells, panels):
        ax = fig.add_subplot(cell)
        ax.set_anchor("N")  # spare height goes below the pictures, not between them and the caption
        _target_panel(fig, ax, image, target, rois.get(target, []) if target else [],
                      maps.get(target) if target else None, rec.get("gt_boxes") or [],
                      rec.get("chosen_boxes") or [])
    handles = []
    if crops:
        _crop_panels(fig, body[0, -1], image, crops)
        handles.append(Line2D([], [], color=CHOSEN_COLOUR, lw=3, label="chosen crop (answered on)"))
    if rec.get("gt_boxes"):
        handles.append(Line2D([], [], color=GT_COLOUR, lw=1.5, ls="--", label="ground truth"))
    if handles:
        key.legend(handles=handles, loc="upper center", fontsize=8, frameon=False, ncol=2)
    if any(rois.values()):
        cax = key.inset_axes([0.05, 0.25, 0.9, 0.14])
        bar = fig.colorbar(ScalarMappable(CONF_NORM, CONF_CMAP), cax=cax, orientation="horizontal")
        bar.set_label("ROI: number = rank; colour = existence confidence c_yes\n(Eq. 5: -1 no … +1 yes); "
                      "dotted white = not evaluated", fontsize=8)
        bar.ax.tick_params(labelsize=7)
    return fig


def render_sample(image: Image.Image, rec: dict, max_side: int = SAMPLE_SIZE_PX[0]) -> Image.Image:
    """The sample figure as a PIL image, shrunk to `max_side` on its long side when larger (W&B tables)."""
    out = to_image(sample_figure(image, rec))
    scale = max_side / max(out.size)
    if scale < 1:
        out = out.resize((round(out.size[0] * scale), round(out.size[1] * scale)), Image.LANCZOS)
    return out


# ---------------------------------------------------------------------------------------------- trade-off plots


def pareto_front(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Points not dominated by another with fewer (or equal) cost and higher (or equal) accuracy."""
    front, best = [], float("-inf")
    for cost, acc in sorted(points, key=lambda p: (p[0], -p[1])):
        if acc > best:
            front.append((cost, acc))
            best = acc
    return front


def axis_range(values, min_span: float, lower: float | None = None, upper: float | None = None,
               pad: float = 0.1) -> tuple[float, float]:
    """Limits around `values` spanning at least `min_span`, the window shifted (not cut) to stay in [lower, upper],
    then `pad` of the span added on each side so no marker sits on the frame."""
    lo, hi = min(values), max(values)
    span = max(hi - lo, min_span)
    mid = (lo + hi) / 2
    lo, hi = mid - span / 2, mid + span / 2
    if lower is not None and lo < lower:
        lo, hi = lower, hi + (lower - lo)
    if upper is not None and hi > upper:
        lo, hi = lo - (hi - upper), upper
        if lower is not None:
            lo = max(lo, lower)
    return lo - pad * span, hi + pad * span


def _coincident_groups(points: list[dict], x_span: float, y_span: float) -> list[list[dict]]:
    """Points of one series closer than 0.5 % of both axis spans: one marker and one label."""
    groups: list[list[dict]] = []
    for p in sorted(points, key=lambda q: (q["x"], q["y"], q["label"])):
        for g in groups:
            if abs(g[0]["x"] - p["x"]) <= 0.005 * x_span and abs(g[0]["y"] - p["y"]) <= 0.005 * y_span:
                g.append(p)
                break
        else:
            groups.append([p])
    return groups


def _group_label(group: list[dict], max_lines: int = 4) -> str:
    labels = [p["label"] or "(no overrides)" for p in group]
    if len(labels) > max_lines:
        labels = labels[:max_lines - 1] + [f"+{len(labels) - max_lines + 1} more at this point"]
    return "\n".join(labels)


# label offsets (points) tried in turn until the label overlaps no other label, marker or the axes' edge; a thin
# leader line joins each label to its point, so a label is never read as another point's
_OFFSETS = [(12, 10, "left", "bottom"), (12, -10, "left", "top"), (-12, 10, "right", "bottom"),
            (-12, -10, "right", "top"), (0, 18, "center", "bottom"), (0, -18, "center", "top"),
            (24, 26, "left", "bottom"), (24, -26, "left", "top"), (-24, 26, "right", "bottom"),
            (-24, -26, "right", "top"), (0, 40, "center", "bottom"), (0, -40, "center", "top")]


def _place_labels(fig, ax, anchors: list[tuple[float, float, str, str]]) -> list:
    """Annotate (x, y, text, colour) avoiding overlaps; returns the annotations."""
    renderer = fig.canvas.get_renderer()
    taken = []
    for x, y, _, _ in anchors:  # the markers themselves
        px, py = ax.transData.transform((x, y))
        taken.append((px - 5, py - 5, px + 5, py + 5))
    ax_box = ax.get_window_extent(renderer)
    out = []
    for x, y, text, colour in anchors:
        if not text:
            continue
        best = None
        for dx, dy, ha, va in _OFFSETS:
            ann = ax.annotate(text, (x, y), xytext=(dx, dy), textcoords="offset points", ha=ha, va=va, fontsize=7,
                              color=colour, zorder=6,
                              bbox=dict(boxstyle="round,pad=0.15", facecolor="white", alpha=0.75, edgecolor="none"),
                              arrowprops=dict(arrowstyle="-", color=colour, linewidth=0.6, shrinkA=0, shrinkB=4))
            bb = ann.get_window_extent(renderer)
            box = (bb.x0, bb.y0, bb.x1, bb.y1)
            inside = bb.x0 >= ax_box.x0 and bb.x1 <= ax_box.x1 and bb.y0 >= ax_box.y0 and bb.y1 <= ax_box.y1
            overlap = sum(max(0.0, min(box[2], t[2]) - max(box[0], t[0])) * max(0.0, min(box[3], t[3]) - max(box[1], t[1]))
                          for t in taken)
            score = overlap + (0 if inside else 1e6)
            if best is None or score < best[0]:
                if best is not None:
                    best[1].remove()
                best = (score, ann, box)
            else:
                ann.remove()
            if score == 0:
                break
        taken.append(best[2])
        out.append(best[1])
    return out


def _draw_intervals_and_curves(ax, points: list[dict], series: list[str], colours: list[str]) -> None:
    """Each point's 95 % interval (`lo`, `hi`) as a vertical bar; a series whose points say `curve` (vanilla over
    input resolutions) as a solid line through its points in x order."""
    for name, colour in zip(series, colours):
        members = [p for p in points if p["series"] == name]
        with_ci = [p for p in members if p.get("lo") is not None and p.get("hi") is not None]
        if with_ci:
            ax.errorbar([p["x"] for p in with_ci], [p["y"] for p in with_ci],
                        yerr=[[p["y"] - p["lo"] for p in with_ci], [p["hi"] - p["y"] for p in with_ci]],
                        fmt="none", ecolor=colour, elinewidth=1, capsize=3, alpha=0.6, zorder=2)
        if len(members) > 1 and any(p.get("curve") for p in members):
            ordered = sorted(members, key=lambda p: p["x"])
            ax.plot([p["x"] for p in ordered], [p["y"] for p in ordered], color=colour, linewidth=1.5, zorder=3)


def tradeoff_plot(points: list[dict], path, x_label: str, title: str, min_x_span: float,
                  y_label: str = "accuracy [%], strict (exact letter, paper protocol)", x_lower: float = 0.0,
                  include_zero: bool = False, note: str | None = None):
    """Scatter `points` ({series, x, y, label}, optional `lo`/`hi`: the 95 % interval, drawn as a bar; `curve`: the
    series is drawn as a line) with per-series Pareto fronts; returns the label texts drawn.

    x is a cost (lower is better; `include_zero`: the axis starts at 0), y an accuracy in % (axis at least 5 points
    tall, within [0, 100], holding every interval); `note` is written under the title."""
    fig = _figure(TRADEOFF_SIZE_PX, TRADEOFF_DPI)
    ax = fig.add_subplot()
    points = [p for p in points if p["x"] is not None and p["y"] is not None]
    texts: list[str] = []
    if not points:
        ax.text(0.5, 0.5, "no run has both values", ha="center", va="center", transform=ax.transAxes)
        save(fig, path)
        return texts
    xs = [p["x"] for p in points] + ([0.0] if include_zero else [])
    xlim = axis_range(xs, min_x_span, lower=x_lower)
    if include_zero:  # the axis starts at 0 (no exaggerated differences in cost); the pad only on the right
        xlim = (min(0.0, xlim[0]) if min(xs) < 0 else -0.02 * (xlim[1] - xlim[0]), xlim[1])
    ys = [p["y"] for p in points] + [v for p in points for v in (p.get("lo"), p.get("hi")) if v is not None]
    ylim = axis_range(ys, 5.0, lower=0.0, upper=100.0)
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    series = list(dict.fromkeys(p["series"] for p in points))
    colours = [f"C{i % 10}" for i in range(len(series))]
    markers = "os^Dv<>Ph*"
    anchors = []
    for i, name in enumerate(series):
        members = [p for p in points if p["series"] == name]
        groups = _coincident_groups(members, xlim[1] - xlim[0], ylim[1] - ylim[0])
        size = max(45, 110 - 30 * i)  # later series smaller: a point on top of another leaves its rim visible
        ax.scatter([g[0]["x"] for g in groups], [g[0]["y"] for g in groups], s=size, marker=markers[i % len(markers)],
                   color=colours[i], edgecolor="black", linewidth=0.5, zorder=4 + 0.01 * i,
                   label=f"{name} ({len(members)} run{'s' if len(members) != 1 else ''})")
        front = pareto_front([(p["x"], p["y"]) for p in members])
        if len(front) > 1:
            xs, ys = [f[0] for f in front], [f[1] for f in front]
            ax.step(xs, ys, where="post", color=colours[i], linestyle="--", linewidth=1,
                    alpha=0.8, zorder=3)
        anchors += [(g[0]["x"], g[0]["y"], _group_label(g) if len(members) > 1 or g[0]["label"] else "",
                    colours[i]) for g in groups]
    _draw_intervals_and_curves(ax, points, series, colours)
    fig.canvas.draw()
    for ann in _place_labels(fig, ax, anchors):
        texts.append(ann.get_text())
    handles, labels = ax.get_legend_handles_labels()
    if any(len(pareto_front([(p["x"], p["y"]) for p in points if p["series"] == s])) > 1 for s in series):
        handles.append(Line2D([], [], color="grey", linestyle="--", label="Pareto front of the series"))
    ax.legend(handles=handles, fontsize=7, loc="best", framealpha=0.85)
    ax.set_xlabel(x_label)
    ax.set_ylabel(y_label)
    ax.set_title(title + (f"\n{note}" if note else ""), fontsize=11 if not note else 10)
    ax.grid(alpha=0.3)
    save(fig, path)
    return texts


__all__ = ["SAMPLE_SIZE_PX", "TRADEOFF_SIZE_PX", "axis_range", "caption_lines", "pareto_front", "render_sample",
           "sample_figure", "save", "to_image", "tradeoff_plot"]
