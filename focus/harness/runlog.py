"""`run.log` in the run folder keeps what the console said (design section 7: a run folder is the record of a run).

Under Hydra its job log (`<run>/<job name>.log`, here `run.log`) already receives every log record (warnings, once per
run: focus/harness/console.py); the progress bar and the summary are printed, not logged, so they would be lost.
`keep(run_dir, text)` appends such printed lines, time-stamped in Hydra's format, to the same file (append mode: a
resume adds to it, nothing written before is lost). A run started without Hydra (tests, notebooks) gets the file too.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

LOG_NAME = "run.log"  # Hydra's `${hydra.job.name}.log` for `python -m focus.run`


def log_file(run_dir) -> Path:
    """The file the run's log records go to: Hydra's file handler's when it writes into `run_dir`, else run.log."""
    run_dir = Path(run_dir).resolve()
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.FileHandler) and Path(handler.baseFilename).parent == run_dir:
            handler.flush()
            return Path(handler.baseFilename)
    return run_dir / LOG_NAME


def keep(run_dir, text: str, source: str = "focus") -> None:
    """Append `text` (the lines the console showed) to the run's log; a log that cannot be written is skipped
    (the run reports faults of the machine itself, focus/harness/runfolder.py)."""
    stamp = time.strftime("%Y-%m-%d %H:%M:%S") + f",{int(time.time() * 1000) % 1000:03d}"
    lines = [f"[{stamp}][{source}][INFO] - {line}" for line in str(text).splitlines() if line.strip()]
    if not lines:
        return
    try:
        with open(log_file(run_dir), "a", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
    except OSError:
        pass
