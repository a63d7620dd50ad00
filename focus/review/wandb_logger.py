"""Weights & Biases logging, offline by default (design sections 1 and 7).

All W&B files stay inside the run folder: `dir` and WANDB_DATA_DIR / WANDB_CACHE_DIR / WANDB_CONFIG_DIR (tables and
their images would otherwise be staged under the home folder). Runs of one sweep share a `group`; the run name says
its overrides; the config is logged resolved; a capped per-sample table holds the sample's picture (focus/review/plots.py:
relevance heat map per target, ROIs numbered by rank and coloured by confidence, the crops answered on), the
prediction and the label. The run is always finished, with a non-zero exit code when it failed. W&B prints nothing
itself (`silent`): the run's summary says where the offline files are and how to `wandb sync` them.

Off the hot path: a sample's record is written before anything is logged, `log_sample` only logs three scalars
and remembers the first `table_rows` error-free samples; their pictures (at most `table_rows`, long side at most
`image_side`) are drawn after the loop, in `log_summary`, which reports the seconds logging took
(`logging_seconds` in the W&B summary and in the run's last line). The table file of the run (files/media/table)
holds the pictures as image files (`image-file` entries under files/media/images), offline too, not the string
"Image" that W&B's own run-file serialisation writes for media cells.

Keys logged: `sample/strict`, `sample/fp`, `sample/seconds` per sample; the table `samples` (columns id, image,
question, prediction, label, strict, fp, targets); summary: every numeric metric, `per_category/<cat>/strict`,
`logging_seconds`.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

log = logging.getLogger(__name__)

COLUMNS = ["id", "image", "question", "prediction", "label", "strict", "fp", "targets"]


def media_table(wb):
    """A `wandb.Table` class whose run file stores media cells as their JSON (image-file entries bound to the run)
    instead of str(value); the artifact copy W&B also logs is unchanged."""

    class MediaTable(wb.Table):
        def bind_to_run(self, run, key, step, id_=None, ignore_copy_err=None):
            try:
                import codecs

                from wandb.sdk.data_types.base_types.media import Media
                from wandb.sdk.data_types.table import MEDIA_TMP, _numpy_arrays_to_lists
                from wandb.sdk.lib import runid
                from wandb import util

                data = self._to_table_json(warn=False)
                rows = []
                for r, row in enumerate(data["data"]):
                    cells = []
                    for c, value in enumerate(row):
                        if isinstance(value, Media):
                            value.bind_to_run(run, key, step, id_=f"{r}-{c}-{value._sha256[:12]}")
                            value = value.to_json(run)
                        cells.append(value)
                    rows.append(cells)
                tmp_path = os.path.join(MEDIA_TMP.name, runid.generate_id() + ".table.json")
                with codecs.open(tmp_path, "w", encoding="utf-8") as fp:
                    util.json_dump_safer(_numpy_arrays_to_lists({"columns": data["columns"], "data": rows}), fp)
                self._set_file(tmp_path, is_tmp=True, extension=".table.json")
                Media.bind_to_run(self, run, key, step, id_=id_, ignore_copy_err=ignore_copy_err)
            except (ImportError, AttributeError, TypeError) as exc:  # another wandb version: its own serialisation
                log.warning("W&B table written with wandb's own serialisation (%s)", exc)
                super().bind_to_run(run, key, step, id_=id_, ignore_copy_err=ignore_copy_err)

    return MediaTable


class WandbLogger:
    def __init__(self, run_dir: str, run_config: dict, wandb: dict | None = None, table_rows: int = 32,
                 image_side: int = 1400):
        opts = dict(wandb or {})
        self.mode = opts.pop("mode", "offline")
        self.table_rows, self.image_side = int(table_rows), int(image_side)
        self.run = None
        self.rows = 0
        self.pending: list = []  # (record, sample) of the table rows, drawn after the loop
        self.logging_seconds = 0.0
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
        self.table = media_table(wb)(columns=COLUMNS)

    def log_sample(self, rec: dict, sample) -> None:
        """Called after the record is written: three scalars now, the picture later (`draw_pending`)."""
        if self.run is None:
            return
        t0 = time.perf_counter()
        self.run.log({"sample/strict": float(rec["strict"]), "sample/fp": rec.get("fp", 0),
                      "sample/seconds": rec["seconds"]})
        if len(self.pending) < self.table_rows and not rec.get("error"):
            self.pending.append((rec, sample))
        self.logging_seconds += time.perf_counter() - t0

    def draw_pending(self) -> None:
        """The table's pictures (focus/review/plots.py), after the sample loop."""
        from .plots import render_sample

        for rec, sample in self.pending:
            try:
                image = render_sample(sample.load_image(), rec, max_side=self.image_side)
                self.table.add_data(rec["id"], self.wb.Image(image), rec["question"], rec["prediction"],
                                    rec["label"], rec["strict"], rec.get("fp"), ", ".join(rec.get("targets") or []))
                self.rows += 1
            except Exception as exc:  # logging must never fail a run
                log.warning("W&B table row for %s skipped: %s", rec["id"], exc)
        self.pending = []

    def log_summary(self, metrics: dict) -> None:
        if self.run is None:
            return
        t0 = time.perf_counter()
        self.draw_pending()
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
        self.logging_seconds += time.perf_counter() - t0
        self.run.summary["logging_seconds"] = round(self.logging_seconds, 3)

    def finish(self, exit_code: int) -> None:
        if self.run is not None:
            self.url = self.run.url if self.mode == "online" else None
            self.sync_dir = self.run.sync_dir
            self.run.finish(exit_code=exit_code)
            self.run = None

    def sync_note(self) -> str | None:
        """One line for the run's summary: where the W&B run is (online) or how to upload it (offline)."""
        took = f" (logging took {self.logging_seconds:.1f} s, {self.rows} table pictures drawn after the samples)"
        if self.mode == "offline" and self.sync_dir:
            return f"W&B offline run written{took}; upload it with: wandb sync {self.sync_dir}"
        if self.url:
            return f"W&B run: {self.url}{took}"
        return None
