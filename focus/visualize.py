"""Per-sample pictures: the relevance map as a heat-map overlay, proposed ROIs (thin) and chosen ROIs (thick)
(issue 6 item 6). `python -m focus.visualize <run folder> [--ids a b] [--limit n]` writes PNGs under
<run folder>/viz from samples.jsonl; maps are drawn when the run was made with `method.save_maps=true`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

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


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m focus.visualize", description=__doc__)
    parser.add_argument("run_dir")
    parser.add_argument("--ids", nargs="*", default=None)
    parser.add_argument("--limit", type=int, default=8)
    args = parser.parse_args(argv)
    from .config import build
    from omegaconf import OmegaConf
    run_dir = Path(args.run_dir)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    dataset = build(OmegaConf.create(metrics["config"]["dataset"]["loader"]))
    wanted = [r for r in read_records(run_dir / "samples.jsonl") if not r.get("error")
              and (args.ids is None or r["id"] in args.ids)][:args.limit]
    by_id = {r["id"]: r for r in wanted}
    out_dir = run_dir / "viz"
    out_dir.mkdir(exist_ok=True)
    for sample in dataset:
        if sample.id in by_id:
            path = out_dir / f"{sample.id}.png"
            render_sample(sample.load_image(), by_id[sample.id]).save(path)
            print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
