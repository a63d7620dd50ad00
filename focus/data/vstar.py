"""V*Bench as distributed (`craigwu/vstar_bench`; design section 6).

`test_questions.jsonl` lines `{"image", "text", "category", "question_id", "label"}` where `text` holds the question,
the "(A) .." option lines (shuffled; we use these letters) and the answer instruction. Beside each image a JSON
`{"target_object", "bbox": [[x, y, w, h], ...], "options": [correct first, ...]}` gives the ground-truth boxes
(recall) and the option sentences (logits matching), which we put in letter order.
"""

from __future__ import annotations

import json
import re

from .. import FocusError
from .base import Dataset, Sample, content_id, digest, normalise_id, open_image_bytes
from .hub import resolve_local_or_hub
from .tabular import TEXT_ERRORS, row_text_error

OPTION_MARK = re.compile(r"\(([A-Z])\)")
INSTRUCTION = re.compile(r"answer with the option's letter.*", re.I | re.S)
# The paper's (and V*'s) names for the two sub-tasks; the file's own name stays in meta["source_category"].
CATEGORY_NAMES = {"direct_attributes": "attribute", "relative_position": "spatial"}


def split_question(text: str) -> tuple[str, list[str]]:
    """The stem and the option texts of V*'s `text`: options as "(A) .." lines or on one line ("Q? (A) red (B) blue").

    The markers are taken in sequence ((A), then (B) after it, ...); the last option ends with its line or at the
    answer instruction.
    """
    marks, pos = [], 0
    while (m := OPTION_MARK.search(text, pos)) and m.group(1) == chr(ord("A") + len(marks)):
        marks.append(m)
        pos = m.end()
    head = text[:marks[0].start()] if marks else text
    stem = " ".join(line.strip() for line in head.splitlines()
                    if line.strip() and not line.strip().lower().startswith("answer with"))
    options = []
    for i, m in enumerate(marks):
        chunk = text[m.end():marks[i + 1].start()] if i + 1 < len(marks) else text[m.end():].split("\n")[0]
        options.append(" ".join(INSTRUCTION.sub("", chunk).split()))
    return stem, options


def names_option(sentence: str, option: str, longer: list[str]) -> bool:
    """`option` appears in `sentence` as whole words, and not only inside one of the `longer` options' texts."""
    low = sentence.lower()
    inside = [m.span() for o in longer for m in re.finditer(rf"(?<!\w){re.escape(o.lower())}(?!\w)", low)]
    return any(not any(a <= m.start() and m.end() <= b for a, b in inside)
               for m in re.finditer(rf"(?<!\w){re.escape(option.lower())}(?!\w)", low))


def sentences_in_letter_order(short: list[str], label: str, sentences: list[str]) -> list[str] | None:
    """The JSON lists the correct sentence first; map every sentence to the letter whose short option it names.

    An option whose text lies inside another's ("red" in "dark red") is matched only where it is not part of the
    longer text, and longer options pick first, so the two are never swapped.
    """
    idx = ord(label) - ord("A") if len(label) == 1 else -1
    if not sentences or len(sentences) != len(short) or not 0 <= idx < len(short):
        return None
    out: list = [None] * len(short)
    out[idx] = sentences[0]
    rest = sentences[1:]
    for i in sorted(range(len(short)), key=lambda j: -len(short[j])):
        if i == idx:
            continue
        longer = [o for o in short if len(o) > len(short[i]) and short[i].lower() in o.lower()]
        match = next((s for s in rest if names_option(s, short[i], longer)), None)
        if match is not None:
            rest.remove(match)
            out[i] = match
    for i in range(len(out)):  # whatever did not match, in order
        if out[i] is None:
            out[i] = rest.pop(0)
    return out


class VStarBench(Dataset):
    name = "vstar"

    def __init__(self, path: str | None = None, hub_id: str = "craigwu/vstar_bench",
                 prompt_suffix: str = "Answer with the option's letter from the given choices directly.",
                 limit: int | None = None, prompt_style: str = "paper", benchmark: str = "vstar"):
        super().__init__(limit, prompt_style, benchmark)
        self.root = resolve_local_or_hub(path, hub_id, kind="folder")
        self.questions = self.root / "test_questions.jsonl" if self.root.is_dir() else self.root
        if not self.questions.exists():
            raise FocusError(f"V*Bench: {self.questions} not found (dataset.path must be the folder holding "
                             f"test_questions.jsonl)")
        self.root = self.questions.parent
        with self.questions.open(encoding="utf-8", errors="replace") as f:
            if not any(line.strip() for line in f):
                raise FocusError(f"V*Bench: {self.questions} has no questions")
        self.prompt_suffix = prompt_suffix

    def count(self, stop=None) -> int:
        with self.questions.open(encoding="utf-8", errors=TEXT_ERRORS) as f:
            return sum(1 for line in f if line.strip())

    def data_files(self):
        return [self.questions]

    def samples(self):
        with self.questions.open(encoding="utf-8", errors=TEXT_ERRORS) as f:
            for n, line in enumerate(f):
                if not line.strip():
                    continue
                try:
                    yield self._sample(json.loads(line), n)
                except (ValueError, TypeError, AttributeError) as exc:  # not JSON, not an object, odd field types
                    yield Sample(id=f"line-{digest(line.strip())}", question="", options=[], label="", category="",
                                 prompt="", error=f"bad line {n + 1} of {self.questions}: {type(exc).__name__}: {exc}",
                                 source=f"line {n + 1} of {self.questions.name}")

    def _sample(self, row: dict, n: int) -> Sample:
        source = f"line {n + 1} of {self.questions.name}"
        text_error = row_text_error(row, source)
        question, options = split_question(row.get("text", ""))
        label = str(row.get("label", "")).strip()
        image_path = self.root / row.get("image", "")
        meta_path = image_path.with_suffix(".json")
        boxes, targets, sentences, error = [], [], None, None
        if meta_path.exists():
            try:  # a bad meta file is this sample's error record; the run goes on
                meta = json.loads(meta_path.read_text())
                boxes = [[x, y, x + w, y + h] for x, y, w, h in meta.get("bbox", [])]
                targets = list(meta.get("target_object", []))
                sentences = sentences_in_letter_order(options, label, meta.get("options", [])) if label else None
            except (OSError, UnicodeDecodeError, ValueError, TypeError, AttributeError, IndexError) as exc:
                error = f"bad meta file {meta_path}: {type(exc).__name__}: {exc}"

        def load(p=image_path):
            if not p.exists():
                raise FileNotFoundError(f"image {p} is missing")
            return open_image_bytes(p.read_bytes(), str(p))

        try:  # V* images are a few MB: their content is hashed (a copied folder keeps its records)
            image_digest = digest(image_path.read_bytes()) if image_path.is_file() else f"missing:{row.get('image')}"
        except OSError as exc:
            image_digest = f"unreadable:{row.get('image')}:{exc.errno}"
        sample_id = normalise_id(row.get("question_id")) or content_id(question, options, image_digest)
        return Sample(id=sample_id, question=question, options=options, label=label,
                      category=CATEGORY_NAMES.get(row.get("category", ""), row.get("category", "")),
                      prompt=self.prompt(question, options), image_fn=load,
                      option_sentences=sentences, gt_boxes=boxes, gt_targets=targets,
                      meta={"image": row.get("image", ""), "source_category": row.get("category", "")},
                      error=text_error or error, image_digest=image_digest, source=source)
