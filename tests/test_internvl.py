"""InternVL3/3.5 (focus/models/internvl.py) on its tiny twin: the same checks as the paper's families — pixel-planted
geometry at 14 image sizes, target tokens, single-token Yes/No, image-prefix reuse, the OneVision smoothing path,
and FOCUS, vanilla, ZoomEye and ViCrop each on one sample end to end."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from pixel_probe import check_size, make_probe
from test_cost import PROMPT, TARGETS, picture

from focus.core.cost import totals

from focus import FocusError
from focus.models.internvl import InternVLAdapter, tiled_layout, tiles_in_image_order

SIZES = [
    (448, 448),                        # one tile: no thumbnail
    (500, 500), (1024, 768),           # square-ish, V*-like
    (1000, 600), (1200, 700),          # 3×2 tiles
    (1500, 500), (2250, 680),          # wide 3:1
    (400, 1200), (700, 2100),          # tall 1:3
    (30, 20), (160, 120), (64, 900),   # tiny (upsampled), thin
    (4000, 3000), (5000, 400),         # above the processor's 12 tiles: 4×3, 12×1
]
LARGE_BOXES = {(30, 20), (160, 120), (64, 900)}  # cells smaller than the bicubic spread: bounds only


@pytest.fixture(scope="module")
def adapter(adapter_factory):
    return adapter_factory("internvl")


@pytest.fixture(scope="module")
def probe(tiny_cache):
    """The processor's own maximum (12 tiles), as the -HF checkpoints ship it."""
    return make_probe(InternVLAdapter(tiny=True, tiny_cache_dir=tiny_cache, device="cpu"))


def test_changed_pixels_reach_exactly_the_reported_cells(probe):
    assert probe.adapter.max_tiles == 12
    for w, h in SIZES:
        large = (w, h) in LARGE_BOXES
        exact = check_size(probe, w, h, loose=large)
        if not large:  # one cell off fails
            assert exact, f"internvl {w}x{h}: the boxes were not placed where the check is exact"


def test_layout_from_the_processor_and_first_principles(probe):
    """Tiles and grid against the processor's own patch count; tile-major positions re-laid in image order."""
    adapter = probe.adapter
    ip = adapter.processor.image_processor
    for w, h in [(448, 448), (1500, 500), (5000, 400), (4000, 3000), (700, 2100)]:
        layout, tiles = tiled_layout(w, h, 448, 16, 1, 12)
        n = ip.get_number_of_image_patches(h, w, {"crop_to_patches": True})
        assert n == tiles + (tiles > 1)  # + the thumbnail
        assert layout.rows * layout.cols == tiles * 256 and layout.region == (0.0, 0.0, float(w), float(h))
        assert layout.cols / layout.rows == pytest.approx(w / h, rel=0.5)
    assert tiled_layout(5000, 400, 448, 16, 1, 12)[0].cols == 12 * 16
    order = tiles_in_image_order(torch.arange(2 * 3 * 16 * 16), 2, 3, 16).reshape(32, 48)
    for r, c in [(0, 0), (0, 17), (15, 47), (16, 0), (31, 33), (20, 5)]:
        tile = (r // 16) * 3 + c // 16
        assert order[r, c] == tile * 256 + (r % 16) * 16 + c % 16


@pytest.mark.parametrize("target", ["red car", "cat", "person's umbrella"])
def test_target_positions_decode_to_the_target(adapter, target):
    fpass = adapter.relevance_pass(Image.new("RGB", (600, 300)), PROMPT, target)
    ids = fpass.input_ids[fpass.target_positions].tolist()
    assert fpass.target_positions == list(range(fpass.target_positions[0], fpass.target_positions[-1] + 1))
    assert adapter.tokenizer.decode(ids).strip() == target
    specials = {adapter.image_token_id, adapter.processor.start_image_token_id, adapter.processor.end_image_token_id}
    assert not specials & set(ids)
    assert fpass.target_positions[0] > int(fpass.visual_positions.max())


def test_yes_no_are_single_tokens_and_the_models_logits(adapter):
    assert adapter.tokenizer.decode([adapter.yes_id]) == "Yes" and adapter.tokenizer.decode([adapter.no_id]) == "No"
    scripted = torch.tensor([[4.0, -1.0], [-3.0, 2.0]])

    def script(_module, _inputs, logits):
        logits = logits.clone()
        logits[:, -1, adapter.yes_id], logits[:, -1, adapter.no_id] = scripted[:, 0], scripted[:, 1]
        return logits

    handle = adapter.model.lm_head.register_forward_hook(script)
    try:
        got = adapter.yes_no_logits([Image.new("RGB", (300, 200)), Image.new("RGB", (120, 400))],
                                    [PROMPT.format(target="cat"), PROMPT.format(target="red car")])
    finally:
        handle.remove()
    torch.testing.assert_close(got, scripted)


def test_shared_image_prefix_gives_the_maps_of_separate_passes(adapter_factory, adapter):
    """tests/test_cost.py's check on InternVL (features, positions, calls, tokens and maps equal those of separate
    passes), then what is InternVL's own: every layer read, tiles + thumbnail encoded once, and the global-local map
    smoothed and downsampled."""
    import test_cost
    from focus.stages.relevance import Relevance

    test_cost.test_shared_image_prefix_gives_the_maps_of_separate_passes(adapter_factory, "internvl")
    image = picture()
    adapter.cost.reset()
    passes = adapter.relevance_passes(image, PROMPT, TARGETS, reuse_prefix=True)
    assert all(p.read_layers() == list(range(adapter.num_layers)) for p in passes)
    assert totals(adapter.cost.snapshot())["vision_images"] > 1  # tiles + thumbnail, encoded once for all targets
    maps = Relevance(layers=(1, 3), local_sigma=1.0, local_downsample=2).maps(adapter, image, TARGETS)
    layout = adapter.layout(image)
    for grid_map in maps.values():  # the global-local path of Sec. 3.2: smoothed and downsampled by 2
        assert grid_map.grid.shape == (-(-layout.rows // 2), -(-layout.cols // 2))
        assert grid_map.grid.sum().item() == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize("method", ["focus", "vanilla", "zoomeye", "vicrop"])
def test_each_method_answers_one_sample(adapter, method):
    """The method from its config (model=tiny_internvl), on one synthetic sample, through the runner's
    `process_sample`: no error record, an answer, its forward passes counted."""
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from conftest import ROOT
    from focus.harness.config import build
    from focus.harness.runner import process_sample
    from focus.harness.validate import check_config

    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose(config_name="config", overrides=["model=tiny_internvl", "dataset=synthetic",
                                                       f"method={method}", "dataset.limit=1"])
    OmegaConf.resolve(cfg)
    check_config(cfg)  # the per-family settings pass validation (ZoomEye's InternVL lower threshold is -0.2)
    sample = next(iter(build(cfg.dataset.loader)))
    sample.load_image = lambda: picture()  # a 500×300 picture: 2×1 tiles + thumbnail, keeps the tiny run short
    rec = process_sample(sample, build(cfg.method), adapter, "cpu", "vstar")
    assert rec["error"] is None, rec.get("traceback")
    assert rec["prediction"] is not None and rec["fp_answer"] >= 1 and rec["calls"] >= 1
    assert rec["fp"] >= (0 if method == "vanilla" else 1)  # FOCUS: relevance pass + ROIs; ZoomEye, ViCrop: search passes


def test_missing_checkpoint_is_one_line_saying_how_to_get_it():
    with pytest.raises(FocusError) as err:
        InternVLAdapter(path="OpenGVLab/InternVL3_5-8B-HF", device="cpu")
    assert "\n" not in str(err.value) and "hf download OpenGVLab/InternVL3_5-8B-HF" in str(err.value)


def test_features_are_values_and_pre_rope_keys_after_k_norm(adapter):
    """Qwen3 LLM: `values` = v_proj outputs; `keys_norope` = the keys as RoPE receives them, i.e. after the per-head
    k_norm (not the raw k_proj output); the shared-prefix passes give the same pre-RoPE keys."""
    image = picture()
    outputs = {"v_proj": [], "k_norm": [], "k_proj": []}
    handles = [getattr(layer.self_attn, name).register_forward_hook(
        lambda _m, _i, out, name=name: outputs[name].append(out[0].detach().float()))
        for layer in adapter.model.model.language_model.layers for name in outputs]
    try:
        values = adapter.relevance_pass(image, PROMPT, "red car", capture="values")
        keys = adapter.relevance_pass(image, PROMPT, "red car", capture="keys_norope")
    finally:
        for h in handles:
            h.remove()
    n, layers = len(values.input_ids), adapter.num_layers
    for i in range(layers):
        kv_heads, _, head_dim = values.features[i].shape
        torch.testing.assert_close(values.features[i], outputs["v_proj"][i].reshape(n, kv_heads, head_dim).transpose(0, 1))
        torch.testing.assert_close(keys.features[i], outputs["k_norm"][layers + i].transpose(0, 1))
        assert (keys.features[i] - outputs["k_proj"][layers + i].reshape(n, kv_heads, head_dim).transpose(0, 1)).abs().max() > 1e-3
    separate = adapter.relevance_passes(image, PROMPT, TARGETS, capture="keys_norope", reuse_prefix=False)
    shared = adapter.relevance_passes(image, PROMPT, TARGETS, capture="keys_norope", reuse_prefix=True)
    for a, b in zip(separate, shared):
        for fa, fb in zip(a.features, b.features):
            torch.testing.assert_close(fa, fb, atol=1e-5, rtol=1e-5)
