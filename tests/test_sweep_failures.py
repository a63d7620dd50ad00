"""A multirun whose jobs produced error records says so: its closing summary lists those jobs (errors / samples,
first error) and `python -m focus.run -m ...` exits 1, as a single run with failed samples does."""

from fixtures import make_vstar
from test_end_to_end import focus_run


def test_sweep_lists_jobs_with_failed_samples_and_exits_1(tmp_path, tiny_cache):
    good, bad = make_vstar(tmp_path / "good"), make_vstar(tmp_path / "bad", corrupt=True)  # bad: id 1 undecodable
    sweep = tmp_path / "sweep"
    proc = focus_run("-m", "dataset=vstar", f"dataset.path={good},{bad}", "method=vanilla", "dataset.limit=2",
                     "logger.wandb.mode=disabled", run_dir=sweep, tiny_cache=tiny_cache)
    assert proc.returncode == 1, proc.stderr[-3000:]
    out = proc.stdout.splitlines()
    start = out.index(f"[focus] sweep of 2 runs -> {sweep}")
    summary = out[start:]
    assert summary[3] == "[focus] jobs with failed samples (1 of 2; errors counted wrong, each run's samples.jsonl " \
                         "holds them):"
    assert summary[4].startswith(f"[focus]   1_dataset.path={bad},dataset=vstar,method=vanilla,model=tiny_llava15: "
                                 f"1/2 samples failed, first: ValueError: cannot decode image "), summary
    assert len(summary) == 6 and summary[-1] == f"[focus] compare them: python -m focus.report {sweep}"


def test_clean_sweep_after_a_failed_one_exits_0(tmp_path, tiny_cache):
    """The failures of one multirun do not leak into the next command of the same process."""
    good = make_vstar(tmp_path / "good")
    bad = make_vstar(tmp_path / "bad", corrupt=True)
    common = ("dataset=vstar", "method=vanilla", "dataset.limit=2", "logger.wandb.mode=disabled")
    assert focus_run("-m", *common, f"dataset.path={bad}", run_dir=tmp_path / "s1", tiny_cache=tiny_cache
                     ).returncode == 1
    proc = focus_run("-m", *common, f"dataset.path={good}", run_dir=tmp_path / "s2", tiny_cache=tiny_cache)
    assert proc.returncode == 0 and "jobs with failed samples" not in proc.stdout, proc.stdout[-2000:]
    proc = focus_run(*common, f"dataset.path={good}", run_dir=tmp_path / "r", tiny_cache=tiny_cache)
    assert proc.returncode == 0, proc.stderr[-2000:]
