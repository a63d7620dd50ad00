"""Which decoder layers keep per-token values of the whole prompt (paper Sec. 3.2, Eq. 1-3: the map sums the
value-value similarity of layers l..L; README "Caches that do not hold every layer's values").

FOCUS reads each layer's cached values of EVERY prompt token (the target tokens and every visual token). Newer
decoders do not cache that in every layer:
- linear-attention / state-space layers (Qwen3.5: three of every four layers) keep a recurrent state, no per-token
  values at all;
- sliding-window layers (Gemma 3: five of every six; Gemma 4) keep only the last `sliding_window` tokens, so for a
  prompt with an image they drop the early tokens (and transformers' cache silently returns the window it kept);
- layers that share K/V (Gemma 4's last `num_kv_shared_layers`) reuse an earlier layer's values: summing them counts
  that earlier layer again.
For such layers "the values of layers l..L" is not defined. The rule here: a relevance layer must be one that keeps
per-token values of the whole prompt; otherwise the run is refused before any weights load (`check_value_layers`,
called by focus.harness.validate), naming the layers and the ones that qualify. Only the config is read (its
`layer_types`, `sliding_window`, `num_kv_shared_layers`). At run time the adapter's `FeaturePass.layers` says which
layers it actually read, and a map over a layer outside that list is an error, never a silently shifted map.
"""

from __future__ import annotations

from .. import FocusError

FULL = {"full_attention", "attention", "global_attention", "full"}
SLIDING = {"sliding_attention", "sliding_window_attention", "chunked_attention", "local_attention", "local"}


def layer_problems(text_config) -> dict[int, str]:
    """{layer index: why it does not keep per-token values of the whole prompt} for a decoder config; empty for a
    model whose every layer is full attention with its own K/V."""
    n = int(text_config.num_hidden_layers)
    types = list(getattr(text_config, "layer_types", None) or ["full_attention"] * n)
    window = getattr(text_config, "sliding_window", None)
    problems = {}
    for i, kind in enumerate(types[:n]):
        if kind in FULL:
            continue
        if kind in SLIDING:
            problems[i] = f"sliding-window attention (window {window}: its cache keeps only the last tokens)"
        else:
            problems[i] = f"{kind.replace('_', ' ')} (no per-token values)"
    shared = int(getattr(text_config, "num_kv_shared_layers", 0) or 0)
    for i in range(n - shared, n):
        problems.setdefault(i, "K/V shared with an earlier layer (num_kv_shared_layers)")
    return problems


def value_layers(text_config) -> list[int]:
    """The decoder layers that keep per-token values of the whole prompt."""
    problems = layer_problems(text_config)
    return [i for i in range(int(text_config.num_hidden_layers)) if i not in problems]


def check_value_layers(text_config, layers: list[int], checkpoint: str) -> None:
    """Refuse (FocusError, one line) relevance layers that do not keep per-token values of the whole prompt."""
    problems = layer_problems(text_config)
    bad = [layer for layer in layers if layer in problems]
    if not bad:
        return
    reasons: dict[str, list[int]] = {}
    for layer in bad:
        reasons.setdefault(problems[layer], []).append(layer)
    why = "; ".join(f"layers {_spans(v)} are {k}" for k, v in reasons.items())
    keep = value_layers(text_config)
    raise FocusError(
        f"relevance layers {_spans(layers)} of {checkpoint}: {why}, so the values of those layers are not defined for "
        f"the object relevance map (README \"Caches that do not hold every layer's values\"); layers that keep every "
        f"token's values: {_spans(keep) if keep else 'none'} — set relevance.layers (or model.hparams.layers) to a "
        f"range of those")


def _spans(layers: list[int]) -> str:
    """[0, 1, 2, 5, 11] -> '0-2, 5, 11'."""
    out, layers = [], sorted(layers)
    i = 0
    while i < len(layers):
        j = i
        while j + 1 < len(layers) and layers[j + 1] == layers[j] + 1:
            j += 1
        out.append(str(layers[i]) if i == j else f"{layers[i]}-{layers[j]}")
        i = j + 1
    return ", ".join(out)
