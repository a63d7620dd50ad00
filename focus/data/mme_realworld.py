"""MME-RealWorld-Lite as distributed (lmms-eval parquet copy or a TSV; design section 6).

lmms-eval parquet columns: `bytes` (base64 image), `index`, `question`, `multi-choice options` (["(A) ..", ...]),
`answer` (letter), `category` ("Perception/Monitoring", ...), `l2-category` (the subtask). The TSV variant has
`image` and `A`..`E` columns instead. Scores: per task (`category`) and subtask, Perception / Reasoning averages.
"""

from __future__ import annotations

import ast
import re

from .base import Dataset, Sample, decode_base64_image, open_image_bytes
from .hub import resolve_local_or_hub
from .tabular import iter_rows, letter_columns


def parse_options(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        try:
            value = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            value = [v for v in value.split("\n") if v.strip()]
    return [re.sub(r"^\(?[A-E]\)\s*", "", str(v)).strip() for v in value]


class MMERealWorldLite(Dataset):
    name = "mme_rw_lite"

    def __init__(self, path: str | None = None, hub_id: str = "yifanzhang114/MME-RealWorld-lite-lmms-eval",
                 prompt_suffix: str = "The best answer is:", limit: int | None = None, prompt_style: str = "paper",
                 benchmark: str = "mme_rw"):
        super().__init__(limit, prompt_style, benchmark)
        self.source = resolve_local_or_hub(path, hub_id, kind="folder")
        self.prompt_suffix = prompt_suffix

    def samples(self):
        source = self.source
        if source.is_dir() and not list(source.glob("*.parquet")) + list(source.glob("*.tsv")):
            nested = sorted(source.rglob("*.parquet"))
            source = nested[0].parent if nested else source
        for n, row in enumerate(iter_rows(source)):
            if "multi-choice options" in row:
                options = parse_options(row.get("multi-choice options"))
            else:
                options = letter_columns(row)
            image_b64 = row.get("bytes") or row.get("image")
            if isinstance(image_b64, dict):  # an image struct {"bytes": ...}
                image_b64 = image_b64.get("bytes")
            question = str(row.get("question") or "").strip()
            loader = None
            if image_b64:
                if isinstance(image_b64, (bytes, bytearray)) and not image_b64[:4].isascii():
                    loader = lambda b=bytes(image_b64): open_image_bytes(b)  # noqa: E731  raw image bytes
                else:
                    loader = lambda b=image_b64: decode_base64_image(b)  # noqa: E731
            yield Sample(id=str(row.get("index", n)), question=question, options=options,
                         label=str(row.get("answer") or "").strip().strip("()"), category=str(row.get("category", "")),
                         prompt=self.prompt(question, options), image_fn=loader,
                         meta={"subtask": row.get("l2-category")}, error=None if loader else "row has no image")
