"""LLaVA-OneVision-1.5 adapter (`lmms-lab/LLaVA-OneVision-1.5-8B-Instruct`), native resolution (paper Sec. 3.2: a
single-view model, relevance on its one token grid, like Qwen2.5-VL in Sec. 4.4).

Geometry, read from the checkpoint (vision config `patch_size`, `spatial_merge_size`; the processor is made to
agree): the Qwen2-VL image processor's `smart_resize` scales the image to multiples of patch·merge = 14·2 = 28 px
within [min_pixels, max_pixels] (no padding: the grid covers the whole image); `image_grid_thw = (1, H/14, W/14)`.
The RiceViT tower prepends one class token per image, which it drops before the 2×2 patch merger, so the
`<|image_pad|>` tokens between `<|vision_start|>` and `<|vision_end|>` form an (H/28) × (W/28) raster grid,
row-major, one token per 28 px. Its patch embedding is 2-D (one frame per patch: the vision config has no
`temporal_patch_size`), so the processor's temporal patch size is 1. The text model (Qwen3) uses 1-D positions.
`max_pixels` decides the grid size and is always set explicitly in config.
"""

from __future__ import annotations

from .base import HFAdapter
from .native_grid import NativeResolutionGrid
from .processors import LlavaOnevision15ImageOnlyProcessor, align_with_model


class LlavaOnevision15Adapter(NativeResolutionGrid, HFAdapter):
    grid_name = "LLaVA-OneVision-1.5 merged grid"
    family = "llava_ov15"
    tiny_family = "llava_ov15"
    processor_cls = LlavaOnevision15ImageOnlyProcessor
    multi_image = True
    local_grid = False
    base_resolution = 448  # 16×16 merged tokens of 28 px, as Qwen2.5-VL

    def configure_processor(self, min_pixels: int | None = None, max_pixels: int | None = None) -> None:
        ip = self.processor.image_processor
        vision = self.model.config.vision_config  # the model's patching decides the grid; the processor must agree
        align_with_model(ip, "patch_size", vision.patch_size, self.path)
        align_with_model(ip, "merge_size", vision.spatial_merge_size, self.path)
        align_with_model(ip, "temporal_patch_size", getattr(vision, "temporal_patch_size", 1), self.path)
        self.set_pixel_budget(ip, min_pixels, max_pixels)
