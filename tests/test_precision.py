"""`model.adapter.torch_dtype` (README "Real size on a GPU"): the demo model in bfloat16 answers as in float32,
and no NaN or infinity reaches a record (confidences, maps and scores are computed in float32 whatever the model's
dtype: focus/models/base.py `_layer_features`, `yes_no_logits`, focus/stages/relevance.py)."""

import math

import pytest
import torch

QUESTIONS = 40


def _finite(value, path="record"):
    """Every float in a record (nested dicts and lists) is finite; returns the first path that is not, or None."""
    if isinstance(value, float):
        return None if math.isfinite(value) else path
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, (list, tuple)):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        bad = _finite(item, f"{path}.{key}")
        if bad:
            return bad
    return None


def _records(dtype: str) -> tuple[torch.dtype, list[dict]]:
    from hydra import compose, initialize_config_dir

    from conftest import ROOT
    from focus.harness.config import build, register_resolvers
    from focus.harness.runner import process_sample

    register_resolvers()
    with initialize_config_dir(str(ROOT / "conf"), version_base="1.3"):
        cfg = compose("config", overrides=[f"dataset.limit={QUESTIONS}", "run.vanilla_reference=false",
                                           f"model.adapter.torch_dtype={dtype}", "method.save_maps=true"])
    adapter = build(cfg.model.adapter)
    method, dataset = build(cfg.method), build(cfg.dataset.loader)
    return adapter.model.dtype, [process_sample(s, method, adapter, adapter.device, cfg.dataset.benchmark)
                                 for s in dataset]


@pytest.fixture(scope="module")
def by_dtype():
    torch.set_num_threads(1)
    return {dtype: _records(dtype) for dtype in ("float32", "bfloat16")}


def test_bfloat16_answers_as_float32_on_the_demo_model(by_dtype):
    assert {name: dtype for name, (dtype, _) in by_dtype.items()} == {"float32": torch.float32,
                                                                    "bfloat16": torch.bfloat16}
    fp32, bf16 = by_dtype["float32"][1], by_dtype["bfloat16"][1]
    assert len(fp32) == len(bf16) == QUESTIONS
    assert [r["id"] for r in fp32] == [r["id"] for r in bf16]
    assert all(r["error"] is None for r in fp32 + bf16), [r["error"] for r in fp32 + bf16 if r["error"]][:2]
    same = sum(a["prediction"] == b["prediction"] for a, b in zip(fp32, bf16))
    assert same >= 0.9 * QUESTIONS, f"bf16 agrees with fp32 on {same}/{QUESTIONS} predictions"
    # the search saw the same regions on most questions (a map in bf16 arithmetic would move them)
    boxes = sum(a["chosen_boxes"] == b["chosen_boxes"] for a, b in zip(fp32, bf16))
    assert boxes >= 0.8 * QUESTIONS, f"same chosen boxes on {boxes}/{QUESTIONS}"


def test_no_nan_or_inf_reaches_a_record(by_dtype):
    for dtype, (_, records) in by_dtype.items():
        for rec in records:
            assert _finite(rec) is None, f"{dtype} {rec['id']}: {_finite(rec)} is not finite"
            confidences = [roi["confidence"] for rois in rec["rois"].values() for roi in rois
                           if roi.get("confidence") is not None]
            assert confidences and all(-1.0 <= c <= 1.0 for c in confidences), (dtype, rec["id"])
