"""`dataset=demo_scenes`: a procedural V*Bench-like benchmark for the demo model (paper Sec. 4.1 in miniature).

Each scene is a high-resolution image (768–1536 px long side, seven aspect ratios) with a textured background,
low-saturation clutter and 4–6 small coloured shapes, each about 4–5 % of the long side: a few pixels once the whole image is
downscaled to the demo model's 96-px input, so the COLOUR of an object stays visible there while its SHAPE does not.
That is V*Bench's situation (small objects, details lost in the global view) reduced to one attribute:
- `attribute`: "What is the shape of the red object?" — localised by the visible colour, answered by the shape that
  only a crop resolves (4 shuffled options);
- `spatial`: "Is the red object on the left or right side of the blue object?" — two targets (2 shuffled options).
Questions and options use V*'s text format and letter labels; ground-truth boxes give V* recall.

A scene is a pure function of (split seed, index): `dataset.seed` selects the split and `dataset.limit` the number
of scenes. Split seeds >= `TRAINING_SEEDS_FROM` are reserved for training the demo model (its model card lists the
ones it used) and are refused here, so evaluation never sees a training scene.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from .base import Dataset, Sample

COLOURS = {"red": (225, 25, 25), "green": (25, 175, 55), "blue": (35, 70, 235), "yellow": (245, 220, 25),
           "orange": (250, 135, 15), "purple": (150, 45, 200), "white": (250, 250, 250), "black": (10, 10, 10)}
SHAPES = ("circle", "square", "triangle", "cross")
ASPECTS = ((1, 1), (4, 3), (3, 4), (3, 2), (2, 3), (2, 1), (1, 2))
LONG_SIDES = (768, 1024, 1280, 1536)
OBJECT_SIZE = (0.040, 0.050)  # object side / image long side: 3.8-4.8 px in a 96-px view of the whole image, 15-19 px
# in a crop of a quarter of the long side (the 3-cell crops FOCUS proposes for the demo model)
TRAINING_SEEDS_FROM = 1000  # split seeds >= this are the demo model's training data
SUFFIX = "Answer with the option's letter from the given choices directly."


@dataclass(frozen=True)
class SceneObject:
    colour: str
    shape: str
    box: tuple[int, int, int, int]  # (x0, y0, x1, y1) pixels, half-open

    @property
    def name(self) -> str:  # how questions and targets refer to it: by the colour, which the global view shows
        return f"{self.colour} object"

    @property
    def center(self) -> tuple[float, float]:
        return (self.box[0] + self.box[2]) / 2, (self.box[1] + self.box[3]) / 2


def draw_shape(draw: ImageDraw.ImageDraw, shape: str, box, fill) -> None:
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    if shape == "circle":
        draw.ellipse((x0, y0, x1 - 1, y1 - 1), fill=fill)
    elif shape == "square":
        draw.rectangle((x0, y0, x1 - 1, y1 - 1), fill=fill)
    elif shape == "triangle":
        draw.polygon([(x0 + w / 2, y0), (x1 - 1, y1 - 1), (x0, y1 - 1)], fill=fill)
    elif shape == "cross":
        t = max(1, round(w / 3))
        draw.rectangle((x0 + (w - t) // 2, y0, x0 + (w - t) // 2 + t - 1, y1 - 1), fill=fill)
        draw.rectangle((x0, y0 + (h - t) // 2, x1 - 1, y0 + (h - t) // 2 + t - 1), fill=fill)
    else:
        raise ValueError(f"unknown shape {shape!r}")


def _background(rng: np.random.Generator, w: int, h: int) -> Image.Image:
    """Muted texture: a low-saturation base colour, coarse blotches and fine grain."""
    base = rng.uniform(85, 165) + rng.uniform(-18, 18, size=3)
    coarse = rng.normal(0, 16, size=(h // 48 + 2, w // 48 + 2, 1)) + rng.normal(0, 5, size=(h // 48 + 2, w // 48 + 2, 3))
    coarse_img = Image.fromarray(np.clip(base + coarse, 0, 255).astype(np.uint8)).resize((w, h), Image.BILINEAR)
    grain = rng.integers(-9, 10, size=(h // 4 + 1, w // 4 + 1, 1), dtype=np.int16)
    grain = np.repeat(np.repeat(grain, 4, axis=0), 4, axis=1)[:h, :w]
    return Image.fromarray(np.clip(np.asarray(coarse_img, dtype=np.int16) + grain, 0, 255).astype(np.uint8))


def _free(box, placed, gap) -> bool:
    return all(box[2] + gap <= b[0] or b[2] + gap <= box[0] or box[3] + gap <= b[1] or b[3] + gap <= box[1]
               for b in placed)


def scene_layout(split_seed: int, index: int) -> tuple[tuple[int, int], list[SceneObject]]:
    """Image size and coloured objects of a scene, without drawing it (cheap; its own RNG stream)."""
    rng = np.random.default_rng([int(split_seed), int(index), 0])
    aw, ah = ASPECTS[rng.integers(len(ASPECTS))]
    long_side = int(rng.choice(LONG_SIDES))
    w, h = (long_side, round(long_side * ah / aw)) if aw >= ah else (round(long_side * aw / ah), long_side)
    objects: list[SceneObject] = []
    for colour in rng.permutation(sorted(COLOURS))[:int(rng.integers(4, 7))]:
        size = int(round(long_side * rng.uniform(*OBJECT_SIZE)))
        for _ in range(200):
            x, y = int(rng.integers(size, w - 2 * size)), int(rng.integers(size, h - 2 * size))
            box = (x, y, x + size, y + size)
            if _free(box, [o.box for o in objects], 3 * size):
                objects.append(SceneObject(str(colour), SHAPES[int(rng.integers(len(SHAPES)))], box))
                break
    return (w, h), objects


def make_scene(split_seed: int, index: int) -> tuple[Image.Image, list[SceneObject]]:
    """The image and its coloured objects; a pure function of (split_seed, index)."""
    (w, h), objects = scene_layout(split_seed, index)
    rng = np.random.default_rng([int(split_seed), int(index), 2])
    long_side = max(w, h)
    image = _background(rng, w, h)
    draw = ImageDraw.Draw(image)
    # clutter: low-saturation blobs and strokes of object size, so "object-ness" alone does not localise a target
    for _ in range(int(rng.integers(6, 14))):
        size = int(long_side * rng.uniform(*OBJECT_SIZE) * rng.uniform(0.7, 1.6))
        x, y = int(rng.integers(0, w - size)), int(rng.integers(0, h - size))
        grey = rng.uniform(60, 190)
        tint = tuple(int(np.clip(grey + rng.uniform(-12, 12), 0, 255)) for _ in range(3))
        if rng.random() < 0.5:
            draw.ellipse((x, y, x + size, y + int(size * rng.uniform(0.4, 1.0))), fill=tint)
        else:
            draw.line((x, y, x + size, y + int(rng.integers(-size, size))), fill=tint, width=max(2, size // 6))
    for obj in objects:
        draw_shape(draw, obj.shape, obj.box, COLOURS[obj.colour])
    return image, objects


@dataclass(frozen=True)
class DemoQuestion:
    category: str  # attribute | spatial
    question: str
    options: list[str]
    label: str
    targets: list[SceneObject]


def make_question(split_seed: int, index: int, objects: list[SceneObject],
                  attribute_fraction: float = 0.65) -> DemoQuestion:
    """One V*-style question about the scene (its own RNG stream, so questions do not change the image)."""
    rng = np.random.default_rng([int(split_seed), int(index), 1])
    pairs = [(a, b) for a in objects for b in objects
             if a is not b and abs(a.center[0] - b.center[0]) >= 4 * (a.box[2] - a.box[0])]
    if rng.random() < attribute_fraction or not pairs:
        target = objects[int(rng.integers(len(objects)))]
        options = list(rng.permutation(SHAPES))
        return DemoQuestion("attribute", f"What is the shape of the {target.name}?", options,
                            "ABCD"[options.index(target.shape)], [target])
    a, b = pairs[int(rng.integers(len(pairs)))]
    options = list(rng.permutation(["left", "right"]))
    answer = "left" if a.center[0] < b.center[0] else "right"
    return DemoQuestion("spatial", f"Is the {a.name} on the left or right side of the {b.name}?", options,
                        "AB"[options.index(answer)], [a, b])


class DemoScenes(Dataset):
    """`num_samples` scenes of split `seed`, one question each, in V*Bench's sample format."""

    name = "demo_scenes"

    def __init__(self, seed: int = 0, num_samples: int = 1000, attribute_fraction: float = 0.65,
                 prompt_suffix: str = SUFFIX, limit: int | None = None, prompt_style: str = "paper",
                 benchmark: str = "vstar"):
        super().__init__(limit, prompt_style, benchmark)
        if int(seed) >= TRAINING_SEEDS_FROM or int(seed) < 0:
            raise ValueError(f"dataset.seed={seed} is not an evaluation split: split seeds >= {TRAINING_SEEDS_FROM} "
                             f"are the demo model's training data; choose 0 <= dataset.seed < {TRAINING_SEEDS_FROM}")
        self.seed, self.num_samples, self.attribute_fraction = int(seed), int(num_samples), float(attribute_fraction)
        self.prompt_suffix = prompt_suffix

    def count(self, stop=None) -> int:
        return self.num_samples

    def samples(self):
        for i in range(self.num_samples):
            _, objects = scene_layout(self.seed, i)
            q = make_question(self.seed, i, objects, self.attribute_fraction)
            yield Sample(id=f"demo-{self.seed}-{i}", question=q.question, options=q.options, label=q.label,
                         category=q.category, prompt=self.prompt(q.question, q.options),
                         image_fn=lambda s=self.seed, n=i: make_scene(s, n)[0],
                         gt_boxes=[list(t.box) for t in q.targets], gt_targets=[t.name for t in q.targets],
                         meta={"split_seed": self.seed, "scene": i,
                               "target_shapes": [t.shape for t in q.targets]},
                         image_digest=f"demo_scenes:{self.seed}:{i}", source=f"scene {i}")
