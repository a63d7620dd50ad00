"""Weights & Biases logging, offline by default (design sections 1 and 7).

All W&B files stay inside the run folder: `dir` and WANDB_DATA_DIR / WANDB_CACHE_DIR / WANDB_CONFIG_DIR (tables and
their images would otherwise be staged under the home folder). Runs of one sweep share a `group`; the run name says
its overrides; the config is logged resolved; a capped per-sample table holds the sample's picture (focus/review/plots.py:
relevance heat map per target, ROIs numbered by rank and coloured by confidence, the crops answered on), the
prediction and the label. The run is always finished, with a non-zero exit code when it failed. W&B prints nothing
itself (`silent`): the run's summary says where the offline files are and how to `wandb sync` them.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)


class WandbLogger:
    def __init__(self, run_dir: str, run_config: dict, wandb: dict | None = None, table_rows: int = 32,
                 image_side: int = 1400):
        opts = dict(wandb or {})
        self.mode = opts.pop("mode", "offline")
        self.table_rows, self.image_side = int(table_rows), int(image_side)
        self.run = None
        self.rows = 0
        self.url = self.sync_dir = None
        if self.mode == "disabled":
            return
        import wandb as wb

        self.wb = wb
        wdir = Path(run_dir)
        for var, sub in (("WANDB_DATA_DIR", "wandb/data"), ("WANDB_CACHE_DIR", "wandb/cache"),
                         ("WANDB_CONFIG_DIR", "wandb/config")):
            (wdir / sub).mkdir(parents=True, exist_ok=True)
            os.environ[var] = str(wdir / sub)
        self.run = wb.init(mode=self.mode, dir=str(wdir), config=run_config, reinit="finish_previous",
                           settings=wb.Settings(**{"silent": True, **(opts.pop("settings", None) or {})}),
                           project=opts.pop("project", "focus"), group=opts.pop("group", None),
                           name=opts.pop("name", None), tags=opts.pop("tags", None), **opts)
        self.table = wb.Table(columns=["id", "image", "question", "prediction", "label", "strict", "fp", "targets"])

    def log_sample(self, rec: dict, sample) -> None:
        if self.run is None:
            return
        self.run.log({"sample/strict": float(rec["strict"]), "sample/fp": rec.get("fp", 0),
                      "sample/seconds": rec["seconds"]})
        if self.rows >= self.table_rows or rec.get("error"):
            return
        try:
            from .plots import render_sample
            image = render_sample(sample.load_image(), rec, max_side=self.image_side)
            self.table.add_data(rec["id"], self.wb.Image(image), rec["question"], rec["prediction"], rec["label"],
                                rec["strict"], rec.get("fp"), ", ".join(rec.get("targets") or []))
            self.rows += 1
        except Exception as exc:  # logging must never fail a sample
            log.warning("W&B table row for %s skipped: %s", rec["id"], exc)

    def log_summary(self, metrics: dict) -> None:
        if self.run is None:
            return
        for key, value in metrics.items():
            if isinstance(value, (int, float)) or value is None:
                self.run.summary[key] = value
        for cat, m in metrics.get("per_category", {}).items():
            self.run.summary[f"per_category/{cat}/strict"] = m["strict"]
        for protocol, ci in (metrics.get("interval_95") or {}).items():  # 95 % Wilson intervals
            if isinstance(ci, list):
                self.run.summary[f"interval_95/{protocol}_low"], self.run.summary[f"interval_95/{protocol}_high"] = ci
        ref = metrics.get("vanilla_reference") or {}
        for protocol, acc in (ref.get("accuracy") or {}).items():  # the paired vanilla reference and McNemar's test
            self.run.summary[f"vanilla_reference/accuracy_{protocol}"] = acc
            self.run.summary[f"vanilla_reference/mcnemar_p_{protocol}"] = ref["mcnemar"][protocol]["p_value"]
        self.run.log({"samples": self.table})

    def finish(self, exit_code: int) -> None:
        if self.run is not None:
            self.url = self.run.url if self.mode == "online" else None
            self.sync_dir = self.run.sync_dir
            self.run.finish(exit_code=exit_code)
            self.run = None

    def sync_note(self) -> str | None:
        """One line for the run's summary: where the W&B run is (online) or how to upload it (offline)."""
        if self.mode == "offline" and self.sync_dir:
            return f"W&B offline run written; upload it with: wandb sync {self.sync_dir}"
        if self.url:
            return f"W&B run: {self.url}"
        return None
