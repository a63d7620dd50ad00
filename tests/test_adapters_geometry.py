"""Token geometry of the three adapters on the tiny checkpoints: the map → proposal chain on planted features, token
counts, newline packing, batching. The non-circular pixel-level checks are in test_pixel_geometry.py."""

import pytest
import torch
from PIL import Image

from focus.core.geometry import box_area
from focus.stages.proposer import Proposer
from focus.stages.relevance import Relevance, object_relevance

SIZES = [
    (336, 336), (500, 500),            # square
    (1500, 500), (2400, 800),          # wide 3:1
    (400, 1200), (700, 2100),          # tall 1:3
    (30, 20), (64, 900),               # tiny / thin
    (1024, 768), (1200, 700),          # V*-like
    (2304, 2304), (4000, 3000),        # larger than the processors' maxima (OneVision downsampling)
    (3000, 1000),
]
PROMPT = "Is there a {target} in the image? Answer Yes or No."


def plant(fpass, cell_index):
    """Replace the cached features: only the visual token of `cell_index` matches the target tokens."""
    g = torch.Generator().manual_seed(0)
    feats = []
    for f in fpass.features:
        heads, n, dim = f.shape
        # background: one shared direction (as real value vectors share one), signal: orthogonal to it
        new = 1.0 + 0.05 * torch.randn(heads, n, dim, generator=g)
        signal = torch.randn(heads, dim, generator=g)
        signal = signal - signal.mean(-1, keepdim=True)
        for t in fpass.target_positions:
            new[:, t] = signal
        new[:, int(fpass.visual_positions[cell_index])] = signal
        feats.append(new)
    return feats


def planted_map(adapter, image, x, y):
    fpass = adapter.relevance_pass(image, PROMPT, "red car")
    lay = fpass.layout
    cell = lay.cell_of_pixel(x, y)
    feats = plant(fpass, cell[0] * lay.cols + cell[1])
    rel = object_relevance(feats, fpass.target_positions, fpass.visual_positions, range(len(feats)))
    return Relevance(layers=(0, 4))._to_map(rel.reshape(lay.rows, lay.cols), lay, adapter), fpass


@pytest.mark.parametrize("family", ["llava15", "llava_ov", "qwen25vl"])
def test_planted_signal_and_token_counts(adapter_factory, family):
    adapter = adapter_factory(family)
    for w, h in SIZES:
        image = Image.new("RGB", (w, h), (90, 120, 150))
        x, y = int(w * 0.71), int(h * 0.33)
        rmap, fpass = planted_map(adapter, image, x, y)
        n_img = int((fpass.input_ids == adapter.image_token_id).sum())
        lay = fpass.layout
        expected = lay.rows * lay.cols if family != "llava_ov" else adapter.base_tokens + lay.rows * (lay.cols + 1)
        assert n_img == expected, (family, w, h)
        # the map peaks at the cell whose pixel box contains the planted location
        peak = divmod(int(rmap.grid.argmax()), rmap.layout.cols)
        x0, y0, x1, y1 = rmap.layout.cell_box((peak[0], peak[1], peak[0] + 1, peak[1] + 1))
        assert x0 <= x <= x1 and y0 <= y <= y1, (family, (w, h), (x, y), (x0, y0, x1, y1))
        # and the best crop contains it
        roi = Proposer(k=5, s_min=3, s_max=5, s_dist=2)(rmap.grid, rmap.layout, min_crop=adapter.base_resolution)[0]
        bx0, by0, bx1, by1 = roi.box
        assert bx0 <= x <= bx1 and by0 <= y <= by1 and box_area(roi.box) > 0, (family, (w, h), roi.box)


def test_llava15_pixel_mapping_from_first_principles(adapter_factory):
    adapter = adapter_factory("llava15")
    lay = adapter.layout(Image.new("RGB", (1200, 700)))
    side, pad = 1200, (1200 - 700) // 2  # expand2square: 250 px of padding above the image
    for x, y in [(10, 10), (600, 350), (1190, 690)]:
        assert lay.cell_of_pixel(x, y) == (int((y + pad) * 24 / side), int(x * 24 / side))


def test_qwen_grid_from_image_grid_thw(adapter_factory):
    adapter = adapter_factory("qwen25vl")
    for w, h in [(1200, 700), (4000, 3000), (64, 900)]:
        image = Image.new("RGB", (w, h))
        inputs = adapter.encode([image], [adapter.chat(1, "hi")])
        t, gh, gw = inputs["image_grid_thw"][0].tolist()
        lay = adapter.layout(image)
        assert (lay.rows, lay.cols) == (gh // 2, gw // 2)


def test_onevision_newline_positions_match_the_models_packing(adapter_factory):
    """Independent of our layout code: the embeddings the model itself feeds the LLM at image positions equal
    `image_newline` exactly where the adapter expects the end of each local-grid row."""
    adapter = adapter_factory("llava_ov")
    newline = adapter.model.model.image_newline.detach()
    captured = {}

    def hook(_module, args, kwargs):
        captured["embeds"] = kwargs["inputs_embeds"][0].detach()

    handle = adapter.model.model.language_model.register_forward_pre_hook(hook, with_kwargs=True)
    try:
        for w, h in [(1200, 700), (2400, 800), (700, 2100), (4000, 3000)]:
            image = Image.new("RGB", (w, h), (10, 200, 30))
            inputs = adapter.encode([image], [adapter.chat(1, "hi")])
            adapter._forward(inputs)
            ids = inputs["input_ids"][0]
            pos = torch.nonzero(ids == adapter.image_token_id).reshape(-1)
            is_newline = (captured["embeds"][pos] == newline).all(-1)
            lay = adapter.layout(image)
            expected = torch.zeros(len(pos), dtype=torch.bool)
            expected[adapter.base_tokens + lay.cols::lay.cols + 1] = True
            assert torch.equal(is_newline, expected), (w, h, lay)
    finally:
        handle.remove()


def test_round_trip_offline(tiny_cache, monkeypatch):
    from transformers import AutoModelForImageTextToText

    from focus.models.tiny import ensure_tiny_checkpoint
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    for family in ("llava15", "llava_ov", "qwen25vl"):
        path = ensure_tiny_checkpoint(family, tiny_cache)
        assert ensure_tiny_checkpoint(family, tiny_cache) == path  # built once
        model = AutoModelForImageTextToText.from_pretrained(path)
        assert model.config.text_config.num_hidden_layers == 4
        assert sum(p.numel() for p in model.parameters()) < 2_000_000


def test_missing_checkpoint_is_one_clear_error(tmp_path):
    from focus import FocusError
    from focus.models.llava15 import Llava15Adapter
    with pytest.raises(FocusError, match="model.path"):
        Llava15Adapter(path=str(tmp_path / "nope"), device="cpu")
    with pytest.raises(FocusError, match="llava-hf/llava-1.5-7b-hf"):  # a hub id that is not cached, offline
        Llava15Adapter(path="llava-hf/llava-1.5-7b-hf", device="cpu")


def test_yes_no_batched_equals_single(adapter_factory):
    adapter = adapter_factory("llava_ov")
    crops = [Image.new("RGB", s, c) for s, c in [((300, 200), (255, 0, 0)), ((500, 900), (0, 0, 255))]]
    prompts = [PROMPT.format(target="cat"), PROMPT.format(target="red car")]
    batched = adapter.yes_no_logits(crops, prompts)
    single = torch.cat([adapter.yes_no_logits([c], [p]) for c, p in zip(crops, prompts)])
    torch.testing.assert_close(batched, single, rtol=1e-3, atol=1e-3)
