"""LLaVA-OneVision adapter (`llava-hf/llava-onevision-qwen2-7b-ov-hf`), a global-local-view model (Sec. 3.2 Eq. 4).

Geometry (transformers' `pack_image_features`): one contiguous run of image tokens = the base view (27×27 for
SigLIP-384/14) followed by the LOCAL grid row by row, each row followed by one newline token. The local grid is
the anyres tiles (best resolution from `image_grid_pinpoints`) unpadded to the image's aspect ratio, and bilinearly
downsampled when it exceeds the `anyres_max_9` budget, in which case a token is no longer one patch. FOCUS uses
only the local tokens (not the base view, not the newlines), arranged rows × cols as the model arranged them. The
layout is uniform over the unpadded region; SigLIP's 14-px patches cover 378 of each 384-px tile, so a cell may be
off by up to 6 resized pixels (under half a patch) at the end of a tile.
With several images in one prompt the model sees only base views: that is how the final answer gets the whole
image plus the crops (App. A.5).
"""

from __future__ import annotations

import math

from transformers.image_processing_utils import select_best_resolution

from ..core.geometry import GridLayout
from .base import HFAdapter, check_count, image_token_positions
from .processors import LlavaOnevisionImageOnlyProcessor, align_with_model


def local_grid_layout(width: int, height: int, tile: int, patch: int, pinpoints, vision_aspect_ratio: str) -> GridLayout:
    """rows × cols of the local grid after unpadding and anyres_max downsampling, and the pixel region it covers."""
    patches = tile // patch
    best_h, best_w = select_best_resolution([height, width], pinpoints)
    cur_h, cur_w = patches * (best_h // tile), patches * (best_w // tile)
    if width / height > cur_w / cur_h:  # wide: padding rows are removed (unpad_image)
        new_h = int(round(height * (cur_w / width), 7))
        pad = (cur_h - new_h) // 2
        rows, cols = cur_h - 2 * pad, cur_w
        px = width / cur_w  # original pixels per patch
        y0 = (pad - (cur_h - height * cur_w / width) / 2) * px  # exact image extent, not the truncated one
        region = (0.0, y0, float(width), y0 + rows * px)
    else:
        new_w = int(round(width * (cur_h / height), 7))
        pad = (cur_w - new_w) // 2
        rows, cols = cur_h, cur_w - 2 * pad
        px = height / cur_h
        x0 = (pad - (cur_w - width * cur_h / height) / 2) * px
        region = (x0, 0.0, x0 + cols * px, float(height))
    max_tiles = int(vision_aspect_ratio.replace("anyres_max_", ""))
    ratio = math.sqrt(rows * cols / (max_tiles * patches ** 2))
    if ratio > 1.1:  # bilinear downsampling to the anyres_max_9 budget: the same region, fewer tokens
        rows, cols = int(rows // ratio), int(cols // ratio)
    return GridLayout(rows, cols, region, (width, height))


class LlavaOnevisionAdapter(HFAdapter):
    family = "llava_ov"
    tiny_family = "llava_ov"
    processor_cls = LlavaOnevisionImageOnlyProcessor
    multi_image = True
    local_grid = True
    base_resolution = None  # min_crop, else the vision tower's tile size
    pads_patches = True  # a batch's anyres patches are zero-padded to its most (`_pad_for_batching`)

    def configure_processor(self) -> None:
        cfg = self.model.config
        self.tile, self.patch = cfg.vision_config.image_size, cfg.vision_config.patch_size
        # the model packs tokens with its config's pinpoints, aspect budget and feature strategy; the processor
        # counts image tokens and tiles the image with its own copies of them: they must agree
        ip = self.processor.image_processor
        align_with_model(ip, "image_grid_pinpoints", cfg.image_grid_pinpoints, self.path)
        align_with_model(ip, "size", {"height": self.tile, "width": self.tile}, self.path)
        align_with_model(self.processor, "vision_aspect_ratio", cfg.vision_aspect_ratio, self.path)
        align_with_model(self.processor, "vision_feature_select_strategy", cfg.vision_feature_select_strategy,
                         self.path)
        align_with_model(self.processor, "num_image_tokens", (self.tile // self.patch) ** 2, self.path)
        self.base_tokens = (self.tile // self.patch) ** 2
        if cfg.vision_feature_select_strategy == "default":
            self.base_tokens -= 1
        if not self.base_resolution:
            self.base_resolution = self.tile

    def vision_images(self, inputs) -> int:
        """Tiles the vision tower encodes: base view + anyres tiles per image when a prompt holds one image, the
        base view only when it holds several (transformers' `get_image_features`, `batch_num_images`)."""
        from transformers.models.llava_onevision.modeling_llava_onevision import image_size_to_num_patches

        sizes = inputs.get("image_sizes")
        if sizes is None:
            return 0
        per_prompt = inputs.get("batch_num_images")
        per_prompt = [1] * len(sizes) if per_prompt is None else [int(n) for n in per_prompt]
        tiled = [n == 1 for n in per_prompt for _ in range(n)]
        return sum(image_size_to_num_patches(image_size=size, grid_pinpoints=self.model.config.image_grid_pinpoints,
                                             patch_size=self.tile) if tile else 1
                   for size, tile in zip(sizes.tolist(), tiled))

    def layout(self, image) -> GridLayout:
        w, h = image.size
        return local_grid_layout(w, h, self.tile, self.patch, self.processor.image_processor.image_grid_pinpoints,
                                 self.processor.vision_aspect_ratio)

    def visual_grid_positions(self, input_ids, inputs, image):
        layout = self.layout(image)
        positions = image_token_positions(input_ids, self.image_token_id)
        check_count(len(positions), self.base_tokens + layout.rows * (layout.cols + 1),
                    "LLaVA-OneVision base + local grid + newline")
        local = positions[self.base_tokens:].reshape(layout.rows, layout.cols + 1)[:, :layout.cols]
        return local.reshape(-1), layout
