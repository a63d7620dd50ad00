"""The token grid of the native-resolution families (Qwen2.5-VL, Qwen3-VL, LLaVA-OneVision-1.5; paper Sec. 3.2 and
4.4, docs/geometry.md): `smart_resize` scales the image to multiples of patch·merge px within [min_pixels,
max_pixels], no padding, so the grid covers the whole image; `image_grid_thw = (1, H/patch, W/patch)`; merge×merge
patches become one token, and the image tokens between the vision markers form an (H/factor) × (W/factor) raster
grid, row-major. Each family's adapter makes its processor agree with the model's patching, then calls
`set_pixel_budget`; the patch and merge sizes it reads decide `factor`, never an assumed number."""

from __future__ import annotations

from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import smart_resize

from ..core.geometry import GridLayout
from .base import check_count, image_token_positions


class NativeResolutionGrid:
    """Mixed into an `HFAdapter` of a native-resolution family; `grid_name` names it in geometry errors."""

    grid_name = "merged grid"

    def set_pixel_budget(self, ip, min_pixels: int | None = None, max_pixels: int | None = None,
                         resolution_scale: float = 1.0) -> None:
        """The image processor's [min_pixels, max_pixels] (explicit values win over the checkpoint's);
        `resolution_scale` multiplies the side of the largest input (max_pixels × scale²)."""
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
        check_count(t * (gh // self.merge) * (gw // self.merge), layout.rows * layout.cols, self.grid_name)
        positions = image_token_positions(input_ids, self.image_token_id)
        check_count(len(positions), layout.rows * layout.cols, self.grid_name)
        return positions, layout
