"""Resolution presets (`model.preset`, conf/model/*.yaml `presets`; README "Resolution presets")."""

import pytest
from omegaconf import OmegaConf

from focus import FocusError
from focus.harness.validate import check_values
from tests.test_vanilla_cache import compose_cfg


@pytest.mark.parametrize("model, preset, min_pixels, max_pixels", [
    ("qwen25vl", "paper", 3136, 1003520),
    ("qwen25vl", "lmms_eval", 256 * 28 * 28, 2048 * 28 * 28),        # lmms-eval qwen2_5_vl defaults
    ("qwen25vl", "vlmevalkit", 1280 * 28 * 28, 16384 * 28 * 28),     # VLMEvalKit config.py
    ("tiny_qwen25vl", "paper", 3136, 1024 * 28 * 28),
    ("tiny_qwen25vl", "vlmevalkit", 1280 * 28 * 28, 16384 * 28 * 28),
])
def test_preset_sets_qwen_pixels(model, preset, min_pixels, max_pixels):
    cfg = compose_cfg([f"model={model}", f"model.preset={preset}"])
    check_values(cfg)
    adapter = OmegaConf.to_container(cfg.model.adapter, resolve=True)
    assert (adapter["min_pixels"], adapter["max_pixels"]) == (min_pixels, max_pixels)


def test_explicit_option_beats_the_preset_and_unknown_preset_is_refused():
    cfg = compose_cfg(["model=qwen25vl", "model.preset=vlmevalkit", "model.adapter.max_pixels=500000"])
    assert cfg.model.adapter.max_pixels == 500000 and cfg.model.adapter.min_pixels == 1003520
    for model in ("qwen25vl", "llava15", "llava_ov", "demo_llava15"):
        check_values(compose_cfg([f"model={model}", "model.preset=lmms_eval"]))
        with pytest.raises(FocusError, match="model.preset must be one of paper, lmms_eval, vlmevalkit"):
            check_values(compose_cfg([f"model={model}", "model.preset=lmms"]))


def compose_budget(overrides):
    from pathlib import Path

    from hydra import compose, initialize_config_dir

    import focus.harness.config  # noqa: F401  (registers the focus.* resolvers)
    root = Path(__file__).resolve().parent.parent
    with initialize_config_dir(config_dir=str(root / "experiments"), version_base="1.3"):  # = --config-dir
        return compose(config_name="budget_matched",
                       overrides=[f"hydra.searchpath=[file://{root / 'conf'}]", *overrides])


def test_budget_matched_scales_the_input_where_the_family_can_and_refuses_elsewhere():
    cfg = compose_budget(["+budget=vanilla_s2"])  # the demo model (LLaVA-1.5 geometry)
    check_values(cfg)
    assert cfg.method.name == "vanilla" and cfg.model.adapter.resolution_scale == 2 and cfg.run.vanilla_reference
    cfg = compose_budget(["+budget=vanilla_s1_5", "model=tiny_qwen25vl"])
    assert cfg.model.adapter.resolution_scale == 1.5
    assert compose_budget(["+budget=focus"]).method.name == "focus"
    with pytest.raises(FocusError, match="llava_ov adapter has no adjustable input resolution"):
        check_values(compose_budget(["+budget=vanilla_s2", "model=llava_ov"]))
