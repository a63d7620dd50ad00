"""What a resume and a partial result need to stay true (design section 7): the dataset files' identity, how much of
the run the metrics cover, and a per-sample CPU memory peak.

- `dataset_identity`: size, mtime and content hash of the files the dataset reads (focus/data/tabular.py
  `file_identity`; files over HASH_BELOW_BYTES are hashed only with `run.verify_data=true`).
- `metrics_extent`: `n`, `expected` and `complete` for metrics.json, the console and focus.report.
- `reset_peak_rss`: Linux keeps one high-water mark (VmHWM) per process; writing "5" to /proc/self/clear_refs
  resets it, so each record's `peak_memory_gb` is that sample's peak. Where the kernel refuses, the value stays the
  process's peak so far.
"""

from __future__ import annotations

from pathlib import Path


def dataset_identity(dataset, cfg) -> list[dict]:
    from ..data.tabular import file_identity
    full = bool((cfg.get("run") or {}).get("verify_data", False))
    out = []
    for file in dataset.data_files():
        try:
            out += file_identity(Path(file), full=full)
        except OSError:
            continue  # the loader reports an unreadable file itself
    return out


def metrics_extent(n: int, expected: int | None) -> dict:
    return {"expected": expected, "complete": None if expected is None else n >= expected}


_CLEAR_REFS = Path("/proc/self/clear_refs")
_can_reset: bool | None = None


def reset_peak_rss() -> bool:
    """Reset this process's VmHWM; False where the kernel does not allow it."""
    global _can_reset
    if _can_reset is False:
        return False
    try:
        with _CLEAR_REFS.open("w") as f:
            f.write("5")
        _can_reset = True
    except OSError:
        _can_reset = False
    return _can_reset
