"""`dataset=synthetic`: deterministic V*Bench-like samples, generated offline (design section 6).

Large images (≥ 1024 px long side) with a few small coloured shapes on a textured background; multiple-choice
questions about the colour of one shape (single target, V* "attribute") and the relative position of two
(two targets, V* "spatial"). Ground-truth boxes are kept, so V* recall is computed too.
"""

from __future__ import annotations

import random

import numpy as np
from PIL import Image, ImageDraw

from .base import Dataset, Sample

COLOURS = {"red": (220, 30, 30), "green": (30, 170, 60), "blue": (30, 60, 220), "yellow": (235, 210, 30),
           "white": (245, 245, 245), "black": (15, 15, 15), "orange": (245, 140, 20), "purple": (140, 40, 170)}
SHAPES = ("square", "circle", "triangle", "diamond")
SIZES = ((1280, 960), (1600, 1024), (1024, 1536), (2048, 1152), (1152, 1152), (1920, 640))
SUFFIX = "Answer with the option's letter from the given choices directly."


def _draw_shape(draw, shape, box, colour):
    x0, y0, x1, y1 = box
    if shape == "square":
        draw.rectangle(box, fill=colour)
    elif shape == "circle":
        draw.ellipse(box, fill=colour)
    elif shape == "triangle":
        draw.polygon([((x0 + x1) / 2, y0), (x1, y1), (x0, y1)], fill=colour)
    else:
        draw.polygon([((x0 + x1) / 2, y0), (x1, (y0 + y1) / 2), ((x0 + x1) / 2, y1), (x0, (y0 + y1) / 2)],
                     fill=colour)


def make_scene(seed: int):
    """Image, and its objects as (shape, colour name, box)."""
    rng = random.Random(seed)
    w, h = SIZES[seed % len(SIZES)]
    noise = np.random.default_rng(seed).integers(90, 150, size=(h // 16 + 1, w // 16 + 1, 3), dtype=np.uint8)
    image = Image.fromarray(noise).resize((w, h), Image.NEAREST)
    draw = ImageDraw.Draw(image)
    objects, shapes = [], rng.sample(SHAPES, 3)
    colours = rng.sample(sorted(COLOURS), 3)
    for shape, colour in zip(shapes, colours):
        for _ in range(100):
            size = rng.randint(36, 72)
            x, y = rng.randint(0, w - size), rng.randint(0, h - size)
            box = (x, y, x + size, y + size)
            if all(box[2] + 40 < o[2][0] or o[2][2] + 40 < box[0] or box[3] + 40 < o[2][1] or o[2][3] + 40 < box[1]
                   for o in objects):
                break
        _draw_shape(draw, shape, box, COLOURS[colour])
        objects.append((shape, colour, box))
    return image, objects


class SyntheticDataset(Dataset):
    name = "synthetic"

    def __init__(self, num_samples: int = 8, seed: int = 0, prompt_suffix: str = SUFFIX, limit: int | None = None,
                 prompt_style: str = "paper", benchmark: str = "vstar"):
        super().__init__(limit, prompt_style, benchmark)
        self.num_samples, self.seed, self.prompt_suffix = num_samples, seed, prompt_suffix

    def count(self, stop=None) -> int:
        return self.num_samples

    def samples(self):
        for i in range(self.num_samples):
            scene_seed = self.seed * 100003 + i
            _, objects = make_scene(scene_seed)  # cheap enough; the image itself is rebuilt lazily
            rng = random.Random(scene_seed + 7)
            if i % 2 == 0:  # colour of one object: single target
                shape, colour, box = objects[0]
                wrong = rng.sample([c for c in sorted(COLOURS) if c != colour], 3)
                options = wrong + [colour]
                rng.shuffle(options)
                question = f"What is the color of the {shape}?"
                label = "ABCD"[options.index(colour)]
                category, boxes, targets = "attribute", [box], [shape]
            else:  # relative position of two objects: two targets
                (s1, c1, b1), (s2, c2, b2) = objects[0], objects[1]
                options = ["left", "right"]
                question = f"Is the {c1} {s1} on the left or right side of the {c2} {s2}?"
                label = "A" if (b1[0] + b1[2]) < (b2[0] + b2[2]) else "B"
                category, boxes, targets = "spatial", [b1, b2], [f"{c1} {s1}", f"{c2} {s2}"]
            yield Sample(id=f"synthetic-{i}", question=question, options=options, label=label, category=category,
                         prompt=self.prompt(question, options),
                         image_fn=lambda s=scene_seed: make_scene(s)[0],
                         gt_boxes=[list(b) for b in boxes], gt_targets=targets,
                         image_digest=f"synthetic:{scene_seed}", source=f"sample {i}")
