"""benchmarks/real_size.py: the published configurations build the models the paper and the hub name (parameter
counts on the meta device, no memory), and `--smoke` runs the benchmark's whole code path (model built on the
device in bf16, handed to the adapter, methods timed per stage) so the script cannot rot."""

import json
import sys

import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))

# parameters of the hub checkpoints (model cards); the last two were written without a download: looser bound
PUBLISHED_BILLIONS = {"llava15": (7.06, 0.01), "llava_ov": (8.03, 0.01), "qwen25vl": (8.29, 0.01),
                      "qwen3vl": (8.77, 0.01), "internvl": (8.5, 0.05), "llava_ov15": (8.5, 0.05)}


@pytest.mark.parametrize("key", sorted(PUBLISHED_BILLIONS))
def test_published_configs_have_the_published_size(key):
    import real_size

    expected, tolerance = PUBLISHED_BILLIONS[key]
    assert real_size.parameters_billion(key) == pytest.approx(expected, rel=tolerance)


def test_smoke_runs_the_benchmark_code_path(tmp_path, tiny_cache):
    import real_size

    out = tmp_path / "smoke.json"
    status = real_size.main(["--smoke", "--models", "llava15", "--methods", "vanilla,focus", "--tiny-cache",
                             tiny_cache, "--out", str(out)])
    assert status == 0
    result = json.loads(out.read_text())
    assert result["dtype"] == "bfloat16" and result["smoke"] is True
    runs = result["models"]["llava15"]
    # the adapter runs the model the benchmark built (the smoke config), not the tiny checkpoint its processor is from
    import torch
    from real_size_models import MODELS, smoke_config
    built = real_size.build_model(smoke_config(MODELS["llava15"]["config"]), None, torch.bfloat16, "meta", "sdpa")
    assert runs["_parameters_billion"] * 1e9 == pytest.approx(sum(p.numel() for p in built.parameters()), abs=1)
    # 24x24 = 576 image tokens per LLaVA-1.5 image (CLIP 336/14, from the published config)
    assert runs["vanilla"]["fp"] == 0 and runs["vanilla"]["vision_images"] == 1
    assert 576 < runs["vanilla"]["prefill_tokens"] < 576 + 200
    focus = runs["focus"]
    # one target, Steps-2 without overrun: 1 relevance pass + 2 existence evaluations; answer on one crop
    assert focus["fp"] == 3 and focus["fp_extract"] == 1 and focus["errors"] == []
    assert {"targets", "relevance", "ranking", "answer"} <= set(focus["per_stage"])
    assert focus["per_stage"]["relevance"]["prefill_tokens"] >= 576
    table = out.with_suffix(".md").read_text()
    assert "| llava15 | focus |" in table and "Fixed workload" in table


@pytest.mark.parametrize("key", sorted(PUBLISHED_BILLIONS))
def test_smoke_configs_build_and_run_the_language_model(key):
    """--smoke's shrunken configs (4 layers, small widths, mrope sections and DeepStack layers rescaled) build on
    the CPU in bf16 for every family, also those whose adapter is not merged yet, and give finite logits."""
    import torch

    import real_size
    from real_size_models import MODELS, SMOKE_TEXT, smoke_config

    model = real_size.build_model(smoke_config(MODELS[key]["config"]), None, torch.bfloat16, "cpu", "sdpa")
    assert model.dtype == torch.bfloat16 and model.config.text_config.num_hidden_layers == 4
    with torch.inference_mode():
        logits = model(input_ids=torch.tensor([[5, 6, 7]])).logits
    assert logits.shape == (1, 3, SMOKE_TEXT["vocab_size"]) and torch.isfinite(logits).all()
