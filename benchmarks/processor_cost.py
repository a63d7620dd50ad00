"""Seconds one image spends in each family's image processor at benchmark sizes, stock and with the adapter's fast
paths (README "Time outside model calls"). Only LLaVA-1.5 has a processor shortcut (the pad-resize and the
rescale/normalise table); the other families keep the stock processor, so their two columns time the same code
(the ratio shows this machine's noise) and say what one image costs them.

    python benchmarks/processor_cost.py [--families qwen25vl internvl] [--sizes 2246x1582 4096x3072] [--repeats 3]

Builds each family's tiny checkpoint (offline; the processors carry the real models' settings; Qwen2.5-VL gets
the pixel budgets of conf/model/) and times `processor._process_images([image])` on a noise image of each size,
stock (`adapter.fast_paths(False)`) and fast, alternating, without the per-question cache. Prints the median
seconds of each and the stock / fast ratio measured in this run, and checks both gave the same pixel values.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # this checkout's focus, also when run from elsewhere

FAMILIES = ("llava15", "llava_ov", "qwen25vl", "qwen3vl", "llava_ov15", "internvl")
# V*Bench's mean image size, HR-Bench 4K and 8K (paper Sec. 4.1)
SIZES = ("2246x1582", "4096x3072", "7680x4320")
# the pixel budgets of conf/model/<family>.yaml (the tiny configs keep the processors' own otherwise)
SETTINGS = {"qwen25vl": {"max_pixels": 1003520}, "qwen3vl": {"max_pixels": 1310720}, "llava_ov15": {"max_pixels": 1003520}}


def adapter_of(family: str, cache_dir: str):
    import importlib

    module = importlib.import_module(f"focus.models.{family}")
    cls = next(c for c in vars(module).values() if isinstance(c, type) and getattr(c, "tiny_family", None) == family)
    return cls(tiny=True, tiny_cache_dir=cache_dir, device="cpu", **SETTINGS.get(family, {}))


def time_family(adapter, image, repeats: int) -> dict:
    """Median seconds of one `_process_images` call, stock and fast (alternating), and whether they agree."""
    import torch

    kwargs = adapter.image_options()  # as `encode` passes them
    seconds, outputs = {"stock": [], "fast": []}, {}
    try:
        for _ in range(repeats):
            for name in ("stock", "fast"):
                adapter.fast_paths(name == "fast")
                adapter.image_cache.enabled = False  # every call processes (no per-question cache)
                t0 = time.perf_counter()
                outputs[name] = adapter.image_cache._stock([image], **kwargs)[0]
                seconds[name].append(time.perf_counter() - t0)
    finally:
        adapter.fast_paths(True)
    same = all(torch.equal(outputs["stock"][k], outputs["fast"][k]) for k in outputs["stock"]
               if isinstance(outputs["stock"][k], torch.Tensor))
    return {name: statistics.median(values) for name, values in seconds.items()} | {"same": same}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--families", nargs="+", default=list(FAMILIES), choices=FAMILIES)
    parser.add_argument("--sizes", nargs="+", default=list(SIZES), help="WxH of the noise images")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tiny-cache-dir", default=None, help="where the tiny checkpoints are built")
    args = parser.parse_args(argv)

    import numpy as np
    import torch
    from PIL import Image

    from focus.harness.console import quiet_libraries

    quiet_libraries()
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    images = {}
    for size in args.sizes:
        w, h = (int(v) for v in size.lower().split("x"))
        images[size] = Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
    print(f"{'family':<12}{'image':>12}{'stock s':>10}{'fast s':>10}{'stock/fast':>12}  same pixels")
    failed = False
    for family in args.families:
        adapter = adapter_of(family, args.tiny_cache_dir)
        for size, image in images.items():
            r = time_family(adapter, image, args.repeats)
            failed |= not r["same"]
            print(f"{family:<12}{size:>12}{r['stock']:>10.3f}{r['fast']:>10.3f}{r['stock'] / r['fast']:>11.2f}x  "
                  f"{'yes' if r['same'] else 'NO'}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
