"""Object relevance maps from cached token similarity (paper Sec. 3.2, Eq. 1-4, Fig. 7; design section 4.2).

`object_relevance` is the pure core: the rows of Fig. 7's N×N value-value similarity matrix that belong to target
tokens, with residual, row normalisation, layer sum and the product over target tokens, computed WITHOUT building
the N×N matrix. The `Relevance*` classes are the `relevance` config group: they run the model pass through the
adapter, pick the features (values, keys, pre-RoPE keys, or a random map) and post-process global-local maps.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..core.geometry import GridLayout


# Fig. 7's "row-wise normalization" line, `X_layer /= X_layer.sum(dim=-1)`, read two ways:
# - row: each row divided by its own sum, as the comment says (r_j = (c_j + [j==t]) / 2 / Σ_k row t);
# - broadcast: what the line does in PyTorch, where the [N] sums broadcast over the last axis, so column j is divided
#   by the sum of ROW j (the attention-rollout idiom): r_j = (c_j + [j==t]) / 2 / Σ_k row j.
NORMALIZATIONS = ("row", "broadcast")


def check_normalization(normalization: str) -> None:
    if normalization not in NORMALIZATIONS:
        raise ValueError(f"relevance.normalization must be one of {NORMALIZATIONS}, got {normalization!r}")


def object_relevance(features: Sequence[torch.Tensor], target_positions: Sequence[int] | torch.Tensor,
                     visual_positions: Sequence[int] | torch.Tensor, layers: Iterable[int],
                     normalization: str = "row") -> torch.Tensor:
    """Object relevance over `visual_positions`, summing to 1 (Fig. 7, exact semantics of design 4.2).

    features: one tensor per decoder layer, `[heads, N, head_dim]` (kv heads for grouped-query models).
    target_positions / visual_positions: token indices into N. layers: 0-based layer indices to aggregate.
    normalization: `row` or `broadcast`, the two readings of Fig. 7's normalisation line (`NORMALIZATIONS`).

    Per layer, Fig. 7 l2-normalises each head, concatenates heads (`x_j` of size heads·head_dim) and forms
    S = X Xᵀ. Only rows t of S are needed: c = X x_t over the visual tokens, and the sum of row j of (S + I)/2 is
    (<x_j, Σ_k x_k> + 1)/2, so the cost is O(targets · N · heads · head_dim) per layer instead of O(N²).
    """
    check_normalization(normalization)
    layers = list(layers)
    device = features[layers[0]].device if layers else "cpu"  # computed where the features are (GPU: no copies)
    targets = torch.as_tensor(target_positions, dtype=torch.long).reshape(-1).to(device)
    visual = torch.as_tensor(visual_positions, dtype=torch.long).reshape(-1).to(device)
    if len(targets) == 0:
        raise ValueError("object_relevance needs at least one target token")
    if not layers:
        raise ValueError("object_relevance needs at least one layer")
    pseudo_attn = None  # [targets, visual], summed over layers
    for layer in layers:
        feats = features[layer]
        heads, n, dim = feats.shape
        x = F.normalize(feats.float(), dim=-1).transpose(0, 1).reshape(n, heads * dim)  # [N, H*D]
        x_t = x[targets]  # [s, H*D]
        c_visual = x_t @ x[visual].T  # [s, M] = rows t of X Xᵀ at the visual columns
        residual = (visual[None, :] == targets[:, None]).float()  # identity, in case a target is a visual token
        if normalization == "row":
            row_sum = (x_t @ x.sum(0) + 1.0) / 2.0  # [s] = Σ_k (c_tk + [k==t]) / 2
            layer_attn = (c_visual + residual) / 2.0 / row_sum[:, None]
        else:
            visual_row_sum = (x[visual] @ x.sum(0) + 1.0) / 2.0  # [M] = sums of the visual tokens' rows
            layer_attn = (c_visual + residual) / 2.0 / visual_row_sum[None, :]
        pseudo_attn = layer_attn if pseudo_attn is None else pseudo_attn + layer_attn
    pseudo_attn = pseudo_attn / pseudo_attn.sum(dim=-1, keepdim=True)  # global normalisation per target token
    rel = torch.ones(len(visual), dtype=pseudo_attn.dtype, device=device)
    for row in pseudo_attn:  # element-wise product over target tokens, renormalised after each product
        rel = rel * row
        rel = rel / rel.sum()
    return rel.cpu()  # the map, float32, on the CPU


def scaled_layer(layer: int, num_layers: int, depth_ref: int | None = None, *, end: bool = False,
                 key: str = "layer") -> int:
    """THE mapping of a paper layer onto a model's depth (used by relevance ranges, ViCrop's layer and validation).

    `layer` counts the decoder layers of a model of `depth_ref` layers (null: the model itself, then it is returned
    unchanged); on a model of D = `num_layers` layers it becomes round(layer·D/ref), halves rounded up: layer 14 of
    LLaVA-1.5's 32 is layer 2 of a 4-layer model. `end=True` maps the exclusive end of a range (it may equal ref and
    D); a single layer (`end=False`) must be < ref and stays below D (the last layer at most). A number outside the
    reference depth is an error naming `key`, never a silent fallback.
    """
    ref = depth_ref or num_layers
    high = ref if end else ref - 1
    if isinstance(layer, bool) or not isinstance(layer, int) or not 0 <= layer <= high:
        raise ValueError(f"{key} {layer!r} must be an integer in [0, {ref}{']' if end else ')'}: it counts "
                         + (f"the model's {num_layers} decoder layers" if not depth_ref else
                            f"the {ref} layers of the model it was set for (layer_depth_ref; this model has "
                            f"{num_layers})"))
    if not depth_ref:
        return layer
    mapped = int(layer * num_layers / ref + 0.5)
    return mapped if end else min(mapped, num_layers - 1)


def layer_range(layers: Sequence[int], num_layers: int, depth_ref: int | None = None) -> list[int]:
    """0-based decoder layers of a model with `num_layers` layers for the configured half-open range [l, L).

    depth_ref: the depth the numbers refer to; null means the model itself. The tiny models reuse the paper's ranges
    (Table 7: [14, 32) of LLaVA-1.5's 32 layers) with depth_ref = 32: both ends go through `scaled_layer`, so on D
    layers [l, L) becomes [round(l·D/ref), round(L·D/ref)), halves rounded up: [14, 32) is [2, 4) of 4 layers. A
    range outside 0 <= l < L <= ref, or one that maps to no layer, is an error — never a silent fallback.
    """
    if len(layers) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) for v in layers):
        raise ValueError(f"relevance.layers must be [l, L): two integers, got {list(layers)}")
    start, end = layers
    ref = depth_ref or num_layers
    model = f"the model's {num_layers} decoder layers" if not depth_ref else \
        f"the {ref} layers of model.hparams.layer_depth_ref (this model has {num_layers})"
    if not 0 <= start < end <= ref:
        raise ValueError(f"relevance.layers=[{start}, {end}] must satisfy 0 <= l < L <= {ref}: [l, L) counts {model}")
    start, end = (scaled_layer(v, num_layers, depth_ref, end=True) for v in (start, end))
    if end <= start:
        raise ValueError(f"relevance.layers=[{layers[0]}, {layers[1]}] of {ref} layers maps to no layer of this "
                         f"{num_layers}-layer model; widen the range or set model.hparams.layer_depth_ref=null "
                         f"and give the model's own layers")
    return list(range(start, end))


def smooth_and_downsample(grid: torch.Tensor, sigma: float, factor: int) -> torch.Tensor:
    """Gaussian filter (sigma in grid cells) then area-average downsampling by `factor` (Sec. 3.2, global-local
    models; the paper gives no values, design 4.2 sets the defaults). Renormalised to sum 1."""
    arr = grid.double().numpy()
    if sigma and sigma > 0:
        from scipy import ndimage  # imported where used: scipy.ndimage costs seconds of start-up

        arr = ndimage.gaussian_filter(arr, sigma=sigma, mode="nearest")
    out = torch.from_numpy(arr)
    if factor and factor > 1:
        rows, cols = out.shape
        out = F.adaptive_avg_pool2d(out[None, None], (max(1, -(-rows // factor)), max(1, -(-cols // factor))))[0, 0]
    out = out.float().clamp_min(0)
    return out / out.sum()


class RelevanceMap:
    """A relevance map on a token grid with the layout that maps its cells to pixels."""

    def __init__(self, grid: torch.Tensor, layout: GridLayout):
        assert grid.shape == (layout.rows, layout.cols), (grid.shape, layout)
        self.grid = grid
        self.layout = layout


class Relevance:
    """The `relevance` config group. `features` ∈ {values, keys, keys_norope, random} (Table 3 ablations).

    layers: half-open [l, L) of 0-based decoder layers (Table 7), counted on a model of `layer_depth_ref` layers
    (null: the model itself; see `layer_range`). For global-local models (the adapter's layout is a local grid) the
    map is smoothed with `local_sigma` and downsampled by `local_downsample` (Sec. 3.2).
    prompt: the existence prompt whose `{target}` tokens are the target tokens (App. A.5).
    normalization: `row` (Fig. 7's comment) or `broadcast` (Fig. 7's line as PyTorch runs it); see NORMALIZATIONS.
    reuse_image_prefix: compute the image prefix once for all targets of a question and run only each target's
    text suffix (the maps are those of separate passes; `fp` still counts one pass per target, App. A.2).
    early_stop: run decoder layers [0, L) only — the map needs no later layer and no LM head.
    """

    passes_per_target = 1  # forward passes counted in `fp` for each target (App. A.2)

    def __init__(self, features: str = "values", layers: Sequence[int] = (14, 32), local_sigma: float = 1.0,
                 local_downsample: int = 2, prompt: str = "Is there a {target} in the image? Answer Yes or No.",
                 seed: int = 0, normalization: str = "row", layer_depth_ref: int | None = None,
                 reuse_image_prefix: bool = True, early_stop: bool = True):
        if features not in ("values", "keys", "keys_norope", "random"):
            raise ValueError(f"relevance.features must be values, keys, keys_norope or random, got {features!r}")
        check_normalization(normalization)
        self.normalization = normalization
        self.features = features
        self.layers = tuple(layers)
        self.layer_depth_ref = layer_depth_ref
        self.local_sigma = local_sigma
        self.local_downsample = local_downsample
        self.prompt = prompt
        self.seed = seed
        self.reuse_image_prefix, self.early_stop = bool(reuse_image_prefix), bool(early_stop)

    def __call__(self, adapter, image, target: str) -> RelevanceMap:
        return self.maps(adapter, image, [target])[target]

    def maps(self, adapter, image, targets: list[str]) -> dict[str, RelevanceMap]:
        """The map of every target of one question (one relevance pass each, sharing the image prefix when the
        adapter can: `relevance_passes`)."""
        layers = layer_range(self.layers, adapter.num_layers, self.layer_depth_ref)
        if hasattr(adapter, "relevance_passes"):
            fpasses = adapter.relevance_passes(image, self.prompt, list(targets), capture=self.features,
                                               n_layers=max(layers) + 1 if self.early_stop else None,
                                               reuse_prefix=self.reuse_image_prefix)
        else:  # a minimal adapter: one pass per target
            fpasses = [adapter.relevance_pass(image, self.prompt, t, capture=self.features) for t in targets]
        return {t: self._from_pass(fpass, layers, adapter) for t, fpass in zip(targets, fpasses)}

    def _from_pass(self, fpass, layers: list[int], adapter) -> RelevanceMap:
        read = getattr(fpass, "read_layers", lambda: range(len(fpass.features)))()
        missing = [layer for layer in layers if layer not in read]
        if missing:  # never a map over other layers than the configured ones (focus/models/cache_layers.py)
            raise ValueError(f"relevance layers {missing} hold no per-token features of the whole prompt in this "
                             f"model's cache (layers read: {list(read)})")
        rel = object_relevance(fpass.features, fpass.target_positions, fpass.visual_positions, layers,
                               self.normalization)
        return self._to_map(rel.reshape(fpass.layout.rows, fpass.layout.cols), fpass.layout, adapter)

    def _to_map(self, grid: torch.Tensor, layout: GridLayout, adapter) -> RelevanceMap:
        if adapter.local_grid and (self.local_sigma or self.local_downsample > 1):
            grid = smooth_and_downsample(grid, self.local_sigma, self.local_downsample)
            layout = layout.resized(*grid.shape)
        return RelevanceMap(grid, layout)


class RandomRelevance(Relevance):
    """Ablation "random map" (Table 3): uniform noise on the adapter's grid, seeded per (seed, image, target).
    No model pass is run, so it adds nothing to `fp`."""

    passes_per_target = 0

    def __init__(self, **kwargs):
        kwargs["features"] = "random"
        super().__init__(**kwargs)

    def maps(self, adapter, image, targets: list[str]) -> dict[str, RelevanceMap]:
        return {t: self(adapter, image, t) for t in targets}

    def __call__(self, adapter, image, target: str) -> RelevanceMap:
        layout = adapter.layout(image)
        digest = hashlib.sha256(f"{self.seed}|{image.size}|{target}".encode()).digest()
        rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
        grid = torch.from_numpy(rng.random((layout.rows, layout.cols))).float()
        return self._to_map(grid / grid.sum(), layout, adapter)
