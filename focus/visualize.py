"""Per-sample pictures: the relevance map as a heat-map overlay, proposed ROIs (thin) and chosen ROIs (thick)
(design section 1: review runs offline). `python -m focus.visualize <run folder> [--ids a b] [--limit n]` writes PNGs
under <run folder>/viz from samples.jsonl — also for a run that was killed before metrics.json; maps are drawn when
the run was made with `method.save_maps=true`. A folder it cannot use: one line, exit status 2."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from . import FocusError
from .geometry import GridLayout
from .records import read_records


def heat_overlay(image: Image.Image, grid, layout: dict, alpha: float = 0.45) -> Image.Image:
    lay = GridLayout(**{k: tuple(v) if isinstance(v, list) else v for k, v in layout.items()})
    arr = np.asarray(grid, dtype=np.float32)
    arr = (arr - arr.min()) / (np.ptp(arr) + 1e-12)
    heat = np.zeros(arr.shape + (3,), dtype=np.uint8)
    heat[..., 0] = (255 * arr).astype(np.uint8)
    heat[..., 2] = (255 * (1 - arr)).astype(np.uint8)
    x0, y0, x1, y1 = lay.region
    heat_img = Image.fromarray(heat).resize((max(1, round(x1 - x0)), max(1, round(y1 - y0))), Image.NEAREST)
    layer = Image.new("RGB", image.size)
    layer.paste(heat_img, (round(x0), round(y0)))
    return Image.blend(image, layer, alpha)


def render_sample(image: Image.Image, rec: dict, max_side: int = 1024) -> Image.Image:
    out = image.convert("RGB")
    for target, m in (rec.get("relevance_maps") or {}).items():
        out = heat_overlay(out, m["grid"], m["layout"])
        break  # the first target's map; ROIs of all targets are drawn below
    draw = ImageDraw.Draw(out)
    w = max(2, round(max(out.size) / 400))
    for rois in (rec.get("rois") or {}).values():
        for r in rois:
            if r.get("box"):
                draw.rectangle(r["box"], outline=(255, 255, 0), width=w)
    for b in rec.get("chosen_boxes") or []:
        draw.rectangle(b, outline=(0, 255, 0), width=3 * w)
    for b in rec.get("gt_boxes") or []:
        draw.rectangle(b, outline=(255, 0, 0), width=w)
    scale = max_side / max(out.size)
    if scale < 1:
        out = out.resize((round(out.size[0] * scale), round(out.size[1] * scale)), Image.BILINEAR)
    return out


def dataset_config(run_dir: Path) -> dict:
    """The dataset loader of a run: from metrics.json, or, for a run that was killed before writing it, from the
    config identity written when it started (focus/runfolder.py)."""
    from .runfolder import IDENTITY_FILE

    for name, path in (("metrics.json", ("config",)), (IDENTITY_FILE, ("identity",))):
        file = run_dir / name
        if file.exists():
            try:
                config = json.loads(file.read_text())
                for key in (*path, "dataset", "loader"):
                    config = config[key]
                return config
            except (ValueError, KeyError, TypeError) as exc:
                raise FocusError(f"{file} holds no dataset config ({type(exc).__name__}: {exc})") from None
    raise FocusError(f"{run_dir} has neither metrics.json nor {IDENTITY_FILE}: not a focus run folder")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m focus.visualize", description=__doc__)
    parser.add_argument("run_dir")
    parser.add_argument("--ids", nargs="*", default=None)
    parser.add_argument("--limit", type=int, default=8)
    args = parser.parse_args(argv)
    try:
        return draw(Path(args.run_dir), args.ids, args.limit)
    except (FocusError, OSError) as exc:
        print(f"focus.visualize: {exc}", file=sys.stderr)
        return 2


def draw(run_dir: Path, ids, limit: int) -> int:
    from omegaconf import OmegaConf

    from .config import build

    if not (run_dir / "samples.jsonl").exists():
        raise FocusError(f"{run_dir} has no samples.jsonl: not a run folder, or no sample has finished yet")
    dataset = build(OmegaConf.create({**dataset_config(run_dir), "limit": None}))
    wanted = [r for r in read_records(run_dir / "samples.jsonl") if not r.get("error")
              and (ids is None or r["id"] in ids)][:limit]
    by_id = {r["id"]: r for r in wanted}
    out_dir = run_dir / "viz"
    out_dir.mkdir(exist_ok=True)
    for sample in dataset:
        if sample.id in by_id:
            path = out_dir / f"{sample.id}.png"
            render_sample(sample.load_image(), by_id.pop(sample.id)).save(path)
            print(path)
            if not by_id:
                break
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
