"""Sweeps (submitit_local), the offline report, two-process sharding, and the SLURM parameter mapping."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from test_end_to_end import ROOT, focus_run, records

from focus.plots import pareto_front


def test_submitit_local_sweep_and_report(tmp_path, tiny_cache):
    sweep = tmp_path / "sweep"
    proc = focus_run("-m", "model=tiny_llava15", "dataset=synthetic", "proposer.s_max=3,5",
                     "hydra/launcher=submitit_local", "dataset.limit=2", "logger.wandb.mode=disabled",
                     run_dir=sweep, tiny_cache=tiny_cache)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout.splitlines()  # each job's completion with its accuracy, then the sweep's block last
    jobs = ["0_dataset=synthetic,model=tiny_llava15,proposer.s_max=3",
            "1_dataset=synthetic,model=tiny_llava15,proposer.s_max=5"]
    assert sorted(ln.split(" finished:")[0] for ln in out if " finished: strict " in ln) == [
        f"[focus] job {job}" for job in jobs]
    assert out[-4] == f"[focus] sweep of 2 runs -> {sweep}" and out[-3].startswith(f"[focus]   {jobs[0]}: strict")
    assert out[-1] == f"[focus] compare them: python -m focus.report {sweep}"
    runs = sorted(p.parent for p in sweep.rglob("metrics.json"))
    assert len(runs) == 2
    assert {json.loads((r / "metrics.json").read_text())["config"]["proposer"]["s_max"] for r in runs} == {3, 5}
    rep = subprocess.run([sys.executable, "-m", "focus.report", str(sweep)], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert rep.returncode == 0, rep.stderr
    table = [ln for ln in rep.stdout.splitlines() if ln.startswith("| ") and "proposer.s_max" in ln]
    assert len(table) == 2 and any("s_max=3" in ln for ln in table) and any("s_max=5" in ln for ln in table)
    assert (sweep / "pareto.png").stat().st_size > 1000
    assert (sweep / "report.csv").read_text().count("\n") == 3


@pytest.mark.parametrize("name", sorted(p.stem for p in (Path(ROOT) / "experiments").glob("*.yaml")))
def test_experiment_configs_run_on_tiny_models(tmp_path, tiny_cache, name):
    args = [sys.executable, "-m", "focus.run", "--config-dir", "experiments", "--config-name", name,
            "model=tiny_llava15", "dataset=synthetic", "dataset.limit=1", "logger.wandb.mode=disabled",
            f"run_dir={tmp_path}", f"tiny_cache_dir={tiny_cache}"]
    proc = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    # every swept key that the smoke overrides leave free still produces its runs
    assert len(list(tmp_path.rglob("metrics.json"))) >= (1 if name == "vanilla_baselines" else 2)


def test_two_process_sharding_equals_single_process(tmp_path, tiny_cache):
    single = tmp_path / "single"
    assert focus_run("dataset.limit=5", "logger.wandb.mode=disabled", run_dir=single,
                     tiny_cache=tiny_cache).returncode == 0
    sharded = tmp_path / "sharded"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29513",
           "-m", "focus.run", "dataset.limit=5", "logger.wandb.mode=disabled", f"run_dir={sharded}",
           f"tiny_cache_dir={tiny_cache}"]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    shard_ids = [[r["id"] for r in records_of(p)] for p in sorted((sharded / "shards").glob("*.jsonl"))]
    assert shard_ids == [["synthetic-0", "synthetic-2", "synthetic-4"], ["synthetic-1", "synthetic-3"]]
    merged = {r["id"]: r for r in records(sharded)}
    ref = {r["id"]: r for r in records(single)}
    assert sorted(merged) == sorted(ref) and len(records(sharded)) == 5
    for key, r in ref.items():  # same predictions and forward passes as the single-process run
        assert merged[key]["prediction"] == r["prediction"] and merged[key]["fp"] == r["fp"]
    assert json.loads((sharded / "metrics.json").read_text())["n"] == 5


def records_of(path):
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_slurm_preset_maps_to_submitit(monkeypatch, tmp_path):
    """The slurm preset's fields reach submitit's executor parameters (no cluster: the executor is mocked)."""
    from hydra import compose, initialize_config_dir
    import submitit

    with initialize_config_dir(config_dir=str(Path(ROOT) / "conf"), version_base="1.3"):
        cfg = compose(config_name="config", overrides=["hydra/launcher=slurm", "hydra.launcher.partition=gpu",
                                                       "hydra.launcher.timeout_min=60", f"run_dir={tmp_path}"],
                      return_hydra_config=True)
    launcher_cfg = cfg.hydra.launcher
    assert launcher_cfg._target_.endswith("SlurmLauncher") and launcher_cfg.partition == "gpu"
    captured = {}

    class FakeExecutor:
        def __init__(self, folder, cluster=None, **kwargs):
            captured["folder"], captured["cluster"] = folder, cluster

        def update_parameters(self, **params):
            captured.update(params)

        def map_array(self, fn, *args):
            captured["jobs"] = len(args[0])
            return []

    monkeypatch.setattr(submitit, "AutoExecutor", FakeExecutor)
    from hydra.utils import instantiate
    launcher = instantiate(launcher_cfg)
    launcher.config = cfg
    launcher.task_function = lambda c: None
    launcher.hydra_context = None
    launcher.launch([["proposer.s_max=3"], ["proposer.s_max=5"]], initial_job_idx=0)
    assert captured["jobs"] == 2 and captured["cluster"] == "slurm"
    assert captured["slurm_partition"] == "gpu" and captured["timeout_min"] == 60
    assert captured["gpus_per_node"] == 1 and captured["mem_gb"] == 64 and captured["slurm_array_parallelism"] == 32


def test_pareto_front():
    assert pareto_front([(1, 50), (2, 40), (3, 60), (4, 60), (5, 70)]) == [(1, 50), (3, 60), (5, 70)]
