"""samples.jsonl: one JSON object per sample, appended and flushed when the sample ends (design section 7).

Nothing already written is ever rewritten: a resumed run appends, and a line cut off by a kill is skipped on read
(and closed with a newline before the next append so it cannot corrupt the next record).
"""

from __future__ import annotations

import json
import os
from pathlib import Path


def read_records(path: str | os.PathLike) -> list[dict]:
    path = Path(path)
    if not path.exists():
        return []
    records = []
    with path.open(encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # a line cut off by a kill: that sample is simply redone
    return records


class RecordWriter:
    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        needs_newline = self.path.exists() and self.path.stat().st_size > 0 and not self._ends_with_newline()
        self._f = self.path.open("a", encoding="utf-8")
        if needs_newline:
            self._f.write("\n")

    def _ends_with_newline(self) -> bool:
        with self.path.open("rb") as f:
            f.seek(-1, os.SEEK_END)
            return f.read(1) == b"\n"

    def write(self, record: dict) -> None:
        self._f.write(json.dumps(record, default=_json_default) + "\n")
        self._f.flush()
        os.fsync(self._f.fileno())

    def close(self) -> None:
        self._f.close()


def _json_default(obj):
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, (set, tuple)):
        return list(obj)
    return str(obj)


def write_json(path: str | os.PathLike, obj) -> None:
    """Write `obj` as JSON through a temporary file and a rename, so a reader never sees a half-written file."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, default=_json_default))
    os.replace(tmp, path)


def merge_shards(shard_paths, merged_path) -> int:
    """Append to `merged_path` every shard record whose id it does not hold yet (rank 0 after the barrier)."""
    have = {r["id"] for r in read_records(merged_path)}
    writer, added = RecordWriter(merged_path), 0
    try:
        for p in shard_paths:
            for r in read_records(p):
                if r["id"] not in have:
                    writer.write(r)
                    have.add(r["id"])
                    added += 1
    finally:
        writer.close()
    return added
