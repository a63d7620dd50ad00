"""Every picture focus draws (design section 1: reviewing runs), with matplotlib's object API (no pyplot state).

- `sample_figure` (focus/review/sample_figure.py): one sample — caption, one panel per target with its relevance map
  and ROIs, the crop(s) answered on, the scales. Used by `focus.review.visualize` and by the W&B table
  (`render_sample`).
- `tradeoff_plot`: accuracy against a cost (mean fp: Fig. 3 / Table 10; seconds per question), one series per
  method/model/dataset, each point labelled with what distinguishes its run, coincident points merged into one label,
  the Pareto front of each series as a staircase, and axes fitted to the data with a minimum span.

Trade-off plots have one size (`TRADEOFF_SIZE_PX`); sample pictures one width, their height fitted to the content.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from PIL import Image

from .sample_figure import (CHOSEN_COLOUR, CONF_CMAP, SAMPLE_WIDTH_PX, caption_lines, chosen_boxes, final_input,
                            sample_figure)

TRADEOFF_DPI = 120
TRADEOFF_SIZE_PX = (1080, 720)
SAMPLE_SIZE_PX = (SAMPLE_WIDTH_PX, 800)  # the width every sample picture has; its height follows its content


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


def render_sample(image: Image.Image, rec: dict, max_side: int = SAMPLE_WIDTH_PX) -> Image.Image:
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
        if best[0] >= 1e6:  # no offset keeps it inside: slide the label back into the frame
            ann, bb = best[1], best[1].get_window_extent(renderer)
            dx = max(0.0, ax_box.x0 - bb.x0) - max(0.0, bb.x1 - ax_box.x1)
            dy = max(0.0, ax_box.y0 - bb.y0) - max(0.0, bb.y1 - ax_box.y1)
            ann.xyann = (ann.xyann[0] + dx * 72 / fig.dpi, ann.xyann[1] + dy * 72 / fig.dpi)
            bb = ann.get_window_extent(renderer)
            best = (best[0], ann, (bb.x0, bb.y0, bb.x1, bb.y1))
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
    # axis labels and title first: they set the frame's final size, which the labels are kept inside
    ax.set_xlabel(x_label)
    ax.set_ylabel(y_label)
    ax.set_title(title + (f"\n{note}" if note else ""), fontsize=11 if not note else 10)
    ax.grid(alpha=0.3)
    fig.canvas.draw()
    for ann in _place_labels(fig, ax, anchors):
        texts.append(ann.get_text())
    handles, labels = ax.get_legend_handles_labels()
    if any(len(pareto_front([(p["x"], p["y"]) for p in points if p["series"] == s])) > 1 for s in series):
        handles.append(Line2D([], [], color="grey", linestyle="--", label="Pareto front of the series"))
    ax.legend(handles=handles, fontsize=7, loc="best", framealpha=0.85)
    save(fig, path)
    return texts


__all__ = ["SAMPLE_SIZE_PX", "TRADEOFF_SIZE_PX", "axis_range", "caption_lines", "pareto_front", "render_sample",
           "sample_figure", "save", "to_image", "tradeoff_plot"]
