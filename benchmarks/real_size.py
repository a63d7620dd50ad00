"""Seconds, memory and tokens per stage at real size: 7-8B models with random weights, bf16, SDPA, one GPU.

    python benchmarks/real_size.py --out real_size.json                 # the default run (3 paper models; --budget keeps it under 8 min)
    python benchmarks/real_size.py --models all --images 1 --out all.json
    python benchmarks/real_size.py --smoke                              # the same code path on CPU, small models and images

The paper's efficiency tables (Tables 13, 14: A100, LLaVA-1.5-7B, V*) give seconds and peak memory per question.
This script measures the same for every method of `focus` (vanilla, FOCUS with the paper's settings at Steps-2,
ZoomEye, ViCrop, and ViCrop with eager attention in every layer as its original code runs) on the models of
benchmarks/real_size_models.py: each is built from its published configuration with random weights, directly on
the device in the target dtype (`torch.device` context + `from_config(dtype=...)`, no fp32 copy, no download), and
handed to the project's own adapter (focus/models/*, `model=` argument), so the timings are the framework's:
every stage, prompt, batch and cost field (focus/core/cost.py) is what `python -m focus.run` would run.

Workload (random weights answer at random, so it is fixed rather than left to the answers):
- images: synthetic scenes (focus/data/synthetic.py's drawing) of V* size (2246x1582), HR-Bench 4K (3840x2160) and
  8K (7680x4320); `--images N` per size; the question is V*-style ("What is the color of the square?");
- FOCUS: Steps-2 without overrun (`ranker.n_steps=2 ranker.overrun=false`: exactly 2 ranked ROIs per target, App.
  C.1), paper hyperparameters of conf/model (Table 7, V* overrides of conf/dataset/synthetic.yaml);
- every generation runs to its token limit (random weights never stop early): ICL target extraction
  `targets.max_new_tokens` (24), the final answer `--answer-tokens` (2: a letter and the end token, as the real
  models answer); the target is then the rules fallback's (focus/stages/targets.py), the same for every model;
- the tokenizer is the family's tiny offline tokenizer (focus/models/tiny.py, 600 entries; the model keeps its real
  vocabulary size): text prompts take somewhat more tokens than with the real tokenizer, image tokens are exact;
- ZoomEye's search length follows its random confidences (its pop budget bounds it); its fp is reported as measured.
One untimed warm-up question per model (CUDA start-up). Peak memory: torch.cuda.max_memory_allocated per question
(weights included, as the paper's), on CPU the process's peak RSS. Writes JSON (`--out`) after every block, so a
run cut short keeps what it measured, and a Markdown table (`--md`, default the JSON's name with .md).
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # this checkout's focus, also when run from elsewhere
sys.path.insert(0, str(ROOT / "benchmarks"))

from real_size_models import MODELS, PAPER_MODELS, depth, smoke_config  # noqa: E402

from focus.core.cost import STAGES  # noqa: E402  (the stages in pipeline order)

SIZES = {"vstar": (2246, 1582), "hr4k": (3840, 2160), "hr8k": (7680, 4320)}  # V* mean size; UHD 4K / 8K frames
SMOKE_SIZES = {"vstar": (450, 316), "hr4k": (640, 360), "hr8k": (960, 540)}  # the same shapes, small
# method → Hydra overrides; "eager": the whole model runs eager attention for this method (ViCrop's original code),
# "vicrop" keeps sdpa/flash-attention everywhere but the last query row of the one layer it reads (focus/models/base.py)
METHODS = {
    "vanilla": {"overrides": ["method=vanilla"]},
    "focus": {"overrides": ["method=focus", "ranker.n_steps=2", "ranker.overrun=false"]},
    "vicrop": {"overrides": ["method=vicrop"]},
    "vicrop_eager": {"overrides": ["method=vicrop"], "eager": True},
    "zoomeye": {"overrides": ["method=zoomeye"]},  # last: the longest, so a spent budget cuts it first
}
PAPER = ("Paper (Tables 13, 14; A100, LLaVA-1.5-7B, V*): FOCUS 2.19-2.27 s, 14.91 GB, 13.28 fp; ZoomEye "
         "11.26-11.96 s, 48.63 fp; ViCrop 1.36 s, 19.9 GB; vanilla 0.25 s.")


def compose(overrides: list[str]):
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    from focus.harness.config import register_resolvers

    register_resolvers()
    with initialize_config_dir(str(ROOT / "conf"), version_base="1.3"):
        return hydra_compose("config", overrides=overrides)


def scene_sample(size: tuple[int, int], seed: int, name: str):
    """A V*-style attribute question on a synthetic scene of `size` (focus/data/synthetic.py's drawing)."""
    import numpy as np
    from PIL import Image, ImageDraw

    from focus.data.base import Sample
    from focus.data.synthetic import COLOURS, SHAPES, SUFFIX, _draw_shape

    w, h = size
    rng = random.Random(seed)
    noise = np.random.default_rng(seed).integers(90, 150, size=(h // 16 + 1, w // 16 + 1, 3), dtype=np.uint8)
    shape, colour = rng.choice(SHAPES), rng.choice(sorted(COLOURS))
    side = max(24, min(w, h) // 30)
    x, y = rng.randint(0, w - side), rng.randint(0, h - side)

    def image():
        img = Image.fromarray(noise).resize((w, h), Image.NEAREST)
        _draw_shape(ImageDraw.Draw(img), shape, (x, y, x + side, y + side), COLOURS[colour])
        return img

    options = [colour] + rng.sample([c for c in sorted(COLOURS) if c != colour], 3)
    rng.shuffle(options)
    label = "ABCD"[options.index(colour)]
    question = f"What is the color of the {shape}?"
    prompt = question + "\n" + "\n".join(f"({l}) {o}" for l, o in zip("ABCD", options)) + "\n" + SUFFIX
    return Sample(id=f"{name}_{seed}", question=question, options=options, label=label, category="attribute",
                  prompt=prompt, image_fn=image, gt_boxes=[[x, y, x + side, y + side]], gt_targets=[shape],
                  meta={"size": name}, image_digest=f"{name}_{seed}_{w}x{h}")


def build_model(hf_config: dict, tiny_dir: Path | None, dtype, device: str, attn: str):
    """The real-size model with random weights, created on `device` in `dtype` (`meta`: shapes only, no memory);
    token ids from the tiny checkpoint in `tiny_dir`."""
    import torch
    from transformers import AutoConfig, AutoModelForImageTextToText

    tiny = json.loads((tiny_dir / "config.json").read_text()) if tiny_dir else {}
    top = {k: v for k, v in hf_config.items() if k not in ("model_type", "text_config", "vision_config")}
    for key, value in tiny.items():  # the tiny tokenizer's image / video / vision-marker ids
        if key.endswith(("_token_id", "_token_index")):
            top[key] = value
    text = dict(hf_config["text_config"])
    for key in ("pad_token_id", "bos_token_id", "eos_token_id"):
        if key in tiny.get("text_config", {}):
            text[key] = tiny["text_config"][key]
    config = AutoConfig.for_model(hf_config["model_type"], text_config=text,
                                  vision_config=dict(hf_config["vision_config"]), **top)
    with torch.device(device):
        model = AutoModelForImageTextToText.from_config(config, dtype=dtype, attn_implementation=attn)
    model.generation_config.pad_token_id = getattr(config.text_config, "pad_token_id", None)
    return model.eval()


def parameters_billion(key: str) -> float:
    """Parameters of the real-size model of `key`, built on the meta device (no memory, no download)."""
    import torch

    model = build_model(MODELS[key]["config"], None, torch.bfloat16, "meta", "sdpa")
    return sum(p.numel() for p in model.parameters()) / 1e9


def summarise(records: list[dict]) -> dict:
    """Mean per question of each cost field per stage; totals, fp, peak memory, errors."""
    from focus.core.cost import mean_per_stage

    n = len(records)
    stages = mean_per_stage(records)
    mean = lambda key: sum(r.get(key) or 0 for r in records) / n  # noqa: E731
    return {"n": n, "seconds": mean("seconds"), "model_seconds": mean("model_seconds"),
            "preprocess_seconds": mean("preprocess_seconds"),
            "per_stage": {s: stages[s] for s in STAGES if s in stages},
            "fp": mean("fp"), "fp_extract": mean("fp_extract"), "fp_answer": mean("fp_answer"),
            "calls": mean("calls"), "prefill_tokens": mean("prefill_tokens"), "vision_images": mean("vision_images"),
            "peak_memory_gb": max(r["peak_memory_gb"] for r in records),
            "per_size": {s: sum(r["seconds"] for r in records if r["meta"]["size"] == s) /
                         max(1, sum(r["meta"]["size"] == s for r in records))
                         for s in dict.fromkeys(r["meta"]["size"] for r in records)},
            "errors": [f"{r['id']}: {r['error']}" for r in records if r.get("error")]}


def markdown(result: dict) -> str:
    head = ("| model | method | s / question | in model s | processor s | " +
            " | ".join(f"{s} s" for s in STAGES) +
            " | peak GB | fp | fp extract + answer | prefill tokens | images encoded | errors |")
    lines = [f"Device: {result['device']}; dtype {result['dtype']}; attention {result['attn']} "
             f"(vicrop_eager: eager in every layer); sizes {', '.join(result['sizes'])}, {result['images']} "
             f"image(s) each; mean per question. Peak GB: " + ("torch.cuda.max_memory_allocated per question, "
             "weights included" if result["device"].startswith("CPU") is False else "the process's peak RSS so "
             "far (CPU: not per method)") + ".", "",
             f"Fixed workload: {result['workload']}", "", head, "|" + "---|" * (head.count("|") - 1)]
    for model, methods in result["models"].items():
        if "skipped" in methods:
            lines.append(f"| {model} | skipped: {methods['skipped']} |" + " |" * (head.count("|") - 3))
            continue
        for name, s in methods.items():
            if name.startswith("_"):
                continue
            if "skipped" in s:
                lines.append(f"| {model} | {name} | skipped: {s['skipped']} |" + " |" * (head.count("|") - 4))
                continue
            stages = " | ".join(f"{s['per_stage'][st]['seconds']:.3f}" if st in s["per_stage"] else "-"
                                for st in STAGES)
            lines.append(f"| {model} | {name} | {s['seconds']:.3f} | {s['model_seconds']:.3f} | "
                         f"{s['preprocess_seconds']:.3f} | {stages} | {s['peak_memory_gb']:.2f} | "
                         f"{s['fp']:.2f} | {s['fp_extract']:.0f} + {s['fp_answer']:.0f} | "
                         f"{s['prefill_tokens']:.0f} | {s['vision_images']:.1f} | {len(s['errors'])} |")
    lines += ["", PAPER]
    return "\n".join(lines) + "\n"


def run_model(key: str, args, result: dict, samples: list, write, deadline: float) -> None:
    import torch
    from hydra.utils import get_class

    from focus.harness.config import build
    from focus.harness.runner import process_sample
    from focus.models.tiny import ensure_tiny_checkpoint

    spec = MODELS[key]
    entry = result["models"].setdefault(key, {})
    hf_config = smoke_config(spec["config"]) if args.smoke else spec["config"]
    base = [f"model={spec['conf']}", "dataset=synthetic", "model.tiny=true", "model.path=null",
            f"model.adapter.torch_dtype={args.dtype}", f"model.adapter.attn_implementation={args.attn}",
            f"model.adapter.max_new_tokens={args.answer_tokens}", "run.vanilla_reference=false"]
    if args.tiny_cache:
        base.append(f"tiny_cache_dir={args.tiny_cache}")
    if args.smoke:  # the paper's layer ranges counted on the full depth, mapped onto the smoke model's 4 layers
        base.append(f"model.hparams.layer_depth_ref={depth(spec['config'])}")
    try:
        cfg = compose(base + METHODS["vanilla"]["overrides"])
        adapter_cls = get_class(cfg.model.adapter._target_)
        tiny_dir = ensure_tiny_checkpoint(adapter_cls.tiny_family, cfg.tiny_cache_dir)
    except Exception as exc:  # a family whose config, adapter or tiny checkpoint is not in this checkout
        entry["skipped"] = (f"its config or adapter is not in this checkout ({type(exc).__name__}: "
                            f"{str(exc).splitlines()[0][:120]})")
        print(f"real_size: {key}: skipped ({entry['skipped']})", flush=True)
        return
    dtype = getattr(torch, args.dtype)
    t0 = time.perf_counter()
    try:
        model = build_model(hf_config, tiny_dir, dtype, args.device, args.attn)
        adapter = build(cfg.model.adapter, model=model)
    except Exception as exc:  # e.g. out of memory, or a config the installed transformers does not know
        entry["skipped"] = f"could not be built ({type(exc).__name__}: {str(exc).splitlines()[0][:120]})"
        print(f"real_size: {key}: skipped ({entry['skipped']})", flush=True)
        gc.collect()
        if args.device.startswith("cuda"):
            torch.cuda.empty_cache()
        return
    entry["_build_seconds"] = time.perf_counter() - t0
    entry["_parameters_billion"] = sum(p.numel() for p in adapter.model.parameters()) / 1e9  # what the adapter runs
    entry["_checkpoint"] = spec["checkpoint"]
    print(f"real_size: {key} ({spec['checkpoint']}, {entry['_parameters_billion'] * 1e3:,.1f} M parameters) built in "
          f"{entry['_build_seconds']:.1f} s", flush=True)
    process_sample(samples[0], build(cfg.method), adapter, adapter.device, "vstar")  # warm-up, untimed
    for name in args.methods:
        if time.perf_counter() > deadline:
            entry[name] = {"skipped": "this model's share of the time budget (--budget) was spent"}
            print(f"real_size: {key} {name}: skipped (budget)", flush=True)
            continue
        method = build(compose(base + METHODS[name]["overrides"]).method)
        eager = METHODS[name].get("eager")
        if eager:
            model.set_attn_implementation("eager")
        records = []
        try:
            for sample in samples:  # past the deadline: stop after the first question (n says how many ran)
                if records and time.perf_counter() > deadline:
                    break
                records.append(process_sample(sample, method, adapter, adapter.device, "vstar"))
        finally:
            if eager:
                model.set_attn_implementation(args.attn)
        entry[name] = summarise(records)
        s = entry[name]
        print(f"real_size: {key:<10} {name:<13} {s['seconds']:8.3f} s/question  peak {s['peak_memory_gb']:6.2f} GB  "
              f"fp {s['fp']:6.2f}  prefill {s['prefill_tokens']:8.0f}  images {s['vision_images']:5.1f}"
              + (f"  errors {s['errors'][:1]}" if s["errors"] else ""), flush=True)
        write()
    del adapter, model
    gc.collect()
    if args.device.startswith("cuda"):
        torch.cuda.empty_cache()


def parse(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default=",".join(PAPER_MODELS),
                        help=f"comma list of {', '.join(MODELS)}, or all (default: the paper's three)")
    parser.add_argument("--methods", default=",".join(METHODS), help=f"comma list of {', '.join(METHODS)}")
    parser.add_argument("--sizes", default=None, help=f"comma list of {', '.join(SIZES)} (default: all; smoke: vstar)")
    parser.add_argument("--images", type=int, default=1, help="images per size")
    parser.add_argument("--dtype", default="bfloat16", choices=("bfloat16", "float16", "float32"))
    parser.add_argument("--attn", default="sdpa", choices=("sdpa", "flash_attention_2", "eager"))
    parser.add_argument("--answer-tokens", type=int, default=2, help="tokens generated for the final answer")
    parser.add_argument("--device", default=None, help="default: cuda when available, else cpu")
    parser.add_argument("--budget", type=float, default=None,
                        help="seconds shared equally by the models; a method or question that would start after its model's "
                             "share is skipped (the question in flight finishes): default 400, smoke 600")
    parser.add_argument("--tiny-cache", default=None, help="where the tiny tokenizers/processors are built")
    parser.add_argument("--threads", type=int, default=1, help="torch threads on CPU")
    parser.add_argument("--smoke", action="store_true", help="4 decoder layers, small widths and images, on CPU")
    parser.add_argument("--full-size-images", action="store_true",
                        help="with --smoke: the real image sizes (the real token counts, to size a GPU run)")
    parser.add_argument("--out", default="real_size.json")
    parser.add_argument("--md", default=None, help="Markdown table (default: --out with .md)")
    args = parser.parse_args(argv)
    args.models = list(MODELS) if args.models == "all" else args.models.split(",")
    args.methods = args.methods.split(",")
    args.sizes = (args.sizes or ("vstar" if args.smoke else ",".join(SIZES))).split(",")
    for what, given, known in (("model", args.models, MODELS), ("method", args.methods, METHODS),
                               ("size", args.sizes, SIZES)):
        unknown = [g for g in given if g not in known]
        if unknown:
            parser.error(f"unknown {what}(s) {', '.join(unknown)}; choose from {', '.join(known)}")
    if args.images < 1:
        parser.error("--images must be >= 1")
    return args


def main(argv=None) -> int:
    args = parse(argv)
    import torch
    import transformers

    from focus.harness.console import quiet_libraries

    quiet_libraries()
    torch.set_num_threads(args.threads)
    args.device = args.device or ("cuda" if torch.cuda.is_available() and not args.smoke else "cpu")
    args.budget = args.budget or (600.0 if args.smoke else 400.0)
    if args.attn == "flash_attention_2":
        try:
            import flash_attn  # noqa: F401
        except ImportError:
            print("real_size: flash_attention_2 is not installed (pip install -e '.[gpu]'); use --attn sdpa",
                  file=sys.stderr)
            return 2
    sizes = SMOKE_SIZES if args.smoke and not args.full_size_images else SIZES
    samples = [scene_sample(sizes[s], seed, s) for s in args.sizes for seed in range(args.images)]
    device_name = torch.cuda.get_device_name(0) if args.device.startswith("cuda") else \
        f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} torch thread(s))"
    result = {"device": device_name, "dtype": args.dtype, "attn": args.attn, "smoke": args.smoke,
              "sizes": [f"{s} {sizes[s][0]}x{sizes[s][1]}" for s in args.sizes], "images": args.images,
              "torch": torch.__version__, "transformers": transformers.__version__,
              "workload": ("random weights; FOCUS Steps-2 without overrun (2 ranked ROIs per target); targets by the "
                           "rules fallback after a full-length ICL generation; final answer "
                           f"{args.answer_tokens} generated tokens; tiny tokenizer; ZoomEye fp as its search ran"
                           + ("; SMOKE: 4 decoder layers, small widths and images, CPU" if args.smoke else "")),
              "paper": PAPER, "models": {}}
    out, md = Path(args.out), Path(args.md or Path(args.out).with_suffix(".md"))

    def write():
        out.write_text(json.dumps(result, indent=2))
        md.write_text(markdown(result))

    started = time.perf_counter()
    print(f"real_size: {device_name} | {args.dtype} | {args.attn} | models {', '.join(args.models)} | methods "
          f"{', '.join(args.methods)} | {len(samples)} image(s)" + (" | SMOKE" if args.smoke else ""), flush=True)
    for i, key in enumerate(args.models):  # each model gets an equal share of the budget still left
        left = started + args.budget - time.perf_counter()
        if left <= 0:
            result["models"][key] = {"skipped": f"the time budget (--budget {args.budget:.0f} s) was spent"}
            print(f"real_size: {key}: skipped ({result['models'][key]['skipped']})", flush=True)
            continue
        run_model(key, args, result, samples, write, time.perf_counter() + left / (len(args.models) - i))
        write()
    result["wall_seconds"] = time.perf_counter() - started
    write()
    print(markdown(result))
    print(f"real_size: wrote {out} and {md} in {result['wall_seconds']:.1f} s")
    errors = sum(len(s.get("errors", [])) for m in result["models"].values() for s in m.values() if isinstance(s, dict))
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
