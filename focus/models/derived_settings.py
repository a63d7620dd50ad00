"""FOCUS settings for a model the paper never tuned, derived from the paper's advice (App. A.3, Table 7).

The ONE place where a new family's defaults come from (README "Settings for a model the paper never tuned"); the
`conf/model/*.yaml` of such a family cite the function and the numbers it printed. Pure functions, no model needed:
`python -m focus.models.derived_settings` prints the values for the families `focus` ships.

- Relevance layers (App. A.3: "select the last 25 % – 60 % of the layers"): the last HALF, [D - D/2, D) of D decoder
  layers. 50 % lies inside the advised range and is what the paper itself uses where it states a range over the whole
  second half: LLaVA-OneVision layers 14..28 of 28 in Sec. 4.1, and LLaVA-1.5 14..32 of 32 (56 %) in Table 7.
- s_max (App. A.3: a crop of s_max map cells should span about 1–2× the vision encoder's base resolution): the
  smallest s whose crop reaches 1× the base resolution, but never below Table 7's s_max = 5. With each family's map
  cell on V*Bench's mean image (2246×1582) this gives back Table 7: LLaVA-OneVision 9, LLaVA-1.5 5; on 8K images
  (7680×4320) 5 for both, as Table 7 outside V*Bench; on 3840×2160 it gives OneVision 6 where Table 7 says 5 (the
  rule is the 1× end, Table 7 sits at 1.0–1.1× there). Layers: the rule gives [16, 32) for LLaVA-1.5 where Table 7
  tuned [14, 32), and [14, 28) for OneVision, Sec. 4.1's range (Table 7: [21, 28)). A cell is in ORIGINAL-image pixels and on the map FOCUS searches (after the
  global-local downsampling of Sec. 3.2), so it depends on the images: `cell_px_*` compute it per family.
- k, s_min, s_dist, t_type2 (Table 7): LLaVA-OneVision's column (the higher-resolution model of the paper), as
  conf/model/qwen25vl.yaml already does: k = 30, s_min = 3, s_dist = 2, t_type2 = 0.5.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

LAYER_FRACTION = 0.5  # the last half of the decoder: inside App. A.3's 25–60 %
TABLE7_S_MAX = 5  # Table 7's s_max outside V*Bench, both models
TABLE7_REST = {"k": 30, "s_min": 3, "s_dist": 2, "t_type2": 0.5}  # Table 7, LLaVA-OneVision column
VSTAR_IMAGE = (2246, 1582)  # V*Bench's mean image size (the V* paper, Wu & Xie 2024)


@dataclass(frozen=True)
class DerivedSettings:
    layers: tuple[int, int]  # [l, L) of the model's own decoder layers
    s_max: int
    crop_px: float  # s_max cells in original pixels
    crop_ratio: float  # crop_px / base resolution: App. A.3 asks for 1–2
    k: int = TABLE7_REST["k"]
    s_min: int = TABLE7_REST["s_min"]
    s_dist: int = TABLE7_REST["s_dist"]
    t_type2: float = TABLE7_REST["t_type2"]

    def to_dict(self) -> dict:
        return asdict(self)


def relevance_layers(num_layers: int, fraction: float = LAYER_FRACTION) -> tuple[int, int]:
    """[l, L) = the last `fraction` of `num_layers` decoder layers (0-based, half-open)."""
    if num_layers < 1 or not 0 < fraction <= 1:
        raise ValueError(f"need num_layers >= 1 and 0 < fraction <= 1, got {num_layers}, {fraction}")
    return num_layers - max(1, round(num_layers * fraction)), num_layers


def s_max_for(cell_px: float, base_resolution: int) -> int:
    """The smallest s_max whose crop (s_max cells of `cell_px` original pixels) spans the encoder's base resolution,
    at least Table 7's 5."""
    return max(TABLE7_S_MAX, math.ceil(base_resolution / cell_px - 1e-9))


def derive(num_layers: int, cell_px: float, base_resolution: int) -> DerivedSettings:
    s_max = s_max_for(cell_px, base_resolution)
    return DerivedSettings(relevance_layers(num_layers), s_max, s_max * cell_px, s_max * cell_px / base_resolution)


# ------------------------------------------------------------------ the map cell per family, in original pixels
def cell_px_native(image_size: tuple[int, int], px_per_token: int, max_pixels: int) -> float:
    """Native-resolution models (Qwen2.5-VL 28 px/token, Qwen3-VL 32, LLaVA-OneVision-1.5 28): the image is scaled
    down to at most `max_pixels` (smart_resize, rounding ignored), one token per `px_per_token` resized pixels."""
    w, h = image_size
    return px_per_token * max(1.0, math.sqrt(w * h / max_pixels))


def cell_px_tiled(image_size: tuple[int, int], tile: int, tokens_per_side: int, max_tiles: int,
                  local_downsample: int = 2) -> float:
    """InternVL: the image stretched to cols × rows tiles (at most `max_tiles`), `tokens_per_side` tokens per tile
    side, the map then downsampled by `local_downsample` (relevance.local_downsample, Sec. 3.2)."""
    from transformers.models.got_ocr2.image_processing_pil_got_ocr2 import get_optimal_tiled_canvas

    w, h = image_size
    cols, rows = get_optimal_tiled_canvas((h, w), (tile, tile), 1, max_tiles)
    return max(w / (cols * tokens_per_side), h / (rows * tokens_per_side)) * local_downsample


def cell_px_anyres(image_size: tuple[int, int], local_downsample: int = 2) -> float:
    """LLaVA-OneVision (SigLIP 384/14, anyres_max_9), through its adapter's own layout code."""
    from .llava_ov import local_grid_layout
    from transformers.models.llava_onevision.configuration_llava_onevision import LlavaOnevisionConfig

    w, h = image_size
    layout = local_grid_layout(w, h, 384, 14, LlavaOnevisionConfig().image_grid_pinpoints, "anyres_max_9")
    x0, y0, x1, y1 = layout.region
    return max((x1 - x0) / layout.cols, (y1 - y0) / layout.rows) * local_downsample


def shipped_families(image_size: tuple[int, int] = VSTAR_IMAGE) -> dict[str, DerivedSettings]:
    """What the rule gives for the families `focus` ships, on images of `image_size` (default: V*Bench's mean).
    Depths and geometry from the checkpoints' configs (README model table)."""
    w, h = image_size
    return {
        "llava15 (check: Table 7)": derive(32, max(w, h) / 24, 336),  # padded to square, 24×24
        "llava_ov (check: Table 7)": derive(28, cell_px_anyres(image_size), 384),
        "qwen25vl max_pixels=1003520": derive(28, cell_px_native(image_size, 28, 1003520), 448),
        "qwen3vl-8b max_pixels=1003520": derive(36, cell_px_native(image_size, 32, 1003520), 448),
        "llava_ov15-8b max_pixels=1003520": derive(36, cell_px_native(image_size, 28, 1003520), 448),
        "internvl3_5-8b max_tiles=12": derive(36, cell_px_tiled(image_size, 448, 16, 12), 448),
        "internvl3-8b max_tiles=12": derive(28, cell_px_tiled(image_size, 448, 16, 12), 448),
    }


if __name__ == "__main__":
    for size in (VSTAR_IMAGE, (3840, 2160), (7680, 4320)):
        print(f"images {size[0]}x{size[1]}:")
        for name, s in shipped_families(size).items():
            print(f"  {name:34s} layers {list(s.layers)}  s_max {s.s_max}  crop {s.crop_px:.0f} px "
                  f"({s.crop_ratio:.2f}x base)")
