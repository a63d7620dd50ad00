"""Attention implementations (README "Real size on a GPU"): ViCrop reads attention weights, yet the model keeps
sdpa (or flash-attention) in every layer but the one it reads, and there only for the last query row
(focus/models/attention.py `last_row_eager_attention`). Its map, and so its crop, equal those computed as ViCrop's
original code does: the whole model in eager attention, the weights from `output_attentions`."""

import pytest
import torch

from focus.methods.vicrop import ViCrop, select_box, trim_to_image
from focus.models.attention import AttentionPass
from focus.stages.inference import FinalInference
from scripted import coded_image


def eager_everywhere(adapter):
    """`last_token_attention` as the original code gets it: every layer eager, `output_attentions=True`, the last
    row of the layer's weights (and, for grad-att, autograd through the whole eager model)."""
    def last_token_attention(image, text, layer, gradient=False):
        inputs = adapter.encode([image], [adapter.chat(1, text)])
        positions, layout = adapter.visual_grid_positions(inputs["input_ids"][0], inputs, image)
        adapter.model.set_attn_implementation("eager")
        try:
            with torch.enable_grad():
                out = adapter.model(**inputs, output_attentions=True)
                weights = out.attentions[layer]  # [1, heads, N, N]
                grad = None
                if gradient:
                    logits = out.logits[:, -1].float()
                    loss = -torch.nn.functional.cross_entropy(logits, logits.argmax(-1))
                    grad = torch.autograd.grad(loss, weights)[0][0, :, -1, positions].float()
        finally:
            adapter.model.set_attn_implementation("sdpa")
        return AttentionPass(weights[0, :, -1, positions].detach().float(), grad, layout)
    return last_token_attention


@pytest.mark.parametrize("family,map_kind", [("llava_ov", "rel_att"), ("llava15", "grad_att")])
def test_vicrop_map_with_sdpa_elsewhere_equals_eager_everywhere(adapter_factory, family, map_kind, monkeypatch):
    torch.manual_seed(0)
    adapter = adapter_factory(family)
    assert adapter.model.config.text_config._attn_implementation == "sdpa"
    vicrop = ViCrop(FinalInference(), map=map_kind, layer=14, layer_depth_ref=28, window=384)
    image = coded_image(360, 240)
    question = "What is the color of the cup?"
    grid, layout, passes = vicrop.attention_map(adapter, image, question)
    assert adapter.model.config.text_config._attn_implementation == "sdpa"  # the shared adapter is left as it was
    monkeypatch.setattr(adapter, "last_token_attention", eager_everywhere(adapter))
    eager_grid, eager_layout, eager_passes = vicrop.attention_map(adapter, image, question)
    assert (passes, layout.rows, layout.cols) == (eager_passes, eager_layout.rows, eager_layout.cols)
    assert grid.shape == (layout.rows, layout.cols) and grid.std() > 0  # a real map, not a constant
    assert torch.allclose(grid, eager_grid, rtol=1e-4, atol=1e-7)
    att, region = trim_to_image(grid, layout)
    eager_att, _ = trim_to_image(eager_grid, eager_layout)
    box = select_box(att.double().numpy(), region, image.size, 384, vicrop.ratios)[0]
    assert box == select_box(eager_att.double().numpy(), region, image.size, 384, vicrop.ratios)[0]
