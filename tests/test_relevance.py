import pytest
import torch

from focus.relevance import layer_range, object_relevance, smooth_and_downsample


def fig7_oracle(features, x_target, x_visual, x_layer):
    """A literal transcription of the paper's Fig. 7 pseudocode (builds the N×N matrix)."""
    X = torch.stack([f.double() for f in features])  # O, H, N, D
    X = torch.nn.functional.normalize(X, dim=-1)
    O, H, N, D = X.shape
    X = X.permute(0, 2, 1, 3).reshape(O, N, H * D)
    X = torch.bmm(X, X.permute(0, 2, 1))  # O, N, N
    object_rel_map = torch.ones(len(x_visual), dtype=torch.float64)
    for target in x_target:
        pseudo_attn = torch.zeros(len(x_visual), dtype=torch.float64)
        for layer in x_layer:
            identity = torch.eye(N, dtype=torch.float64)
            X_layer = (X[layer] + identity) / 2
            X_layer = X_layer / X_layer.sum(dim=-1, keepdim=True)
            pseudo_attn += X_layer[target, x_visual]
        pseudo_attn /= pseudo_attn.sum()
        object_rel_map *= pseudo_attn
    return object_rel_map / object_rel_map.sum()


@pytest.mark.parametrize("heads,n,dim,n_layers,targets,layers", [
    (4, 60, 16, 6, [50], range(0, 6)),
    (2, 80, 8, 5, [70, 71, 72], range(2, 5)),  # grouped-query shape: 2 kv heads
    (8, 40, 4, 4, [35, 38], [1, 3]),  # layer subset
])
def test_matches_fig7_transcription(heads, n, dim, n_layers, targets, layers):
    g = torch.Generator().manual_seed(0)
    # positive-leaning features keep the row sums away from zero, as real value vectors are
    feats = [torch.randn(heads, n, dim, generator=g) + 0.5 for _ in range(n_layers)]
    visual = list(range(5, 45 if n > 45 else 30))
    fast = object_relevance(feats, targets, visual, layers)
    oracle = fig7_oracle(feats, targets, visual, list(layers))
    assert fast.shape == (len(visual),)
    assert float(fast.sum()) == pytest.approx(1.0, abs=1e-5)
    torch.testing.assert_close(fast.double(), oracle, rtol=1e-4, atol=1e-9)


def test_target_similar_tokens_get_the_mass():
    heads, n, dim = 2, 30, 8
    feats = [torch.rand(heads, n, dim) for _ in range(3)]
    for f in feats:
        f[:, 7] = f[:, 25] * 3.0  # token 7 points the same way as target token 25
    rel = object_relevance(feats, [25], list(range(0, 20)), range(3))
    assert int(rel.argmax()) == 7


def test_errors_and_layer_ranges():
    with pytest.raises(ValueError):
        object_relevance([torch.rand(1, 4, 2)], [], [0, 1], [0])
    assert layer_range([14, 32], 32) == list(range(14, 32))
    # paper ranges of a 32-layer model on 4 layers: [l, L) -> [round(l/8), round(L/8)), halves up (Table 3 rows)
    assert layer_range([14, 32], 4, depth_ref=32) == [2, 3]
    assert layer_range([0, 14], 4, depth_ref=32) == [0, 1]
    assert layer_range([0, 32], 4, depth_ref=32) == [0, 1, 2, 3]
    assert layer_range([12, 20], 4, depth_ref=32) == [2]  # 1.5 rounds up to 2, 2.5 to 3
    assert layer_range([21, 28], 4, depth_ref=28) == [3]  # LLaVA-OneVision's Table 7 range on its tiny model
    assert layer_range([2, 4], 4) == [2, 3]  # a small model stating its own layers
    for layers, depth, ref, needle in [([5, 2], 32, None, "0 <= l < L <= 32"),
                                       ([40, 50], 32, None, "the model's 32 decoder layers"),
                                       ([2, 5], 4, None, "0 <= l < L <= 4"),
                                       ([14, 33], 4, 32, "0 <= l < L <= 32"),
                                       ([14, 15], 4, 32, "maps to no layer"),
                                       ([1.5, 3], 4, None, "two integers")]:
        with pytest.raises(ValueError, match=needle):
            layer_range(layers, depth, ref)


def test_smooth_and_downsample_shape_and_mass():
    grid = torch.zeros(9, 13)
    grid[4, 6] = 1.0
    out = smooth_and_downsample(grid, sigma=1.0, factor=2)
    assert out.shape == (5, 7)
    assert float(out.sum()) == pytest.approx(1.0, abs=1e-6)
    assert divmod(int(out.argmax()), 7) == (2, 3)
