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


def submitit_job_pid(timeout=60) -> int:
    """The pid of the submitit_local job process (`python -m submitit.core._submit ...`) this test started."""
    t0 = time.time()
    while time.time() - t0 < timeout:
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                cmd = open(f"/proc/{pid}/cmdline").read()
                ppid = int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if "submitit.core._submit" in cmd and ppid in children_of(os.getpid()):
                return int(pid)
        time.sleep(0.05)
    pytest.fail("no submitit job process")


def children_of(root: int) -> set:
    """Every descendant pid of `root` (and root)."""
    parent = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            parent[int(pid)] = int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
    out, grew = {root}, True
    while grew:
        new = {p for p, pp in parent.items() if pp in out} - out
        out |= new
        grew = bool(new)
    return out


def test_submitit_preemption_requeues_and_resumes(tmp_path, tiny_cache):
    """`-m hydra/launcher=submitit_local`: SIGTERM to the job is submitit's (bypassed, the run goes on); SIGUSR2
    (preemption / time-out) ends the job after the current record with one line, submitit's checkpoint requeues it,
    and the requeued job resumes the same folder: every id once, n = 8. Bugs caught: our handler replacing
    submitit's (no requeue: 2 of 8 records), the checkpoint called mid-record, a requeued job in a new folder."""
    import glob
    run = tmp_path / "sweep"
    args = focus_args("-m", "hydra/launcher=submitit_local", "method=vanilla", "logger.wandb.mode=disabled",
                      "dataset.limit=8", run_dir=run, tiny_cache=tiny_cache)
    proc = subprocess.Popen(args, cwd=ROOT, env={**os.environ, **FOCUS_ENV}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    job = submitit_job_pid()
    t0 = time.time()
    while not [f for f in run.glob("*/samples.jsonl") if f.read_text().strip()]:
        assert time.time() - t0 < 300 and proc.poll() is None, proc.communicate()[1][-2000:]
        time.sleep(0.05)
    os.kill(job, signal.SIGTERM)
    time.sleep(0.05)
    os.kill(job, signal.SIGUSR2)
    out, err = proc.communicate(timeout=400)
    assert proc.returncode == 0, err[-3000:]
    folder = next(run.glob("*/samples.jsonl")).parent
    ids = [r["id"] for r in records(folder)]
    assert sorted(ids) == sorted(f"synthetic-{i}" for i in range(8)) and len(ids) == 8
    assert json.loads((folder / "metrics.json").read_text())["n"] == 8
    starts = json.loads((folder / "config_identity.json").read_text())["runs"]
    assert len(starts) == 2 and starts[0]["pid"] == job != starts[1]["pid"]  # the requeued job, same folder
    log = "".join(open(f).read() for f in glob.glob(str(run / ".submitit" / "*" / "*_log.err")))
    assert "Bypassing signal SIGTERM" in log and "Traceback" not in log
    assert re.search(r"focus: SIGUSR2 \(preemption or time limit\) after [1-7] of 8 samples; the launcher "
                     r"requeues the job, which resumes this run folder", log), log[-3000:]
