import numpy as np
import pytest
import torch
from scipy import ndimage

from focus.core.geometry import GridLayout
from focus.models.base import FeaturePass
from focus.stages.relevance import Relevance, layer_range, object_relevance, smooth_and_downsample


def fig7_oracle(features, x_target, x_visual, x_layer, normalization="row"):
    """A literal transcription of the paper's Fig. 7 pseudocode (builds the N×N matrix). Its normalisation line
    `X_layer /= X_layer.sum(dim=-1)` in two readings: `row` (the comment: keepdim, each row by its own sum) and
    `broadcast` (the line exactly as PyTorch runs it)."""
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
            if normalization == "row":
                X_layer = X_layer / X_layer.sum(dim=-1, keepdim=True)
            else:
                X_layer = X_layer / X_layer.sum(dim=-1)
            pseudo_attn += X_layer[target, x_visual]
        pseudo_attn /= pseudo_attn.sum()
        object_rel_map *= pseudo_attn
    return object_rel_map / object_rel_map.sum()


@pytest.mark.parametrize("normalization", ["row", "broadcast"])
@pytest.mark.parametrize("heads,n,dim,n_layers,targets,layers", [
    (4, 60, 16, 6, [50], range(0, 6)),
    (2, 80, 8, 5, [70, 71, 72], range(2, 5)),  # grouped-query shape: 2 kv heads
    (8, 40, 4, 4, [35, 38], [1, 3]),  # layer subset
])
def test_matches_fig7_transcription(heads, n, dim, n_layers, targets, layers, normalization):
    g = torch.Generator().manual_seed(0)
    # positive-leaning features keep the row sums away from zero, as real value vectors are
    feats = [torch.randn(heads, n, dim, generator=g) + 0.5 for _ in range(n_layers)]
    visual = list(range(5, 45 if n > 45 else 30))
    fast = object_relevance(feats, targets, visual, layers, normalization=normalization)
    oracle = fig7_oracle(feats, targets, visual, list(layers), normalization)
    assert fast.shape == (len(visual),)
    assert float(fast.sum()) == pytest.approx(1.0, abs=1e-5)
    torch.testing.assert_close(fast.double(), oracle, rtol=1e-4, atol=1e-9)
    other = fig7_oracle(feats, targets, visual, list(layers), "broadcast" if normalization == "row" else "row")
    assert (oracle - other).abs().max() > 1e-4  # the two readings really differ on these features


def test_normalization_is_validated():
    with pytest.raises(ValueError, match="normalization"):
        object_relevance([torch.rand(1, 4, 2)], [3], [0, 1], [0], normalization="column")
    with pytest.raises(ValueError, match="normalization"):
        Relevance(normalization="rows")


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


class PlantedAdapter:
    """Hands `Relevance` one layer of features in which only the visual token of grid cell `cell` points the way
    the target token does, on a `rows × cols` layout."""

    num_layers = 1

    def __init__(self, rows, cols, cell, local_grid=False):
        self.rows, self.cols, self.cell, self.local_grid = rows, cols, cell, local_grid

    def relevance_pass(self, image, prompt, target, capture="values"):
        n_visual = self.rows * self.cols
        feats = torch.zeros(1, n_visual + 1, 2)
        feats[0, :, 0] = 1.0
        feats[0, self.cell[0] * self.cols + self.cell[1]] = torch.tensor([0.0, 1.0])
        feats[0, -1] = torch.tensor([0.0, 1.0])  # the target token
        layout = GridLayout(self.rows, self.cols, (0.0, 0.0, 10.0 * self.cols, 10.0 * self.rows),
                            (10 * self.cols, 10 * self.rows))
        return FeaturePass([feats], [n_visual], torch.arange(n_visual), layout, torch.zeros(n_visual + 1))


@pytest.mark.parametrize("rows,cols,cell", [(3, 5, (2, 1)), (5, 3, (0, 2)), (4, 7, (3, 6))])
def test_map_cells_are_row_major_on_non_square_grids(rows, cols, cell):
    rmap = Relevance(layers=(0, 1))(PlantedAdapter(rows, cols, cell), None, "cat")
    assert rmap.grid.shape == (rows, cols) and (rmap.layout.rows, rmap.layout.cols) == (rows, cols)
    assert divmod(int(rmap.grid.argmax()), cols) == cell
    assert float(rmap.grid[cell]) == pytest.approx(1.0)  # every other token is orthogonal to the target


def test_local_grids_are_smoothed_and_downsampled():
    """Global-local models: Gaussian sigma 1 then ×2 area-average downsampling (Sec. 3.2, design 4.2)."""
    adapter = PlantedAdapter(9, 13, (4, 6), local_grid=True)
    rmap = Relevance(layers=(0, 1), local_sigma=1.0, local_downsample=2)(adapter, None, "cat")
    assert rmap.grid.shape == (5, 7) and (rmap.layout.rows, rmap.layout.cols) == (5, 7)
    assert rmap.layout.region == (0.0, 0.0, 130.0, 90.0)  # the same pixels, coarser cells
    delta = np.zeros((9, 13))
    delta[4, 6] = 1.0
    smoothed = ndimage.gaussian_filter(delta, sigma=1.0, mode="nearest")

    def bins(n, m):  # area average into m bins: bin i covers [floor(i·n/m), ceil((i+1)·n/m))
        return [(i * n // m, -(-(i + 1) * n // m)) for i in range(m)]

    expected = np.array([[smoothed[r0:r1, c0:c1].mean() for c0, c1 in bins(13, 7)] for r0, r1 in bins(9, 5)])
    torch.testing.assert_close(rmap.grid.double(), torch.from_numpy(expected / expected.sum()), atol=1e-6, rtol=0)
    plain = Relevance(layers=(0, 1), local_sigma=0, local_downsample=1)(adapter, None, "cat")
    assert plain.grid.shape == (9, 13) and float(plain.grid[4, 6]) == pytest.approx(1.0)
