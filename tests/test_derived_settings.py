"""Settings for a model the paper never tuned (focus/models/derived_settings.py, README "Settings for a model the
paper never tuned"): the rule gives back Table 7 where the paper tuned, and the untuned configs carry its values."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from conftest import ROOT
from focus.models.derived_settings import (VSTAR_IMAGE, cell_px_anyres, cell_px_native, cell_px_tiled, derive,
                                           relevance_layers, s_max_for, shipped_families)


def test_layers_are_the_last_half_inside_app_a3():
    assert relevance_layers(28) == (14, 28)  # = Sec. 4.1's OneVision range and qwen25vl.yaml
    assert relevance_layers(36) == (18, 36)
    assert relevance_layers(32) == (16, 32)
    assert relevance_layers(4) == (2, 4)
    for depth in range(4, 81):
        start, end = relevance_layers(depth)
        assert end == depth and 0.25 <= (end - start) / depth <= 0.6


def test_s_max_gives_back_table7():
    assert s_max_for(cell_px_anyres(VSTAR_IMAGE), 384) == 9  # LLaVA-OneVision on V*Bench
    assert s_max_for(cell_px_anyres((7680, 4320)), 384) == 5  # ... elsewhere (8K)
    assert s_max_for(max(VSTAR_IMAGE) / 24, 336) == 5  # LLaVA-1.5 (the floor of 5)
    assert s_max_for(100.0, 448) == 5 and s_max_for(50.0, 448) == 9  # ceil(448 / 50) = 9
    settings = derive(36, 50.0, 448)
    assert settings.crop_px == 450.0 and 1 <= settings.crop_ratio <= 2


def test_cells_per_family():
    assert cell_px_native((1000, 1000), 28, 10 ** 7) == 28  # below max_pixels: not scaled
    assert cell_px_native((4000, 1000), 32, 10 ** 6) == pytest.approx(64)  # scaled by sqrt(4)
    assert cell_px_tiled((1344, 896), 448, 16, 12) == pytest.approx(1344 / 48 * 2)  # 3×2 tiles, map ×2 coarser


def test_untuned_configs_carry_the_rules_values():
    rule = shipped_families()["internvl3_5-8b max_tiles=12"]
    cfg = OmegaConf.load(ROOT / "conf" / "model" / "internvl.yaml").hparams
    assert tuple(cfg.layers) == rule.layers and cfg.s_max == rule.s_max
    assert (cfg.k, cfg.s_min, cfg.s_dist, cfg.t_type2) == (rule.k, rule.s_min, rule.s_dist, rule.t_type2)
