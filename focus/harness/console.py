"""What a run prints: the progress bar, each warning once, and the summary that ends the output (design sections 1, 7).

- `Progress`: one bar per run over this rank's share of the samples (`dataset.limit` and the rank's shard counted),
  with samples/s and ETA from tqdm, a "resuming: 37/120 done" line when finished samples are skipped, and the running
  accuracy (strict and lenient, errors counted wrong, as in metrics.json) and mean fp in the bar's postfix.
- `once_per_run()`: every logged warning and every Python warning is shown once per run, whatever its source (a
  layer-range clamp logged on every sample is printed the first time only).
- `print_summary`: the last block a run prints (W&B is finished, and quiet, before it): accuracies under each
  scoring protocol, per category, failed ids with their one-line errors, and the `wandb sync` command for offline runs.
- `SweepProgress`: a Hydra callback; in a multirun whose jobs run elsewhere (submitit, local or SLURM) it prints each
  job's accuracy as the job finishes, and at the end of every multirun one line per job and the report command.
"""

from __future__ import annotations

import logging
import sys
import threading
import warnings
from pathlib import Path

from hydra.experimental.callback import Callback
from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from ..scoring import PROTOCOLS

PROTOCOL_NAMES = {"strict": "strict (exact letter, paper protocol)", "lenient": "lenient (focus rule)",
                  "lmms_eval": "lmms-eval", "vlmevalkit": "VLMEvalKit (exact matching)"}
FAILED_SHOWN = 10  # failed ids listed in the summary; the rest are counted
ERROR_CHARS = 160  # one-line errors are cut to this length


# ---------------------------------------------------------------------------------------------- warnings, once


class OnceFilter(logging.Filter):
    """Drops a WARNING-or-worse record whose logger, level and text were already shown in this run.

    One instance sits on every console/file handler; the record that was shown first passes all of them (so each
    handler gets it once), later records with the same text pass none.
    """

    def __init__(self):
        super().__init__()
        self._first: dict[tuple, logging.LogRecord] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        key = (record.name, record.levelno, record.getMessage())
        return self._first.setdefault(key, record) is record


_ONCE = OnceFilter()


def _attach(filter_: logging.Filter) -> None:
    for handler in logging.getLogger().handlers:
        if filter_ not in handler.filters:
            handler.addFilter(filter_)


def once_per_run() -> None:
    """Start a run: forget the warnings already shown, then show each one once (logging and `warnings`)."""
    global _ONCE
    _ONCE = OnceFilter()
    for handler in logging.getLogger().handlers:
        handler.filters = [f for f in handler.filters if not isinstance(f, OnceFilter)]
    _attach(_ONCE)
    # `once`: one print per distinct text, wherever it is raised from. Appended (and only once), so filters that
    # silence a warning (libraries', the user's -W) still win; each call resets every module's "already shown" registry.
    warnings.filterwarnings("once", append=True)
    warnings.onceregistry.clear()


def quiet_libraries() -> None:
    """No download/loading progress bars of transformers between our own lines (a tiny model's load is instant)."""
    from transformers.utils import logging as hf_logging
    hf_logging.disable_progress_bar()


# ---------------------------------------------------------------------------------------------- progress bar


def shard_size(total: int | None, rank: int, world: int) -> int | None:
    """Samples rank `rank` of `world` takes (every world-th sample, starting at its rank)."""
    return None if total is None else len(range(rank, total, world))


class Progress:
    """The run's progress bar. `resumed`: records of this rank's samples already finished (skipped this time)."""

    def __init__(self, total: int | None, resumed: list[dict], rank: int = 0, world: int = 1,
                 enabled: bool = True):
        self.total, self.enabled = total, enabled
        self.n, self.errors, self.fp_sum, self.fp_n = 0, 0, 0.0, 0
        self.correct = dict.fromkeys(("strict", "lenient"), 0)
        for rec in resumed:
            self._add(rec)
        done = min(self.n, total) if total is not None else self.n
        if done and enabled:
            left = "" if total is None else f", {total - done} to go"
            print(f"[focus] resuming: {done}/{total if total is not None else '?'} done{left}", flush=True)
        desc = "focus" if world == 1 else f"focus rank {rank}/{world}"
        self.bar = tqdm(total=total, initial=done, desc=desc, unit="sample", disable=not enabled, dynamic_ncols=True,
                        postfix=self.postfix() or None)
        self._redirect = None

    def _add(self, rec: dict) -> None:
        self.n += 1
        self.errors += bool(rec.get("error"))
        for p in self.correct:
            self.correct[p] += bool(rec.get(p))
        if not rec.get("error") and isinstance(rec.get("fp"), (int, float)):
            self.fp_sum += rec["fp"]
            self.fp_n += 1

    def postfix(self) -> str:
        parts = [f"{p} {100.0 * c / self.n:.1f}%" for p, c in self.correct.items()] if self.n else []
        if self.fp_n:
            parts.append(f"fp {self.fp_sum / self.fp_n:.1f}")
        if self.errors:
            parts.append(f"errors {self.errors}")
        return " ".join(parts)

    def update(self, rec: dict) -> None:
        self._add(rec)
        self.bar.set_postfix_str(self.postfix(), refresh=False)
        self.bar.update(1)

    def __enter__(self) -> "Progress":
        # log lines go through tqdm.write so a warning never breaks the bar; the once-filter follows the handlers
        self._redirect = logging_redirect_tqdm()
        self._redirect.__enter__()
        _attach(_ONCE)
        return self

    def __exit__(self, *exc) -> None:
        self.bar.close()
        self._redirect.__exit__(*exc)
        _attach(_ONCE)


# ---------------------------------------------------------------------------------------------- summary


def fmt(v) -> str:
    return "n/a" if v is None else f"{v:.2f}"


def one_line(text, limit: int = ERROR_CHARS) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def failed_lines(records: list[dict], shown: int = FAILED_SHOWN) -> list[str]:
    """'[focus]   <id>: <error>' for the first `shown` failed records, then one line counting the rest."""
    failed = [r for r in records if r.get("error")]
    if not failed:
        return []
    lines = [f"[focus] failed samples ({len(failed)}; each counted wrong, its error and traceback in samples.jsonl):"]
    lines += [f"[focus]   {r['id']}: {one_line(r['error'])}" for r in failed[:shown]]
    if len(failed) > shown:
        lines.append(f"[focus]   ... and {len(failed) - shown} more")
    return lines


def interval_text(ci) -> str:
    """' [lo–hi]' of a 95 % interval in %, '' without one."""
    return f" [{ci[0]:.1f}–{ci[1]:.1f}]" if ci else ""


def vanilla_text(metrics: dict, protocol: str = "strict") -> str:
    """'vanilla 35.00% [..], McNemar 12 vs 1, p=0.0034' for the paired reference of a run, '' without one."""
    ref = metrics.get("vanilla_reference")
    if not ref:
        return ""
    test = ref["mcnemar"][protocol]
    return (f"vanilla {fmt(ref['accuracy'][protocol])}%{interval_text(ref['interval_95'][protocol])}, McNemar "
            f"right only here {test['right_only_here']} / only vanilla {test['right_only_vanilla']}, "
            f"p={test['p_value']:.3g}")


def accuracy_line(metrics: dict) -> str:
    """Strict and lenient accuracy (95 % Wilson interval), samples, errors, mean fp of one run and its paired vanilla
    reference, on one line (sweep listings)."""
    ci = metrics.get("interval_95") or {}
    line = (f"strict {fmt(metrics.get('accuracy_strict'))}%{interval_text(ci.get('strict'))} | lenient "
            f"{fmt(metrics.get('accuracy_lenient'))}%{interval_text(ci.get('lenient'))} | "
            f"{metrics.get('n')} samples, {metrics.get('errors')} errors | mean fp {fmt(metrics.get('mean_fp'))}")
    vanilla = vanilla_text(metrics)
    return line + (f" | {vanilla}" if vanilla else "")


def print_summary(metrics: dict, run_dir, records: list[dict] = (), wandb_note: str | None = None) -> str:
    judge = metrics["needs_judge"]
    lines = [f"[focus] {metrics['n']} samples ({metrics['errors']} errors, counted wrong) -> {run_dir}",
             "[focus] accuracy over all samples: " + " | ".join(
                 f"{PROTOCOL_NAMES[p]}: {fmt(metrics[f'accuracy_{p}'])}%"
                 f"{interval_text((metrics.get('interval_95') or {}).get(p))}" for p in PROTOCOLS)
             + f" (left to a judge, counted wrong: lmms-eval {judge['lmms_eval']}, VLMEvalKit {judge['vlmevalkit']})"]
    if "accuracy_vanilla_reference" in metrics:
        ref = metrics["accuracy_vanilla_reference"]
        lines.append("[focus] vanilla (whole image, same samples, run.vanilla_reference): " + " | ".join(
            f"{PROTOCOL_NAMES[p]}: {fmt(ref[p])}%"
            f"{interval_text(((metrics.get('vanilla_reference') or {}).get('interval_95') or {}).get(p))}"
            for p in PROTOCOLS))
        if metrics.get("vanilla_reference"):
            lines.append("[focus] paired test vs vanilla (McNemar, same samples), per protocol: " + " | ".join(
                f"{p}: right only here {t['right_only_here']}, only vanilla {t['right_only_vanilla']}, "
                f"p={t['p_value']:.3g}" for p, t in metrics["vanilla_reference"]["mcnemar"].items()))
    if metrics.get("interval_95"):
        lines.append("[focus] [low–high] = 95 % Wilson score interval of the accuracy")
    for cat, m in metrics["per_category"].items():
        vanilla = ((metrics.get("vanilla_reference") or {}).get("per_category") or {}).get(cat)
        lines.append(f"[focus]   {cat or '-'}: " + " ".join(f"{p} {fmt(m[p])}%" for p in PROTOCOLS) + f" (n={m['n']})"
                     + (f"; vanilla strict {fmt(vanilla['strict'])}%" if vanilla else ""))
    if "hrbench_cycle_avg" in metrics:
        lines.append("[focus] HR-Bench cycle-averaged (official rule): " + " ".join(
            f"{p} {fmt(metrics['hrbench_cycle_avg'][p]['overall'])}%" for p in PROTOCOLS))
    if "recall" in metrics:
        lines.append(f"[focus] V* recall (GT box >= 50% covered by an examined ROI): {fmt(metrics['recall'])}%")
    lines.append(f"[focus] mean fp {fmt(metrics['mean_fp'])} (extract {fmt(metrics['mean_fp_extract'])}, answer "
                 f"{fmt(metrics['mean_fp_answer'])}), mean seconds {fmt(metrics['mean_seconds'])}")
    if metrics.get("mean_prefill_tokens") is not None:
        overhead = metrics.get("framework_overhead")
        lines.append(f"[focus] mean model calls {fmt(metrics.get('mean_calls'))}, prefill tokens "
                     f"{fmt(metrics['mean_prefill_tokens'])}; time outside model calls "
                     f"{fmt(100 * overhead) if overhead is not None else '-'}% (README \"Cost per question\")")
    lines += failed_lines(list(records))
    if metrics.get("complete") is False:  # focus/harness/resume.py metrics_extent
        lines.append(f"[focus] INCOMPLETE: {metrics['n']} of {metrics.get('expected')} samples have a record")
    if wandb_note:
        lines.append(f"[focus] {wandb_note}")
    sys.stderr.flush()
    print("\n".join(lines), flush=True)
    return "\n".join(lines)  # also kept in the run folder's run.log (focus/harness/runlog.py)


# ---------------------------------------------------------------------------------------------- multirun


def _read_metrics(path: Path) -> dict | None:
    import json
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):  # being written (replace is atomic, but be safe)
        return None


def _stamp(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_mtime_ns, st.st_size


class SweepProgress(Callback):
    """Hydra callback (conf/config.yaml `hydra.callbacks`): job completions of a multirun, as they happen.

    The basic launcher runs the jobs in this process, each printing its own summary. Other launchers (submitit)
    run them elsewhere and Hydra waits silently, so a thread polls the sweep folder for new or rewritten
    `<job>/metrics.json` and prints one line per finished job. At the end: one line per job and the report command.
    """

    def __init__(self, poll_seconds: float = 2.0):
        self.poll_seconds = poll_seconds
        self._stop = threading.Event()
        self._thread = None
        self._seen: dict[Path, tuple] = {}
        self._announced: set[Path] = set()
        self._sweep_dir: Path | None = None

    def __getstate__(self) -> dict:
        # the submitit launcher pickles Hydra's context, callbacks included, into every job: no thread, no lock
        return {"poll_seconds": self.poll_seconds}

    def __setstate__(self, state: dict) -> None:
        self.__init__(**state)

    def _job_metrics(self) -> list[Path]:
        """Every job's metrics.json. A job folder is named by its overrides, which may hold a path (a sweep over
        `dataset.path=`): such a job's folder lies deeper, so the whole tree is searched."""
        return list(self._sweep_dir.rglob("metrics.json"))

    def _job_name(self, path: Path) -> str:
        return str(path.parent.relative_to(self._sweep_dir))

    def _finished_jobs(self) -> list[Path]:
        out = []
        for path in sorted(self._job_metrics()):
            try:
                if self._seen.get(path) != _stamp(path):
                    out.append(path)
            except OSError:
                continue
        return out

    def _announce(self, path: Path) -> None:
        metrics = _read_metrics(path)
        if metrics is None:
            return
        self._seen[path] = _stamp(path)
        self._announced.add(path)
        print(f"[focus] job {self._job_name(path)} finished: {accuracy_line(metrics)}", flush=True)

    def _poll(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            for path in self._finished_jobs():
                self._announce(path)

    def on_multirun_start(self, config, **kwargs) -> None:
        forget_sweep_failures()
        self._sweep_dir = Path(str(config.hydra.sweep.dir))
        self._seen = {p: _stamp(p) for p in self._job_metrics()}  # from earlier sweeps
        if "BasicLauncher" not in str(config.hydra.launcher.get("_target_", "")):
            self._thread = threading.Thread(target=self._poll, name="focus-sweep-progress", daemon=True)
            self._thread.start()

    def on_multirun_end(self, config, **kwargs) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            for path in self._finished_jobs():
                self._announce(path)
        jobs = sorted(self._job_metrics(), key=lambda p: (int(self._job_name(p).split("_")[0])
                                                         if self._job_name(p).split("_")[0].isdigit() else 1 << 30,
                                                         self._job_name(p)))
        lines = [f"[focus] sweep of {len(jobs)} runs -> {self._sweep_dir}"]
        for path in jobs:
            metrics = _read_metrics(path) or {}
            lines.append(f"[focus]   {self._job_name(path)}: {accuracy_line(metrics)}")
        lines += failed_job_lines(jobs, self._job_name)
        lines.append(f"[focus] compare them: python -m focus.report {self._sweep_dir}")
        sys.stderr.flush()
        print("\n".join(lines), flush=True)



# ---------------------------------------------------------------------------------------------- failed jobs

_FAILED_JOBS: list[str] = []  # jobs of the last multirun of this process whose records hold errors


def _first_error(run: Path) -> str | None:
    import json
    try:
        with (run / "samples.jsonl").open() as f:
            for line in f:
                try:
                    error = json.loads(line).get("error")
                except ValueError:
                    continue
                if error:
                    return " ".join(str(error).split())[:ERROR_CHARS]
    except OSError:
        return None
    return None


def failed_job_lines(jobs: list[Path], name=lambda path: path.parent.name) -> list[str]:
    """The sweep summary's lines for jobs whose samples failed (`<job>/metrics.json` with errors): how many, and the
    first error of each; remembered for `sweep_failed_jobs` (the multirun's exit status)."""
    failed = []
    for path in jobs:
        metrics = _read_metrics(path)
        if metrics and metrics.get("errors"):
            failed.append((path.parent, metrics))
    _FAILED_JOBS[:] = [name(run / "metrics.json") for run, _ in failed]
    if not failed:
        return []
    lines = [f"[focus] jobs with failed samples ({len(failed)} of {len(jobs)}; errors counted wrong, each run's "
             f"samples.jsonl holds them):"]
    for run, metrics in failed:
        first = _first_error(run)
        lines.append(f"[focus]   {name(run / 'metrics.json')}: {metrics['errors']}/{metrics.get('n', '?')} "
                     f"samples failed" + (f", first: {first}" if first else ""))
    return lines


def sweep_failed_jobs() -> list[str]:
    """Jobs of this process's last multirun whose records hold errors (focus.run exits 1 when there are any)."""
    return list(_FAILED_JOBS)


def forget_sweep_failures() -> None:
    _FAILED_JOBS.clear()
