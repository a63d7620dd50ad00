"""SIGINT / SIGTERM end a run after the current record, in one line, with exit 130 / 143 and no traceback; the same
command resumes (focus/harness/signals.py). Real processes: the process and its signals are what is tested."""

import json
import os
import re
import signal
import subprocess
import time

import pytest

from test_end_to_end import FOCUS_ENV, ROOT, focus_args, records

VANILLA = ("method=vanilla", "logger.wandb.mode=disabled", "dataset.limit=4")
IDS = [f"synthetic-{i}" for i in range(4)]


def start(run, tiny_cache):
    return subprocess.Popen(focus_args(*VANILLA, run_dir=run, tiny_cache=tiny_cache), cwd=ROOT,
                            env={**os.environ, **FOCUS_ENV}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def wait_for_records(run, proc, n=1, timeout=300):
    samples = run / "samples.jsonl"
    t0 = time.time()
    while time.time() - t0 < timeout:
        if samples.exists() and len([ln for ln in samples.read_text().splitlines() if ln.strip()]) >= n:
            return
        if proc.poll() is not None:
            pytest.fail(f"run ended before its first record: {proc.communicate()[1][-2000:]}")
        time.sleep(0.05)
    pytest.fail("no record within the timeout")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_ends_after_the_current_record_then_resume(sig, tmp_path, tiny_cache):
    """Bug caught: a handler that exits at once (or none: SIGTERM kills silently, SIGINT prints a traceback), a
    wrong count in the line, or an exit status equal to a normal run's."""
    run = tmp_path / "run"
    proc = start(run, tiny_cache)
    wait_for_records(run, proc)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 128 + sig, err[-3000:]
    assert "Traceback" not in err and "Traceback" not in out
    done = [r["id"] for r in records(run)]
    assert 1 <= len(done) < 4 and done == IDS[:len(done)]  # the record in progress was finished and written
    line = err.strip().splitlines()[-1]
    assert line == (f"focus: interrupted by {signal.Signals(sig).name} after {len(done)} of 4 samples; "
                    f"run the same command to resume")
    assert not (run / "metrics.json").exists()
    if sig == signal.SIGINT:
        return  # the resume is the same for both signals: run it once
    resumed = subprocess.run(focus_args(*VANILLA, run_dir=run, tiny_cache=tiny_cache), cwd=ROOT, text=True,
                             env={**os.environ, **FOCUS_ENV}, capture_output=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert [r["id"] for r in records(run)] == IDS
    metrics = json.loads((run / "metrics.json").read_text())
    assert (metrics["n"], metrics["expected"], metrics["complete"]) == (4, 4, True)


SUBMITIT_SHIM = r"""
import runpy, signal, sys

def checkpoint(signum, frame):  # what submitit's SignalHandler.checkpoint_and_try_requeue does: requeue, exit
    print("CHECKPOINTED", file=sys.stderr, flush=True)
    sys.exit(-1)

def bypass(signum, frame):
    print("BYPASSED", file=sys.stderr, flush=True)

signal.signal(signal.SIGUSR2, checkpoint)
signal.signal(signal.SIGTERM, bypass)
sys.argv = ["focus.run", *sys.argv[1:]]
runpy.run_module("focus.run", run_name="__main__", alter_sys=True)
"""


def test_launcher_checkpoint_runs_at_the_record_boundary(tmp_path, tiny_cache):
    """Under submitit (its handlers installed before the run), SIGUSR2 waits for the current record, then calls the
    launcher's checkpoint (which requeues the job); SIGTERM stays the launcher's. Bug caught: replacing submitit's
    handlers (no requeue, or a preemption SIGTERM ending the run) or calling the checkpoint mid-record."""
    run = tmp_path / "run"
    args = focus_args(*VANILLA, run_dir=run, tiny_cache=tiny_cache)
    proc = subprocess.Popen([args[0], "-c", SUBMITIT_SHIM, *args[3:]], cwd=ROOT,
                            env={**os.environ, **FOCUS_ENV}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_records(run, proc)
    proc.send_signal(signal.SIGTERM)  # submitit bypasses it: the run goes on
    time.sleep(0.2)
    proc.send_signal(signal.SIGUSR2)
    out, err = proc.communicate(timeout=300)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert "BYPASSED" in err and lines[-1] == "CHECKPOINTED", err[-3000:]
    assert re.fullmatch(r"focus: SIGUSR2 \(preemption or time limit\) after \d of 4 samples; the launcher requeues "
                        r"the job, which resumes this run folder", lines[-2])
    assert proc.returncode == 255 and "Traceback" not in err
    done = [r["id"] for r in records(run)]
    assert done == IDS[:len(done)] and int(lines[-2].split(" after ")[1][0]) == len(done)
