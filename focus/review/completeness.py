"""Honest partial results in focus.report (design section 7): which runs are incomplete, which sweep jobs are missing,
which jobs have no answer at all.

- A run is complete when its records cover the samples it was started for (`expected_samples` in
  config_identity.json, `expected` in metrics.json) and no process holds its folder. `--rescore` writes `complete`,
  `expected` and `running` into metrics.json; the table shows `done` as "n/expected".
- Missing: a job folder of a sweep without metrics.json (killed, or still running), and job numbers of the sweep
  (Hydra's multirun.yaml: the product of its sweep overrides) that have no folder at all.
- All errored: runs whose every sample is an error record.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

RUN_MARKERS = ("samples.jsonl", "config_identity.json", ".hydra/config.yaml")


def expected_samples(run: Path, metrics: dict | None = None) -> int | None:
    """The samples the run's last start took: config_identity.json, else metrics.json's `expected`."""
    try:
        value = json.loads((run / "config_identity.json").read_text()).get("expected_samples")
        if isinstance(value, int):
            return value
    except (OSError, ValueError, AttributeError):
        pass
    value = (metrics or {}).get("expected")
    return value if isinstance(value, int) else None


def running_holder(run: Path) -> str | None:
    from ..harness.runfolder import RunFolder
    try:
        return RunFolder(run).holder()
    except OSError:
        return None


def extent(run: Path, n: int, metrics: dict | None = None) -> dict:
    """`expected`, `complete` and `running` of a run folder holding `n` records."""
    expected = expected_samples(run, metrics)
    holder = running_holder(run)
    complete = None if expected is None else (n >= expected and holder is None)
    return {"expected": expected, "complete": complete, "running": holder}


def done_text(metrics: dict) -> str:
    n, expected = metrics.get("n"), metrics.get("expected")
    if expected is None:
        return "" if n is None else str(n)
    return f"{n}/{expected}" + ("" if metrics.get("complete", True) else " incomplete")


def _sweep_size(root: Path) -> int | None:
    """Jobs Hydra's multirun.yaml asked for: the product of its sweep overrides' lengths (None if unreadable)."""
    file = root / "multirun.yaml"
    if not file.exists():
        return None
    try:
        import yaml
        from hydra.core.override_parser.overrides_parser import OverridesParser
        task = ((yaml.safe_load(file.read_text()) or {}).get("hydra") or {}).get("overrides", {}).get("task") or []
        total = 1
        for override in OverridesParser.create().parse_overrides([str(t) for t in task]):
            if override.is_sweep_override():
                total *= len(list(override.sweep_string_iterator()))
        return total
    except Exception:  # noqa: BLE001  an unreadable sweep record only loses this line of the report
        return None


def problems(root: Path, rows_by_run: dict[Path, dict]) -> list[str]:
    """One line per incomplete run, missing sweep job and run whose every sample errored."""
    lines = []
    for run, m in rows_by_run.items():
        if m.get("complete") is False:
            why = f"still running ({m['running']})" if m.get("running") else "killed or stopped before the end"
            lines.append(f"incomplete: {run}: {m.get('n')} of {m.get('expected')} samples, {why}")
        if m.get("n") and m.get("errors") == m.get("n"):
            lines.append(f"all samples errored: {run}: {m.get('errors')} of {m.get('n')}")
    with_metrics = set(rows_by_run)
    job_dirs = sorted({p.parent if p.name != "config.yaml" else p.parent.parent
                       for marker in RUN_MARKERS for p in root.rglob(marker) if "shards" not in p.parts})
    for run in job_dirs:
        if run not in with_metrics:
            holder = running_holder(run)
            lines.append(f"missing: {run}: no metrics.json ({'still running: ' + holder if holder else 'killed'})")
    size = _sweep_size(root)
    if size is not None:
        numbers = {int(m.group(1)) for p in root.iterdir() if p.is_dir() and (m := re.match(r"(\d+)_", p.name))}
        absent = [str(i) for i in range(size) if i not in numbers]
        if absent:
            lines.append(f"missing: {len(absent)} of {size} sweep job(s) have no folder under {root} "
                         f"(job number(s) {', '.join(absent[:10])}{' ...' if len(absent) > 10 else ''})")
    return lines
