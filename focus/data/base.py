"""The sample record every dataset yields, with lazy image decoding (design sections 6 and 7)."""

from __future__ import annotations

import base64
import binascii
import io
import string
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from PIL import Image

LETTERS = string.ascii_uppercase


@dataclass
class Sample:
    id: str
    question: str  # the question stem (targets are extracted from it)
    options: list[str]  # option texts, in letter order
    label: str  # the correct letter
    category: str
    prompt: str  # the full text the model answers: stem, "(A) ..." lines, the dataset's suffix
    image_fn: Callable[[], Image.Image] | None = None  # decodes the image on demand, one sample at a time
    option_sentences: list[str] | None = None  # V*: full sentences for logits matching, in letter order
    gt_boxes: list[list[float]] = field(default_factory=list)  # (x0, y0, x1, y1) pixels
    gt_targets: list[str] = field(default_factory=list)
    meta: dict = field(default_factory=dict)  # cycle_category, task, subtask, ...
    error: str | None = None  # a bad row: becomes an error record, the run goes on

    def load_image(self) -> Image.Image:
        if self.error:
            raise ValueError(self.error)
        if self.image_fn is None:
            raise ValueError(f"sample {self.id} has no image")
        return self.image_fn()


def build_prompt(question: str, options: list[str], suffix: str) -> str:
    lines = [question.strip()] + [f"({LETTERS[i]}) {opt}" for i, opt in enumerate(options)]
    if suffix:
        lines.append(suffix)
    return "\n".join(lines)


def check_sample(sample: Sample) -> Sample:
    """Turn an unusable row into an error sample (design 7: bad data → per-sample error record)."""
    if sample.error:
        return sample
    if not sample.options:
        sample.error = "question has no options"
    elif sample.label not in list(LETTERS[:len(sample.options)]):  # a list: "" is in every string
        sample.error = f"label {sample.label!r} is not among the options {list(LETTERS[:len(sample.options)])}"
    return sample


def decode_base64_image(data: str | bytes, source: str = "the row") -> Image.Image:
    """`source` names the image in errors (the file and row it comes from)."""
    if isinstance(data, str):
        data = data.encode()
    try:
        raw = base64.b64decode(data, validate=False)
    except binascii.Error as exc:
        raise ValueError(f"undecodable base64 image in {source}: {exc}") from None
    return open_image_bytes(raw, source)


def open_image_bytes(raw: bytes, source: str = "the image") -> Image.Image:
    """Decode to RGB; an RGB file is returned as decoded (convert() would copy: 100 MB more per 8K image).
    `source` (a file, or a row of a file) names the image in errors: PIL only knows the in-memory buffer."""
    try:
        im = Image.open(io.BytesIO(raw))
        im.load()
    except Image.UnidentifiedImageError:
        raise ValueError(f"cannot decode image {source}: not an image format PIL reads ({len(raw)} bytes)") from None
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:  # truncated, corrupt, too large
        raise ValueError(f"cannot decode image {source}: {exc}") from None
    return im if im.mode == "RGB" else im.convert("RGB")


class Dataset:
    """Base: `__iter__` yields `Sample`s in a fixed order; `limit` keeps the first n."""

    name = "dataset"
    prompt_suffix = ""

    def __init__(self, limit: int | None = None):
        self.limit = limit

    def samples(self) -> Iterator[Sample]:
        raise NotImplementedError

    def __iter__(self) -> Iterator[Sample]:
        for i, sample in enumerate(self.samples()):
            if self.limit is not None and i >= self.limit:
                return
            yield check_sample(sample)
