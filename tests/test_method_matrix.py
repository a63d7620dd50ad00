"""Every method on every model that loads here answers a sample, and its forward passes follow its own rules.

Models: the demo model and every tiny family (conf/model/tiny_*.yaml, found by glob, so a family added later joins
automatically). Methods: every conf/method/*.yaml; each has its fp rule below (README "Baselines", App. A.2). One
loaded adapter per model, one synthetic sample, in this process (the runner's own `validate` + `process_sample`), so
a method that fails on a model (e.g. a paper layer not mapped onto the model's depth) fails here, not at a user's.
"""

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from focus.harness.config import build
from focus.harness.runner import process_sample, validate

CONF = Path(__file__).resolve().parent.parent / "conf"
MODELS = ["demo_llava15", *sorted(p.stem for p in (CONF / "model").glob("tiny_*.yaml"))]
METHODS = sorted(p.stem for p in (CONF / "method").glob("*.yaml"))


def rois_evaluated(rec, target):
    return sum(r["confidence"] is not None for r in rec["rois"].get(target, []))


def focus_rule(rec, overrides):
    """FOCUS, Steps-1 without overrun: one relevance pass per target, no existence evaluation for a type-1 target
    (its single best ROI is taken), every ROI above nothing evaluated for a type-2 one: fp = targets + evaluations."""
    assert rec["fp_extract"] == 1 and rec["targets"]
    type2 = set(rec.get("type2_targets") or [])
    for target in rec["targets"]:
        if target not in type2:
            assert rois_evaluated(rec, target) == 0, target
    assert rec["fp"] == len(rec["targets"]) + sum(rois_evaluated(rec, t) for t in rec["targets"])


def vanilla_rule(rec, overrides):
    assert rec["fp"] == 0 and rec["fp_extract"] == 0 and rec["fp_answer"] >= 1


def vicrop_rule(rec, overrides):
    """rel-att: 2 maps (question, generic prompt) per block; grad-att: 1; the synthetic image is one block."""
    assert rec["fp_extract"] == 0 and rec["vicrop"]["blocks"] == [1, 1]
    assert rec["fp"] == (1 if "method.map=grad_att" in overrides else 2)
    assert len(rec["chosen_boxes"]) == 1


def zoomeye_rule(rec, overrides):
    """Depth 1, 2 crops per split (Table 10's ZoomEye Depth-1): 1 answering pass per popped node, 2 (existence,
    latent) per queued node; the 1280×960 root splits into 2 halves, queued unless the root's answering confidence
    already stops the search. Several targets: no root answer on one-image models, 1 filter pass per target on
    global-local ones (README "Baselines")."""
    assert rec["fp_extract"] == 1 and rec["num_pop"] >= 1 and rec["final_mode"]
    nodes = [r for rois in rec["rois"].values() for r in rois]
    targets, popped = len(rec["rois"]), sum(bool(r.get("popped")) for r in nodes)
    queued = sum(r.get("depth", 0) >= 1 for r in nodes)
    assert popped == rec["num_pop"] and queued in (0, 2 * targets), (popped, queued)
    if targets == 1:
        assert rec["fp"] == popped + 2 * queued
    else:
        assert popped + 2 * queued - targets <= rec["fp"] <= popped + 2 * queued + targets


# (method, extra overrides, rule); each method of conf/method needs at least one row
CASES = [
    ("focus", ("ranker.n_steps=1", "ranker.overrun=false"), focus_rule),
    ("vanilla", (), vanilla_rule),
    ("vicrop", ("method.map=rel_att",), vicrop_rule),
    ("vicrop", ("method.map=grad_att",), vicrop_rule),
    ("zoomeye", ("method.depth_limit=1", "method.split_num=2"), zoomeye_rule),
]

_ADAPTERS = {}


def compose_cfg(model, method, overrides, tiny_cache):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(config_name="config", overrides=[
            f"model={model}", "dataset=synthetic", "dataset.limit=1", f"method={method}", *overrides,
            "logger.wandb.mode=disabled", f"tiny_cache_dir={tiny_cache}"])


def adapter_of(cfg):
    """One loaded adapter per model config for the whole session."""
    name = cfg.model.get("name") or cfg.model.adapter._target_
    if name not in _ADAPTERS:
        _ADAPTERS[name] = build(cfg.model.adapter)
    return _ADAPTERS[name]


def test_every_method_has_an_fp_rule():
    assert sorted({m for m, _, _ in CASES}) == METHODS, "add a row (and its fp rule) to CASES for each new method"


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("method,overrides,rule", CASES,
                         ids=[f"{m}{'-' + o[0].split('=')[1] if m == 'vicrop' else ''}" for m, o, _ in CASES])
def test_method_on_model(model, method, overrides, rule, tiny_cache):
    import torch
    torch.set_num_threads(1)
    cfg = compose_cfg(model, method, overrides, tiny_cache)
    dataset, built = validate(cfg)  # the run's own checks: config values, layer numbers against the model's depth
    adapter = adapter_of(cfg)
    sample = next(iter(dataset))
    rec = process_sample(sample, built, adapter, adapter.device, cfg.dataset.benchmark)
    assert rec["error"] is None, rec.get("traceback")
    assert rec["prediction"] is not None and isinstance(rec["fp"], int)
    assert rec["calls"] >= 1 + (method != "vanilla")
    rule(rec, overrides)
