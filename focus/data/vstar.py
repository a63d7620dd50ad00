"""V*Bench as distributed (`craigwu/vstar_bench`; design section 6).

`test_questions.jsonl` lines `{"image", "text", "category", "question_id", "label"}` where `text` holds the question,
the "(A) .." option lines (shuffled; we use these letters) and the answer instruction. Beside each image a JSON
`{"target_object", "bbox": [[x, y, w, h], ...], "options": [correct first, ...]}` gives the ground-truth boxes
(recall) and the option sentences (logits matching), which we put in letter order.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from .. import FocusError
from .base import Dataset, Sample, build_prompt, open_image_bytes
from .hub import resolve_local_or_hub

OPTION_LINE = re.compile(r"^\(([A-Z])\)\s*(.*)$")
# The paper's (and V*'s) names for the two sub-tasks; the file's own name stays in meta["source_category"].
CATEGORY_NAMES = {"direct_attributes": "attribute", "relative_position": "spatial"}


def split_question(text: str) -> tuple[str, list[str]]:
    stem, options = [], []
    for line in text.splitlines():
        m = OPTION_LINE.match(line.strip())
        if m:
            options.append(m.group(2).strip())
        elif not options and line.strip() and not line.lower().startswith("answer with"):
            stem.append(line.strip())
    return " ".join(stem), options


def sentences_in_letter_order(short: list[str], label: str, sentences: list[str]) -> list[str] | None:
    """The JSON lists the correct sentence first; map every sentence to the letter whose short option it names."""
    if not sentences or len(sentences) != len(short):
        return None
    idx = ord(label) - ord("A")
    out: list = [None] * len(short)
    out[idx] = sentences[0]
    rest = sentences[1:]
    for i, opt in enumerate(short):
        if i == idx:
            continue
        match = next((s for s in rest if opt.lower() in s.lower()), None)
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
                 limit: int | None = None):
        super().__init__(limit)
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

    def samples(self):
        with self.questions.open(encoding="utf-8") as f:
            for n, line in enumerate(f):
                if not line.strip():
                    continue
                try:
                    yield self._sample(json.loads(line), n)
                except (ValueError, TypeError, AttributeError) as exc:  # not JSON, not an object, odd field types
                    yield Sample(id=f"line-{n}", question="", options=[], label="", category="", prompt="",
                                 error=f"bad line {n + 1} of {self.questions}: {type(exc).__name__}: {exc}")

    def _sample(self, row: dict, n: int) -> Sample:
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

        return Sample(id=str(row.get("question_id", n)), question=question, options=options, label=label,
                      category=CATEGORY_NAMES.get(row.get("category", ""), row.get("category", "")),
                      prompt=build_prompt(question, options, self.prompt_suffix), image_fn=load,
                      option_sentences=sentences, gt_boxes=boxes, gt_targets=targets,
                      meta={"image": row.get("image", ""), "source_category": row.get("category", "")}, error=error)
