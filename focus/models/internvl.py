"""InternVL3 / InternVL3.5 adapter (`OpenGVLab/InternVL3_5-8B-HF`, the transformers-native `-HF` checkpoints), a
global-local-view model like LLaVA-OneVision (paper Sec. 3.2, Eq. 4; App. A.5).

Geometry (transformers' GotOcr2 image processor, `crop_to_patches`, and `InternVLModel.get_image_features`): the
image is STRETCHED to cols × rows tiles of `vision_config.image_size` (448 px), the tile arrangement being the one
of at most `max_patches` (12) tiles whose aspect ratio is closest to the image's (`get_optimal_tiled_canvas`); the
tiles are cut row by row, and a thumbnail (the whole image resized to one tile) follows them when there is more than
one tile. Each tile is 32×32 patches of 14 px, pixel-shuffled by `downsample_ratio` (0.5) to 16×16 tokens, each
covering 2×2 patches (28 resized px), row-major. The processor writes `<img>`, then 256 `<IMG_CONTEXT>` tokens per
tile in tile order, then `</img>`. FOCUS uses the LOCAL tiles only (not the thumbnail), laid out in image order
(tile rows × 16) × (tile cols × 16); the grid covers the whole image (stretched, no padding). As for OneVision the
map of this local grid is smoothed and downsampled (`relevance.local_sigma`, `relevance.local_downsample`,
Sec. 3.2). An image that gets a single tile has no thumbnail: its one tile is the grid.
Several images in one prompt are each tiled the same way (App. A.5: the final answer sees the image and the crops).
"""

from __future__ import annotations

from transformers.models.got_ocr2.image_processing_pil_got_ocr2 import get_optimal_tiled_canvas

from ..core.geometry import GridLayout
from .base import HFAdapter, check_count, image_token_positions
from .processors import InternVLImageOnlyProcessor, align_with_model


def _side(value) -> int:
    """A square size from a vision config (an int, or a [h, w] pair that must be square)."""
    if isinstance(value, (list, tuple)):
        if len(set(value)) != 1:
            raise ValueError(f"non-square InternVL tiles/patches are not supported: {value}")
        return int(value[0])
    return int(value)


def tiled_layout(width: int, height: int, tile: int, tokens_per_side: int, min_tiles: int,
                 max_tiles: int) -> tuple[GridLayout, int]:
    """(layout of the local tiles' token grid, number of tiles) for a width × height image."""
    cols, rows = get_optimal_tiled_canvas((height, width), (tile, tile), min_tiles, max_tiles)
    layout = GridLayout(rows * tokens_per_side, cols * tokens_per_side, (0.0, 0.0, float(width), float(height)),
                        (width, height))
    return layout, rows * cols


def tiles_in_image_order(positions, tile_rows: int, tile_cols: int, side: int):
    """Token positions of tile-major order (tile by tile, each 16×16 row-major) re-laid in image raster order."""
    return positions.reshape(tile_rows, tile_cols, side, side).permute(0, 2, 1, 3).reshape(-1)


class InternVLAdapter(HFAdapter):
    family = "internvl"
    tiny_family = "internvl"
    processor_cls = InternVLImageOnlyProcessor
    multi_image = True
    local_grid = True
    base_resolution = None  # min_crop, else the tile size (448)

    def configure_processor(self, max_patches: int | None = None) -> None:
        cfg = self.model.config
        self.tile = _side(cfg.vision_config.image_size)
        patch = _side(cfg.vision_config.patch_size)
        self.side = int(self.tile // patch * cfg.downsample_ratio)  # tokens per tile side after pixel shuffle
        ip = self.processor.image_processor
        # the model decides tokens per tile; the processor tiles and counts: they must agree
        align_with_model(ip, "size", {"height": self.tile, "width": self.tile}, self.path)
        align_with_model(self.processor, "image_seq_length", self.side ** 2, self.path)
        if max_patches:
            ip.max_patches = int(max_patches)
        if not getattr(ip, "crop_to_patches", False):  # the processor passes crop_to_patches=True to it by default
            ip.crop_to_patches = True
        self.min_tiles, self.max_tiles = int(ip.min_patches), int(ip.max_patches)
        if not self.base_resolution:
            self.base_resolution = self.tile

    def expand_image(self, per_image: int) -> str:
        return f"{self.processor.start_image_token}{self.image_token * per_image}{self.processor.end_image_token}"

    def layout(self, image) -> GridLayout:
        w, h = image.size
        return tiled_layout(w, h, self.tile, self.side, self.min_tiles, self.max_tiles)[0]

    def visual_grid_positions(self, input_ids, inputs, image):
        layout, n_tiles = tiled_layout(*image.size, self.tile, self.side, self.min_tiles, self.max_tiles)
        thumbnail = 1 if n_tiles > 1 else 0
        positions = image_token_positions(input_ids, self.image_token_id)
        check_count(len(positions), (n_tiles + thumbnail) * self.side ** 2, "InternVL tiles + thumbnail")
        local = positions[:n_tiles * self.side ** 2]
        return tiles_in_image_order(local, layout.rows // self.side, layout.cols // self.side, self.side), layout
