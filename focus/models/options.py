"""Answer by logits matching with one shared prefix (App. C.5; design 4.5; README "Cost per question").

The option with the lowest mean token negative log-likelihood is the answer. Every option's prompt is the same
chat prompt (image(s) and question) followed by the option's text, so the prompt's keys and values are the same for
all options (causal attention): the prompt runs ONCE with a cache, whose last-position logits score every option's
first token, and the options' remaining tokens run in ONE batched forward after the cache repeated per option
(right-padded: a real token never attends to the padding after it). Same losses as one forward per option up to
floating-point summation order, same prediction; `fp_answer` still counts one pass per option (App. A.2), the
`calls` and `prefill_tokens` fields count what ran.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def option_suffixes(adapter, images: list, prompt: str, options: list[str]) -> tuple[object, list[list[int]]] | None:
    """(the encoded prompt, each option's token ids after the prompt), or None when an option's encoding does not
    start with the prompt's ids (a token merging across the boundary): then only full passes are exact."""
    prefix = adapter.encode(images, [prompt])
    with adapter.cost.preprocessing():  # the texts alone: image placeholders are special tokens, so the text
        # after the last one tokenizes the same with the placeholder expanded (as the processor does) or not
        texts = adapter.tokenizer([prompt] + [prompt + option for option in options])["input_ids"]
    ids = texts[0]
    suffixes = []
    for full in texts[1:]:
        if full[:len(ids)] != ids or len(full) == len(ids):
            return None
        suffixes.append(full[len(ids):])
    return prefix, suffixes


def score_options_shared_prefix(adapter, images: list, prompt: str, options: list[str]) -> list[float] | None:
    """Mean token NLL of each option after `prompt` (the chat text), with the prompt run once; None when the
    shared-prefix form does not apply (the caller then runs one forward per option)."""
    from transformers import DynamicCache

    split = option_suffixes(adapter, images, prompt, options)
    if split is None:
        return None
    prefix, suffixes = split
    cache = DynamicCache(config=adapter.model.config)
    first = adapter._forward(prefix, cache=cache, use_cache=True, logits_to_keep=1).logits[0, -1].float()
    longest = max(len(s) for s in suffixes) - 1  # the last token of an option is only a label
    rest = None
    if longest > 0:
        pad = adapter.tokenizer.pad_token_id if adapter.tokenizer.pad_token_id is not None else 0
        batch = torch.full((len(suffixes), longest), pad, dtype=torch.long)  # [K, S]
        for row, s in enumerate(suffixes):
            batch[row, :len(s) - 1] = torch.tensor(s[:-1])
        cache.batch_repeat_interleave(len(suffixes))
        rest = adapter._forward({"input_ids": batch.to(adapter.device)}, cache=cache,
                                use_cache=True).logits.float()  # [K, S, vocab]
    losses = []
    for row, s in enumerate(suffixes):
        logits = first[None] if len(s) == 1 else torch.cat([first[None], rest[row, :len(s) - 1]], dim=0)
        losses.append(float(F.cross_entropy(logits, torch.tensor(s, device=logits.device))))
    return losses
