"""samples.jsonl: one JSON object per sample, appended and flushed when the sample ends (design section 7).

The file always holds valid JSON Lines with each id at most once. A new record is appended and fsynced. A record
that replaces another of the same id (a retried error, a sample whose content changed) is appended to a side file
`.samples.jsonl.retries` and folded into samples.jsonl once, when the writer closes (or when the next run opens the
folder after a kill): one rewrite per run, not one per retry. The fold and the repair of a file a kill left behind
(a torn last line) go through a temporary file and an atomic rename, so a kill at any moment leaves the old or the
new file, never a mix. Only the run folder's lock holder writes (focus/harness/runfolder.py); readers skip a torn line.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)


def _scan(path: Path) -> tuple[list[dict], bool]:
    """The records of `path` and whether the file is clean (every line a record, a final newline)."""
    if not path.exists():
        return [], True
    records, clean = [], True
    with path.open("rb") as f:
        for raw in f:
            if not raw.strip():
                continue
            try:
                records.append(json.loads(raw))
            except (json.JSONDecodeError, UnicodeDecodeError):
                clean = False  # a line cut off by a kill: that sample is simply redone
                continue
            clean = clean and raw.endswith(b"\n")
    return records, clean


def read_records(path: str | os.PathLike) -> list[dict]:
    return _scan(Path(path))[0]


def one_per_id(records: list[dict]) -> list[dict]:
    """Each id once, in order of first appearance: its last record without error, else its last record."""
    chosen: dict = {}
    for r in records:
        old = chosen.get(r["id"])
        if old is None or not r.get("error") or old.get("error"):
            chosen[r["id"]] = r
    return list(chosen.values())


def write_atomic(path: Path, text: str) -> None:
    """Write `text` to `path` through a temporary file in the same folder, fsync and an atomic rename: a kill leaves
    the old file or the new one. An OSError names `path` and leaves no temporary file behind."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with tmp.open("w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OSError(exc.errno, exc.strerror, str(path)) from exc


def rewrite_records(path: Path, records: list[dict]) -> None:
    write_atomic(path, "".join(json.dumps(r, default=_json_default) + "\n" for r in records))


def retries_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.retries")


def fold_retries(path: str | os.PathLike) -> None:
    """Put the records of `path`'s side file in place of the records of the same ids (new ids appended), in one
    atomic rewrite, then remove the side file. Idempotent: a kill between the two steps folds the same records again."""
    path = Path(path)
    side = retries_path(path)
    if not side.exists():
        return
    replacements = {r["id"]: r for r in read_records(side)}
    if replacements:
        records = one_per_id(read_records(path))
        out = [replacements.pop(r["id"], r) for r in records] + list(replacements.values())
        rewrite_records(path, out)
    side.unlink(missing_ok=True)


class RecordWriter:
    """Appends records to one samples file, or replaces the record of an id already there (`put`)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fold_retries(self.path)
        self._side = None
        records, clean = _scan(self.path)
        unique = one_per_id(records)
        if not clean or len(unique) != len(records):
            log.warning("%s: dropping %s left by an interrupted or older run", self.path,
                        "a torn line" if len(unique) == len(records) else "torn lines and duplicate ids")
            rewrite_records(self.path, unique)
        self.ids = {r["id"] for r in unique}
        self._f = self._open()

    def _open(self):
        try:
            return self.path.open("a", encoding="utf-8")
        except OSError as exc:
            raise OSError(exc.errno, exc.strerror, str(self.path)) from exc

    def put(self, record: dict) -> None:
        """Append `record`, or put it in place of the record with the same id (a retried sample)."""
        if record["id"] in self.ids:
            self.replace(record)
        else:
            self.write(record)

    def write(self, record: dict) -> None:
        _append(self._f, record, self.path)
        self.ids.add(record["id"])

    def replace(self, record: dict) -> None:
        """Append to the side file (folded in at `close`): a retry costs one line, not a rewrite of the file."""
        if self._side is None:
            side = retries_path(self.path)
            try:
                self._side = side.open("a", encoding="utf-8")
            except OSError as exc:
                raise OSError(exc.errno, exc.strerror, str(side)) from exc
        _append(self._side, record, retries_path(self.path))

    def close(self) -> None:
        for f in (self._f, self._side):
            try:
                if f is not None:
                    f.close()
            except OSError:  # the data of a failed write: a torn line, dropped on resume; the write already raised
                pass
        if self._side is not None:
            self._side = None
            fold_retries(self.path)


def _append(f, record: dict, path: Path) -> None:
    try:
        f.write(json.dumps(record, default=_json_default) + "\n")
        f.flush()
        os.fsync(f.fileno())
    except OSError as exc:  # disk full, quota, I/O error: name the file (write errors carry no file name)
        raise OSError(exc.errno, exc.strerror, str(path)) from exc


def _json_default(obj):
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, (set, tuple)):
        return list(obj)
    return str(obj)


def write_json(path: str | os.PathLike, obj) -> None:
    """Write `obj` as JSON through a temporary file and a rename, so a reader never sees a half-written file."""
    write_atomic(Path(path), json.dumps(obj, indent=2, default=_json_default))


def merge_shards(shard_paths, merged_path) -> int:
    """Bring the rank shards into `merged_path` (rank 0 after the barrier): a shard record is added when its id is
    new and replaces an error record of the same id (a retried sample); the file is rewritten atomically. Returns
    the number of records added."""
    merged_path = Path(merged_path)
    found, clean = _scan(merged_path)
    merged = one_per_id(found)
    at = {r["id"]: i for i, r in enumerate(merged)}
    changed, added = not clean or len(merged) != len(found), 0
    for p in shard_paths:
        for r in read_records(p):
            i = at.get(r["id"])
            if i is None:
                at[r["id"]] = len(merged)
                merged.append(r)
                changed, added = True, added + 1
            elif merged[i].get("error") and r != merged[i]:
                merged[i] = r
                changed = True
    if changed:
        rewrite_records(merged_path, merged)
    return added
