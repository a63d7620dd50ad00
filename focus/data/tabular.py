"""Streaming rows of parquet / TSV files, one at a time (design section 6: HR-Bench 8K files are GBs).

Parquet is read through a buffered stream with pre-buffering off, `batch_size=1`: pyarrow then reads one data page
of a column at a time instead of the whole column chunk, so memory holds one page of base64 images (one row for files
written with small pages; as many rows as the writer put in a page otherwise), never the whole file. A file written as
ONE page (pyarrow/pandas defaults on < 1024 rows) can only be decoded whole; its images are still decoded one sample at
a time. TSV / CSV are streamed line by line. tests/test_data_memory.py measures the peaks on generated 8K-sized files.
`check_table` reads only a parquet footer or a TSV's first lines, so an empty file, a file that is not parquet or one
without the format's columns is refused before any model loads. A byte that is not UTF-8 in a TSV row makes that row
an error record (`row_text_error`), not the end of the run; options keep the letters of their columns
(`letter_options`: a blank cell between filled ones is an error record). `file_identity` gives a table's size,
mtime and (for files under `HASH_BELOW_BYTES`) content hash for the run folder's config identity.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

from .. import FocusError


# Files smaller than this are hashed whole for the run folder's dataset identity (a 250 MB file: about 0.5 s);
# larger ones are identified by size + mtime (focus/harness/runfolder.py; records carry each sample's own hash).
HASH_BELOW_BYTES = 256 << 20
# TSV rows are read with undecodable bytes kept as surrogates, so one bad row is that row's error record.
TEXT_ERRORS = "surrogateescape"

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
        with file.open(encoding="utf-8", errors=TEXT_ERRORS, newline="") as f:
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
            with file.open(encoding="utf-8", errors=TEXT_ERRORS, newline="") as f:
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
        with file.open(encoding="utf-8", errors=TEXT_ERRORS, newline="") as f:
            reader = csv.reader(f, delimiter=delim)
            next(reader, None)  # header
            for _ in reader:
                total += 1
                if stop is not None and total >= stop:
                    break
    return total


def _blank(value) -> bool:
    return value is None or (isinstance(value, float) and value != value) or str(value).strip() in ("", "nan", "None")


def letter_columns(row: dict) -> list[str]:
    """Option texts from the `A`..`E` columns of HR-Bench / VLMEvalKit-style tables, in letter order."""
    return letter_options(row)[0]


def letter_options(row: dict, source: str = "the row") -> tuple[list[str], str | None]:
    """Option texts of the `A`..`E` columns, each keeping its column's letter, and an error when a blank cell lies
    between filled ones (moving the later options up a letter would make the answer letter name another option)."""
    cells = [row.get(k) for k in "ABCDE"]
    filled = [i for i, v in enumerate(cells) if not _blank(v)]
    if not filled:
        return [], None
    last = filled[-1]
    gaps = [k for k, v in zip("ABCDE", cells[:last]) if _blank(v)]
    options = [str(v).strip() for v in cells[:last + 1] if not _blank(v)]
    if gaps:
        return options, (f"{source}: option {', '.join(gaps)} is blank between filled options "
                         f"({', '.join(k for k, v in zip('ABCDE', cells) if not _blank(v))} are filled)")
    return options, None


def row_text_error(row: dict, source: str = "the row") -> str | None:
    """An error naming the row and column when a TSV cell held bytes that are not UTF-8 (kept as surrogates)."""
    for key, value in row.items():
        for text in (key, value):
            if isinstance(text, str):
                try:
                    text.encode("utf-8")
                except UnicodeEncodeError as exc:
                    bad = text[exc.start].encode("utf-8", TEXT_ERRORS)
                    return (f"{source}: column {str(key).encode('utf-8', 'replace').decode()!r} is not valid UTF-8 "
                            f"(byte 0x{bad.hex()} at character {exc.start})")
    return None


def file_identity(path: Path, full: bool = False) -> list[dict]:
    """Each file of a table (or `path` itself): its size, mtime and, when smaller than `HASH_BELOW_BYTES` (or
    `full`), a content hash (BLAKE2b)."""
    import hashlib
    out = []
    for file in table_files(path) if path.is_dir() else [path]:
        st = file.stat()
        entry = {"file": str(file.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns}
        if full or st.st_size < HASH_BELOW_BYTES:
            h = hashlib.blake2b(digest_size=16)
            with file.open("rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    h.update(chunk)
            entry["blake2b"] = h.hexdigest()
        out.append(entry)
    return out
