"""Compose every config option and instantiate everything that needs no model (lightning-hydra-template style)."""

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from fixtures import TEST_DEFAULTS

from focus.harness.config import build
from focus.run import GROUPS, check_group_overrides

CONF = Path(__file__).resolve().parent.parent / "conf"


def options(group):
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


def compose_cfg(overrides):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(config_name="config", overrides=[*TEST_DEFAULTS, *overrides])


@pytest.mark.parametrize("group,option", [(g, o) for g in GROUPS for o in options(g)])
def test_every_option_composes_and_instantiates(group, option):
    cfg = compose_cfg([f"{group}={option}"])
    OmegaConf.resolve(cfg)
    assert cfg.model.adapter._target_.startswith("focus.models.")
    method = build(cfg.method)
    assert method.name == cfg.method.name
    if group == "dataset" and option != "synthetic":
        return  # benchmark loaders need a local copy or the hub; tested end to end with fixtures
    dataset = build(cfg.dataset.loader)
    assert next(iter(dataset)).id


@pytest.mark.parametrize("model,dataset,steps,k,s_max,s_dist,layers", [
    ("llava15", "vstar", 2, 15, 5, 2, [14, 32]),   # Table 7: k = 15 if n_steps < 4, s_dist = 2 on V*
    ("llava15", "hrbench4k", 4, 30, 5, 3, [14, 32]),
    ("llava_ov", "vstar", 2, 30, 9, 2, [21, 28]),  # s_max = 9 on V*Bench
    ("llava_ov", "hrbench8k", 8, 30, 5, 2, [21, 28]),
    ("tiny_llava15", "synthetic", 6, 30, 5, 2, [14, 32]),  # Table 7's range, of the 32 layers it refers to
])
def test_table7_hyperparameters(model, dataset, steps, k, s_max, s_dist, layers):
    cfg = compose_cfg([f"model={model}", f"dataset={dataset}", f"ranker.n_steps={steps}"])
    assert cfg.proposer.k == k and cfg.proposer.s_max == s_max and cfg.proposer.s_dist == s_dist
    assert list(cfg.relevance.layers) == layers and cfg.proposer.s_min == 3


@pytest.mark.parametrize("model,ref,tiny_layers", [("tiny_llava15", 32, [2, 3]), ("tiny_llava_ov", 28, [3]),
                                                   ("tiny_qwen25vl", 28, [2, 3]), ("llava15", None, None)])
def test_tiny_models_map_paper_layer_ranges(model, ref, tiny_layers):
    """Tiny configs declare the depth their (paper) layer numbers count; full models count their own layers."""
    from focus.stages.relevance import layer_range
    cfg = compose_cfg([f"model={model}"])
    assert cfg.relevance.layer_depth_ref == ref
    if ref:
        assert layer_range(list(cfg.relevance.layers), 4, ref) == tiny_layers


def test_overrides_replace_interpolations():
    cfg = compose_cfg(["model=llava_ov", "dataset=vstar", "proposer.s_max=7", "relevance.layers=[14,28]"])
    assert cfg.proposer.s_max == 7 and list(cfg.relevance.layers) == [14, 28]


def test_unknown_group_option_message():
    assert check_group_overrides(["model=llava15", "ranker.n_steps=3"]) is None
    msg = check_group_overrides(["-m", "relevance=values,nonsense"])
    assert msg.startswith("focus: unknown relevance 'nonsense'") and "keys_norope" in msg
