"""Qwen3-VL adapter (`Qwen/Qwen3-VL-8B-Instruct`), native resolution, like Qwen2.5-VL (paper Sec. 4.4, Table 5).

Geometry, read from the checkpoint (vision config `patch_size`, `spatial_merge_size`, `temporal_patch_size`; the
processor is made to agree): `smart_resize` scales the image to multiples of patch·merge = 16·2 = 32 px within
[min_pixels, max_pixels] (no padding, so the grid covers the whole image); `image_grid_thw = (1, H/16, W/16)`; 2×2
patches are merged, so the `<|image_pad|>` tokens between `<|vision_start|>` and `<|vision_end|>` form an
(H/32) × (W/32) raster grid, row-major — the same markers and packing as Qwen2.5-VL, one token per 32 px.

DeepStack: the vision tower also emits features from intermediate blocks (`deepstack_visual_indexes`, three for the
hub checkpoints); the one from the i-th listed block is ADDED to the hidden states at the visual positions after
decoder layer i (layers 0, 1, 2 of 36). The keys and values of decoder layer l are computed from the hidden states
entering it, so the values of layer 0 hold only the merger's tokens, and those of layers 1..3 at the visual positions
each hold a fresh addition of mid-level vision features that no attention has mixed with the rest of the prompt
yet. A relevance range that starts in those first layers therefore measures the target against partly raw vision
features rather than the contextualised visual tokens the relevance map relies on (Sec. 3.2); App. A.3's ranges
(the last 25–60 % of the decoder; conf/model/qwen3vl.yaml: layers 18..36) are far past them. The layer range is
never clipped for this: a user who asks for [0, 4) gets it.
`max_pixels` dominates high-resolution benchmark scores and is always set explicitly in config.
"""

from __future__ import annotations

from .base import HFAdapter
from .native_grid import NativeResolutionGrid
from .processors import Qwen3VLImageOnlyProcessor, align_with_model


class Qwen3VLAdapter(NativeResolutionGrid, HFAdapter):
    grid_name = "Qwen3-VL merged grid"
    family = "qwen3vl"
    tiny_family = "qwen3vl"
    processor_cls = Qwen3VLImageOnlyProcessor
    multi_image = True
    local_grid = False
    base_resolution = 512  # 16×16 merged tokens of 32 px (Qwen2.5-VL's 448 is 16×16 tokens of 28 px)

    def configure_processor(self, min_pixels: int | None = None, max_pixels: int | None = None) -> None:
        ip = self.processor.image_processor
        vision = self.model.config.vision_config  # the model's patching decides the grid; the processor must agree
        align_with_model(ip, "patch_size", vision.patch_size, self.path)
        align_with_model(ip, "merge_size", vision.spatial_merge_size, self.path)
        align_with_model(ip, "temporal_patch_size", vision.temporal_patch_size, self.path)
        self.set_pixel_budget(ip, min_pixels, max_pixels)
        self.deepstack_layers = len(vision.deepstack_visual_indexes)  # decoder layers 0.. that receive DeepStack
