"""Where the seconds of one question go: per-stage cost of N samples of any method / model / dataset.

    python benchmarks/pipeline_cost.py [--samples N] [--out FILE] [--threads T] <Hydra overrides of focus.run ...>
    python benchmarks/pipeline_cost.py --samples 8 model=tiny_qwen25vl dataset=synthetic

Loads the model once and runs every sample through each variant, alternating their order from sample to sample so
both see the same machine state:
- `optimised`: the configuration as given (by default the image prefix is shared across targets, relevance passes
  stop after layer L-1 and the first existence checks of all targets share batches), with the adapter's fast paths;
- `baseline`, `--compare fast_paths` (default): the same with the adapter's fast paths off (`fast_paths(False)`: every
  image through the stock processor at each use, one forward per option in logits matching) — the code before them;
  `--compare switches`: the same with `relevance.reuse_image_prefix=false relevance.early_stop=false
  ranker.batch_targets=false` (only the switches the configuration has; none, e.g. vanilla or ZoomEye: one variant);
  `--compare threads`: the same with no image processing on background threads (`preprocess_threads` 0).
`--preload` decodes each sample's image before timing and reports that time apart (the dataset's, not the method's).
For each variant it prints the mean per question, per stage (focus/core/cost.py): wall seconds, seconds inside model calls,
in the processor, and the rest (framework overhead = wall - model; `outside %`: as a share of the question's wall
time), model calls, language-model prefill tokens,
images the vision tower encoded; then fp, peak memory (GPU: torch.cuda.max_memory_allocated per sample; CPU: the
process's peak RSS, shared by both variants), the processor's work on background threads
(`model.adapter.preprocess_threads`: CPU time beside the model's, in wall time only where waited for), the
baseline / optimised ratios measured in this run, and whether both variants gave the same fp, boxes and
predictions. Writes everything as JSON (`--out`).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # this checkout's focus, also when run from elsewhere

SWITCHES = ("relevance.reuse_image_prefix", "relevance.early_stop", "ranker.batch_targets")
SHOWN = ("seconds", "model_seconds", "preprocess_seconds", "overhead_seconds", "calls", "prefill_tokens",
         "vision_images")


def compose(overrides: list[str]):
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    from focus.harness.config import register_resolvers

    register_resolvers()
    with initialize_config_dir(str(ROOT / "conf"), version_base="1.3"):
        return hydra_compose("config", overrides=overrides)


def variants(cfg, compare: str = "fast_paths") -> dict:
    """{name: config}: the configuration as given (`optimised`) and the one it is compared with (`baseline`):
    `fast_paths`: the same config with the adapter's fast paths off (`adapter.fast_paths(False)`: no per-question
    image cache, the stock image processing, one forward per option); `threads`: the same config with no background
    image processing (`preprocess_threads` 0); `switches`: every switch of `SWITCHES` off."""
    from omegaconf import OmegaConf

    out = {"optimised": cfg}
    if compare in ("fast_paths", "threads"):  # the same config; the adapter is switched per variant
        return {"baseline": cfg, **out}, [compare if compare == "fast_paths" else "preprocess_threads"]
    present = [k for k in SWITCHES if OmegaConf.select(cfg, k, default=None) is not None]
    if present:
        base = OmegaConf.create(OmegaConf.to_container(cfg, resolve=False))
        for key in present:
            OmegaConf.update(base, key, False)
        out = {"baseline": base, **out}
    return out, present


def preloaded(sample):
    """(the sample with its image decoded once, before timing; the seconds decoding took) for `--preload`."""
    import dataclasses

    t0 = time.perf_counter()
    image = sample.load_image()
    return dataclasses.replace(sample, image_fn=lambda: image), time.perf_counter() - t0


def background_seconds(adapter) -> float:
    """Processor work done so far on the adapter's background threads (`ImageCache.background_seconds`)."""
    cache = getattr(adapter, "image_cache", None)
    return cache.background_seconds if cache is not None else 0.0


def summarise(records: list[dict]) -> dict:
    """Mean per question of each cost field, per stage and in total; fp, peak memory, errors."""
    from focus.core.cost import FIELDS, mean_per_stage

    n = len(records)
    per_stage = mean_per_stage(records)
    for fields in per_stage.values():
        fields["overhead_seconds"] = fields["seconds"] - fields["model_seconds"]
    total = {f: sum(s[f] for s in per_stage.values()) for f in (*FIELDS, "overhead_seconds")}
    total["seconds"] = sum(r["seconds"] for r in records) / n  # the wall time of the sample as the runner measured it
    total["overhead_seconds"] = total["seconds"] - total["model_seconds"]
    return {"n": n, "per_stage": per_stage, "total": total,
            "fp": sum(r["fp"] for r in records) / n, "fp_extract": sum(r["fp_extract"] for r in records) / n,
            "fp_answer": sum(r["fp_answer"] for r in records) / n,
            "peak_memory_gb": max(r["peak_memory_gb"] for r in records),
            "background_seconds": sum(r.get("background_seconds", 0.0) for r in records) / n,
            "framework_overhead": total["overhead_seconds"] / total["seconds"] if total["seconds"] else None,
            "errors": [r["error"] for r in records if r.get("error")]}


def table(summary: dict) -> str:
    """Per stage: the cost fields, and `outside %`: the stage's time outside model calls as a share of the
    question's wall time (the stages' shares add up to the total's)."""
    header = f"{'stage':<10}" + "".join(f"{c:>19}" for c in SHOWN) + f"{'outside %':>11}"
    lines = [header, "-" * len(header)]
    wall = summary["total"]["seconds"] or 1.0
    for name, fields in [*summary["per_stage"].items(), ("total", summary["total"])]:
        cells = "".join(f"{fields[c]:>19.4f}" if c.endswith("seconds") else f"{fields[c]:>19.1f}" for c in SHOWN)
        lines.append(f"{name:<10}{cells}{100 * fields['overhead_seconds'] / wall:>11.1f}")
    lines.append(f"fp {summary['fp']:.2f} (extract {summary['fp_extract']:.2f}, answer {summary['fp_answer']:.2f}) | "
                 f"time outside model calls {100 * summary['framework_overhead']:.1f}% of wall time | "
                 f"peak memory {summary['peak_memory_gb']:.2f} GB")
    lines.append(f"processor work on background threads {summary['background_seconds']:.4f} s per question (CPU "
                 f"time beside the model's thread; in wall time only where the caller waited for it)")
    if "load_seconds" in summary:
        lines.append(f"image loading (timed apart, --preload) {summary['load_seconds']:.4f} s per question; with it, "
                     f"time outside model calls {100 * summary['framework_overhead_with_load']:.1f}%")
    return "\n".join(lines)


def ratios(base: dict, opt: dict) -> dict:
    """baseline / optimised of the main costs (> 1: the optimised variant spends less)."""
    def ratio(a, b):
        return a / b if b else None

    out = {f"{k} per question": ratio(base["total"][k], opt["total"][k])
           for k in ("seconds", "model_seconds", "overhead_seconds", "calls", "prefill_tokens", "vision_images")}
    for stage in ("relevance", "ranking", "answer"):
        if stage in base["per_stage"] and stage in opt["per_stage"]:
            for k in ("seconds", "model_seconds", "calls", "prefill_tokens"):
                out[f"{stage} {k}"] = ratio(base["per_stage"][stage][k], opt["per_stage"][stage][k])
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=8, help="samples timed (after the warm-up)")
    parser.add_argument("--warmup", type=int, default=1, help="samples run once per variant first, not timed")
    parser.add_argument("--threads", type=int, default=1, help="torch threads on CPU (1: tiny models run fastest)")
    parser.add_argument("--out", default="pipeline_cost.json", help="JSON file written")
    parser.add_argument("--compare", choices=("fast_paths", "switches", "threads"), default="fast_paths",
                        help="baseline = the adapter's fast paths off (image cache, fast processing, shared option "
                             "prefix), the config's cost switches off (prefix reuse, early stop, batched targets), "
                             "or no image processing on background threads")
    parser.add_argument("--preload", action="store_true",
                        help="decode/draw each sample's image before timing (time outside model calls then "
                             "excludes the dataset's image loading)")
    args, overrides = parser.parse_known_args(argv)

    import torch

    from focus import FocusError
    from focus.harness.config import build
    from focus.harness.console import quiet_libraries
    from focus.harness.runner import process_sample
    from focus.harness.validate import check_config

    quiet_libraries()
    torch.set_num_threads(args.threads)
    cfg = compose(overrides)
    try:
        check_config(cfg)
    except FocusError as exc:
        print(f"pipeline_cost: {exc}", file=sys.stderr)
        return 2
    configs, switches = variants(cfg, args.compare)
    methods = {name: build(c.method) for name, c in configs.items()}
    dataset = build(cfg.dataset.loader)
    adapter = build(cfg.model.adapter)
    samples = []
    for sample in dataset:
        samples.append(sample)
        if len(samples) == args.warmup + args.samples:
            break
    load_seconds = None
    if args.preload:
        samples, loads = zip(*[preloaded(s) for s in samples]) if samples else ((), ())
        load_seconds = sum(loads[args.warmup:]) / max(1, len(loads) - args.warmup)
    records: dict = {name: [] for name in methods}
    fast = {name: not (args.compare == "fast_paths" and name == "baseline") for name in methods}
    threads = getattr(getattr(adapter, "image_cache", None), "threads", 0)  # as configured
    started = time.perf_counter()
    for i, sample in enumerate(samples):
        order = list(methods) if i % 2 == 0 else list(methods)[::-1]
        for name in order:
            if hasattr(adapter, "fast_paths"):
                adapter.fast_paths(fast[name])
            if args.compare == "threads":
                adapter.image_cache.threads = 0 if name == "baseline" else threads
            aside = background_seconds(adapter)
            rec = process_sample(sample, methods[name], adapter, adapter.device, cfg.dataset.benchmark)
            rec["background_seconds"] = background_seconds(adapter) - aside
            if i >= args.warmup:
                records[name].append(rec)
    wall = time.perf_counter() - started
    if not records["optimised"]:
        print("pipeline_cost: no sample timed (dataset too small for --warmup + --samples?)", file=sys.stderr)
        return 2

    summaries = {name: summarise(recs) for name, recs in records.items()}
    for summary in summaries.values():
        if load_seconds is not None:  # the dataset's image decoding, timed apart (--preload)
            summary["load_seconds"] = load_seconds
            summary["framework_overhead_with_load"] = ((summary["total"]["overhead_seconds"] + load_seconds)
                                                       / (summary["total"]["seconds"] + load_seconds))
    label = " ".join(overrides) or "(defaults)"
    print(f"pipeline_cost: {label} | method {cfg.method.name} | model {cfg.model.name} | dataset {cfg.dataset.name} | "
          f"{len(records['optimised'])} samples (+{args.warmup} warm-up) | device {adapter.device} | "
          f"torch threads {torch.get_num_threads()} | {wall:.1f} s in all")
    print("mean per question; seconds = wall time, model = inside model calls, preprocess = in the processor, "
          "overhead = wall - model")
    result = {"overrides": overrides, "method": cfg.method.name, "model": cfg.model.name,
              "dataset": cfg.dataset.name, "device": adapter.device, "threads": torch.get_num_threads(),
              "samples": len(records["optimised"]), "warmup": args.warmup, "switches": switches,
              "variants": summaries}
    for name, summary in summaries.items():
        off = [f"{k}=0" if k == "preprocess_threads" else f"{k}=false" for k in switches]
        switched = f" ({', '.join(off)})" if name == "baseline" else ""
        print(f"\n== {name}{switched}\n{table(summary)}")
        if summary["errors"]:
            print(f"errors: {summary['errors'][:3]}")
    if "baseline" in summaries:
        base, opt = records["baseline"], records["optimised"]
        same = {key: sum(a.get(key) == b.get(key) for a, b in zip(base, opt))
                for key in ("fp", "prediction", "chosen_boxes")}
        result["ratios"] = ratios(summaries["baseline"], summaries["optimised"])
        result["identical"] = {**same, "of": len(opt)}
        print("\nbaseline / optimised, measured in this run (> 1: the optimised variant spends less)")
        for key, value in result["ratios"].items():
            print(f"  {key:<32} {value:.2f}x" if value is not None else f"  {key:<32} -")
        print("same in both variants: " + ", ".join(f"{k} {v}/{len(opt)}" for k, v in same.items()))
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
