"""LLaVA-1.5 adapter (`llava-hf/llava-1.5-7b-hf`): a global-view model with one CLIP grid (paper Sec. 3.1).

Geometry: the image is padded to a square with the mean colour (`expand2square`, as the original LLaVA-1.5 and the
paper's Fig. 9 do; the hub processor would centre-crop instead), resized to the vision tower's input size S
(`vision_config.image_size`, 336 for LLaVA-1.5-7B) and cut into P-px patches (`vision_config.patch_size`, 14): the
G×G image tokens (G = S/P, 24×24 = 576 for the 7B model) are contiguous and row-major. A cell therefore maps to a
square of side max(W, H)/G in the ORIGINAL image, offset by the padding, which `GridLayout.cell_box` subtracts and
clips. Every number comes from the checkpoint's config, so smaller LLaVA-architecture checkpoints load unchanged.

The padding processor is built here, explicitly, from the checkpoint's normalisation: the hub checkpoint declares
`CLIPImageProcessor`, which ignores `do_pad` and centre-crops, so setting `do_pad` on whatever `from_pretrained`
loads would silently crop every non-square image while the layout assumes padding.
"""

from __future__ import annotations

import logging

from transformers import LlavaProcessor

from ..core.geometry import GridLayout
from .base import HFAdapter, check_count, image_token_positions
from .processors import FastPadLlavaImageProcessor, align_with_model

log = logging.getLogger(__name__)


def llava15_image_processor(loaded, input_size: int, pad_to_square: bool) -> FastPadLlavaImageProcessor:
    """LLaVA-1.5's preprocessing with the checkpoint's mean/std/resampling: pad to a square with the mean colour
    (`pad_to_square`; otherwise resize the short side and centre-crop, the hub default), resize to `input_size`.
    The PIL implementation is used on every machine, so CPU and GPU runs see the same pixels; its pad-and-resize
    runs without building the padded full-resolution square (`pad_resize_square`, same pixel values)."""
    return FastPadLlavaImageProcessor(
        do_pad=pad_to_square, size={"shortest_edge": input_size},
        crop_size={"height": input_size, "width": input_size}, do_center_crop=True, do_resize=True,
        image_mean=list(loaded.image_mean) if loaded.image_mean is not None else None,
        image_std=list(loaded.image_std) if loaded.image_std is not None else None,
        resample=loaded.resample, rescale_factor=loaded.rescale_factor)


class Llava15Adapter(HFAdapter):
    family = "llava15"
    tiny_family = "llava15"
    processor_cls = LlavaProcessor
    multi_image = False
    local_grid = False
    base_resolution = None  # min_crop, else the vision tower's input size

    def configure_processor(self, pad_to_square: bool = True, resolution_scale: float = 1.0) -> None:
        vision = self.model.config.vision_config
        loaded = self.processor.image_processor
        crop = getattr(loaded, "crop_size", None) or {}
        if crop.get("height") not in (None, vision.image_size):
            log.warning("the checkpoint's image processor crops to %s px but the vision tower takes %d px; "
                        "using %d", crop.get("height"), vision.image_size, vision.image_size)
        size = vision.image_size
        if resolution_scale and float(resolution_scale) != 1.0:
            size = self._scale_input_size(float(resolution_scale), vision)
        self.processor.image_processor = llava15_image_processor(loaded, size, bool(pad_to_square))
        # the processor counts (S / P)² image tokens (less the CLS under "default") as the model emits them
        align_with_model(self.processor, "patch_size", vision.patch_size, self.path)
        align_with_model(self.processor, "vision_feature_select_strategy",
                         self.model.config.vision_feature_select_strategy, self.path)
        self.pad_to_square = bool(pad_to_square)
        self.grid = size // vision.patch_size  # 24 for CLIP-L/14 at 336 px
        if not self.base_resolution:
            self.base_resolution = vision.image_size

    def _scale_input_size(self, scale: float, vision) -> int:
        """`resolution_scale`: every image (whole image and crops) at scale × the tower's trained size (rounded to
        whole patches), the position embeddings interpolated (CLIP's `interpolate_pos_encoding`), (size / P)² tokens.
        For budget-matched vanilla baselines (experiments/budget_matched.yaml): LLaVA-1.5 was trained at one size, so
        a larger one is out of distribution, not a budget the model was built to use."""
        size = max(1, round(vision.image_size * scale / vision.patch_size)) * vision.patch_size
        tower = self.model.model.vision_tower
        embeddings = getattr(tower, "vision_model", tower).embeddings
        original = embeddings.forward
        embeddings.forward = lambda pixel_values, interpolate_pos_encoding=False: original(
            pixel_values, interpolate_pos_encoding=True)
        return size

    def layout(self, image) -> GridLayout:
        w, h = image.size
        if self.pad_to_square:
            side = max(w, h)
            x0, y0 = -((side - w) // 2), -((side - h) // 2)  # same integer split as the processor's pad_to_square
            region = (x0, y0, x0 + side, y0 + side)
        else:  # hub default: resize the short side, centre-crop the square
            side = min(w, h)
            x0, y0 = (w - side) / 2, (h - side) / 2
            region = (x0, y0, x0 + side, y0 + side)
        return GridLayout(self.grid, self.grid, region, (w, h))

    def visual_grid_positions(self, input_ids, inputs, image):
        layout = self.layout(image)
        positions = image_token_positions(input_ids, self.image_token_id)
        check_count(len(positions), layout.rows * layout.cols, f"LLaVA-1.5 {self.grid}×{self.grid}")
        return positions, layout
