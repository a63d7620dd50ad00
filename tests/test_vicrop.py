"""ViCrop: the map arithmetic, window selection, blocks and trimming on hand-made tensors; the method with scripted
attention maps (exact boxes and forward passes); the adapter's last-token attention against a fully eager model."""

import numpy as np
import pytest
import torch

from focus.data.base import Sample, build_prompt
from focus.core.geometry import GridLayout
from focus.stages.inference import FinalInference
from focus.methods.vicrop import (ViCrop, grad_weighted_attention, relative_attention, select_box, split_blocks,
                          stitch_blocks, trim_to_image, window_sums)
from scripted import AttentionScript, coded_image, crop_box


def test_relative_and_grad_weighted_attention():
    ratio = relative_attention(torch.tensor([[0.2, 0.1], [0.05, 0.4]]), torch.tensor([[0.1, 0.1], [0.1, 0.8]]))
    assert torch.allclose(ratio, torch.tensor([[2.0, 1.0], [0.5, 0.5]]))
    attention = torch.tensor([[0.5, 0.5], [0.2, 0.8]])  # [heads, tokens]
    gradient = torch.tensor([[1.0, -1.0], [-2.0, 0.5]])
    assert grad_weighted_attention(attention, gradient).tolist() == pytest.approx([0.25, 0.2])  # mean(a·relu(g))


def test_window_sums():
    m = np.arange(12, dtype=float).reshape(3, 4)
    assert window_sums(m, 2, 2).tolist() == [[10, 14, 18], [26, 30, 34]]  # [y, x], 2×2 windows
    assert window_sums(m, 4, 1).tolist() == [[6], [22], [38]]


def block_map(rows=24, cols=24, background=1.0, **blocks):
    m = np.full((rows, cols), background)
    for (r0, r1, c0, c1), v in blocks.values():
        m[r0:r1, c0:c1] = v
    return m


def test_select_box_hand_cases():
    region, size = (0, 0, 1344, 1344), (1344, 1344)  # 24 cells of 56 px; window 336 = 6 cells at r = 1
    # a 6×6 block of 3 on 1: r = 1 is sharpest ((108 − 96)/36 > (121 − 109)/49 …) → the block itself
    box, info = select_box(block_map(a=((6, 12, 12, 18), 3.0)), region, size, 336)
    assert box == (672, 336, 1008, 672) and info["ratio"] == 1 and info["window_cells"] == [6, 6]
    # a 7×7 block in the corner: r = 1.2 (7 cells) wins; its centre 196 px is moved to 403.2 // 2 = 201
    box, info = select_box(block_map(background=0.0, a=((0, 7, 0, 7), 1.0)), region, size, 336)
    assert info["ratio"] == 1.2 and box == (0, 0, 402, 402)
    # the map of a padded square (LLaVA-1.5 pad-to-square): the same cells, shifted by the padding
    box, _ = select_box(block_map(a=((6, 12, 12, 18), 3.0))[4:20], (0, 0, 1344, 896), (1344, 896), 336)
    assert box == (672, 112, 1008, 448)
    # a 12×12 plateau: every r's best window sits in its corner; the edge contrast grows with the window
    # (3, 3.5, …, 6) but per cell it shrinks (3/36 > 3.5/49 > … > 6/144) → r = 1
    box, info = select_box(block_map(a=((6, 18, 6, 18), 2.0)), region, size, 336)
    assert info["ratio"] == 1 and box == (336, 336, 672, 672)
    # a window as large as the map: the whole image (r = 1), as the original
    box, info = select_box(block_map(), (0, 0, 336, 336), (336, 336), 336)
    assert box == (0, 0, 336, 336) and info["whole_image"]


def test_split_blocks():
    boxes, rows, cols = split_blocks(2250, 1500)
    assert (rows, cols) == (2, 3) and boxes[:4] == [(0, 0, 750, 750), (750, 0, 1500, 750), (1500, 0, 2250, 750),
                                                    (0, 750, 750, 1500)]
    assert split_blocks(7680, 4320)[1:] == (5, 8)     # HR-Bench 8K: 40 blocks (paper: 78.6 rel-att-high fp ≈ 2·40)
    assert split_blocks(1000, 3000)[1:] == (3, 1)
    assert split_blocks(600, 2000)[1:] == (2, 1)      # int(2·600/2000) = 0 in the original: at least one column
    assert split_blocks(1001, 1000)[0] == [(0, 0, 1001, 1000)]


def test_trim_to_image_drops_padding_rows():
    grid = torch.arange(24 * 24, dtype=torch.float32).reshape(24, 24)
    trimmed, region = trim_to_image(grid, GridLayout(24, 24, (0, -224, 1344, 1120), (1344, 896)))
    assert trimmed.shape == (16, 24) and trimmed[0, 0] == 4 * 24 and region == (0, 0, 1344, 896)
    # a straddling row (the image starts inside it) is kept: 1000×700 padded to 1000², cells of 41.67 px
    trimmed, region = trim_to_image(grid, GridLayout(24, 24, (0, -150, 1000, 850), (1000, 700)))
    assert trimmed.shape == (18, 24) and region[1] == pytest.approx(-25) and region[3] == pytest.approx(725)


def test_stitch_blocks_row_major():
    maps = [torch.full((2, 3), float(i)) for i in range(6)]
    out = stitch_blocks(maps, 2, 3)
    assert out.shape == (4, 9) and out[0, 0] == 0 and out[0, 8] == 2 and out[3, 0] == 3 and out[3, 8] == 5
    out = stitch_blocks([torch.ones(2, 2), torch.ones(2, 3) * 2], 1, 2)  # resized to the first block's shape
    assert out.shape == (2, 4) and out[:, 2:].tolist() == [[2, 2], [2, 2]]


# ------------------------------------------------------------------------------------- the method, scripted
def sample(question="What is the color of the cup?"):
    return Sample(id="s", question=question, options=["red", "blue"], label="A", category="attribute",
                  prompt=build_prompt(question, ["red", "blue"], "Answer with the option's letter."))


GENERAL = "Write a general description of the image. Answer the question using a single word or phrase."
A, B, C = (0, 6, 0, 6), (12, 18, 12, 18), (0, 6, 18, 24)  # cells (r0, r1, c0, c1) of a 24×24 grid
BOX_A, BOX_B, BOX_C = (0, 0, 336, 336), (672, 672, 1008, 1008), (1008, 0, 1344, 336)


def square_layout(image):
    return GridLayout(24, 24, (0, 0, *image.size), image.size)


def test_rel_att_divides_by_the_generic_prompt():
    """Question map: A = 2, B = 4 on 1; generic map: B = 4 on 1. Raw attention would pick B; the ratio picks A.
    fp = 2 (question + generic prompt), at layer 14; the answer sees [image, crop]."""
    def maps(image, text, gradient):
        m = block_map(b=(B, 4.0)) if text == GENERAL else block_map(a=(A, 2.0), b=(B, 4.0))
        return torch.tensor(m)[None], None, square_layout(image)

    adapter = AttentionScript(maps)
    image = coded_image(1344, 1344)
    rec = ViCrop(FinalInference(), map="rel_att")(adapter, sample(), image)
    assert rec["chosen_boxes"] == [list(BOX_A)] and (rec["fp"], rec["fp_extract"], rec["fp_answer"]) == (2, 0, 1)
    assert [s["text"] for s in adapter.seen] == [
        "What is the color of the cup? Answer the question using a single word or phrase.", GENERAL]
    assert {s["layer"] for s in adapter.seen} == {14} and adapter.calls == 3
    (images, text), = adapter.answered
    assert images[0] is image and crop_box(images[1]) == BOX_A and text == sample().prompt
    assert rec["final_mode"] == "image_and_crop" and rec["rois"]["attention"][0]["box"] == list(BOX_A)


def test_grad_att_keeps_positive_gradients_only():
    """Two heads. A: (att 0.9, grad −1) and (0.5, +2) → mean(a·relu(g)) = 0.5; B: (0.3, 1) twice → 0.3;
    C: attention 0.95 with zero gradient → 0. Chosen: A (without relu B would win, attention alone C). fp = 1."""
    att, grad = np.full((2, 24, 24), 0.01), np.zeros((2, 24, 24))
    for h, (a, gr) in enumerate(((0.9, -1.0), (0.5, 2.0))):
        att[h, 0:6, 0:6], grad[h, 0:6, 0:6] = a, gr
    att[:, 12:18, 12:18], grad[:, 12:18, 12:18] = 0.3, 1.0
    att[:, 0:6, 18:24] = 0.95
    adapter = AttentionScript(lambda image, text, gradient: (torch.tensor(att), torch.tensor(grad),
                                                             square_layout(image)))
    rec = ViCrop(FinalInference(), map="grad_att", answer_on="crop")(adapter, sample(), coded_image(1344, 1344))
    assert rec["chosen_boxes"] == [list(BOX_A)] and rec["fp"] == 1 and adapter.seen[0]["gradient"] is True
    (images, _), = adapter.answered
    assert len(images) == 1 and crop_box(images[0]) == BOX_A


def test_padded_layout_maps_cells_through_the_padding():
    """A LLaVA-1.5-like layout: 1344×896 padded to 1344², 4 padding rows on top. Hot cells rows 10–15 of the
    padded grid = image y 336..672 → the box (672, 336, 1008, 672)."""
    def maps(image, text, gradient):
        m = block_map(b=((10, 16, 12, 18), 3.0)) if text != GENERAL else block_map()
        return torch.tensor(m)[None], None, GridLayout(24, 24, (0, -224, 1344, 1120), image.size)

    rec = ViCrop(FinalInference())(AttentionScript(maps), sample(), coded_image(1344, 896))
    assert rec["chosen_boxes"] == [[672, 336, 1008, 672]] and rec["vicrop"]["map_shape"] == [16, 24]


@pytest.mark.parametrize("kind,fp", [("rel_att", 12), ("grad_att", 6)])
def test_high_res_blocks_stitched_in_order(kind, fp):
    """2250×1500 (V*-sized): 2 rows × 3 columns of 750² blocks, one map each → fp 12 (rel-att) / 6 (grad-att).
    A hot 5×5 patch in block (row 1, col 2) at block cells rows 9–13, cols 4–8 = image x 1625..1781,
    y 1031..1187 must be inside the box."""
    def maps(image, text, gradient):
        origin = crop_box(image)[:2]
        m = block_map(hot=((9, 14, 4, 9), 5.0)) if origin == (1500, 750) and text != GENERAL else block_map()
        return torch.tensor(m)[None], (torch.ones(1, 24, 24) if gradient else None), square_layout(image)

    adapter = AttentionScript(maps)
    rec = ViCrop(FinalInference(), map=kind, high_res=True)(adapter, sample(), coded_image(2250, 1500))
    assert rec["fp"] == fp and rec["vicrop"]["blocks"] == [2, 3] and rec["vicrop"]["map_shape"] == [48, 72]
    origins = [s["origin"] for s in adapter.seen if s["text"] != GENERAL]
    assert origins == [(0, 0), (750, 0), (1500, 0), (0, 750), (750, 750), (1500, 750)]
    assert all(s["size"] == (750, 750) for s in adapter.seen)
    x0, y0, x1, y1 = rec["chosen_boxes"][0]
    assert x0 <= 1625 and x1 >= 1781 and y0 <= 1031 and y1 >= 1187 and x1 <= 2250 and y1 <= 1500


def test_bad_settings_fail_at_construction():
    for kw in ({"map": "pure_grad"}, {"answer_on": "both"}, {"prompt": "no placeholder"}):
        with pytest.raises(ValueError):
            ViCrop(FinalInference(), **kw)


# ------------------------------------------------------------------------------- the adapter (tiny models)
@pytest.mark.parametrize("family", ["llava15", "qwen25vl"])
def test_last_token_attention_equals_a_fully_eager_model(adapter_factory, family):
    """The one-layer last-row attention (sdpa elsewhere) against `output_attentions` of the whole model switched to
    eager, and its gradient against autograd through that eager model; the image tokens are found independently
    (the image-token ids). The model is left as it was (sdpa, its own attention config)."""
    torch.manual_seed(0)
    adapter = adapter_factory(family)
    image = coded_image(500, 380)
    text, layer = "What is the color of the cup?", 2
    got = adapter.last_token_attention(image, text, layer)
    got_grad = adapter.last_token_attention(image, text, layer, gradient=True)
    model = adapter.model
    inputs = adapter.encode([image], [adapter.chat(1, text)])
    image_tokens = torch.nonzero(inputs["input_ids"][0] == adapter.image_token_id).reshape(-1)
    model.set_attn_implementation("eager")
    try:
        out = model(**inputs, output_attentions=True)
        logits = out.logits[:, -1].float()
        loss = -torch.nn.functional.cross_entropy(logits, logits.argmax(-1))
        grad = torch.autograd.grad(loss, out.attentions[layer])[0]
    finally:
        model.set_attn_implementation("sdpa")
    expected = out.attentions[layer][0, :, -1, image_tokens].detach()
    assert got.attention.shape == (model.config.text_config.num_attention_heads, got.layout.rows * got.layout.cols)
    assert torch.allclose(got.attention, expected, atol=1e-7, rtol=1e-5)
    assert torch.allclose(got_grad.gradient, grad[0, :, -1, image_tokens], atol=1e-6, rtol=1e-4)
    assert got_grad.gradient.abs().max() > 1e-4  # a real gradient, not zeros
    attn = model.model.language_model.layers[layer].self_attn
    assert attn.config is model.config.text_config and model.config.text_config._attn_implementation == "sdpa"
