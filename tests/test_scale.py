"""Sweeps (submitit_local), the offline report, two-process sharding, and the SLURM parameter mapping.

Sweeps run in this process (tests/inproc.py); the submitit jobs and the torchrun ranks are real processes."""

import json
import re
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fixtures import TEST_DEFAULTS
from inproc import run_inprocess, run_main
from test_end_to_end import FOCUS_ENV, ROOT, focus_run, records

from focus.review.plots import pareto_front


def report(folder):
    """`python -m focus.report FOLDER`, in this process."""
    from focus.review.report import main
    return run_main(main, [folder])


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
    rep = report(sweep)
    assert rep.returncode == 0, rep.stderr
    table = [ln for ln in rep.stdout.splitlines() if ln.startswith("| ") and "proposer.s_max" in ln]
    assert len(table) == 2 and any("s_max=3" in ln for ln in table) and any("s_max=5" in ln for ln in table)
    assert (sweep / "pareto.png").stat().st_size > 1000
    assert (sweep / "report.csv").read_text().count("\n") == 3


@pytest.mark.parametrize("name", sorted(p.stem for p in (Path(ROOT) / "experiments").glob("*.yaml")
                                         if p.stem != "main_comparison"))  # its own tests below
def test_experiment_configs_run_on_tiny_models(tmp_path, tiny_cache, name):
    args = ["--config-dir", "experiments", "--config-name", name,
            "model=tiny_llava15", "dataset=synthetic", "dataset.limit=1", "logger.wandb.mode=disabled",
            f"run_dir={tmp_path}", f"tiny_cache_dir={tiny_cache}"]
    proc = run_inprocess(args, env=FOCUS_ENV)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # every swept key that the smoke overrides leave free still produces its runs
    assert len(list(tmp_path.rglob("metrics.json"))) >= (1 if name == "vanilla_baselines" else 2)


def test_two_process_sharding_equals_single_process(tmp_path, tiny_cache):
    single = tmp_path / "single"
    assert focus_run("dataset.limit=5", "logger.wandb.mode=disabled", run_dir=single,
                     tiny_cache=tiny_cache).returncode == 0
    sharded = tmp_path / "sharded"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29513",
           "-m", "focus.run", *TEST_DEFAULTS, "dataset.limit=5", "logger.wandb.mode=disabled", f"run_dir={sharded}",
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
        cfg = compose(config_name="config", overrides=[*TEST_DEFAULTS, "hydra/launcher=slurm", "hydra.launcher.partition=gpu",
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


COMPARISON = ["vanilla", "focus_s1_no_overrun", "focus_s2_no_overrun", "focus_s1", "focus_s2", "focus_s3", "focus_s4",
              "focus_s6", "focus_s8", "zoomeye_d1_c2", "zoomeye_d1_c4", "zoomeye_d2_c4", "zoomeye_d5_c4",
              "vicrop_rel_att", "vicrop_grad_att", "vicrop_rel_att_high", "vicrop_grad_att_high"]


def comparison_runs(sweep):
    """{comparison option: (metrics, records)} of a main_comparison sweep."""
    import yaml
    out = {}
    for m in sweep.rglob("metrics.json"):
        option = [o for o in yaml.safe_load((m.parent / ".hydra" / "overrides.yaml").read_text())
                  if o.startswith("+comparison=")][0].split("=", 1)[1]
        out[option] = (json.loads(m.read_text()), records(m.parent))
    return out


def main_comparison(sweep, tiny_cache, *overrides):
    args = ["--config-dir", "experiments", "--config-name", "main_comparison",
            *TEST_DEFAULTS, "dataset.limit=1", "logger.wandb.mode=disabled", *overrides, f"run_dir={sweep}",
            f"tiny_cache_dir={tiny_cache}"]
    return run_inprocess(args, env=FOCUS_ENV)


def test_main_comparison_every_method_one_report(tmp_path, tiny_cache):
    """The paper's Table 10 rows in one sweep (tiny LLaVA-1.5, one synthetic sample), then one report with a
    method column and one Pareto plot."""
    sweep = tmp_path / "sweep"
    proc = main_comparison(sweep, tiny_cache, "model=tiny_llava15")
    assert proc.returncode == 0, proc.stderr[-3000:]
    runs = comparison_runs(sweep)
    assert sorted(runs) == sorted(COMPARISON)
    methods = {option: m["method"] for option, (m, _) in runs.items()}
    assert methods["vanilla"] == "vanilla" and methods["focus_s8"] == "focus" and methods["zoomeye_d5_c4"] == "zoomeye"
    assert methods["vicrop_grad_att_high"] == "vicrop_grad_att_high" and methods["vicrop_rel_att"] == "vicrop_rel_att"
    for option, (metrics, recs) in runs.items():
        rec, = recs
        assert rec["error"] is None and metrics["errors"] == 0, (option, rec.get("traceback"))
        for key in ("fp", "fp_extract", "fp_answer", "calls", "seconds", "peak_memory_gb", "prediction"):
            assert key in rec, (option, key)
    fp = {option: recs[0]["fp"] for option, (_, recs) in runs.items()}
    assert fp["vanilla"] == 0 and fp["vicrop_rel_att"] == 2 and fp["vicrop_grad_att"] == 1  # 1280×960: one block
    assert fp["focus_s1_no_overrun"] == 1  # one target, one relevance pass, nothing ranked
    zoom = runs["zoomeye_d5_c4"][1][0]
    assert zoom["num_pop"] >= 1 and zoom["fp"] >= 1 + 2 * 4 and zoom["rois"] and zoom["final_mode"]
    assert fp["zoomeye_d1_c2"] <= 1 + 2 * 2 + 2  # depth 1, 2 children: ≤ root + 2·2 queued + 2 popped
    rep = report(sweep)
    assert rep.returncode == 0, rep.stderr
    header = next(ln for ln in rep.stdout.splitlines() if ln.startswith("| # | run |"))
    assert "| method |" in header
    rows = [ln for ln in rep.stdout.splitlines() if re.match(r"\| \d+ \| \+comparison=", ln)]
    assert len(rows) == len(COMPARISON)
    for name in ("vanilla", "focus", "zoomeye", "vicrop_rel_att", "vicrop_grad_att", "vicrop_rel_att_high",
                 "vicrop_grad_att_high"):
        assert any(f"| {name} |" in ln for ln in rows), name
    assert (sweep / "pareto.png").stat().st_size > 1000


@pytest.mark.parametrize("model", ["tiny_llava_ov", "tiny_qwen25vl"])
def test_baselines_on_the_other_families(tmp_path, tiny_cache, model):
    """ZoomEye (global-local views: main image + zoomed view) and ViCrop on the multi-image families (rel-att runs
    on LLaVA-1.5 above; both maps use the same adapter pass, compared with an eager model in test_vicrop.py)."""
    proc = main_comparison(tmp_path, tiny_cache, f"model={model}", "+comparison=zoomeye_d1_c2,vicrop_grad_att")
    assert proc.returncode == 0, proc.stderr[-3000:]
    runs = comparison_runs(tmp_path)
    assert sorted(runs) == ["vicrop_grad_att", "zoomeye_d1_c2"]
    zoom = runs["zoomeye_d1_c2"][1][0]
    assert zoom["error"] is None and zoom["num_pop"] >= 1 and zoom["final_mode"]
    visited = [r for rois in zoom["rois"].values() for r in rois]
    assert [r["depth"] for r in visited].count(1) == 2 * len(zoom["rois"])  # 1280×960 splits into 2 halves
    assert zoom["fp"] >= 1 + 2 * 2 * len(zoom["rois"])
    rec = runs["vicrop_grad_att"][1][0]
    assert rec["error"] is None and rec["fp"] == 1 and rec["final_mode"] == "image_and_crop"
    assert rec["calls"] == 2 and len(rec["chosen_boxes"]) == 1
