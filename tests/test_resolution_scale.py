"""`model.resolution_scale` (experiments/budget_matched.yaml): the whole image at a larger input, token geometry
kept consistent (LLaVA-1.5: interpolated position embeddings, (s·S/P)² tokens; Qwen2.5-VL: max_pixels × s²)."""

from PIL import Image

from focus.models.llava15 import Llava15Adapter
from focus.models.qwen25vl import Qwen25VLAdapter


def test_llava15_scaled_input_has_the_scaled_grid_and_matching_tokens(tiny_cache, adapter_factory):
    base = adapter_factory("llava15")
    scaled = Llava15Adapter(tiny=True, tiny_cache_dir=tiny_cache, device="cpu", resolution_scale=2)
    assert scaled.grid == 2 * base.grid
    image = Image.new("RGB", (300, 200), (90, 120, 30))
    fpass = scaled.relevance_pass(image, "Is there a {target} in the image?", "red car")
    # the processor emitted exactly grid² image tokens (visual_grid_positions checks the count) in the scaled layout
    assert (fpass.layout.rows, fpass.layout.cols) == (scaled.grid, scaled.grid)
    assert scaled.processor.image_processor.crop_size["height"] == 2 * base.processor.image_processor.crop_size["height"]


def test_qwen25vl_scale_multiplies_the_pixel_cap(tiny_cache):
    adapter = Qwen25VLAdapter(tiny=True, tiny_cache_dir=tiny_cache, device="cpu", max_pixels=802816,
                              resolution_scale=0.5)
    assert adapter.max_pixels == 802816 // 4
    layout = adapter.layout(Image.new("RGB", (1600, 1200)))
    assert layout.rows * layout.cols * 28 * 28 <= 802816 // 4
