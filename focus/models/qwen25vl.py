"""Qwen2.5-VL adapter (`Qwen/Qwen2.5-VL-7B-Instruct`), native resolution (paper Sec. 4.4, Table 5).

Geometry: `smart_resize` scales the image to multiples of 28 px within [min_pixels, max_pixels] (no padding, so the
grid covers the whole image); `image_grid_thw = (1, H/14, W/14)`; 2×2 patches are merged, so the image tokens
between <|vision_start|> and <|vision_end|> form an (H/28) × (W/28) raster grid. `max_pixels` dominates
HR-Bench scores and is always set explicitly in config.
"""

from __future__ import annotations

from .base import HFAdapter
from .native_grid import NativeResolutionGrid
from .processors import Qwen2_5_VLImageOnlyProcessor, align_with_model


class Qwen25VLAdapter(NativeResolutionGrid, HFAdapter):
    grid_name = "Qwen2.5-VL merged grid"
    family = "qwen25vl"
    tiny_family = "qwen25vl"
    processor_cls = Qwen2_5_VLImageOnlyProcessor
    multi_image = True
    local_grid = False
    base_resolution = 448

    def configure_processor(self, min_pixels: int | None = None, max_pixels: int | None = None,
                            resolution_scale: float = 1.0) -> None:
        """`resolution_scale` multiplies the side of the largest input (max_pixels × scale²): budget-matched vanilla
        runs (experiments/budget_matched.yaml); images already under max_pixels keep their size."""
        ip = self.processor.image_processor
        vision = self.model.config.vision_config  # the model's patching decides the grid; the processor must agree
        align_with_model(ip, "patch_size", vision.patch_size, self.path)
        align_with_model(ip, "merge_size", vision.spatial_merge_size, self.path)
        align_with_model(ip, "temporal_patch_size", vision.temporal_patch_size, self.path)
        self.set_pixel_budget(ip, min_pixels, max_pixels, resolution_scale)
