"""MME-RealWorld-Lite as distributed (lmms-eval parquet copy or a TSV; design section 6).

lmms-eval parquet columns: `bytes` (base64 image), `index`, `question`, `multi-choice options` (["(A) ..", ...]),
`answer` (letter), `category` ("Perception/Monitoring", ...), `l2-category` (the subtask). The TSV variant has
`image` and `A`..`E` columns instead. Scores: per task (`category`) and subtask, Perception / Reasoning averages.
"""

from __future__ import annotations

import ast
import re

from .base import Dataset, Sample, content_id, decode_base64_image, digest, normalise_id, open_image_bytes
from .hub import resolve_local_or_hub
from .tabular import check_table, count_rows, iter_rows, letter_options, row_text_error, table_files

# Columns a file must have: the image (lmms-eval `bytes`, TSV `image`), the options (a list or A.. columns).
REQUIRED_COLUMNS = [("bytes", "image"), "question", "answer", ("multi-choice options", "A")]


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
        source = resolve_local_or_hub(path, hub_id, kind="folder")
        if source.is_dir() and not table_files(source):  # the hub snapshot keeps its parquet shards in a subfolder
            nested = sorted(source.rglob("*.parquet"))
            source = nested[0].parent if nested else source
        check_table(source, REQUIRED_COLUMNS, "MME-RealWorld")
        self.source = source
        self.prompt_suffix = prompt_suffix

    def count(self, stop=None) -> int:
        return count_rows(self.source, stop)

    def data_files(self):
        return table_files(self.source)

    def samples(self):
        files = table_files(self.source)
        for n, row in enumerate(iter_rows(self.source)):
            source = f"row {n + 1} of {files[0].name if len(files) == 1 else self.source}"
            error = row_text_error(row, source)
            if "multi-choice options" in row:
                options = parse_options(row.get("multi-choice options"))
            else:
                options, gap = letter_options(row, source)
                error = error or gap
            image_b64 = row.get("bytes") or row.get("image")
            if isinstance(image_b64, dict):  # an image struct {"bytes": ...}
                image_b64 = image_b64.get("bytes")
            question = str(row.get("question") or "").strip()
            loader = None
            if image_b64:
                if isinstance(image_b64, (bytes, bytearray)) and not image_b64[:4].isascii():
                    loader = lambda b=bytes(image_b64), s=source: open_image_bytes(b, s)  # noqa: E731  raw bytes
                else:
                    loader = lambda b=image_b64, s=source: decode_base64_image(b, s)  # noqa: E731
            image_digest = digest(image_b64) if image_b64 else None
            yield Sample(id=normalise_id(row.get("index")) or content_id(question, options, image_digest),
                         question=question, options=options,
                         label=str(row.get("answer") or "").strip().strip("()"), category=str(row.get("category", "")),
                         prompt=self.prompt(question, options), image_fn=loader,
                         meta={"subtask": row.get("l2-category")},
                         error=error or (None if loader else f"{source} has no image"),
                         image_digest=image_digest, source=source)
