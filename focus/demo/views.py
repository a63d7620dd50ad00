"""The demo model's training data (recipe in focus/demo/train.py): the recipe's settings (`TrainConfig`) and the
views it trains on — whole scenes and crops of them at the processor's 96-px input, each with its per-cell labels."""

from __future__ import annotations

import multiprocessing
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ..core.geometry import GridLayout, intersection
from ..data.demo_scenes import TRAINING_SEEDS_FROM, make_scene
from .model import IMAGE_SIZE, PATCH_SIZE

GRID = IMAGE_SIZE // PATCH_SIZE
MEAN = torch.tensor([0.48145466, 0.4578275, 0.40821073]).view(3, 1, 1)  # CLIP's, as in the processor config
STD = torch.tensor([0.26862954, 0.26130258, 0.27577711]).view(3, 1, 1)


@dataclass
class TrainConfig:
    seed: int = 0
    train_split: int = TRAINING_SEEDS_FROM  # scenes of this split seed (>= 1000) are the training data
    scenes: int = 1200
    crops_per_object: int = 2
    random_crops: int = 2
    crop_cells: tuple = (2.0, 5.0)  # crop side in grid cells of the scene (cell = long side / 12; FOCUS crops 3)
    # stage 1
    stage1_steps: int = 800
    stage1_batch: int = 32
    stage1_lr: float = 1.5e-3
    background_weight: float = 0.3
    shape_weight: float = 0.2  # weight of the shape-classification term on crop views' object cells (stage 1)
    # stage 2
    stage2_steps: int = 1200
    stage2_batch: int = 32
    stage2_lr: float = 1e-3
    warmup: int = 100
    task_mix: tuple = (("existence", 0.35), ("shape", 0.35), ("spatial", 0.18), ("extract", 0.12))
    whole_view_fraction: float = 0.3  # shape/spatial questions asked on the whole image (as vanilla sees it)
    freeze_layer0_values: bool = True
    routing_weight: float = 1.0  # weight of the attention-routing loss (see Encoder.routes)
    position_words: bool = True  # object cells also align to a left/right mix of their column (spatial questions)
    attention_init: str = "mimetic"  # mimetic | default: how the language model's attention starts (see init_attention)
    existence_first: int = 0  # stage-2 steps that sample only existence and extraction questions (curriculum)
    stage1_from: str = ""  # skip stage 1: start stage 2 from this stage-1 checkpoint
    eval_every: int = 600
    eval_scenes: int = 40
    eval_split: int = 999  # a held-out split for the checks printed during training (never a training split)
    threads: int = 1
    workers: int = 2
    device: str = "cpu"
    views_cache: str = ""  # a pickle of the training views to reuse between runs of the same scenes ("" = none)


# ------------------------------------------------------------------------------------------------------- views
@dataclass
class View:
    """One image the model sees in training: the scene region `box`, its 96-px pixels and what lies in it."""

    scene: int
    box: tuple[int, int, int, int]
    pixels: np.ndarray  # uint8 [3, 96, 96], the processor's output before rescaling/normalising
    cell_object: np.ndarray  # int8 [144]: index of the object covering the cell, -1 for background
    inside: list[float]  # per scene object: fraction of its area inside the view
    centers_x: list[float]  # per scene object: centre x in scene pixels
    objects: list[tuple[str, str]]  # (colour, shape) per scene object
    whole: bool


def view_layout(width: int, height: int) -> GridLayout:
    """The cells of a padded-to-square view (Llava15Adapter.layout's rule, in view pixels)."""
    side = max(width, height)
    x0, y0 = -((side - width) // 2), -((side - height) // 2)
    return GridLayout(GRID, GRID, (x0, y0, x0 + side, y0 + side), (width, height))


def cell_labels(box, objects) -> np.ndarray:
    """Label a cell with the object covering >= 10 % of the cell or holding >= 30 % of the object's area in it."""
    layout = view_layout(box[2] - box[0], box[3] - box[1])
    cw, ch = layout.cell_size
    labels = np.full(GRID * GRID, -1, dtype=np.int8)
    best = np.zeros(GRID * GRID)
    for k, obj in enumerate(objects):
        ob = (obj.box[0] - box[0], obj.box[1] - box[1], obj.box[2] - box[0], obj.box[3] - box[1])
        area = (ob[2] - ob[0]) * (ob[3] - ob[1])
        for r in range(GRID):
            for c in range(GRID):
                x0, y0 = layout.region[0] + c * cw, layout.region[1] + r * ch
                inter = intersection(ob, (x0, y0, x0 + cw, y0 + ch))
                if inter > 0 and (inter >= 0.1 * cw * ch or inter >= 0.3 * area) and inter > best[r * GRID + c]:
                    best[r * GRID + c], labels[r * GRID + c] = inter, k
    return labels


def _crop_boxes(rng: random.Random, size, objects, cfg: TrainConfig):
    w, h = size
    cell = max(w, h) / GRID
    boxes = []
    for obj in objects:
        for _ in range(cfg.crops_per_object):
            side = rng.uniform(*cfg.crop_cells) * cell
            ow, oh = obj.box[2] - obj.box[0], obj.box[3] - obj.box[1]
            x0 = rng.uniform(obj.box[2] - side, obj.box[0]) if side > ow else obj.box[0]
            y0 = rng.uniform(obj.box[3] - side, obj.box[1]) if side > oh else obj.box[1]
            boxes.append((x0, y0, x0 + side, y0 + side))
    for _ in range(cfg.random_crops):
        side = rng.uniform(*cfg.crop_cells) * cell
        x0, y0 = rng.uniform(-side / 4, w - side * 3 / 4), rng.uniform(-side / 4, h - side * 3 / 4)
        boxes.append((x0, y0, x0 + side, y0 + side))
    # clipped to the image like the framework's crops (which may then be non-square and padded by the processor)
    return [(max(0, round(a)), max(0, round(b)), min(w, round(c)), min(h, round(d))) for a, b, c, d in boxes]


def scene_views(args) -> list[View]:
    split, index, cfg = args
    from transformers.models.llava.image_processing_pil_llava import LlavaImageProcessorPil
    ip = LlavaImageProcessorPil(size={"shortest_edge": IMAGE_SIZE}, crop_size={"height": IMAGE_SIZE,
                                "width": IMAGE_SIZE}, do_pad=True, do_rescale=False, do_normalize=False)
    image, objects = make_scene(split, index)
    rng = random.Random(f"{split}-{index}-views")
    boxes = [(0, 0, *image.size)] + [b for b in _crop_boxes(rng, image.size, objects, cfg)
                                     if b[2] - b[0] >= 8 and b[3] - b[1] >= 8]
    crops = [image if b == (0, 0, *image.size) else image.crop(b) for b in boxes]
    pixels = ip(crops, return_tensors="np")["pixel_values"]
    views = []
    for b, px in zip(boxes, pixels):
        inside = [intersection(o.box, b) / max(1, (o.box[2] - o.box[0]) * (o.box[3] - o.box[1])) for o in objects]
        views.append(View(index, b, np.asarray(px).round().clip(0, 255).astype(np.uint8), cell_labels(b, objects),
                          inside, [o.center[0] for o in objects], [(o.colour, o.shape) for o in objects],
                          b == (0, 0, *image.size)))
    return views


def build_views(split: int, scenes: range, cfg: TrainConfig, desc: str) -> list[View]:
    jobs = [(split, i, cfg) for i in scenes]
    if cfg.workers > 1:
        with multiprocessing.get_context("spawn").Pool(cfg.workers, initializer=torch.set_num_threads,
                                                       initargs=(1,)) as pool:
            chunks = list(tqdm(pool.imap(scene_views, jobs, chunksize=8), total=len(jobs), desc=desc))
    else:
        chunks = [scene_views(j) for j in tqdm(jobs, desc=desc)]
    return [v for chunk in chunks for v in chunk]


def cached_views(cfg: TrainConfig) -> list[View]:
    import pickle
    path = Path(cfg.views_cache) if cfg.views_cache else None
    if path and path.exists():
        with path.open("rb") as f:
            return pickle.load(f)
    views = build_views(cfg.train_split, range(cfg.scenes), cfg, "training scenes")
    if path:
        with path.open("wb") as f:
            pickle.dump(views, f)
    return views


def normalise(pixels: np.ndarray | torch.Tensor) -> torch.Tensor:
    x = torch.as_tensor(pixels).float() / 255.0
    return (x - MEAN) / STD
