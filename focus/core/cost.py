"""Where the cost of one question is spent: seconds, model invocations and tokens per pipeline stage (design 4.7).

The paper's efficiency figures are forward passes (App. A.2), seconds and peak memory per question (Tables 13, 14).
A forward pass hides what it costs: an image prefill of 576-7,000 tokens or a short text suffix. `CostMeter` (one
per adapter, `adapter.cost`) records per stage

- `seconds`: wall time spent in the stage (exclusive of nested stages);
- `model_seconds`: time inside model invocations (forward / generate; CUDA synchronised around each call);
- `preprocess_seconds`: time in the processor (image resizing, tiling, tokenisation);
- `calls`: model invocations (a batched forward is one call);
- `prefill_tokens`: language-model input positions computed by those calls (image tokens included, left/right
  padding of a batch included: padded positions are computed too; generated tokens are not prefill);
- `vision_images`: images the vision tower encoded (anyres tiles for LLaVA-OneVision).

Methods mark their stages with `stage(adapter, name)`; the adapter's model calls land in the innermost open stage
(or in `other`). Everything outside the model calls is framework overhead: `seconds - model_seconds`.
"""

from __future__ import annotations

import time
from contextlib import contextmanager, nullcontext

# the stages of FOCUS in pipeline order, then the baselines' own (ZoomEye's tree search), then the rest
STAGES = ("targets", "relevance", "proposals", "ranking", "search", "answer", "other")
COUNTERS = ("calls", "prefill_tokens", "vision_images")
TIMERS = ("seconds", "model_seconds", "preprocess_seconds")
FIELDS = TIMERS + COUNTERS


def empty() -> dict:
    return {f: 0 for f in COUNTERS} | {f: 0.0 for f in TIMERS}


class CostMeter:
    """Per-stage cost of the current sample. `synchronize` (e.g. torch.cuda.synchronize) is called around each
    model call, so asynchronous GPU work is charged to the call that queued it."""

    def __init__(self, synchronize=None):
        self.synchronize = synchronize
        self.reset()

    def reset(self) -> None:
        self.stages: dict[str, dict] = {}
        self._open: list[list] = []  # [name, start] of the open stages, innermost last

    def _bucket(self, name: str | None = None) -> dict:
        name = name or (self._open[-1][0] if self._open else "other")
        return self.stages.setdefault(name, empty())

    @contextmanager
    def stage(self, name: str):
        """Charge the wall time and the model calls inside the block to stage `name` (exclusive: a nested stage's
        time is charged to the nested one only)."""
        now = time.perf_counter()
        if self._open:
            outer = self._open[-1]
            self._bucket(outer[0])["seconds"] += now - outer[1]
        self._open.append([name, now])
        self._bucket(name)
        try:
            yield
        finally:
            now = time.perf_counter()
            inner = self._open.pop()
            self._bucket(inner[0])["seconds"] += now - inner[1]
            if self._open:
                self._open[-1][1] = now

    @contextmanager
    def model_call(self, prefill_tokens: int, vision_images: int = 0):
        """One model invocation (a forward or a generate) computing `prefill_tokens` input positions."""
        bucket = self._bucket()
        bucket["calls"] += 1
        bucket["prefill_tokens"] += int(prefill_tokens)
        bucket["vision_images"] += int(vision_images)
        if self.synchronize:
            self.synchronize()
        t0 = time.perf_counter()
        try:
            yield
        finally:
            if self.synchronize:
                self.synchronize()
            bucket["model_seconds"] += time.perf_counter() - t0

    @contextmanager
    def preprocessing(self):
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self._bucket()["preprocess_seconds"] += time.perf_counter() - t0

    def snapshot(self, total_seconds: float | None = None) -> dict:
        """{stage: {field: value}} in `STAGES` order; with `total_seconds`, the time no stage claimed (image loading,
        scoring, the method's own bookkeeping) is added to `other`."""
        out = {name: dict(self.stages[name]) for name in sorted(self.stages, key=_stage_order)}
        if total_seconds is not None:
            claimed = sum(s["seconds"] for name, s in out.items() if name != "other")
            other = out.setdefault("other", empty())
            other["seconds"] = max(0.0, total_seconds - claimed)
        return {name: {k: round(v, 6) if isinstance(v, float) else v for k, v in s.items()} for name, s in out.items()}


def _stage_order(name: str) -> tuple:
    return (STAGES.index(name) if name in STAGES else len(STAGES), name)


def totals(per_stage: dict) -> dict:
    """The sum over stages of every field."""
    return {f: sum(s.get(f, 0) for s in per_stage.values()) for f in FIELDS}


def mean_per_stage(records: list[dict]) -> dict:
    """{stage: {field: mean per question}} over the records' `cost`, stages in pipeline order (the benchmarks)."""
    stages: dict = {}
    for rec in records:
        for name, fields in rec["cost"].items():
            bucket = stages.setdefault(name, {f: 0.0 for f in FIELDS})
            for f in FIELDS:
                bucket[f] += fields.get(f, 0) / len(records)
    return {name: stages[name] for name in sorted(stages, key=_stage_order)}


def meter_of(adapter) -> CostMeter:
    """The adapter's meter; adapters without one (scripted test stand-ins) get one, so stages are still timed."""
    meter = getattr(adapter, "cost", None)
    if meter is None:
        meter = CostMeter()
        try:
            adapter.cost = meter
        except AttributeError:
            pass
    return meter


def stage(adapter, name: str):
    """`with stage(adapter, "ranking"): ...` — charge the block to a stage of the adapter's meter."""
    meter = getattr(adapter, "cost", None) if adapter is not None else None
    return meter.stage(name) if meter is not None else nullcontext()
