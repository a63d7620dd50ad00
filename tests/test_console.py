"""What a run prints: progress bar, each warning once, the summary as the last block (focus/harness/console.py)."""

import io
import logging
import os
import re
import subprocess
import sys
import warnings

from fixtures import make_vstar, with_test_defaults
from test_end_to_end import ROOT

from focus.harness.console import Progress, failed_lines, once_per_run, print_summary, shard_size
from focus.data.synthetic import SyntheticDataset


def run_merged(*overrides):
    """`python -m focus.run` with stderr merged into stdout, in the order a terminal shows them."""
    env = {k: v for k, v in os.environ.items() if k != "WANDB_SILENT"}  # W&B must be quiet without it
    env.update(HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "focus.run", *with_test_defaults(overrides)], cwd=ROOT,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600, env=env)


def screen_lines(output: str) -> list[str]:
    """Lines as left on a terminal: a carriage return (progress bar redraw) overwrites its line."""
    return [line.split("\r")[-1] for line in output.split("\n") if line.split("\r")[-1].strip()]


def test_summary_is_the_last_block_with_failed_ids_and_wandb_sync(tmp_path, tiny_cache):
    """V* with an unreadable image (id 1), a malformed meta file (id 2) and a missing image (id 4), W&B offline
    (resuming: test_end_to_end)."""
    data = make_vstar(tmp_path / "vstar", corrupt=True)
    run = tmp_path / "run"
    proc = run_merged("dataset=vstar", f"dataset.path={data}", "relevance.layers=[0,14]", f"run_dir={run}",
                      f"tiny_cache_dir={tiny_cache}")
    assert proc.returncode == 1, proc.stdout[-3000:]
    assert re.search(r"\| 5/5 \[", proc.stdout), proc.stdout[-3000:]  # the bar has its total
    # the tiny model has 4 layers: the clamp warning (logged on every relevance pass) is shown once at most
    assert proc.stdout.count("exceeds the model's") <= 1
    assert "wandb:" not in proc.stdout  # W&B says nothing itself
    lines = screen_lines(proc.stdout)
    start = next(i for i, line in enumerate(lines) if line.startswith("[focus] 5 samples (3 errors"))
    summary = lines[start:]
    assert all(line.startswith("[focus]") for line in summary), summary  # nothing after the summary
    assert "[focus] failed samples (3; each counted wrong, its error and traceback in samples.jsonl):" in summary
    assert any(line.startswith("[focus]   1: ValueError: cannot decode image ") for line in summary)
    assert any(line.startswith("[focus]   2: ValueError: bad meta file ") for line in summary)
    assert "[focus]   4: FileNotFoundError: image " in "\n".join(summary) and "missing.jpg is missing" in summary[-2]
    sync = re.fullmatch(r"\[focus\] W&B offline run written \(logging took [0-9.]+ s, \d+ table pictures drawn "
                        r"after the samples\); upload it with: wandb sync (\S+)", summary[-1])
    assert sync and sync.group(1).startswith(str(run / "wandb" / "offline-run-"))
    assert os.path.isdir(sync.group(1))


def test_failed_ids_first_ten_then_a_count(capsys):
    records = [{"id": f"s{i}", "error": None} for i in range(3)]
    records += [{"id": f"bad{i}", "error": f"ValueError: line one\nline two {i}"} for i in range(12)]
    lines = failed_lines(records)
    assert lines[0].startswith("[focus] failed samples (12;")
    assert lines[1:11] == [f"[focus]   bad{i}: ValueError: line one line two {i}" for i in range(10)]
    assert lines[11:] == ["[focus]   ... and 2 more"]
    assert failed_lines(records[:3]) == []
    metrics = {"n": 15, "errors": 12, "needs_judge": {"lmms_eval": 0, "vlmevalkit": 0}, "per_category": {},
               **{f"accuracy_{p}": 20.0 for p in ("strict", "lenient", "lmms_eval", "vlmevalkit")},
               "mean_fp": 3.0, "mean_fp_extract": 1.0, "mean_fp_answer": 1.0, "mean_seconds": 0.5}
    print_summary(metrics, "runs/x", records, "W&B offline run written; upload it with: wandb sync runs/x/wandb/r")
    out = capsys.readouterr().out.splitlines()
    assert out[-13:-1] == lines and out[-1].endswith("wandb sync runs/x/wandb/r")


def test_each_warning_once_per_run():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root = logging.getLogger()
    root.addHandler(handler)
    log = logging.getLogger("focus.test_console")
    log.setLevel(logging.INFO)
    try:
        with warnings.catch_warnings(record=True) as caught:
            once_per_run()
            for _ in range(3):
                log.warning("layers clamped to %s", "[0, 4)")
                warnings.warn("a repeated warning", RuntimeWarning)
            log.warning("layers clamped to %s", "[3, 4)")  # another text: shown
            log.info("info lines are not deduplicated")
            log.info("info lines are not deduplicated")
            assert len(caught) == 1
            once_per_run()  # the next run (a multirun job in the same process) shows them again, once
            log.warning("layers clamped to %s", "[0, 4)")
            log.warning("layers clamped to %s", "[0, 4)")
            warnings.warn("a repeated warning", RuntimeWarning)
            assert len(caught) == 2
    finally:
        root.removeHandler(handler)
    assert stream.getvalue().splitlines() == ["layers clamped to [0, 4)", "layers clamped to [3, 4)",
                                              "info lines are not deduplicated", "info lines are not deduplicated",
                                              "layers clamped to [0, 4)"]


def test_progress_total_shard_and_running_accuracy(capsys):
    assert SyntheticDataset(num_samples=8, limit=5).size() == 5 and SyntheticDataset(num_samples=3, limit=5).size() == 3
    assert [shard_size(5, r, 2) for r in (0, 1)] == [3, 2] and shard_size(None, 0, 2) is None
    done = [{"id": "a", "strict": True, "lenient": True, "fp": 3, "error": None},
            {"id": "b", "strict": False, "lenient": True, "fp": 5, "error": None}]
    progress = Progress(total=4, resumed=done, enabled=True)
    assert "[focus] resuming: 2/4 done, 2 to go" in capsys.readouterr().out
    assert progress.bar.n == 2 and progress.bar.total == 4
    assert progress.postfix() == "strict 50.0% lenient 100.0% fp 4.0"
    with progress:
        progress.update({"id": "c", "strict": False, "lenient": False, "fp": 0, "error": "ValueError: x"})
    # errors count wrong in the accuracy (as metrics.json) and are left out of the mean fp
    assert progress.postfix() == "strict 33.3% lenient 66.7% fp 4.0 errors 1"
    assert progress.bar.n == 3


def test_sweep_progress_announces_each_job_as_it_finishes(tmp_path, capsys):
    """Launchers that run jobs elsewhere (submitit): the sweep folder is polled for new or rewritten metrics.json."""
    import json
    import time

    from omegaconf import OmegaConf

    from focus.harness.console import SweepProgress

    def finish(job, strict):
        (tmp_path / job).mkdir(exist_ok=True)
        (tmp_path / job / "metrics.json").write_text(json.dumps(
            {"accuracy_strict": strict, "accuracy_lenient": 50.0, "n": 4, "errors": 0, "mean_fp": 2.5}))

    def wait_for(text):
        seen = ""
        for _ in range(100):
            seen += capsys.readouterr().out
            if text in seen:
                return seen
            time.sleep(0.05)
        raise AssertionError(f"{text!r} not printed; got {seen!r}")

    finish("0_old", 10.0)  # from an earlier sweep in the same folder: not a completion of this one
    config = OmegaConf.create({"hydra": {"sweep": {"dir": str(tmp_path)}, "launcher": {
        "_target_": "hydra_plugins.hydra_submitit_launcher.submitit_launcher.LocalLauncher"}}})
    callback = SweepProgress(poll_seconds=0.05)
    callback.on_multirun_start(config)
    finish("1_proposer.s_max=5", 25.0)
    seen = wait_for("[focus] job 1_proposer.s_max=5 finished: strict 25.00% | lenient 50.00% | 4 samples, 0 errors | "
                    "mean fp 2.50")
    assert "0_old" not in seen
    time.sleep(0.01)
    finish("0_old", 75.0)  # the same job folder run again (resumed): a new completion
    wait_for("[focus] job 0_old finished: strict 75.00%")
    callback.on_multirun_end(config)
    out = capsys.readouterr().out.splitlines()
    assert out == [f"[focus] sweep of 2 runs -> {tmp_path}",
                   "[focus]   0_old: strict 75.00% | lenient 50.00% | 4 samples, 0 errors | mean fp 2.50",
                   "[focus]   1_proposer.s_max=5: strict 25.00% | lenient 50.00% | 4 samples, 0 errors | mean fp 2.50",
                   f"[focus] compare them: python -m focus.report {tmp_path}"]
