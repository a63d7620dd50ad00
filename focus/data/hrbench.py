"""HR-Bench 4K / 8K as distributed (`DreamMr/HR-Bench`; design section 6).

Columns `index, question, answer, category ("single" = FSP, "cross" = FCP), A, B, C, D, cycle_category, image`
(base64). 800 rows = 200 questions × 4 option rotations; the official score averages accuracy over
`cycle_category` (focus/scoring/metrics.py). Rows are streamed and each image decoded only when its sample runs.
"""

from __future__ import annotations

from .base import Dataset, Sample, decode_base64_image
from .hub import resolve_local_or_hub
from .tabular import iter_rows, letter_columns

CATEGORY_NAMES = {"single": "FSP", "cross": "FCP"}


class HRBench(Dataset):
    name = "hrbench"

    def __init__(self, path: str | None = None, hub_id: str = "DreamMr/HR-Bench",
                 hub_file: str = "hr_bench_4k.parquet",
                 prompt_suffix: str = "Answer with the option's letter from the given choices directly.",
                 limit: int | None = None, prompt_style: str = "paper", benchmark: str = "hrbench"):
        super().__init__(limit, prompt_style, benchmark)
        self.file = resolve_local_or_hub(path, hub_id, kind="file", filename=hub_file)
        self.prompt_suffix = prompt_suffix

    def samples(self):
        for n, row in enumerate(iter_rows(self.file)):
            options = letter_columns(row)
            question = str(row.get("question") or "").strip()
            label = str(row.get("answer") or "").strip()
            image_b64 = row.get("image")
            error = None if image_b64 else "row has no image"
            yield Sample(id=str(row.get("index", n)), question=question, options=options, label=label,
                         category=CATEGORY_NAMES.get(str(row.get("category")), str(row.get("category"))),
                         prompt=self.prompt(question, options),
                         image_fn=(lambda b=image_b64: decode_base64_image(b)) if image_b64 else None,
                         meta={"cycle_category": row.get("cycle_category")}, error=error)
