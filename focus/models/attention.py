"""The last query row's attention at one decoder layer, for ViCrop's maps (docs/baselines.md): an attention function
that keeps the model's own implementation (sdpa, flash-attention) for every row and recomputes only the last row with
the family's eager code, so its weights exist and carry gradients (`HFAdapter.last_token_attention`)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..core.geometry import GridLayout


@dataclass
class AttentionPass:
    """What `last_token_attention` hands to ViCrop: the last token's attention to the grid tokens (row-major)."""

    attention: torch.Tensor  # [heads, rows*cols]
    gradient: torch.Tensor | None  # [heads, rows*cols], d loss / d attention (grad-att), or None
    layout: GridLayout


LAST_ROW_ATTENTION = "focus_last_row_eager"


def last_row_eager_attention(module, query, key, value, attention_mask, **kwargs):
    """An attention function (transformers' AttentionInterface) for the one layer whose weights ViCrop reads.

    The layer's own implementation (`module.config.focus_inner_attention`: sdpa, flash-attention, eager) computes
    every row; the last query row is recomputed by the family's `eager_attention_forward` and replaces it, so its
    weights exist and the loss depends on them exactly as in a fully eager model (row i of the attention matrix
    only feeds output row i). query: [batch, heads, N, head_dim]; returns ([batch, N, heads, head_dim],
    weights [batch, heads, 1, N]).
    """
    import sys

    from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

    family_eager = sys.modules[type(module).__module__].eager_attention_forward
    inner = ALL_ATTENTION_FUNCTIONS.get_interface(module.config.focus_inner_attention, family_eager)
    every_row = inner(module, query, key, value, attention_mask, **kwargs)[0]
    mask = None
    if attention_mask is not None:  # the last row of a 4-D mask, or a [batch, N] key mask (flash-attention)
        mask = attention_mask[:, :, -1:, :] if attention_mask.dim() == 4 else attention_mask[:, None, None, :]
        if not mask.is_floating_point():  # boolean "attend" mask → additive
            mask = torch.zeros(mask.shape, dtype=query.dtype, device=query.device).masked_fill(
                ~mask.bool(), torch.finfo(query.dtype).min)
    last_row, weights = family_eager(module, query[:, :, -1:], key, value, mask, **kwargs)
    return torch.cat([every_row[:, :-1], last_row], dim=1), weights
