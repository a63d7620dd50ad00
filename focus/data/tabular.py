"""Streaming rows of parquet / TSV files, one at a time (design section 6: HR-Bench 8K files are GBs).

Parquet is read through a buffered stream with pre-buffering off, `batch_size=1`: pyarrow then reads one data page
of a column at a time instead of the whole column chunk, so memory holds one page of base64 images (one row for files
written with small pages; as many rows as the writer put in a page otherwise), never the whole file. A file written as
ONE page (pyarrow/pandas defaults on < 1024 rows) can only be decoded whole; its images are still decoded one sample at
a time. TSV / CSV are streamed line by line. tests/test_data_memory.py measures the peaks on generated 8K-sized files.
`check_table` reads only a parquet footer or a TSV's first lines, so an empty file, a file that is not parquet or one
without the format's columns is refused before any model loads.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

from .. import FocusError


# Bytes pyarrow reads from disk at a time; bounds the I/O buffer, not the page (the page is the decoding unit).
PARQUET_READ_BUFFER = 1 << 20


def table_files(path: Path) -> list[Path]:
    """The files of a table: `path` itself, or the .parquet and .tsv files of a folder."""
    return sorted(path.glob("*.parquet")) + sorted(path.glob("*.tsv")) if path.is_dir() else [path]


def _header(file: Path) -> tuple[list[str], bool]:
    """Column names and whether a first row exists, reading only the parquet footer or the TSV's first lines."""
    if file.suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq
        try:
            pf = pq.ParquetFile(file)
        except (pa.ArrowException, OSError) as exc:
            raise FocusError(f"{file} is not a readable parquet file ({exc})") from None
        return list(pf.schema_arrow.names), pf.metadata.num_rows > 0
    csv.field_size_limit(sys.maxsize)
    delim = "\t" if file.suffix in (".tsv", ".txt") else ","
    try:
        with file.open(encoding="utf-8", newline="") as f:
            reader = csv.reader(f, delimiter=delim)
            header = next(reader, [])
            return header, any(any(cell.strip() for cell in row) for row in reader)
    except (UnicodeDecodeError, csv.Error) as exc:
        raise FocusError(f"{file} is not a text table (TSV/CSV): {exc}") from None


def check_table(path: Path, required: list[str | tuple[str, ...]], fmt: str) -> None:
    """Before any model loads: `path` (a file or a folder of them) has rows and the columns `fmt` needs (a tuple
    is a choice: any one of its names will do)."""
    files = table_files(path)
    if not files:
        raise FocusError(f"dataset.path {path} holds no .parquet or .tsv file")
    for file in files:
        columns, has_rows = _header(file)
        if not columns:
            raise FocusError(f"{file} is empty: the {fmt} format needs a header and one row per question")
        missing = [" or ".join(c) if isinstance(c, tuple) else c for c in required
                   if not set(c if isinstance(c, tuple) else (c,)) & set(columns)]
        if missing:
            raise FocusError(f"{file} lacks the column(s) {', '.join(missing)} of the {fmt} format "
                             f"(it has: {', '.join(columns[:12])})")
        if not has_rows:
            raise FocusError(f"{file} has a header but no rows")


def iter_rows(path: Path, columns: list[str] | None = None):
    """Yield dict rows from a .parquet (row batches of 1, streamed by page) or a .tsv/.csv file (line by line)."""
    for file in table_files(path):
        if file.suffix == ".parquet":
            import pyarrow.parquet as pq
            pf = pq.ParquetFile(file, buffer_size=PARQUET_READ_BUFFER, pre_buffer=False)
            cols = [c for c in (columns or pf.schema_arrow.names) if c in pf.schema_arrow.names]
            for batch in pf.iter_batches(batch_size=1, columns=cols):
                yield {k: v[0] for k, v in batch.to_pydict().items()}
        else:
            csv.field_size_limit(sys.maxsize)
            delim = "\t" if file.suffix in (".tsv", ".txt") else ","
            with file.open(encoding="utf-8", newline="") as f:
                yield from csv.DictReader(f, delimiter=delim)


def count_rows(path: Path, stop: int | None = None) -> int:
    """Rows `iter_rows(path)` yields, without decoding them: parquet from the file footers; TSV/CSV by parsing
    (quoted line breaks counted right), ending early once `stop` rows are counted."""
    total = 0
    for file in table_files(path):
        if stop is not None and total >= stop:
            break
        if file.suffix == ".parquet":
            import pyarrow.parquet as pq
            total += pq.ParquetFile(file).metadata.num_rows
            continue
        csv.field_size_limit(sys.maxsize)
        delim = "\t" if file.suffix in (".tsv", ".txt") else ","
        with file.open(encoding="utf-8", newline="") as f:
            reader = csv.reader(f, delimiter=delim)
            next(reader, None)  # header
            for _ in reader:
                total += 1
                if stop is not None and total >= stop:
                    break
    return total


def letter_columns(row: dict) -> list[str]:
    """Option texts from the `A`..`E` columns of HR-Bench / VLMEvalKit-style tables, in letter order."""
    return [str(row[k]).strip() for k in "ABCDE" if row.get(k) not in (None, "", "nan")]
