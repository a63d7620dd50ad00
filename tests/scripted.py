"""Scripted stand-ins for a model adapter: the test chooses every yes/no confidence and attention map.

Images are "coded": pixel (x, y) holds R = x mod 256, G = y mod 256, B = 16·(x // 256) + (y // 256), so a crop's
top-left pixel tells where in the original image it was cut (`decode`).
"""

import math

import numpy as np
import torch
from PIL import Image


def coded_image(width: int, height: int) -> Image.Image:
    x = np.arange(width)[None, :].repeat(height, 0)
    y = np.arange(height)[:, None].repeat(width, 1)
    rgb = np.stack([x % 256, y % 256, 16 * (x // 256) + y // 256], axis=-1).astype(np.uint8)
    return Image.fromarray(rgb)


def decode(pixel) -> tuple[int, int]:
    r, g, b = pixel[:3]
    return 256 * (b // 16) + r, 256 * (b % 16) + g


def crop_box(view: Image.Image) -> tuple[int, int, int, int]:
    """The (x0, y0, x1, y1) of the original image a plain crop shows."""
    x0, y0 = decode(view.getpixel((0, 0)))
    return x0, y0, x0 + view.width, y0 + view.height


def logits_for(confidence: float) -> list[float]:
    """(l_Yes, l_No) whose Eq. 5 confidence 2·(softmax_Yes − 0.5) is `confidence`."""
    p = (confidence + 1) / 2
    return [math.log(p / (1 - p)), 0.0]


def prompt_kind(text: str) -> str:
    if "Could you answer the question" in text:
        return "answering"
    if "is it possible to find" in text:
        return "latent"
    return "existence"


class ScriptedAdapter:
    """`confidence(kind, images, text) -> float` decides every yes/no answer; targets and answers are canned."""

    def __init__(self, confidence, targets_answer: str, multi_image: bool = False, base_resolution: int = 336):
        self.confidence, self.targets_answer = confidence, targets_answer
        self.multi_image, self.base_resolution, self.num_layers = multi_image, base_resolution, 32
        self.calls = 0
        self.asked: list[tuple[str, list, str, list]] = []  # (kind, images, text, content) of every prompt
        self.answered: list[tuple[list, str]] = []  # (images, text) of every final answer

    def generate(self, images, text, max_new_tokens=None):
        self.calls += 1
        if "which objects' information do you need" in text:
            return self.targets_answer
        self.answered.append((list(images), text))
        return "A"

    def yes_no_logits_interleaved(self, contents):
        self.calls += 1
        rows = []
        for content in contents:
            images = [x for x in content if isinstance(x, Image.Image)]
            text = "".join(x for x in content if isinstance(x, str))
            kind = prompt_kind(text)
            self.asked.append((kind, images, text, list(content)))
            rows.append(logits_for(self.confidence(kind, images, text)))
        return torch.tensor(rows, dtype=torch.float32)


class AttentionScript:
    """ViCrop's model calls: `maps(image, text, gradient) -> (attention [heads, rows, cols], gradient | None,
    layout)` decides every attention map; answers are canned."""

    def __init__(self, maps, multi_image: bool = False, base_resolution: int = 336, num_layers: int = 32):
        self.maps, self.multi_image, self.base_resolution, self.num_layers = maps, multi_image, base_resolution, num_layers
        self.calls = 0
        self.seen: list[dict] = []  # every attention pass
        self.answered: list[tuple[list, str]] = []

    def last_token_attention(self, image, text, layer, gradient=False):
        from focus.models.attention import AttentionPass

        self.calls += 1
        self.seen.append({"size": image.size, "origin": decode(image.getpixel((0, 0))), "text": text, "layer": layer,
                          "gradient": gradient})
        attention, grad, layout = self.maps(image, text, gradient)
        flat = attention.reshape(attention.shape[0], -1)
        return AttentionPass(flat, None if grad is None else grad.reshape(grad.shape[0], -1), layout)

    def generate(self, images, text, max_new_tokens=None):
        self.calls += 1
        self.answered.append((list(images), text))
        return "A"
