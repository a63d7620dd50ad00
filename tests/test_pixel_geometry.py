"""Token geometry checked through the model's own forward, independent of the adapters' bookkeeping (design 5).

For each family and image size, small boxes of pixels of the ORIGINAL image are changed; the positions whose
language-model input embeddings change (with the vision tower's mixing layers made identity) must be the positions
the adapter reports for the cells whose pixel boxes hold the change. How, and the tolerances: `pixel_probe.py`.
Second, the adapter's visual positions must be the image-token positions of `input_ids`, row-major, on the grid the
processor itself reports.
"""

from __future__ import annotations

import math

import pytest
import torch
from PIL import Image

from pixel_probe import check_size, make_probe

SIZES = [
    (336, 336), (500, 500),            # square
    (1500, 500), (2250, 680),          # wide 3:1 (OneVision: 2250x680 is unpadded and downsampled)
    (400, 1200), (700, 2100),          # tall 1:3 (OneVision: 700x2100 is downsampled)
    (30, 20), (160, 120), (64, 900),   # tiny (upsampled), thin
    (1024, 768), (1200, 700),          # V*-like
    (3000, 1000),                      # above every processor's maximum (OneVision: downsampled)
]  # Qwen2.5-VL at max_pixels = 1024·28²: 2250x680, 700x2100, 1200x700 and 3000x1000 are downscaled
# cells smaller than the bicubic spread: larger boxes, and only the bounds can be checked
LARGE_BOXES = {"llava15": {(30, 20)}}
# where every other size must be checked exactly (OneVision's uniform layout is right only within `tile_slack`)
EXACT = {"llava15", "qwen25vl"}


@pytest.fixture(scope="module")
def probe_factory(adapter_factory):
    probes = {}

    def make(family):
        if family not in probes:
            probes[family] = make_probe(adapter_factory(family))
        return probes[family]

    return make


@pytest.mark.parametrize("family", ["llava15", "llava_ov", "qwen25vl"])
def test_changed_pixels_reach_exactly_the_reported_cells(probe_factory, family):
    probe = probe_factory(family)
    for w, h in SIZES:
        large = (w, h) in LARGE_BOXES.get(family, ())
        exact = check_size(probe, w, h, loose=large)
        if family in EXACT and not large:  # the test's strength: one cell off fails
            assert exact, f"{family} {w}x{h}: the boxes were not placed where the check is exact"


def processor_grid(adapter, image, inputs) -> tuple[int, int, int]:
    """(rows, cols, leading non-grid image tokens) from the processor's own outputs and helpers alone."""
    proc = adapter.processor
    if adapter.family == "qwen25vl":
        _, gh, gw = (int(v) for v in inputs["image_grid_thw"][0])
        merge = proc.image_processor.merge_size
        return gh // merge, gw // merge, 0
    if adapter.family == "llava_ov":
        from transformers.image_processing_utils import select_best_resolution

        ip = proc.image_processor
        tile = ip.size["height"]
        best_h, best_w = select_best_resolution([image.height, image.width], ip.image_grid_pinpoints)
        side = math.isqrt(proc.num_image_tokens)
        cells, rows = proc._get_unpadded_features(image.height, image.width, side, side, best_h // tile,
                                                  best_w // tile)
        return rows, cells // rows, proc.num_image_tokens
    height, width = inputs["pixel_values"].shape[-2:]
    return height // proc.patch_size, width // proc.patch_size, 0


@pytest.mark.parametrize("family", ["llava15", "llava_ov", "qwen25vl"])
def test_visual_positions_are_the_image_tokens_row_major(adapter_factory, family):
    """The adapter's visual positions equal the image-token positions of `input_ids`, row-major, on the grid the
    processor reports (OneVision: after the base view, one newline token closing each row)."""
    adapter = adapter_factory(family)
    for w, h in [(336, 336), (1500, 500), (400, 1200), (30, 20), (1200, 700), (3000, 1000)]:
        image = Image.new("RGB", (w, h), (40, 90, 160))
        inputs = adapter.encode([image], [adapter.chat(1, "Where is the cat?")])
        input_ids = inputs["input_ids"][0]
        rows, cols, lead = processor_grid(adapter, image, inputs)
        image_positions = torch.nonzero(input_ids == adapter.image_token_id).reshape(-1)
        per_row = cols + (1 if family == "llava_ov" else 0)
        assert len(image_positions) == lead + rows * per_row, (family, w, h)
        expected = image_positions[lead:].reshape(rows, per_row)[:, :cols].reshape(-1)
        positions, layout = adapter.visual_grid_positions(input_ids, inputs, image)
        assert (layout.rows, layout.cols) == (rows, cols), (family, w, h)
        assert torch.equal(positions, expected), (family, w, h)
