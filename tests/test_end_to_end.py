"""`python -m focus.run` end to end on the tiny models (subprocesses, as a user runs it)."""

import json
import os
import subprocess
import sys

import pytest

from fixtures import make_hrbench, make_mme, make_vstar

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def focus_run(*overrides, run_dir=None, tiny_cache=None, timeout=600):
    args = [sys.executable, "-m", "focus.run", *overrides]
    if run_dir is not None:
        args.append(f"run_dir={run_dir}")
    if tiny_cache is not None:
        args.append(f"tiny_cache_dir={tiny_cache}")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "WANDB_SILENT": "true", "PYTHONUNBUFFERED": "1"}
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env)


def records(run_dir):
    return [json.loads(line) for line in (run_dir / "samples.jsonl").read_text().splitlines() if line.strip()]


def test_default_command(tmp_path, tiny_cache):
    """No overrides but the run folder: FOCUS, tiny LLaVA-1.5, synthetic, W&B offline inside the run folder."""
    proc = focus_run(run_dir=tmp_path / "run", tiny_cache=tiny_cache)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "accuracy strict" in proc.stdout and "lenient" in proc.stdout
    recs = records(tmp_path / "run")
    assert [r["id"] for r in recs] == [f"synthetic-{i}" for i in range(8)]
    for r in recs:
        for key in ("id", "question", "options", "label", "prediction", "strict", "lenient", "targets", "fp",
                    "fp_extract", "fp_answer", "calls", "seconds", "peak_memory_gb", "error"):
            assert key in r, key
        assert r["error"] is None and r["fp_extract"] == 1 and r["fp_answer"] == 1
        # fp = one relevance pass per target + every evaluated ROI (n_steps=2 with overrun: at least
        # min(2, ROIs) per target)
        evaluated = {t: sum(roi["confidence"] is not None for roi in rois) for t, rois in r["rois"].items()}
        assert r["fp"] == len(r["targets"]) + sum(evaluated.values())
        assert all(evaluated[t] >= min(2, len(r["rois"][t])) for t in r["targets"])
    assert {len(r["targets"]) for r in recs} == {1, 2}  # single- and multi-target paths both ran
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["n"] == 8 and metrics["errors"] == 0
    assert set(metrics["per_category"]) == {"direct_attributes", "relative_position"}
    assert metrics["accuracy_strict"] is not None and metrics["versions"]["transformers"]
    assert list((tmp_path / "run" / "wandb").glob("offline-run-*"))


@pytest.mark.parametrize("model", ["tiny_llava_ov", "tiny_qwen25vl"])
def test_other_families(tmp_path, tiny_cache, model):
    proc = focus_run(f"model={model}", "dataset.limit=2", "logger.wandb.mode=disabled", run_dir=tmp_path,
                     tiny_cache=tiny_cache)
    assert proc.returncode == 0, proc.stderr[-3000:]
    recs = records(tmp_path)
    assert len(recs) == 2 and all(r["error"] is None for r in recs)
    assert recs[1]["final_mode"].endswith("multi_image")  # global-local answering with several images


def test_fp_accounting_from_the_command_line(tmp_path, tiny_cache):
    """Design 4.7: 1 target, n_steps=1 without overrun → fp == 1; n_steps=2 → fp == 3."""
    for steps, expected in ((1, 1), (2, 3)):
        run = tmp_path / f"s{steps}"
        proc = focus_run("dataset.limit=1", f"ranker.n_steps={steps}", "ranker.overrun=false",
                         "logger.wandb.mode=disabled", run_dir=run, tiny_cache=tiny_cache)
        assert proc.returncode == 0, proc.stderr[-2000:]
        rec = records(run)[0]
        assert len(rec["targets"]) == 1 and rec["fp"] == expected


def test_issue3_command_line(tmp_path, tiny_cache):
    proc = focus_run("relevance=keys_norope", "relevance.layers=[0,14]", "proposer.k=10", "ranker.n_steps=4",
                     "ranker.overrun=false", "dataset.limit=2", "logger.wandb.mode=disabled", run_dir=tmp_path,
                     tiny_cache=tiny_cache)
    assert proc.returncode == 0, proc.stderr[-2000:]
    recs = records(tmp_path)
    assert recs[0]["fp"] == 1 + min(4, len(recs[0]["rois"][recs[0]["targets"][0]]))
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["config"]["relevance"]["features"] == "keys_norope" and metrics["config"]["proposer"]["k"] == 10


def test_resume_after_interruption(tmp_path, tiny_cache):
    run = tmp_path / "run"
    proc = focus_run("dataset.limit=3", "logger.wandb.mode=disabled", run_dir=run, tiny_cache=tiny_cache)
    assert proc.returncode == 0, proc.stderr[-2000:]
    with (run / "samples.jsonl").open("a") as f:  # a kill in the middle of writing a record
        f.write('{"id": "synthetic-3", "question": "cut off')
    first = (run / "samples.jsonl").read_text()
    proc = focus_run("logger.wandb.mode=disabled", run_dir=run, tiny_cache=tiny_cache)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (run / "samples.jsonl").read_text().startswith(first)  # nothing already written is lost
    ids = [r["id"] for r in records_tolerant(run)]
    assert sorted(ids) == sorted(f"synthetic-{i}" for i in range(8)) and len(ids) == len(set(ids))
    assert json.loads((run / "metrics.json").read_text())["n"] == 8


def records_tolerant(run_dir):
    from focus.records import read_records
    return read_records(run_dir / "samples.jsonl")


@pytest.mark.parametrize("override,needle", [
    ("model=nonexistent", "unknown model 'nonexistent'"),
    ("proposer.s_min=7", "s_min (7) must be <= proposer.s_max (5)"),
    ("dataset=vstar dataset.path=/nonexistent/vstar", "dataset.path '/nonexistent/vstar' does not exist"),
])
def test_config_errors_are_one_line_before_model_load(tmp_path, override, needle):
    proc = focus_run(*override.split(), "logger.wandb.mode=disabled", run_dir=tmp_path)
    assert proc.returncode == 2
    err_lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
    assert len(err_lines) == 1 and needle in err_lines[0], proc.stderr
    assert "Loading weights" not in proc.stderr and not (tmp_path / "samples.jsonl").exists()


def test_corrupt_image_becomes_error_record(tmp_path, tiny_cache):
    root = make_vstar(tmp_path / "vstar", corrupt=True)
    proc = focus_run("dataset=vstar", f"dataset.path={root}", "logger.wandb.mode=disabled", run_dir=tmp_path / "r",
                     tiny_cache=tiny_cache)
    assert proc.returncode == 1  # a sample failed, the run went on
    recs = records(tmp_path / "r")
    assert len(recs) == 4
    bad = [r for r in recs if r["error"]]
    assert [r["id"] for r in bad] == ["1"] and "UnidentifiedImageError" in bad[0]["error"]
    metrics = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert metrics["errors"] == 1 and metrics["n_scored"] == 3


def test_vstar_end_to_end(tmp_path, tiny_cache):
    root = make_vstar(tmp_path / "vstar")
    proc = focus_run("dataset=vstar", f"dataset.path={root}", "inference_scheme=logits_match",
                     "logger.wandb.mode=disabled", run_dir=tmp_path / "r", tiny_cache=tiny_cache)
    assert proc.returncode == 0, proc.stderr[-2000:]
    metrics = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert set(metrics["per_category"]) == {"direct_attributes", "relative_position"}
    assert "recall" in metrics and metrics["config"]["proposer"]["s_dist"] == 2.0  # Table 7: V* s_dist = 2
    recs = records(tmp_path / "r")
    assert recs[0]["gt_boxes"] == [[100, 120, 140, 150]] and recs[0]["prediction"] in "ABCD"
    assert recs[1]["gt_targets"] == ["dog", "car"]


@pytest.mark.parametrize("suffix", [".parquet", ".tsv"])
def test_hrbench_end_to_end(tmp_path, tiny_cache, suffix):
    path = make_hrbench(tmp_path / f"hr_bench_4k{suffix}")
    proc = focus_run("dataset=hrbench4k", f"dataset.path={path}", "method=vanilla", "logger.wandb.mode=disabled",
                     run_dir=tmp_path / "r", tiny_cache=tiny_cache)
    assert proc.returncode == 1  # two bad rows
    recs = records(tmp_path / "r")
    errors = {r["id"]: r["error"] for r in recs if r["error"]}
    assert set(errors) == {"8", "9"} and "label 'Q'" in errors["9"]
    metrics = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert set(metrics["per_category"]) == {"FSP", "FCP"} and metrics["n_scored"] == 8
    assert metrics["hrbench_official"]["overall_strict"] is not None
    assert metrics["accuracy_lenient"] is not None and metrics["config"]["proposer"]["s_dist"] == 3.0


def test_mme_end_to_end(tmp_path, tiny_cache):
    path = make_mme(tmp_path / "mme.parquet")
    proc = focus_run("dataset=mme_rw_lite", f"dataset.path={path}", "logger.wandb.mode=disabled",
                     run_dir=tmp_path / "r", tiny_cache=tiny_cache)
    assert proc.returncode == 1  # the row without options
    metrics = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert set(metrics["mme_subsets"]) == {"Perception", "Reasoning"} and metrics["errors"] == 1
    assert len(metrics["per_category"]) == 4 and len(metrics["mme_subtasks"]) == 4
