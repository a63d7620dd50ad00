"""What the adapters hand to the method, checked against the model itself (design 4.2, 4.4, section 5): the relevance
features are the value projections (keys differ), the target positions decode to the target words, and the yes/no
logits are the model's logits at the Yes and No ids, in that order."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from focus.stages.ranker import ExistenceRanker
from focus.stages.proposer import ROI

FAMILIES = ["llava15", "llava_ov", "qwen25vl"]
PROMPT = "Is there a {target} in the image? Answer Yes or No."


def projection_outputs(adapter, name):
    """Forward hooks on every decoder layer's `self_attn.<name>`; returns (outputs list, remove). For "k_proj" of a
    layer with a per-head `k_norm` (Qwen3 text models) the hook sits on `k_norm`: the key RoPE receives."""
    outputs, handles = [], []
    for layer in adapter.model.model.language_model.layers:
        module = getattr(layer.self_attn, "k_norm", None) if name == "k_proj" else None
        handles.append((module or getattr(layer.self_attn, name)).register_forward_hook(
            lambda _m, _i, out: outputs.append(out[0].detach().float())))
    return outputs, lambda: [h.remove() for h in handles]


@pytest.mark.parametrize("family", FAMILIES)
def test_features_are_the_value_projections(adapter_factory, family):
    """`values` = the v_proj outputs of every layer ([kv_heads, N, head_dim]); `keys_norope` = the k_proj outputs;
    cached `keys` carry RoPE and differ from both."""
    adapter = adapter_factory(family)
    image = Image.new("RGB", (500, 300), (120, 30, 200))
    for capture, proj in (("values", "v_proj"), ("keys_norope", "k_proj")):
        outputs, remove = projection_outputs(adapter, proj)
        try:
            fpass = adapter.relevance_pass(image, PROMPT, "red car", capture=capture)
        finally:
            remove()
        assert len(fpass.features) == adapter.num_layers == len(outputs)
        for feats, out in zip(fpass.features, outputs):
            kv_heads, n, head_dim = feats.shape
            assert n == len(fpass.input_ids)
            torch.testing.assert_close(feats, out.reshape(n, kv_heads, head_dim).transpose(0, 1))
    values = adapter.relevance_pass(image, PROMPT, "red car", capture="values").features
    keys = adapter.relevance_pass(image, PROMPT, "red car", capture="keys").features
    assert all((k - v).abs().max() > 1e-3 for k, v in zip(keys, values))


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("target", ["red car", "cat", "person's umbrella"])
def test_target_positions_decode_to_the_target(adapter_factory, family, target):
    adapter = adapter_factory(family)
    fpass = adapter.relevance_pass(Image.new("RGB", (200, 150)), PROMPT, target)
    ids = fpass.input_ids[fpass.target_positions].tolist()
    assert fpass.target_positions == list(range(fpass.target_positions[0], fpass.target_positions[-1] + 1))
    assert adapter.tokenizer.decode(ids).strip() == target
    assert adapter.image_token_id not in ids


@pytest.mark.parametrize("family", FAMILIES)
def test_yes_no_logits_are_the_models_in_that_order(adapter_factory, family):
    """The model's last-position logits are scripted (a hook on `lm_head`); the adapter must return them as
    (Yes, No) per image, and the ranker must read a confident Yes from them."""
    adapter = adapter_factory(family)
    scripted = torch.tensor([[4.0, -1.0], [-3.0, 2.0]])  # image 0 says Yes, image 1 says No

    def script(_module, _inputs, logits):
        logits = logits.clone()
        logits[:, -1, adapter.yes_id] = scripted[:, 0]
        logits[:, -1, adapter.no_id] = scripted[:, 1]
        return logits

    handle = adapter.model.lm_head.register_forward_hook(script)
    try:
        crops = [Image.new("RGB", (300, 200), (255, 0, 0)), Image.new("RGB", (120, 400), (0, 0, 255))]
        got = adapter.yes_no_logits(crops, [PROMPT.format(target="cat"), PROMPT.format(target="red car")])
        rois = [ROI(cells=(0, 0, 1, 1), anchor=(0, 0), anchor_score=1.0, box=(0, 0, 300, 200), target="cat"),
                ROI(cells=(0, 1, 1, 2), anchor=(0, 1), anchor_score=0.5, box=(0, 0, 120, 400), target="car")]
        image = Image.new("RGB", (300, 400))
        ranked, n_eval, _ = ExistenceRanker(n_steps=2, overrun=False)(rois, adapter, image)
    finally:
        handle.remove()
    torch.testing.assert_close(got, scripted)
    assert n_eval == 2 and [r.target for r in ranked] == ["cat", "car"]
    assert ranked[0].says_yes and not ranked[1].says_yes
    assert ranked[0].confidence == pytest.approx(2 * (torch.softmax(scripted[0], 0)[0].item() - 0.5), abs=1e-6)
