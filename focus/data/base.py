"""The sample record every dataset yields, with lazy image decoding (design sections 6 and 7).

Content identity: every sample carries an `image_digest` (a hash of the base64 cell or of the image file, or the
generator's seed) and a `fingerprint()` over everything its answer depends on; records store it, so a resume redoes
a record whose sample changed under the same id. Ids come from the dataset's id column; a row without one gets an id
derived from its content (`content_id`), never its row number; `Dataset.scan()` refuses duplicate ids (after
normalising `7`, `7.0` and `"7"` to one id) in one line naming the rows, before any model loads.

Images are bounded before they are decoded (`MAX_IMAGE_PIXELS`, `MAX_IMAGE_SIDE`: read from the header, an error
record above them) and converted to RGB by their mode (`to_rgb`: 16-bit greyscale scaled, not clipped to white).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
import math
import re
import string
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from PIL import Image

from .. import FocusError
from ..scoring import BENCHMARKS

LETTERS = string.ascii_uppercase

# Per-sample image bounds, checked on the header before any pixel is decoded; above them a sample is an error record.
# 2**26 pixels (67 MP) holds HR-Bench 8K's 7680x4320 (33 MP) twice over; a side of 2**14 px bounds what padding to a
# square (LLaVA-1.5, paper App. A) can make of a thin strip (a 20000x50 PNG pads to 400 MP).
MAX_IMAGE_PIXELS = 2 ** 26
MAX_IMAGE_SIDE = 2 ** 14


def digest(data: str | bytes) -> str:
    """A short content hash (BLAKE2b, 16 hex digits) of an image cell or file."""
    return hashlib.blake2b(data.encode("utf-8", "surrogateescape") if isinstance(data, str) else bytes(data),
                           digest_size=8).hexdigest()


def normalise_id(value) -> str | None:
    """A dataset id as text: `7`, `7.0` and `" 7 "` are one id "7"; None, NaN and blank cells are no id."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    if text.lower() in ("", "nan", "none", "null"):
        return None
    whole = re.fullmatch(r"([+-]?\d+)\.0*", text)  # "7.0" written by a spreadsheet or pandas ("007" stays)
    return str(int(whole.group(1))) if whole else text


def content_id(question: str, options: list[str], image_digest: str | None) -> str:
    """The id of a row without one: a hash of its question, options and image, so inserting a row elsewhere in the
    file does not move it."""
    key = json.dumps([question, options, image_digest], ensure_ascii=True)
    return "h" + hashlib.blake2b(key.encode(), digest_size=6).hexdigest()


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
    image_digest: str | None = None  # what identifies the image's content without decoding it (loaders fill it)
    source: str | None = None  # where the sample comes from ("row 3 of x.tsv"), for messages about it

    def fingerprint(self) -> str:
        """A digest of everything the answer depends on: question, prompt, options, label and image identity.

        Records store it, so a resume can tell a changed sample from the one a record answered, and a cached
        answer (the vanilla reference) is reused only for the same content."""
        content = {"question": self.question, "prompt": self.prompt, "options": self.options, "label": self.label,
                   "option_sentences": self.option_sentences, "image": self.image_digest}
        return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()[:16]

    def load_image(self) -> Image.Image:
        if self.error:
            raise ValueError(self.error)
        if self.image_fn is None:
            raise ValueError(f"sample {self.id} has no image")
        return self.image_fn()


PROMPT_STYLES = ("paper", "lmms_eval", "vlmevalkit")
# The instruction texts the harnesses send (sources named where they are used below).
VSTAR_INSTRUCTION = "Answer with the option's letter from the given choices directly."
MME_INSTRUCTION = ("Select the best answer to the above multiple-choice question based on the image. "
                   "Respond with only the letter (A, B, C, D, or E) of the correct option.")


def build_prompt(question: str, options: list[str], suffix: str = "", style: str = "paper",
                 benchmark: str = "vstar") -> str:
    """The text the model answers: the question, its options and the answer instruction, as `style` writes them.

    paper: "(A) .." lines and the dataset's configured `suffix`. lmms_eval / vlmevalkit: what that harness sends for
    `benchmark` (its own instruction; `suffix` is not used).
    """
    letters = LETTERS[:len(options)]
    if style == "paper":
        return "\n".join([question.strip()] + [f"({k}) {opt}" for k, opt in zip(letters, options)]
                         + ([suffix] if suffix else []))
    if benchmark == "mme_rw":
        # lmms-eval mme_realworld/utils.py mme_realworld_doc_to_text; VLMEvalKit image_mcq.py MMERealWorld.build_prompt
        # (its SYS text has a space before the line break and none after the colon)
        choices = "\n".join(f"({k}) {opt}" for k, opt in zip(letters, options))
        tail = "\nThe best answer is: " if style == "lmms_eval" else " \nThe best answer is:"
        return f"{question} The choices are listed below:\n{choices}\n{MME_INSTRUCTION}{tail}"
    if style == "vlmevalkit":
        # VLMEvalKit image_mcq.py ImageMCQDataset.build_prompt (V* is a plain MCQ dataset there; HRBenchDataset
        # inherits the method)
        listed = "".join(f"{k}. {opt}\n" for k, opt in zip(letters, options))
        return f"Question: {question}\nOptions:\n{listed}Please select the correct answer from the options above. \n"
    if benchmark == "hrbench":
        # lmms-eval hrbench/utils.py hrbench_doc_to_text
        listed = "".join(f"{k}. {opt}\n" for k, opt in zip(letters, options))
        return f"{question.strip()}\n{listed}Answer the option letter directly."
    # lmms-eval vstar_bench/utils.py vstar_doc_to_text + the task's post_prompt: "A. x" options (A-D only). Its option
    # regex runs to the end of V*'s text, so V*'s own instruction line stays on the last option and the post_prompt
    # repeats it: the instruction appears twice.
    listed = "\n".join(f"{k}. {opt}" for k, opt in zip("ABCD", options))
    return f"{question.strip()}\n{listed}\n{VSTAR_INSTRUCTION}\n{VSTAR_INSTRUCTION}"


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


def check_image_size(size: tuple[int, int], source: str) -> None:
    """Refuse an image larger than the per-sample bounds (from its header, before decoding)."""
    w, h = size
    if w * h > MAX_IMAGE_PIXELS or max(w, h) > MAX_IMAGE_SIDE:
        raise ValueError(f"image {source} is {w}x{h} pixels, over the per-sample limit ({MAX_IMAGE_PIXELS} pixels, "
                         f"{MAX_IMAGE_SIDE} px a side; focus/data/base.py MAX_IMAGE_PIXELS)")


def to_rgb(im: Image.Image) -> Image.Image:
    """RGB by the image's mode: 16/32-bit greyscale is scaled to 8 bits (PIL's convert clips it: all white), float
    greyscale is read as 0..1 (or clipped to 0..255), palette, CMYK, LA, RGBA, 1-bit through PIL's conversion."""
    if im.mode == "RGB":
        return im
    if im.mode.startswith("I") or im.mode == "F":
        import numpy as np
        a = np.asarray(im, dtype=np.float64)
        if im.mode == "F":
            a = a * 255.0 if a.size and float(a.max()) <= 1.0 else a
        else:  # I;16, I;16B, I;16L, I (PNG 16-bit greyscale opens as one of these): 16 significant bits
            a = a / 257.0
        return Image.fromarray(np.clip(np.rint(a), 0, 255).astype(np.uint8), "L").convert("RGB")
    if im.mode == "P" and "transparency" in im.info:
        im = im.convert("RGBA")
    return im.convert("RGB")


def open_image_bytes(raw: bytes, source: str = "the image") -> Image.Image:
    """Decode to RGB; an RGB file is returned as decoded (convert() would copy: 100 MB more per 8K image).
    `source` (a file, or a row of a file) names the image in errors: PIL only knows the in-memory buffer. The size
    is checked on the header, before decoding (`check_image_size`)."""
    try:
        im = Image.open(io.BytesIO(raw))
        check_image_size(im.size, source)
        im.load()
    except Image.UnidentifiedImageError:
        raise ValueError(f"cannot decode image {source}: not an image format PIL reads ({len(raw)} bytes)") from None
    except Image.DecompressionBombError as exc:  # PIL's own bound, above ours
        raise ValueError(f"image {source} is over the per-sample pixel limit ({exc})") from None
    except ValueError as exc:
        if str(exc).startswith(f"image {source} is "):
            raise
        raise ValueError(f"cannot decode image {source}: {exc}") from None
    except (OSError, SyntaxError) as exc:  # truncated, corrupt
        raise ValueError(f"cannot decode image {source}: {exc}") from None
    try:
        return to_rgb(im)
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot convert image {source} (mode {im.mode}) to RGB: {exc}") from None


class Dataset:
    """Base: `__iter__` yields `Sample`s in a fixed order; `limit` keeps the first n.

    `prompt_style` (paper | lmms_eval | vlmevalkit) and `benchmark` (vstar | hrbench | mme_rw, the protocol family the
    dataset is scored as) choose the prompt text through `build_prompt`.
    """

    name = "dataset"
    prompt_suffix = ""

    def __init__(self, limit: int | None = None, prompt_style: str = "paper", benchmark: str = "vstar"):
        if prompt_style not in PROMPT_STYLES:
            raise FocusError(f"dataset.prompt_style must be one of {', '.join(PROMPT_STYLES)}, not {prompt_style!r}")
        if benchmark not in BENCHMARKS:
            raise FocusError(f"dataset.benchmark must be one of {', '.join(BENCHMARKS)}, not {benchmark!r}")
        self.limit, self.prompt_style, self.benchmark = limit, prompt_style, benchmark

    def prompt(self, question: str, options: list[str]) -> str:
        return build_prompt(question, options, self.prompt_suffix, self.prompt_style, self.benchmark)

    def samples(self) -> Iterator[Sample]:
        raise NotImplementedError

    def data_files(self) -> list:
        """The files the samples are read from (for the run folder's dataset identity); none for generated data."""
        return []

    def count(self, stop: int | None = None) -> int | None:
        """How many samples `samples()` yields, found without decoding an image (None: unknown). May stop counting
        at `stop`."""
        return None

    def size(self) -> int | None:
        """Samples a run takes (`limit` applied), for the progress bar; None when the dataset cannot tell."""
        n = self.count(stop=self.limit)
        if n is None:
            return self.limit
        return n if self.limit is None else min(n, self.limit)

    def __iter__(self) -> Iterator[Sample]:
        for i, sample in enumerate(self.samples()):
            if self.limit is not None and i >= self.limit:
                return
            yield check_sample(sample)

    def scan(self) -> list[tuple[str, str]]:
        """(id, fingerprint) of every sample a run takes (`limit` applied), in order, without decoding an image.
        Duplicate ids are refused in one line naming the rows (a FocusError: exit 2 before any model loads)."""
        plan, where = [], {}
        for n, sample in enumerate(self, 1):
            plan.append((sample.id, sample.fingerprint()))
            where.setdefault(sample.id, []).append(sample.source or f"sample {n}")
        dups = {i: w for i, w in where.items() if len(w) > 1}
        if dups:
            shown = "; ".join(f"id {i!r} in {', '.join(w[:4])}" for i, w in list(dups.items())[:3])
            more = f"; and {len(dups) - 3} more" if len(dups) > 3 else ""
            raise FocusError(f"dataset {self.name}: {len(dups)} duplicate id(s) ({shown}{more}); each question needs "
                             f"its own id: fix the id column (or clear it to derive ids from the content)")
        return plan
