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
from tqdm import tqdm

from . import FocusError
from .config import build
from .records import RecordWriter, merge_shards, read_records, write_json
from .scoring import BENCHMARKS, PROTOCOLS, score_record, summarise

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
    """Build everything that needs no model, so config errors surface before any model loads."""
    if cfg.get("seed") is None:
        raise FocusError("seed must be set")
    if cfg.dataset.get("benchmark") not in BENCHMARKS:
        raise FocusError(f"dataset.benchmark must be one of {', '.join(BENCHMARKS)} (the rules the dataset is scored "
                         f"by), not {cfg.dataset.get('benchmark')!r}")
    dataset = build(cfg.dataset.loader)
    method = build(cfg.method)
    return dataset, method


def process_sample(sample, method, adapter, device, benchmark: str) -> dict:
    rec = {"id": sample.id, "question": sample.question, "options": sample.options, "label": sample.label,
           "category": sample.category, "meta": sample.meta, "gt_boxes": sample.gt_boxes,
           "gt_targets": sample.gt_targets, "prediction": None, "error": None}
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    calls0, t0 = adapter.calls, time.perf_counter()
    try:
        image = sample.load_image()
        rec["image_size"] = list(image.size)
        rec.update(method(adapter, sample, image))
    except Exception as exc:  # bad data or a failing sample: record it, the run goes on
        rec["error"] = f"{type(exc).__name__}: {exc}"
        rec["traceback"] = traceback.format_exc(limit=4)
    rec["seconds"] = time.perf_counter() - t0
    rec["calls"] = adapter.calls - calls0
    rec["peak_memory_gb"] = peak_memory_gb(device)
    rec.update(score_record(rec, benchmark))
    for key in ("fp", "fp_extract", "fp_answer"):
        rec.setdefault(key, 0)
    rec.setdefault("targets", [])
    rec.setdefault("rois", {})
    return rec


def run(cfg, run_dir: str | os.PathLike) -> int:
    """Run one configuration into `run_dir`. Returns the exit status (1 if any sample failed)."""
    run_dir = Path(run_dir)
    dist = DistInfo()
    dataset, method = validate(cfg)
    logger = build(cfg.logger, _recursive_=False, run_dir=str(run_dir), run_config=OmegaConf.to_container(cfg, resolve=True),
                   **wandb_labels(cfg)) if dist.rank == 0 else None
    status = 1
    try:
        model_kwargs = {"device": dist.device} if dist.device else {}
        adapter = build(cfg.model.adapter, **model_kwargs)
        merged = run_dir / "samples.jsonl"
        own = merged if dist.world == 1 else run_dir / "shards" / f"samples.rank{dist.rank}.jsonl"
        done = {r["id"] for r in read_records(merged) + (read_records(own) if own != merged else [])
                if not (cfg.run.retry_errors and r.get("error"))}
        writer = RecordWriter(own)
        try:
            bar = tqdm(dataset, desc=f"focus[{dist.rank}/{dist.world}]", disable=dist.rank != 0 and dist.world > 1)
            for index, sample in enumerate(bar):
                if index % dist.world != dist.rank or sample.id in done:
                    continue
                rec = process_sample(sample, method, adapter, adapter.device, cfg.dataset.benchmark)
                writer.write(rec)
                if logger is not None:
                    logger.log_sample(rec, sample)
        finally:
            writer.close()
        dist.barrier()
        if dist.rank != 0:
            return 0
        if dist.world > 1:
            merge_shards(sorted((run_dir / "shards").glob("samples.rank*.jsonl")), merged)
        metrics = write_metrics(cfg, run_dir, read_records(merged))
        print_summary(metrics, run_dir)
        status = 1 if metrics["errors"] else 0
        logger.log_summary(metrics)
        return status
    finally:
        if logger is not None:
            logger.finish(status)


def write_metrics(cfg, run_dir: Path, records: list[dict]) -> dict:
    metrics = summarise(records, cfg.dataset.benchmark)
    metrics["method"] = cfg.method.get("name")
    metrics["config"] = OmegaConf.to_container(cfg, resolve=True)
    metrics["versions"] = package_versions()
    write_json(run_dir / "metrics.json", metrics)
    return metrics


def fmt(v) -> str:
    return "n/a" if v is None else f"{v:.2f}"


PROTOCOL_NAMES = {"strict": "strict (exact letter, paper protocol)", "lenient": "lenient (focus rule)",
                  "lmms_eval": "lmms-eval", "vlmevalkit": "VLMEvalKit (exact matching)"}


def print_summary(metrics: dict, run_dir) -> None:
    judge = metrics["needs_judge"]
    lines = [f"[focus] {metrics['n']} samples ({metrics['errors']} errors, counted wrong) -> {run_dir}",
             "[focus] accuracy over all samples: " + " | ".join(
                 f"{PROTOCOL_NAMES[p]}: {fmt(metrics[f'accuracy_{p}'])}%" for p in PROTOCOLS)
             + f" (left to a judge, counted wrong: lmms-eval {judge['lmms_eval']}, VLMEvalKit {judge['vlmevalkit']})"]
    for cat, m in metrics["per_category"].items():
        lines.append(f"[focus]   {cat or '-'}: " + " ".join(f"{p} {fmt(m[p])}%" for p in PROTOCOLS) + f" (n={m['n']})")
    if "hrbench_cycle_avg" in metrics:
        lines.append("[focus] HR-Bench cycle-averaged (official rule): " + " ".join(
            f"{p} {fmt(metrics['hrbench_cycle_avg'][p]['overall'])}%" for p in PROTOCOLS))
    if "recall" in metrics:
        lines.append(f"[focus] V* recall (GT box >= 50% covered by an examined ROI): {fmt(metrics['recall'])}%")
    lines.append(f"[focus] mean fp {fmt(metrics['mean_fp'])} (extract {fmt(metrics['mean_fp_extract'])}, answer "
                 f"{fmt(metrics['mean_fp_answer'])}), mean seconds {fmt(metrics['mean_seconds'])}")
    print("\n".join(lines), flush=True)
