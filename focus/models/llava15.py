"""LLaVA-1.5 adapter (`llava-hf/llava-1.5-7b-hf`): a global-view model with a 24×24 CLIP grid (paper Sec. 3.1).

Geometry: the image is padded to a square with the mean colour (`expand2square`, as the original LLaVA-1.5 and the
paper do; the hub processor would centre-crop instead), resized to 336², and cut into 14-px patches; the 576 image
tokens are contiguous and row-major. A cell therefore maps to a square of side max(W, H)/24 in the ORIGINAL image,
offset by the padding, which `GridLayout.cell_box` subtracts and clips.
"""

from __future__ import annotations

from transformers import LlavaProcessor

from ..geometry import GridLayout
from .base import HFAdapter, check_count, image_token_positions


class Llava15Adapter(HFAdapter):
    family = "llava15"
    tiny_family = "llava15"
    processor_cls = LlavaProcessor
    multi_image = False
    local_grid = False
    base_resolution = 336

    def configure_processor(self, pad_to_square: bool = True) -> None:
        image_processor = self.processor.image_processor
        image_processor.do_pad = bool(pad_to_square)  # mean-colour padding (LlavaImageProcessor(do_pad=True))
        self.pad_to_square = bool(pad_to_square)
        vision = self.model.config.vision_config
        self.grid = vision.image_size // vision.patch_size  # 24 for CLIP-L/14 at 336 px

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
        check_count(len(positions), layout.rows * layout.cols, "LLaVA-1.5 24×24")
        return positions, layout
