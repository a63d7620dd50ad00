"""Caches that do not hold every layer's values (focus/models/cache_layers.py, README "Caches that do not hold every
layer's values"): sliding-window (Gemma 3/4), linear-attention (Qwen3.5) and K/V-sharing (Gemma 4) layers are
refused as relevance layers before any weights load, and at run time a pass says which layers it read."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from conftest import ROOT
from focus import FocusError
from focus.models.cache_layers import check_value_layers, layer_problems, value_layers

TINY = dict(hidden_size=32, intermediate_size=64, num_attention_heads=2, num_key_value_heads=1, head_dim=16,
            vocab_size=128)


def gemma3_text(layers=12, window=512):
    from transformers import Gemma3TextConfig
    return Gemma3TextConfig(num_hidden_layers=layers, sliding_window=window, **TINY)


def test_layer_kinds_read_from_the_configs():
    from transformers import Qwen2Config
    from transformers.models.gemma4.configuration_gemma4 import Gemma4TextConfig
    from transformers.models.qwen3_5.configuration_qwen3_5 import Qwen3_5TextConfig

    assert value_layers(gemma3_text(12)) == [5, 11]  # five sliding layers per full one
    assert value_layers(Qwen3_5TextConfig(num_hidden_layers=8)) == [3, 7]  # three linear per full one
    g4 = Gemma4TextConfig(num_hidden_layers=12, num_kv_shared_layers=4)
    problems = layer_problems(g4)
    assert value_layers(g4) == [5]  # layer 11 is full attention but reuses an earlier layer's K/V
    assert "shared" in problems[11] and "sliding" in problems[0]
    assert value_layers(Qwen2Config(num_hidden_layers=6, **TINY)) == list(range(6))  # full attention everywhere


def test_check_names_the_bad_layers_and_the_good_ones():
    config = gemma3_text(12, window=64)
    check_value_layers(config, [5, 11], "g")  # full-attention layers pass
    with pytest.raises(FocusError) as err:
        check_value_layers(config, [3, 4, 5], "g")
    msg = str(err.value)
    assert "\n" not in msg and "layers 3-4 are sliding-window attention (window 64" in msg
    assert "layers that keep every token's values: 5, 11" in msg


def test_gemma3_run_refused_before_weights_load(tmp_path):
    """A tiny Gemma 3 checkpoint built offline (the real config class, saved as a hub folder holds it, WITHOUT
    weights: any attempt to load them would fail differently): exit 2, one line naming the reason."""
    from transformers import Gemma3Config, SiglipVisionConfig

    folder = tmp_path / "tiny_gemma3"
    Gemma3Config(text_config=gemma3_text(6).to_dict(),
                 vision_config=SiglipVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                                                  num_attention_heads=2, image_size=896, patch_size=14)
                 ).save_pretrained(folder)
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    proc = subprocess.run([sys.executable, "-m", "focus.run", "model=llava_ov", f"model.path={folder}",
                           "model.hparams.layers=[3,6]", "dataset=synthetic", "dataset.limit=1",
                           f"hydra.run.dir={tmp_path / 'run'}"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr[-2000:]
    assert "layers 3-4 are sliding-window attention" in lines[0] and "values: 5" in lines[0], lines[0]
    assert not (tmp_path / "run" / "samples.jsonl").exists()


def test_a_pass_says_which_layers_it_read():
    """A real Gemma 3 decoder with a 6-token window on a 20-token prompt: its sliding layers' cache keeps the last
    tokens only; their features are None (not a shifted window) and the map refuses them."""
    from transformers import DynamicCache, Gemma3ForCausalLM

    from focus.core.geometry import GridLayout
    from focus.models.base import FeaturePass, HFAdapter
    from focus.stages.relevance import Relevance

    torch.manual_seed(0)
    config = gemma3_text(6, window=6)
    model = Gemma3ForCausalLM(config).eval()
    cache = DynamicCache(config=config)
    with torch.inference_mode():
        model(input_ids=torch.arange(1, 21)[None], past_key_values=cache, use_cache=True)
    feats = HFAdapter._layer_features(cache, [], "values", 0, 20)
    assert [f is not None for f in feats] == [False] * 5 + [True]
    assert feats[5].shape == (1, 20, 16)
    layout = GridLayout(2, 4, (0.0, 0.0, 8.0, 4.0), (8, 4))
    fpass = FeaturePass(feats, [18], torch.arange(2, 10), layout, torch.arange(1, 21), [5])
    assert fpass.read_layers() == [5]
    rel = Relevance(layers=(5, 6))
    assert rel._from_pass(fpass, [5], adapter=type("A", (), {"local_grid": False})()).grid.shape == (2, 4)
    with pytest.raises(ValueError, match=r"relevance layers \[4\]"):
        rel._from_pass(fpass, [4, 5], adapter=None)
