"""The sample record every dataset yields, with lazy image decoding (design sections 6 and 7)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
import string
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from PIL import Image

from .. import FocusError
from ..scoring import BENCHMARKS

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
    image_digest: str | None = None  # what identifies the image's content without decoding it (loaders fill it)

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
