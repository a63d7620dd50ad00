"""The evaluation loop: samples → method → records → metrics (design sections 2, 7, 8).

Resumable (finished ids in the run folder are skipped), fault tolerant (a sample that raises becomes an error
record), and shardable (rank r of W takes every W-th sample and writes its own shard file; rank 0 merges them
into samples.jsonl and scores).
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
import platform
import resource
import sys
import time
import traceback
from pathlib import Path

import torch
from omegaconf import OmegaConf

from .. import FocusError
from .config import build
from .console import Progress, once_per_run, print_summary, shard_size
from ..core.cost import meter_of, totals
from .prefetch import with_prefetched_images
from .records import read_records, write_json
from .runfolder import RunFolder
from .runlog import keep as keep_in_run_log
from .resume import dataset_identity, metrics_extent, reset_peak_rss
from .signals import StopSignals
from ..scoring import BENCHMARKS, PROTOCOLS, score_record, summarise
from .validate import check_config, check_values
from .vanilla_cache import VanillaCache, answer_identity, cache_folder, vanilla_fields_of

log = logging.getLogger(__name__)

PACKAGES = ("focus", "torch", "transformers", "accelerate", "hydra-core", "omegaconf", "datasets", "wandb", "pillow")


def package_versions() -> dict:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = importlib.metadata.version(name if name != "focus" else "focus-vqa")
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def peak_rss_bytes() -> int:
    """This process's peak resident memory.

    Linux: VmHWM of /proc/self/status, the high-water mark of this program's own memory. Not ru_maxrss: the kernel
    carries it across fork+exec, so a run started from a bigger parent (pytest, a launcher) reports the parent's peak.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss if sys.platform == "darwin" else rss * 1024


def peak_memory_gb(device: str) -> float:
    """torch.cuda.max_memory_allocated()/1024**3 on GPU (paper App. A.2); the process's peak RSS on CPU."""
    if device.startswith("cuda") and torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 1024 ** 3
    return peak_rss_bytes() / 1024 ** 3


class DistInfo:
    """Rank and world size from torchrun / accelerate (env), with accelerate's PartialState for the barrier."""

    def __init__(self):
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        self._state = None
        if self.world > 1:
            from accelerate import PartialState
            # on CPU-only machines accelerate needs cpu=True to start a gloo process group
            self._state = PartialState(cpu=not torch.cuda.is_available())
            self.rank, self.world = self._state.process_index, self._state.num_processes

    @property
    def device(self) -> str | None:
        if self.world > 1 and torch.cuda.is_available():
            return f"cuda:{self.local_rank}"
        return None

    def barrier(self) -> None:
        if self._state is not None:
            self._state.wait_for_everyone()


def wandb_labels(cfg) -> dict:
    """Runs of one sweep share a W&B group (the sweep folder); a run's name is its overrides."""
    from hydra.core.hydra_config import HydraConfig
    wandb = dict(cfg.logger.get("wandb") or {})
    if HydraConfig.initialized():
        hc = HydraConfig.get()
        if wandb.get("group") is None and str(hc.mode) == "RunMode.MULTIRUN":
            wandb["group"] = Path(hc.sweep.dir).name
        if wandb.get("name") is None:
            wandb["name"] = hc.job.override_dirname or Path(hc.runtime.output_dir).name
    return {"wandb": wandb}


def validate(cfg) -> tuple:
    """Check the config (focus/harness/validate.py) and build everything that needs no model, so config errors surface
    before any model loads."""
    check_config(cfg)
    if cfg.dataset.get("benchmark") not in BENCHMARKS:
        raise FocusError(f"dataset.benchmark must be one of {', '.join(BENCHMARKS)} (the rules the dataset is scored "
                         f"by), not {cfg.dataset.get('benchmark')!r}")
    dataset = build(cfg.dataset.loader)
    method = build(cfg.method)
    return dataset, method


def vanilla_reference(sample, method, adapter, image, benchmark: str) -> dict:
    """The whole-image answer to the same sample with the method's answer scheme (`run.vanilla_reference`): a paired
    vanilla baseline in the same record, so the summary shows FOCUS beside vanilla on exactly these samples. Its
    passes and seconds are kept apart (`vanilla_fp_answer`, `vanilla_seconds`), never added to the method's cost."""
    meter = meter_of(adapter)
    tokens0 = totals(meter.snapshot())["prefill_tokens"]
    t0 = time.perf_counter()
    prediction, fp_answer, _ = method.inference_scheme.answer(adapter, [image], sample)
    seconds = time.perf_counter() - t0
    verdict = score_record({"prediction": prediction, "options": sample.options, "label": sample.label}, benchmark)
    return {"vanilla_prediction": prediction, "vanilla_correct": {p: verdict[p] for p in PROTOCOLS},
            "vanilla_fp_answer": fp_answer, "vanilla_seconds": seconds,
            "vanilla_prefill_tokens": totals(meter.snapshot())["prefill_tokens"] - tokens0}


def cached_vanilla_reference(sample, method, adapter, image, benchmark: str, cache: VanillaCache | None) -> dict:
    """`vanilla_reference` read from the cache when this model, answer scheme and sample content were answered
    before (by any job of the sweep), else computed and cached (focus/harness/vanilla_cache.py)."""
    cached = cache.get(sample) if cache is not None else None
    if cached is not None:
        return {**cached, "vanilla_cached": True}
    fields = vanilla_reference(sample, method, adapter, image, benchmark)
    if cache is not None:
        cache.put(sample, fields)
    return fields


def process_sample(sample, method, adapter, device, benchmark: str, with_vanilla: bool = False,
                   cache: VanillaCache | None = None) -> dict:
    rec = {"id": sample.id, "fingerprint": sample.fingerprint(),  # the content it answered (focus/data/base.py)
           "question": sample.question, "options": sample.options, "label": sample.label,
           "category": sample.category, "meta": sample.meta, "gt_boxes": sample.gt_boxes,
           "gt_targets": sample.gt_targets, "prediction": None, "error": None}
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    else:
        reset_peak_rss()  # peak_memory_gb is this sample's peak, not the run's so far
    meter = meter_of(adapter)
    meter.reset()
    getattr(adapter, "begin_sample", lambda: None)()  # per-question caches (processed images) start empty
    calls0, t0 = adapter.calls, time.perf_counter()
    image = None
    try:
        image = sample.load_image()
        getattr(adapter, "prepare", lambda image: None)(image)  # e.g. the image processed in the background
        rec["image_size"] = list(image.size)
        rec.update(method(adapter, sample, image))
    except Exception as exc:  # bad data or a failing sample: record it, the run goes on
        rec["error"] = f"{type(exc).__name__}: {exc}"
        rec["traceback"] = traceback.format_exc(limit=4)
    rec["seconds"], rec["calls"] = time.perf_counter() - t0, adapter.calls - calls0
    rec["peak_memory_gb"] = peak_memory_gb(device)
    rec["cost"] = meter.snapshot(total_seconds=rec["seconds"])  # per stage (focus/core/cost.py)
    spent = totals(rec["cost"])
    for key in ("prefill_tokens", "vision_images", "model_seconds", "preprocess_seconds"):
        rec[key] = spent[key]
    # after the method's cost is taken: none of it is the method's. Also when the method failed on a readable image,
    # so the reference covers the same samples whatever the method did.
    if with_vanilla and image is not None:
        try:
            rec.update(cached_vanilla_reference(sample, method, adapter, image, benchmark, cache))
        except Exception as exc:  # the reference failing does not make the method's answer an error
            rec["vanilla_error"] = f"{type(exc).__name__}: {exc}"
    rec.update(score_record(rec, benchmark))
    for key in ("fp", "fp_extract", "fp_answer"):
        rec.setdefault(key, 0)
    rec.setdefault("targets", [])
    rec.setdefault("rois", {})
    return rec


def run(cfg, run_dir: str | os.PathLike) -> int:
    """Run one configuration into `run_dir`. Returns the exit status (1 if any sample failed)."""
    once_per_run()
    dist = DistInfo()
    with StopSignals() as stop, RunFolder(run_dir, dist.rank, dist.world) as folder:  # one writer per folder/shard
        check_values(cfg)
        config = OmegaConf.to_container(cfg, resolve=True)
        folder.check_identity(config)
        dataset, method = validate(cfg)
        plan = dataset.scan()  # ids and content fingerprints; duplicate ids refused before any model loads
        if dist.rank == 0:
            note = folder.save_identity(config, hydra_overrides(), dataset_identity(dataset, cfg), len(plan))
            if note:
                print(note, file=sys.stderr, flush=True)
            keep_in_run_log(folder.path, f"[focus] start: {' '.join(hydra_overrides()) or 'defaults'} -> {folder.path}")
        return _run(cfg, folder, dist, dataset, method, config, plan, stop)


def hydra_overrides() -> list[str]:
    from hydra.core.hydra_config import HydraConfig
    return list(HydraConfig.get().overrides.task) if HydraConfig.initialized() else []


def _run(cfg, folder: RunFolder, dist: DistInfo, dataset, method, config: dict, plan: list, stop) -> int:
    run_dir = folder.path
    logger = build(cfg.logger, _recursive_=False, run_dir=str(run_dir), run_config=config,
                   **wandb_labels(cfg)) if dist.rank == 0 else None
    status = 1
    try:
        kept, changed = folder.resume_plan(plan, cfg.run.retry_errors)
        if changed and dist.rank == 0:
            print(f"focus: {len(changed)} record(s) answered a sample that has changed since (ids "
                  f"{', '.join(changed[:5])}{' ...' if len(changed) > 5 else ''}); redoing them", file=sys.stderr)
        done = {r["id"] for r in kept}
        writer = folder.writer()  # opened (and a torn last line dropped) before the model loads
        try:
            wants_vanilla = bool(cfg.run.get("vanilla_reference")) and hasattr(method, "inference_scheme")
            with_vanilla = wants_vanilla and method.name != "vanilla"
            cache = VanillaCache(cache_folder(cfg, run_dir), answer_identity(cfg)) if wants_vanilla else None
            model_kwargs = {"device": dist.device} if dist.device else {}
            adapter = build(cfg.model.adapter, **model_kwargs)
            expected = shard_size(len(plan), dist.rank, dist.world)
            progress = Progress(expected,
                                kept if dist.world == 1 else [r for r in read_records(folder.own) if r["id"] in done],
                                dist.rank, dist.world, enabled=dist.rank == 0)
            with progress:  # closed before an error is printed
                todo = (s for index, s in enumerate(dataset) if index % dist.world == dist.rank and s.id not in done)
                for sample, decoding in with_prefetched_images(todo):  # the next image decodes meanwhile
                    if stop.signum is not None:
                        break
                    rec = process_sample(decoding, method, adapter, adapter.device, cfg.dataset.benchmark,
                                         with_vanilla, cache)
                    if cache is not None and not with_vanilla and not rec["error"]:  # method=vanilla seeds the cache
                        cache.put(sample, vanilla_fields_of(rec, {p: rec[p] for p in PROTOCOLS}))
                    writer.put(rec)  # a retried id replaces its error record
                    done.add(sample.id)
                    progress.update(rec)
                    if logger is not None:
                        logger.log_sample(rec, sample)
            if dist.rank == 0 and getattr(progress, "bar", None) is not None:
                keep_in_run_log(run_dir, str(progress.bar))  # the bar's last state: samples, time, running accuracy
        finally:
            writer.close()
        if stop.signum is not None:
            status = stop.exit_code
            stop.finish(len([i for n, (i, _) in enumerate(plan) if n % dist.world == dist.rank and i in done]),
                        expected)
        dist.barrier()
        if dist.rank != 0:
            return 0
        folder.merge()
        records = folder.records_for(plan)  # the samples this run takes (a shrunk limit leaves others unreported)
        metrics = write_metrics(cfg, run_dir, records, len(plan))
        status = 1 if metrics["errors"] else 0
        logger.log_summary(metrics)
        logger.finish(status)  # W&B's own closing lines come before the summary, which ends the output
        keep_in_run_log(run_dir, print_summary(metrics, run_dir, records, logger.sync_note()))
        return status
    finally:
        if logger is not None:
            logger.finish(status)


def write_metrics(cfg, run_dir: Path, records: list[dict], expected: int | None = None) -> dict:
    metrics = summarise(records, cfg.dataset.benchmark)
    metrics.update(metrics_extent(len(records), expected))
    metrics["method"] = cfg.method.get("name")
    metrics["config"] = OmegaConf.to_container(cfg, resolve=True)
    model = metrics["config"].get("model") or {}
    metrics["resolution_preset"] = {"preset": model.get("preset", "paper"),  # README "Resolution presets"
                                    "settings": (model.get("presets") or {}).get(model.get("preset"), {})}
    metrics["versions"] = package_versions()
    write_json(run_dir / "metrics.json", metrics)
    return metrics

