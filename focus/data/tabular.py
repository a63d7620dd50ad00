"""Streaming rows of parquet / TSV files, one at a time (HR-Bench 8K files are GBs: never load all images)."""

from __future__ import annotations

import csv
import sys
from pathlib import Path


def iter_rows(path: Path, columns: list[str] | None = None):
    """Yield dict rows from a .parquet (row batches of 1) or a .tsv/.csv file (streamed)."""
    files = sorted(path.glob("*.parquet")) + sorted(path.glob("*.tsv")) if path.is_dir() else [path]
    for file in files:
        if file.suffix == ".parquet":
            import pyarrow.parquet as pq
            pf = pq.ParquetFile(file)
            cols = [c for c in (columns or pf.schema_arrow.names) if c in pf.schema_arrow.names]
            for batch in pf.iter_batches(batch_size=1, columns=cols):
                yield {k: v[0] for k, v in batch.to_pydict().items()}
        else:
            csv.field_size_limit(sys.maxsize)
            delim = "\t" if file.suffix in (".tsv", ".txt") else ","
            with file.open(encoding="utf-8", newline="") as f:
                yield from csv.DictReader(f, delimiter=delim)


def letter_columns(row: dict) -> list[str]:
    """Option texts from the `A`..`E` columns of HR-Bench / VLMEvalKit-style tables, in letter order."""
    return [str(row[k]).strip() for k in "ABCDE" if row.get(k) not in (None, "", "nan")]
