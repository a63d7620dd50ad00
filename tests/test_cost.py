"""Cost per question (focus/core/cost.py, README "Cost per question"): what the meter records, and the three savings that
must not change a result — the image prefix shared across targets, the early stop after layer L-1, the existence
checks of several targets in shared batches."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
import torch
from PIL import Image

from focus.core.cost import CostMeter, stage, totals
from focus.stages.proposer import ROI
from focus.stages.ranker import ExistenceRanker
from focus.stages.relevance import Relevance
from fixtures import TEST_DEFAULTS
from test_pipeline_scripted import ScriptedModel, focus, sample, scene

FAMILIES = ["llava15", "llava_ov", "qwen25vl"]
PROMPT = "Is there a {target} in the image? Answer Yes or No."
# "red car" and "red umbrella" share a word after the image, "cat" does not: the shared prefix ends before the target
TARGETS = ["red car", "cat", "red umbrella"]
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def picture() -> Image.Image:
    """A non-uniform, non-square picture, so every visual token differs."""
    image = Image.new("RGB", (500, 300), (120, 30, 200))
    image.paste((250, 240, 10), (40, 60, 180, 200))
    image.paste((10, 200, 90), (300, 20, 480, 120))
    return image


def test_meter_charges_the_innermost_stage():
    meter = CostMeter()
    with meter.stage("ranking"):
        with meter.model_call(prefill_tokens=100, vision_images=2):
            time.sleep(0.02)
        with meter.stage("answer"):  # nested: its time and calls are not the ranking's
            with meter.model_call(prefill_tokens=7):
                pass
            time.sleep(0.02)
    with meter.model_call(prefill_tokens=5):  # outside every stage
        pass
    out = meter.snapshot(total_seconds=1.0)
    assert list(out) == ["ranking", "answer", "other"]
    assert (out["ranking"]["calls"], out["ranking"]["prefill_tokens"], out["ranking"]["vision_images"]) == (1, 100, 2)
    assert (out["answer"]["calls"], out["answer"]["prefill_tokens"]) == (1, 7)
    assert (out["other"]["calls"], out["other"]["prefill_tokens"]) == (1, 5)
    assert 0.02 <= out["ranking"]["model_seconds"] <= out["ranking"]["seconds"] < 0.035
    assert 0.02 <= out["answer"]["seconds"] < 0.035
    assert out["other"]["seconds"] == pytest.approx(1.0 - out["ranking"]["seconds"] - out["answer"]["seconds"], abs=1e-5)
    assert totals(out)["calls"] == 3


@pytest.mark.parametrize("family", FAMILIES)
def test_model_calls_are_metered_with_their_tokens_and_images(adapter_factory, family):
    """One batched yes/no forward on two crops: one call, B × padded length prefill tokens (counted here from the
    processor's own output), the crops the vision tower encodes (OneVision: every anyres tile of each crop)."""
    adapter = adapter_factory(family)
    crops = [Image.new("RGB", (300, 200), (255, 0, 0)), Image.new("RGB", (120, 400), (0, 0, 255))]
    prompts = [PROMPT.format(target="cat"), PROMPT.format(target="red car")]
    adapter.cost.reset()
    with stage(adapter, "ranking"):
        adapter.yes_no_logits(crops, prompts)
    got = adapter.cost.snapshot()["ranking"]
    if family == "llava_ov":  # pixel_values: [crops, tiles of the most tiled crop, 3, H, W]
        tiles = sum(adapter.processor(text=[adapter.chat(1, p)], images=[c], return_tensors="pt")["pixel_values"].shape[1]
                    for c, p in zip(crops, prompts))
        assert tiles > 2
    else:
        tiles = 2
    ids = adapter.processor(text=[adapter.chat(1, p) for p in prompts], images=crops, padding=True,
                           return_tensors="pt")["input_ids"]
    assert (got["calls"], got["prefill_tokens"], got["vision_images"]) == (1, ids.shape[0] * ids.shape[1], tiles)
    assert 0 < got["model_seconds"] <= got["seconds"] and 0 < got["preprocess_seconds"] <= got["seconds"]


@pytest.mark.parametrize("family", FAMILIES)
def test_shared_image_prefix_gives_the_maps_of_separate_passes(adapter_factory, family):
    """Three targets: with the image prefix shared, the image is encoded once, two calls run (the first target in
    full, the other suffixes batched) and fewer tokens are computed — and every feature, target position and map is
    that of a separate pass (1e-5)."""
    adapter = adapter_factory(family)
    image = picture()
    counts = {}
    passes = {}
    for reuse in (False, True):
        adapter.cost.reset()
        passes[reuse] = adapter.relevance_passes(image, PROMPT, TARGETS, reuse_prefix=reuse)
        counts[reuse] = totals(adapter.cost.snapshot())
    for separate, shared in zip(passes[False], passes[True]):
        assert shared.input_ids.tolist() == separate.input_ids.tolist()
        assert shared.target_positions == separate.target_positions
        assert len(shared.features) == len(separate.features) == adapter.num_layers
        for a, b in zip(shared.features, separate.features):
            torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    assert (counts[False]["calls"], counts[True]["calls"]) == (3, 2)
    assert counts[True]["vision_images"] * 3 == counts[False]["vision_images"]
    n_visual = len(passes[True][0].visual_positions)
    assert counts[False]["prefill_tokens"] - counts[True]["prefill_tokens"] >= 2 * n_visual
    maps = {reuse: Relevance(layers=(1, 3), reuse_image_prefix=reuse, early_stop=False).maps(adapter, image, TARGETS)
            for reuse in (False, True)}
    for t in TARGETS:
        torch.testing.assert_close(maps[True][t].grid, maps[False][t].grid, atol=1e-5, rtol=0)
    assert not torch.allclose(maps[True]["cat"].grid, maps[True]["red car"].grid, atol=1e-4)  # the targets matter


@pytest.mark.parametrize("family", FAMILIES)
def test_early_stop_runs_no_layer_from_L_on(adapter_factory, family):
    """layers [0, 2) of a 4-layer model: layers 2 and 3 and the LM head never run, the map is unchanged."""
    adapter = adapter_factory(family)
    image = picture()
    runs = {}

    def count(name):
        return lambda *_: runs.__setitem__(name, runs.get(name, 0) + 1)

    modules = {f"layer{i}": layer for i, layer in enumerate(adapter.model.model.language_model.layers)}
    modules["lm_head"] = adapter.model.lm_head
    maps = {}
    for early in (True, False):
        runs.clear()
        handles = [m.register_forward_hook(count(name)) for name, m in modules.items()]
        try:
            maps[early] = Relevance(layers=(0, 2), early_stop=early).maps(adapter, image, TARGETS)
        finally:
            for h in handles:
                h.remove()
        if early:  # two calls (one full pass, one batched suffix pass) through layers 0 and 1 only
            assert runs == {"layer0": 2, "layer1": 2}
        else:
            assert runs == {**{f"layer{i}": 2 for i in range(adapter.num_layers)}, "lm_head": 2}
    for t in TARGETS:
        torch.testing.assert_close(maps[True][t].grid, maps[False][t].grid, atol=1e-6, rtol=0)


class CountingModel(ScriptedModel):
    def __init__(self, targets_answer):
        super().__init__(targets_answer)
        self.batches = []

    def yes_no_logits(self, images, prompts):
        self.batches.append(list(prompts))
        return super().yes_no_logits(images, prompts)


@pytest.mark.parametrize("batch_size,calls", [(8, 1), (3, 2)])
def test_existence_checks_of_all_targets_share_batches(batch_size, calls):
    """Two targets, n_steps = 2: their four first-step checks go in shared batches of `batch_size`; the record (fp,
    confidences, boxes, answer) is the one of one batch per target."""
    records, models = {}, {}
    for batched in (False, True):
        models[batched] = CountingModel("car and truck")
        ranker = ExistenceRanker(n_steps=2, overrun=False, batch_size=batch_size, batch_targets=batched)
        records[batched] = focus(ranker=ranker)(models[batched], sample("What is the colour of the car?"), scene())
    assert records[True] == records[False] and records[True]["fp"] == 2 + 4
    assert [len(b) for b in models[False].batches] == [2, 2]
    assert len(models[True].batches) == calls and sum(map(len, models[True].batches)) == 4
    assert {p.split()[3] for p in models[True].batches[0]} == {"car", "truck"}


def test_type2_rois_share_batches_too():
    """"How many cars": every ROI of the type-2 target and the first step of the other share batches of 8."""
    records, models = {}, {}
    for batched in (False, True):
        models[batched] = CountingModel("all cars and truck")
        ranker = ExistenceRanker(n_steps=2, overrun=False, batch_size=8, batch_targets=batched)
        records[batched] = focus(ranker=ranker)(models[batched], sample("How many cars are there?"), scene())
    n_cars = len(records[True]["rois"]["cars"])
    assert records[True] == records[False] and records[True]["type2_targets"] == ["cars"]
    assert records[True]["fp"] == 2 + n_cars + 2 and n_cars == 11  # relevance passes + every car ROI + 2 truck ROIs
    assert [len(b) for b in models[True].batches] == [8, 5]  # not [8, 3] + [2] for the cars, [2] for the truck
    assert [len(b) for b in models[False].batches] == [8, 3, 2]


def test_shared_batches_then_overrun_one_by_one():
    """batch_targets scores each target's first step together; an overrun (every first-step ROI said No) then goes on
    one ROI per forward for that target only, exactly as without shared batches."""
    def roi(target, i):
        return ROI(cells=(i, 0, i + 1, 1), anchor=(i, 0), anchor_score=1.0 - i / 10, target=target,
                   box=(0, 0, 10 + i, 10))

    says = {"car": [-1.0, -1.0, -1.0, 1.0], "cat": [1.0, -1.0, -1.0, -1.0]}  # car: Yes only at its 4th ROI

    class Stub:
        def __init__(self):
            self.batches = []

        def yes_no_logits(self, crops, prompts):
            self.batches.append([(p.split()[3], c.size[0] - 10) for c, p in zip(crops, prompts)])
            return torch.tensor([[says[t][i], 0.0] for t, i in self.batches[-1]])

    stub, ranker = Stub(), ExistenceRanker(n_steps=2, overrun=True, batch_targets=True)
    rois = {t: [roi(t, i) for i in range(4)] for t in says}
    assert ranker.score_first_steps(rois, set(), stub, Image.new("RGB", (50, 50))) == 1
    results = {t: ranker(rois[t], stub, Image.new("RGB", (50, 50))) for t in says}
    assert stub.batches == [[("car", 0), ("car", 1), ("cat", 0), ("cat", 1)], [("car", 2)], [("car", 3)]]
    assert results["car"][1] == 4 and results["cat"][1] == 2  # evaluations (fp) per target, as without sharing
    assert results["car"][0][0].anchor == (3, 0) and results["cat"][0][0].anchor == (0, 0)


def test_pipeline_cost_benchmark_runs_both_variants(tmp_path, tiny_cache):
    """The benchmark's one-run comparison: both variants on the same samples, the same fp, boxes and answers, and the
    optimised one computing fewer prefill tokens (layers [0, 14) of 32: the early stop is exercised too)."""
    out = tmp_path / "cost.json"
    proc = subprocess.run([sys.executable, "benchmarks/pipeline_cost.py", "--samples", "2", "--warmup", "0",
                           "--out", str(out), *TEST_DEFAULTS, "relevance.layers=[0,14]", f"tiny_cache_dir={tiny_cache}"],
                          cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text())
    assert set(result["variants"]) == {"baseline", "optimised"} and result["samples"] == 2
    assert result["identical"] == {"fp": 2, "prediction": 2, "chosen_boxes": 2, "of": 2}
    base, opt = (result["variants"][v] for v in ("baseline", "optimised"))
    assert base["fp"] == opt["fp"] > 0
    for field in ("prefill_tokens", "vision_images"):
        assert opt["per_stage"]["relevance"][field] <= base["per_stage"]["relevance"][field]
    assert result["ratios"]["relevance model_seconds"] > 0 and "baseline / optimised" in proc.stdout
    for stage_name in ("targets", "relevance", "proposals", "ranking", "answer"):
        assert stage_name in opt["per_stage"]
