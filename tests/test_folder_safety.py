"""Someone else's run folder is data (focus/review/safe_config.py), and partial results say they are partial
(focus/review/completeness.py, focus/harness/runfolder.py). In-process: the commands' `main` functions on folders
made by one small vanilla run."""

import json
import shutil

import pytest
import yaml

from test_data_integrity import run_inprocess

from focus import FocusError
from focus.harness.records import read_records, rewrite_records
from focus.harness.runfolder import RunFolder
from focus.review import report, visualize


@pytest.fixture(scope="module")
def base_run(tmp_path_factory, tiny_cache):
    """A finished vanilla run of 3 synthetic samples."""
    run = tmp_path_factory.mktemp("safety") / "run"
    assert run_inprocess(tiny_cache, run, "dataset.limit=3") == 0
    return run


def copy_of(run, dest):
    shutil.copytree(run, dest)
    return dest


def set_loader(run, loader):
    metrics = json.loads((run / "metrics.json").read_text())
    metrics["config"]["dataset"]["loader"] = loader
    (run / "metrics.json").write_text(json.dumps(metrics))


@pytest.mark.parametrize("loader", [
    {"_target_": "os.system", "command": "touch {sentinel}"},
    {"_target_": "builtins.eval", "_args_": ["open('{sentinel}', 'w')"]},
    {"_target_": "focus.data.synthetic.SyntheticDataset", "num_samples": {"_target_": "os.system",
                                                                          "command": "touch {sentinel}"}},
])
def test_visualize_never_runs_a_folders_config(loader, base_run, tmp_path, capsys):
    """Bug caught: rebuilding the dataset through Hydra's instantiate (runs any callable the folder names)."""
    run = copy_of(base_run, tmp_path / "run")
    sentinel = tmp_path / "pwned"
    set_loader(run, json.loads(json.dumps(loader).replace("{sentinel}", str(sentinel))))
    assert visualize.main([str(run), "--limit", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("focus.visualize: ") and "refusing" in err[0], err
    assert "(a run folder is data, not code)" in err[0] or "is not a plain value" in err[0]
    assert not sentinel.exists()


def test_visualize_rebuilds_an_allowed_dataset(base_run, tmp_path, capsys):
    run = copy_of(base_run, tmp_path / "run")
    assert visualize.main([str(run), "--limit", "1"]) == 0
    assert (run / "viz" / "synthetic-0.png").exists()


def test_rescore_reads_yaml_as_data(base_run, tmp_path, capsys):
    """A .hydra/config.yaml with a Python tag: --rescore refuses it in one line (bug caught: yaml.load/unsafe_load
    runs it), and with --benchmark scores without it."""
    run = copy_of(base_run, tmp_path / "run")
    (run / "metrics.json").unlink()
    sentinel = tmp_path / "pwned"
    (run / ".hydra").mkdir(exist_ok=True)
    (run / ".hydra" / "config.yaml").write_text(f"x: !!python/object/apply:os.system ['touch {sentinel}']\n")
    assert report.main([str(run), "--rescore"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "config.yaml is not plain YAML" in err[0] and not sentinel.exists()
    assert report.main([str(run), "--rescore", "--benchmark", "vstar"]) == 0 and not sentinel.exists()


def test_rescore_of_a_killed_run_says_incomplete(base_run, tmp_path, capsys):
    """Bug caught: 66.7 % over 1 of 3 samples written as if final."""
    run = copy_of(base_run, tmp_path / "run")
    rewrite_records(run / "samples.jsonl", read_records(run / "samples.jsonl")[:1])
    assert report.main([str(run), "--rescore"]) == 0
    metrics = json.loads((run / "metrics.json").read_text())
    assert (metrics["n"], metrics["expected"], metrics["complete"], metrics["running"]) == (1, 3, False, None)
    out = capsys.readouterr().out
    assert f"incomplete: {run}: 1 of 3 samples, killed or stopped before the end" in out
    assert "1/3 incomplete" in out
    assert f"- incomplete: {run}: 1 of 3 samples" in (run / "report.md").read_text()
    with RunFolder(run):  # a run still writing the folder
        assert report.main([str(run), "--rescore"]) == 0
    assert "still running (pid " in capsys.readouterr().out
    assert json.loads((run / "metrics.json").read_text())["running"].startswith("pid ")


def test_report_lists_missing_and_failed_sweep_jobs(base_run, tmp_path, capsys):
    """A sweep of 4 jobs: one finished, one killed before metrics.json, one whose every sample errored, one that
    never got a folder. Bug caught: the report silently shows the finished ones only."""
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    (sweep / "multirun.yaml").write_text(yaml.safe_dump({"hydra": {"overrides": {"task": ["proposer.k=1,2,3,4"]}}}))
    copy_of(base_run, sweep / "0_proposer.k=1")
    killed = copy_of(base_run, sweep / "1_proposer.k=2")
    (killed / "metrics.json").unlink()
    rewrite_records(killed / "samples.jsonl", read_records(killed / "samples.jsonl")[:1])
    failed = copy_of(base_run, sweep / "2_proposer.k=3")
    rewrite_records(failed / "samples.jsonl", [{**r, "error": "ValueError: x"} for r in
                                                read_records(failed / "samples.jsonl")])
    assert report.main([str(failed), "--rescore"]) == 0
    capsys.readouterr()
    assert report.main([str(sweep)]) == 0
    out = capsys.readouterr().out
    assert f"missing: {killed}: no metrics.json (killed)" in out
    assert f"all samples errored: {failed}: 3 of 3" in out
    assert f"missing: 1 of 4 sweep job(s) have no folder under {sweep} (job number(s) 3)" in out
    assert report.main([str(sweep), "--rescore"]) == 0  # the killed job scored: and said to be incomplete
    assert f"incomplete: {killed}: 1 of 3 samples, killed or stopped before the end" in capsys.readouterr().out


def test_records_without_config_identity_are_refused(base_run, tmp_path, tiny_cache):
    """Bug caught: a folder whose config_identity.json is gone takes any config, mixing two configs' records."""
    run = copy_of(base_run, tmp_path / "run")
    (run / "config_identity.json").unlink()
    with pytest.raises(FocusError, match=r"holds records but no config_identity.json: the config that made them is "
                                         r"unknown"):
        run_inprocess(tiny_cache, run, "dataset.limit=3", "seed=1")
    assert len(read_records(run / "samples.jsonl")) == 3
