"""Qwen3-VL and LLaVA-OneVision-1.5 on their tiny checkpoints, as strong as the paper's families (design section 5):
the pixel-planted geometry at 12 image sizes (`pixel_probe.py`), the visual positions against the processor's own
grid, the processor made to agree with the model's patching, and the shared adapter contract (value features,
target tokens, Yes/No logits, image-prefix reuse, early stop, interleaved prompts, last-row attention) run through
the paper families' own test bodies. Then FOCUS, vanilla, ZoomEye and ViCrop each answer one sample end to end."""

from __future__ import annotations

import copy
import re

import pytest
import torch
from hydra import compose, initialize_config_dir
from PIL import Image

import test_adapter_contract as contract
import test_cost as cost
import test_vicrop as vicrop_tests
import test_zoomeye as zoomeye_tests
from fixtures import TEST_DEFAULTS
from pixel_probe import Probe, _NoMixing, check_size
from test_configs import CONF
from test_pixel_geometry import SIZES

from focus.harness.config import build
from focus.data.base import Sample

FAMILIES = ["qwen3vl", "llava_ov15"]
MARKERS = ("<|vision_start|>", "<|vision_end|>")
# Qwen3-VL upscales 30x20 to at least 256² px (the processor's minimum): its cells are 3.7 source px, smaller than
# the bicubic spread, so larger boxes and only the bounds are checked there (as LLaVA-1.5 at that size)
LARGE_BOXES = {"qwen3vl": {(30, 20)}}


def identity_blocks_copy(model):
    """A copy whose vision blocks (`visual.blocks.N`) pass their input through: attention contributes zeros and the
    MLP output layer (`linear_fc2` in Qwen3-VL, `fc2` in RiceViT) is zeroed, so no token mixes with another patch.
    DeepStack mergers and the final merger are kept (they act on one merged 2×2 block each)."""
    model = copy.deepcopy(model)
    replaced = 0
    for name, module in list(model.named_modules()):
        if not re.search(r"visual\.blocks\.\d+$", name):
            continue
        module.attn = _NoMixing(returns_weights=False)
        for out_name in ("linear_fc2", "fc2"):
            out = getattr(module.mlp, out_name, None)
            if isinstance(out, torch.nn.Linear):
                torch.nn.init.zeros_(out.weight)
                torch.nn.init.zeros_(out.bias)
                replaced += 1
    assert replaced == len(model.model.visual.blocks) >= 2
    return model


@pytest.fixture(scope="module")
def probes(adapter_factory):
    made = {}

    def make(family):
        if family not in made:
            adapter = adapter_factory(family)
            vision = adapter.model.config.vision_config  # one grid unit = a merged block of patches
            made[family] = Probe(adapter, identity_blocks_copy(adapter.model),
                                 vision.patch_size * vision.spatial_merge_size, 0.0, 0)
        return made[family]

    return make


@pytest.mark.parametrize("family", FAMILIES)
def test_changed_pixels_reach_exactly_the_reported_cells(probes, family):
    """12 sizes (square, 3:1, 1:3, tiny, thin, V*-like, above max_pixels): the changed input positions are exactly
    those of the cells holding the planted boxes (one cell off fails: the check is exact at every size but
    LARGE_BOXES)."""
    probe = probes(family)
    assert len(SIZES) >= 12
    large = LARGE_BOXES.get(family, set())
    inexact = [(w, h) for w, h in SIZES if not check_size(probe, w, h, loose=(w, h) in large) and (w, h) not in large]
    assert inexact == [], f"{family}: the boxes were not placed where the check is exact"


def processor_grid(adapter, inputs) -> tuple[int, int]:
    _, gh, gw = (int(v) for v in inputs["image_grid_thw"][0])
    merge = adapter.processor.image_processor.merge_size
    return gh // merge, gw // merge


@pytest.mark.parametrize("family", FAMILIES)
def test_visual_positions_are_the_tokens_between_the_vision_markers(adapter_factory, family):
    """Row-major on the processor's grid, every token strictly between <|vision_start|> and <|vision_end|>; the
    grid is the resized image over the model's own token size (patch · merge px), and the pixel values hold one
    patch of the model's shape per grid unit (a wrong temporal patch size doubles them)."""
    adapter = adapter_factory(family)
    vision = adapter.model.config.vision_config
    token_px = vision.patch_size * vision.spatial_merge_size
    start, end = (adapter.tokenizer.convert_tokens_to_ids(m) for m in MARKERS)
    for w, h in [(336, 336), (1500, 500), (400, 1200), (30, 20), (1200, 700), (3000, 1000)]:
        image = Image.new("RGB", (w, h), (40, 90, 160))
        inputs = adapter.encode([image], [adapter.chat(1, "Where is the cat?")])
        input_ids = inputs["input_ids"][0]
        rows, cols = processor_grid(adapter, inputs)
        positions, layout = adapter.visual_grid_positions(input_ids, inputs, image)
        assert (layout.rows, layout.cols) == (rows, cols), (family, w, h)
        ids = input_ids.tolist()
        first, last = ids.index(start), ids.index(end)
        assert torch.equal(positions, torch.arange(first + 1, last)), (family, w, h)
        assert layout.region == (0.0, 0.0, float(w), float(h)) and layout.image_size == (w, h)
        n_patches = rows * cols * vision.spatial_merge_size ** 2
        temporal = getattr(vision, "temporal_patch_size", 1)
        assert inputs["pixel_values"].shape == (n_patches, 3 * temporal * vision.patch_size ** 2)
        # the resized image the grid stands for stays within the pixel budget and keeps the aspect ratio
        assert rows * cols * token_px ** 2 <= adapter.max_pixels
        assert abs((cols / rows) / (w / h) - 1) < 0.35 or min(rows, cols) <= 2


@pytest.mark.parametrize("family", FAMILIES)
def test_processor_is_made_to_agree_with_the_models_patching(adapter_factory, family):
    """A checkpoint whose processor says 14-px patches, merge 1 and 2 frames is corrected to the model config's
    values (Qwen3-VL: 16, 2, 2; LLaVA-OneVision-1.5: 14, 2 and 1 frame — its patch embedding is 2-D)."""
    adapter = adapter_factory(family)
    ip = adapter.processor.image_processor
    vision = adapter.model.config.vision_config
    expected = (vision.patch_size, vision.spatial_merge_size, getattr(vision, "temporal_patch_size", 1))
    assert expected == ((16, 2, 2) if family == "qwen3vl" else (14, 2, 1))
    saved = (ip.patch_size, ip.merge_size, ip.temporal_patch_size, dict(ip.size))
    ip.patch_size, ip.merge_size, ip.temporal_patch_size = 13, 1, 3
    try:
        adapter.configure_processor()
        assert (ip.patch_size, ip.merge_size, ip.temporal_patch_size) == expected
        assert adapter.factor == vision.patch_size * vision.spatial_merge_size
    finally:
        ip.patch_size, ip.merge_size, ip.temporal_patch_size, ip.size = saved
        adapter.configure_processor()


def test_deepstack_reaches_the_first_decoder_layers_only(adapter_factory):
    """Qwen3-VL adds DeepStack features after decoder layers 0..n-1 at the visual positions: zeroing them changes
    the values of layers 1..n at visual positions and leaves layer 0 unchanged (see focus/models/qwen3vl.py)."""
    adapter = adapter_factory("qwen3vl")
    assert adapter.deepstack_layers == len(adapter.model.config.vision_config.deepstack_visual_indexes) == 2
    image = cost.picture()
    base = adapter.relevance_pass(image, contract.PROMPT, "red car")
    mergers = adapter.model.model.visual.deepstack_merger_list
    handles = [m.register_forward_hook(lambda _m, _i, out: torch.zeros_like(out)) for m in mergers]
    try:
        without = adapter.relevance_pass(image, contract.PROMPT, "red car")
    finally:
        for h in handles:
            h.remove()
    vis = base.visual_positions
    diffs = [float((a[:, vis] - b[:, vis]).abs().max()) for a, b in zip(base.features, without.features)]
    assert diffs[0] == 0.0 and diffs[1] > 1e-4 and diffs[2] > 1e-4, diffs


# --------------------------------------------- the paper families' adapter-contract test bodies, on these families
@pytest.mark.parametrize("family", FAMILIES)
def test_features_are_the_value_projections(adapter_factory, family):
    contract.test_features_are_the_value_projections(adapter_factory, family)


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("target", ["red car", "person's umbrella"])
def test_target_positions_decode_to_the_target(adapter_factory, family, target):
    contract.test_target_positions_decode_to_the_target(adapter_factory, family, target)


@pytest.mark.parametrize("family", FAMILIES)
def test_yes_no_single_tokens_and_logits_in_that_order(adapter_factory, family):
    adapter = adapter_factory(family)
    assert adapter.tokenizer.encode("Yes", add_special_tokens=False) == [adapter.yes_id]
    assert adapter.tokenizer.encode("No", add_special_tokens=False) == [adapter.no_id]
    assert adapter.yes_id != adapter.no_id
    contract.test_yes_no_logits_are_the_models_in_that_order(adapter_factory, family)


@pytest.mark.parametrize("family", FAMILIES)
def test_shared_image_prefix_gives_the_maps_of_separate_passes(adapter_factory, family):
    cost.test_shared_image_prefix_gives_the_maps_of_separate_passes(adapter_factory, family)


@pytest.mark.parametrize("family", FAMILIES)
def test_early_stop_runs_no_layer_from_L_on(adapter_factory, family):
    cost.test_early_stop_runs_no_layer_from_L_on(adapter_factory, family)


@pytest.mark.parametrize("family", FAMILIES)
def test_model_calls_are_metered(adapter_factory, family):
    cost.test_model_calls_are_metered_with_their_tokens_and_images(adapter_factory, family)


@pytest.mark.parametrize("family", FAMILIES)
def test_interleaved_yes_no_logits(adapter_factory, family):
    zoomeye_tests.test_interleaved_yes_no_logits(adapter_factory, family)


@pytest.mark.parametrize("family", FAMILIES)
def test_last_token_attention_equals_a_fully_eager_model(adapter_factory, family):
    vicrop_tests.test_last_token_attention_equals_a_fully_eager_model(adapter_factory, family)


# ------------------------------------------------------------------ every method, one sample, on each tiny family
def method_for(model: str, method: str):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(config_name="config", overrides=[*TEST_DEFAULTS, f"model={model}", f"method={method}"])
    return build(cfg.method)


def small_sample():
    """A V*-style two-option colour question on a small picture (fast on the tiny models)."""
    image = cost.picture()
    question = "What is the color of the square?"
    return Sample(id="s0", question=question, options=["yellow", "green"], label="A", category="attribute",
                  prompt=question + "\n(A) yellow\n(B) green\nAnswer with the option's letter from the given "
                  "choices directly.", image_fn=lambda: image), image


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("method", ["focus", "vanilla", "zoomeye", "vicrop"])
def test_every_method_answers_one_sample(adapter_factory, family, method):
    adapter = adapter_factory(family)
    sample, image = small_sample()
    calls = adapter.calls
    rec = method_for(f"tiny_{family}", method)(adapter, sample, image)
    assert isinstance(rec["prediction"], str)
    assert rec["fp_answer"] >= 1 and adapter.calls > calls
    assert (rec["fp"] == 0) == (method == "vanilla")  # vanilla: the answer pass only
    if method in ("focus", "zoomeye"):
        assert rec["targets"] and rec["fp_extract"] == 1
    if method == "focus":  # one relevance map per target on this family's grid, ROIs inside the image
        assert rec["rois"] and all(0 <= r["box"][0] < r["box"][2] <= image.width and
                                   0 <= r["box"][1] < r["box"][3] <= image.height
                                   for rois in rec["rois"].values() for r in rois)


@pytest.mark.parametrize("family", [*FAMILIES, "qwen25vl"])
def test_the_cache_goes_in_the_current_argument(adapter_factory, family):
    """The relevance passes (full and shared-prefix) hand the decoder cache over as transformers 5.x's `cache=`:
    no deprecation warning (`past_key_values=` warns on every call and is removed in 5.40)."""
    import warnings

    adapter = adapter_factory(family)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        adapter.relevance_passes(cost.picture(), contract.PROMPT, ["red car", "cat"], n_layers=2)
    messages = [str(w.message) for w in caught]
    assert not [m for m in messages if "deprecat" in m.lower() or "past_key_values" in m], messages


@pytest.mark.parametrize("model,hub_id", [("qwen3vl", "Qwen/Qwen3-VL-8B-Instruct"),
                                          ("llava_ov15", "lmms-lab/LLaVA-OneVision-1.5-8B-Instruct")])
def test_the_hub_models_offline_fail_in_one_line_naming_the_download(model, hub_id):
    """Offline and not in the cache: the config check (before any weights load) says how to get the weights."""
    from focus import FocusError
    from focus.harness.validate import check_config

    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(config_name="config", overrides=[*TEST_DEFAULTS, f"model={model}"])
    with pytest.raises(FocusError) as info:
        check_config(cfg)
    message = str(info.value)
    assert "\n" not in message and f"hf download {hub_id}" in message, message


@pytest.mark.parametrize("config", [
    {"model_type": "llavaonevision1_5", "architectures": ["LLaVAOneVision1_5_ForConditionalGeneration"],
     "auto_map": {"AutoConfig": "configuration_llavaonevision1_5.Llavaonevision1_5Config"}},  # ships its own code
    {"model_type": "llavaonevision1_5"},  # a model type this transformers does not know
])
def test_a_checkpoint_without_a_transformers_class_is_refused_in_one_line(tmp_path, config):
    """A local checkpoint folder whose config.json needs the repository's own code (as the original
    LLaVA-OneVision-1.5 release) is refused before any weights load, saying so — never "not in the cache", and never
    transformers' terminal prompt asking whether to run the code."""
    import json

    from focus import FocusError
    from focus.harness.validate import check_config

    (tmp_path / "config.json").write_text(json.dumps(config))
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(config_name="config", overrides=[*TEST_DEFAULTS, "model=llava_ov15", f"model.path={tmp_path}"])
    with pytest.raises(FocusError) as info:
        check_config(cfg)
    message = str(info.value)
    assert "\n" not in message and "has no class for" in message and "not in the Hugging Face cache" not in message
