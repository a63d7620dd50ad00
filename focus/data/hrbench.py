"""HR-Bench 4K / 8K as distributed (`DreamMr/HR-Bench`; design section 6).

Columns `index, question, answer, category ("single" = FSP, "cross" = FCP), A, B, C, D, cycle_category, image`
(base64). 800 rows = 200 questions × 4 option rotations; the official score averages accuracy over
`cycle_category` (focus/scoring/metrics.py). Rows are streamed and each image decoded only when its sample runs.
"""

from __future__ import annotations

from .base import Dataset, Sample, content_id, decode_base64_image, digest, normalise_id
from .hub import resolve_local_or_hub
from .tabular import check_table, count_rows, iter_rows, letter_options, row_text_error

CATEGORY_NAMES = {"single": "FSP", "cross": "FCP"}
# Columns a file must have (`index`, `category` and `cycle_category` only label and group the rows).
REQUIRED_COLUMNS = ["question", "answer", "image", "A", "B"]


class HRBench(Dataset):
    name = "hrbench"

    def __init__(self, path: str | None = None, hub_id: str = "DreamMr/HR-Bench",
                 hub_file: str = "hr_bench_4k.parquet",
                 prompt_suffix: str = "Answer with the option's letter from the given choices directly.",
                 limit: int | None = None, prompt_style: str = "paper", benchmark: str = "hrbench"):
        super().__init__(limit, prompt_style, benchmark)
        self.file = resolve_local_or_hub(path, hub_id, kind="file", filename=hub_file)
        check_table(self.file, REQUIRED_COLUMNS, "HR-Bench")
        self.prompt_suffix = prompt_suffix

    def count(self, stop=None) -> int:
        return count_rows(self.file, stop)

    def data_files(self):
        return [self.file]

    def samples(self):
        for n, row in enumerate(iter_rows(self.file)):
            source = f"row {n + 1} of {self.file.name}"
            options, error = letter_options(row, source)
            question = str(row.get("question") or "").strip()
            label = str(row.get("answer") or "").strip()
            image_b64 = row.get("image")
            error = row_text_error(row, source) or error or (None if image_b64 else f"{source} has no image")
            image_digest = digest(image_b64) if image_b64 else None
            sample_id = normalise_id(row.get("index")) or content_id(question, options, image_digest)
            yield Sample(id=sample_id, question=question, options=options, label=label,
                         category=CATEGORY_NAMES.get(str(row.get("category")), str(row.get("category"))),
                         prompt=self.prompt(question, options),
                         image_fn=(lambda b=image_b64, s=source: decode_base64_image(b, s)) if image_b64 else None,
                         meta={"cycle_category": row.get("cycle_category")}, error=error,
                         image_digest=image_digest, source=source)
