"""The vanilla reference, computed once (paper Tables 3, 10, 11: every method beside the whole-image baseline).

`run.vanilla_reference` pairs each record with the model's whole-image answer to the same sample. Every job of a
sweep asks for the same answers, so they are cached: one JSON file per answer under `<folder>/vanilla_cache/`, named
by a digest of

- the model's identity: `model.*` as resolved (checkpoint, dtype, processor and resolution settings, `model.preset`)
  less `model.hparams` (FOCUS's search settings, which the whole-image answer never reads) and the device;
- the answer scheme (`inference_scheme.answer`, `max_new_tokens`) and the benchmark;
- the sample's content (`Sample.fingerprint()`: question, prompt, options, label, image identity).

The folder is `run.vanilla_cache_dir`, else the sweep folder in a multirun, else the run folder. Files are written
through a temporary file and a rename, so parallel jobs (submitit) never see half an entry; reading one only parses
JSON (never unpickles or imports), and an unreadable or foreign file is ignored and recomputed. A `method=vanilla`
job with `run.vanilla_reference=true` seeds the cache with its own answers (the same call on the same image).
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

from omegaconf import OmegaConf

from .records import write_json

log = logging.getLogger(__name__)

CACHE_SUBDIR = "vanilla_cache"
FIELDS = ("vanilla_prediction", "vanilla_correct", "vanilla_fp_answer", "vanilla_seconds", "vanilla_prefill_tokens")
VERSION = 1


def answer_identity(cfg) -> dict:
    """What the whole-image answer depends on besides the sample (module docstring)."""
    model = OmegaConf.to_container(cfg.model, resolve=True)
    model.pop("hparams", None)
    (model.get("adapter") or {}).pop("device", None)
    scheme = cfg.get("inference_scheme") or {}
    return {"version": VERSION, "model": model, "benchmark": cfg.dataset.get("benchmark"),
            "answer": scheme.get("answer"), "max_new_tokens": scheme.get("max_new_tokens")}


def cache_folder(cfg, run_dir: Path) -> Path:
    """`run.vanilla_cache_dir`, else the multirun's sweep folder, else the run folder; `/vanilla_cache` under it."""
    chosen = (cfg.get("run") or {}).get("vanilla_cache_dir")
    if chosen:
        return Path(str(chosen)).expanduser() / CACHE_SUBDIR
    try:
        from hydra.core.hydra_config import HydraConfig
        if HydraConfig.initialized():
            hc = HydraConfig.get()
            if str(hc.mode) == "RunMode.MULTIRUN":
                return Path(str(hc.sweep.dir)) / CACHE_SUBDIR
    except (ImportError, ValueError):
        pass
    return Path(run_dir) / CACHE_SUBDIR


class VanillaCache:
    """get/put of whole-image answers keyed by answer identity + sample fingerprint."""

    def __init__(self, folder: Path, identity: dict):
        self.folder = Path(folder)
        self.identity = json.dumps(identity, sort_keys=True, default=str)
        self.hits = self.misses = 0

    def key(self, sample) -> str:
        return hashlib.sha256((self.identity + "\n" + sample.fingerprint()).encode()).hexdigest()[:32]

    def path(self, sample) -> Path:
        return self.folder / f"{self.key(sample)}.json"

    def get(self, sample) -> dict | None:
        path = self.path(sample)
        try:
            entry = json.loads(path.read_text())
        except FileNotFoundError:
            self.misses += 1
            return None
        except (OSError, ValueError) as exc:
            log.warning("vanilla cache: ignoring unreadable %s (%s); recomputing", path, exc)
            self.misses += 1
            return None
        if not isinstance(entry, dict) or entry.get("key") != self.key(sample) or \
                not isinstance(entry.get("vanilla_correct"), dict):
            self.misses += 1
            return None
        self.hits += 1
        return {k: entry[k] for k in FIELDS if k in entry}

    def put(self, sample, fields: dict) -> None:
        entry = {"key": self.key(sample), "sample_id": sample.id, **{k: fields[k] for k in FIELDS if k in fields}}
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            write_json(self.path(sample), entry)
        except OSError as exc:  # a cache that cannot be written costs time, never a result
            log.warning("vanilla cache: could not write %s (%s)", self.path(sample), exc)


def vanilla_fields_of(record: dict, benchmark_verdict: dict) -> dict:
    """A `method=vanilla` record as cache fields (its prediction is the whole-image answer)."""
    return {"vanilla_prediction": record.get("prediction"), "vanilla_correct": benchmark_verdict,
            "vanilla_fp_answer": record.get("fp_answer"), "vanilla_seconds": record.get("seconds"),
            "vanilla_prefill_tokens": record.get("prefill_tokens")}
