"""Qwen2.5-VL adapter (`Qwen/Qwen2.5-VL-7B-Instruct`), native resolution (paper Sec. 4.4, Table 5).

Geometry: `smart_resize` scales the image to multiples of 28 px within [min_pixels, max_pixels] (no padding, so the
grid covers the whole image); `image_grid_thw = (1, H/14, W/14)`; 2×2 patches are merged, so the image tokens
between <|vision_start|> and <|vision_end|> form an (H/28) × (W/28) raster grid. `max_pixels` dominates
HR-Bench scores and is always set explicitly in config.
"""

from __future__ import annotations

from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import smart_resize

from ..core.geometry import GridLayout
from .base import HFAdapter, check_count, image_token_positions
from .processors import Qwen2_5_VLImageOnlyProcessor, align_with_model


class Qwen25VLAdapter(HFAdapter):
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
        size = dict(ip.size)
        if min_pixels:
            size["shortest_edge"] = int(min_pixels)
        if max_pixels:
            size["longest_edge"] = int(max_pixels)
        if resolution_scale and float(resolution_scale) != 1.0:
            size["longest_edge"] = int(size["longest_edge"] * float(resolution_scale) ** 2)
        ip.size = size
        self.min_pixels, self.max_pixels = size["shortest_edge"], size["longest_edge"]
        self.factor = ip.patch_size * ip.merge_size
        self.merge = ip.merge_size

    def vision_images(self, inputs) -> int:
        """Images the vision tower encodes: one row of `image_grid_thw` each (pixel_values holds their patches)."""
        grid = inputs.get("image_grid_thw")
        return 0 if grid is None else len(grid)

    def layout(self, image) -> GridLayout:
        w, h = image.size
        rh, rw = smart_resize(h, w, factor=self.factor, min_pixels=self.min_pixels, max_pixels=self.max_pixels)
        return GridLayout(rh // self.factor, rw // self.factor, (0.0, 0.0, float(w), float(h)), (w, h))

    def visual_grid_positions(self, input_ids, inputs, image):
        layout = self.layout(image)
        t, gh, gw = (int(v) for v in inputs["image_grid_thw"][0])
        check_count(t * (gh // self.merge) * (gw // self.merge), layout.rows * layout.cols, "Qwen2.5-VL merged grid")
        positions = image_token_positions(input_ids, self.image_token_id)
        check_count(len(positions), layout.rows * layout.cols, "Qwen2.5-VL merged grid")
        return positions, layout
