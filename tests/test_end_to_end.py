"""`python -m focus.run` end to end on the tiny models, as a user runs it (in this process: tests/inproc.py)."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from fixtures import make_hrbench, make_mme, make_vstar, with_test_defaults
from inproc import run_inprocess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def focus_args(*overrides, run_dir=None, tiny_cache=None) -> list[str]:
    args = [sys.executable, "-m", "focus.run", *with_test_defaults(overrides)]
    if run_dir is not None:
        args.append(f"run_dir={run_dir}")
    if tiny_cache is not None:
        args.append(f"tiny_cache_dir={tiny_cache}")
    return args


FOCUS_ENV = {"HF_HUB_OFFLINE": "1", "WANDB_SILENT": "true", "PYTHONUNBUFFERED": "1"}


def focus_run(*overrides, run_dir=None, tiny_cache=None, timeout=600, prefix=(), subprocess_=False):
    """`python -m focus.run` as a user runs it: in this process (tests/inproc.py: same entry point, output and exit
    status), or as a real subprocess when `prefix` wraps the command (e.g. `unshare`) or `subprocess_` asks for one
    (the process boundary is what is tested)."""
    args = focus_args(*overrides, run_dir=run_dir, tiny_cache=tiny_cache)
    if not prefix and not subprocess_:
        return run_inprocess(args[3:], env=FOCUS_ENV)
    return subprocess.run([*prefix, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **FOCUS_ENV})


def one_line(proc) -> str:
    """The single stderr line of a refused command (asserting there is exactly one and no stack trace)."""
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    return lines[0]


def records(run_dir):
    return [json.loads(line) for line in (run_dir / "samples.jsonl").read_text().splitlines() if line.strip()]


def rewrite_predictions(run_dir, predictions: dict) -> None:
    """Stand-in for a model that answers: put known outputs into the records (metrics re-score predictions)."""
    recs = records(run_dir)
    for r in recs:
        if r["id"] in predictions:
            r["prediction"] = predictions[r["id"]]
    (run_dir / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))


def test_default_command(tmp_path, tiny_cache):
    """The tests' defaults and the run folder: FOCUS, tiny LLaVA-1.5, synthetic, W&B offline inside the run folder."""
    proc = focus_run(run_dir=tmp_path / "run", tiny_cache=tiny_cache)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for label in ("strict (exact letter, paper protocol)", "lenient (focus rule)", "lmms-eval", "VLMEvalKit"):
        assert label in proc.stdout, proc.stdout
    recs = records(tmp_path / "run")
    assert [r["id"] for r in recs] == [f"synthetic-{i}" for i in range(8)]
    for r in recs:
        for key in ("id", "question", "options", "label", "prediction", "strict", "lenient", "lmms_eval", "vlmevalkit",
                    "extracted", "needs_judge", "targets", "fp", "fp_extract", "fp_answer", "calls", "seconds",
                    "peak_memory_gb", "error"):
            assert key in r, key
        assert r["error"] is None and r["fp_extract"] == 1 and r["fp_answer"] == 1
        # fp = one relevance pass per target + every evaluated ROI (n_steps=2 with overrun: at least
        # min(2, ROIs) per target)
        evaluated = {t: sum(roi["confidence"] is not None for roi in rois) for t, rois in r["rois"].items()}
        assert r["fp"] == len(r["targets"]) + sum(evaluated.values())
        assert all(evaluated[t] >= min(2, len(r["rois"][t])) for t in r["targets"])
        # cost (README "Cost per question"): every model call lands in a stage, and the totals are their sums
        stages = r["cost"]
        assert {"targets", "relevance", "proposals", "ranking", "answer"} <= set(stages)
        assert sum(s["calls"] for s in stages.values()) == r["calls"] and stages["targets"]["calls"] == 1
        assert sum(s["prefill_tokens"] for s in stages.values()) == r["prefill_tokens"] > 0
        assert stages["relevance"]["vision_images"] == 1  # the image is encoded once, whatever the number of targets
        assert stages["ranking"]["calls"] == (1 if sum(evaluated.values()) else 0) + sum(
            max(0, n - 2) for n in evaluated.values())  # one shared batch, then the overrun one ROI per forward
        assert 0 < r["model_seconds"] < r["seconds"]
    assert {len(r["targets"]) for r in recs} == {1, 2}  # single- and multi-target paths both ran
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["n"] == 8 and metrics["errors"] == 0
    assert set(metrics["per_category"]) == {"attribute", "spatial"}
    assert metrics["accuracy_strict"] is not None and metrics["versions"]["transformers"]
    assert metrics["totals"]["prefill_tokens"] == sum(r["prefill_tokens"] for r in recs)
    assert metrics["totals"]["calls"] == sum(r["calls"] for r in recs)
    assert metrics["per_stage"]["relevance"]["calls"] == pytest.approx(sum(r["cost"]["relevance"]["calls"]
                                                                           for r in recs) / 8)
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


def test_vanilla_reference_is_the_vanilla_run_of_the_same_samples(tmp_path, tiny_cache):
    """run.vanilla_reference: each record carries the whole-image answer that method=vanilla gives (logits matching,
    so the tiny model answers with letters), scored, with its passes kept out of FOCUS's fp."""
    common = ("dataset.limit=3", "inference_scheme=logits_match", "ranker.n_steps=1", "ranker.overrun=false",
              "logger.wandb.mode=disabled")
    proc = focus_run(*common, "run.vanilla_reference=true", run_dir=tmp_path / "focus", tiny_cache=tiny_cache)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert focus_run(*common, "method=vanilla", run_dir=tmp_path / "vanilla", tiny_cache=tiny_cache).returncode == 0
    vanilla = {r["id"]: r for r in records(tmp_path / "vanilla")}
    recs = records(tmp_path / "focus")
    for r in recs:
        assert r["vanilla_prediction"] == vanilla[r["id"]]["prediction"] in "ABCD"
        assert r["vanilla_correct"]["strict"] == (r["vanilla_prediction"] == r["label"])
        assert r["vanilla_fp_answer"] == len(r["options"]) and r["fp"] == len(r["targets"])
    metrics = json.loads((tmp_path / "focus" / "metrics.json").read_text())
    assert metrics["accuracy_vanilla_reference"]["strict"] == pytest.approx(
        100 * sum(r["label"] == v["prediction"] for v in vanilla.values() for r in recs if r["id"] == v["id"]) / 3)
    assert "[focus] vanilla (whole image, same samples, run.vanilla_reference): strict" in proc.stdout


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
    import pandas as pd
    run = tmp_path / "run"
    proc = focus_run("dataset.limit=3", "logger.wandb.mode=disabled", run_dir=run, tiny_cache=tiny_cache)
    assert proc.returncode == 0, proc.stderr[-2000:]
    first = (run / "samples.jsonl").read_text()
    with (run / "samples.jsonl").open("a") as f:  # a kill in the middle of writing a record
        f.write('{"id": "synthetic-3", "question": "cut off')
    proc = focus_run("logger.wandb.mode=disabled", run_dir=run, tiny_cache=tiny_cache)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "[focus] resuming: 3/8 done, 5 to go" in proc.stdout and "| 8/8 [" in proc.stderr
    text = (run / "samples.jsonl").read_text()
    assert text.startswith(first) and "cut off" not in text  # nothing written is lost; the torn line is gone
    ids = list(pd.read_json(run / "samples.jsonl", lines=True)["id"])  # valid JSON Lines for pandas
    assert sorted(ids) == sorted(f"synthetic-{i}" for i in range(8)) and len(ids) == len(set(ids))
    assert json.loads((run / "metrics.json").read_text())["n"] == 8


@pytest.mark.parametrize("override,needle", [
    ("model=nonexistent", "unknown model 'nonexistent'"),
    ("proposer.s_min=7", "s_min (7) must be <= proposer.s_max (5)"),
    ("dataset=vstar dataset.path=/nonexistent/vstar", "dataset.path '/nonexistent/vstar' does not exist"),
    ("dataset.prompt_style=fancy", "dataset.prompt_style must be one of paper, lmms_eval, vlmevalkit"),
    ("dataset.benchmark=vqa", "dataset.benchmark must be one of vstar, hrbench, mme_rw"),
])
def test_config_errors_are_one_line_before_model_load(tmp_path, override, needle):
    proc = focus_run(*override.split(), "logger.wandb.mode=disabled", run_dir=tmp_path)
    assert proc.returncode == 2 and needle in one_line(proc), proc.stderr
    assert "Loading weights" not in proc.stderr and not (tmp_path / "samples.jsonl").exists()


def test_bad_data_becomes_error_records_and_retries_replace_them(tmp_path, tiny_cache):
    """Undecodable image, missing image, malformed meta file: error records naming the file, the run goes on;
    `run.retry_errors=true` after the data is fixed puts each retried record in place of its error record."""
    root = make_vstar(tmp_path / "vstar", corrupt=True)
    args = ("dataset=vstar", f"dataset.path={root}", "method=vanilla", "logger.wandb.mode=disabled")
    proc = focus_run(*args, run_dir=tmp_path / "r", tiny_cache=tiny_cache)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr  # samples failed, the run went on
    recs = records(tmp_path / "r")
    assert len(recs) == 5
    bad = {r["id"]: r["error"] for r in recs if r["error"]}
    assert sorted(bad) == ["1", "2", "4"]
    assert bad["1"].startswith(f"ValueError: cannot decode image {root / 'relative_position' / 'sa_1.jpg'}: ")
    assert "BytesIO" not in bad["1"] and "missing.jpg is missing" in bad["4"]
    assert bad["2"].startswith(f"ValueError: bad meta file {root / 'direct_attributes' / 'sa_2.json'}: JSONDecodeError")
    metrics = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert metrics["errors"] == 3 and metrics["n_scored"] == 2
    kept = {r["id"]: r for r in recs if not r["error"]}

    fixed = make_vstar(tmp_path / "fixed")  # the data is fixed: good image and meta files, the missing image added
    for f in [*fixed.rglob("*.jpg"), *fixed.rglob("*.json")]:
        shutil.copy(f, root / f.relative_to(fixed))
    shutil.copy(fixed / "direct_attributes" / "sa_0.jpg", root / "direct_attributes" / "missing.jpg")
    proc = focus_run(*args, "run.retry_errors=true", run_dir=tmp_path / "r", tiny_cache=tiny_cache)
    assert proc.returncode == 0, proc.stderr[-2000:]  # every retry succeeded: no error is left
    recs = records(tmp_path / "r")
    assert [r["id"] for r in recs] == ["0", "1", "2", "3", "4"]  # each id once, in place of its error record
    assert not any(r["error"] for r in recs) and all(kept[r["id"]] == r for r in recs if r["id"] in kept)
    assert recs[2]["gt_targets"] == ["cup"]  # the fixed meta file was read
    metrics = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert metrics["errors"] == 0 and metrics["n"] == 5 and metrics["n_scored"] == 5


def test_vstar_end_to_end(tmp_path, tiny_cache):
    root = make_vstar(tmp_path / "vstar")
    args = ("dataset=vstar", f"dataset.path={root}", "inference_scheme=logits_match", "logger.wandb.mode=disabled")
    proc = focus_run(*args, run_dir=tmp_path / "r", tiny_cache=tiny_cache)
    assert proc.returncode == 0, proc.stderr[-2000:]
    metrics = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert set(metrics["per_category"]) == {"attribute", "spatial"}
    assert "recall" in metrics and metrics["config"]["proposer"]["s_dist"] == 2.0  # Table 7: V* s_dist = 2
    recs = records(tmp_path / "r")
    assert recs[0]["gt_boxes"] == [[100, 120, 140, 150]] and recs[0]["prediction"] in "ABCD"
    assert recs[1]["gt_targets"] == ["dog", "car"]
    # known outputs; all labels B; ids 0, 2 attribute (B = red), 1, 3 spatial (A = right, B = left)
    rewrite_predictions(tmp_path / "r", {"0": "B", "1": "(B)", "2": "A", "3": "left"})
    assert focus_run(*args, run_dir=tmp_path / "r", tiny_cache=tiny_cache).returncode == 0  # resume: re-score
    metrics = json.loads((tmp_path / "r" / "metrics.json").read_text())
    # lmms-eval's V* rule finds no letter in "LEFT"; VLMEvalKit matches the option text
    assert [metrics[f"accuracy_{p}"] for p in ("strict", "lenient", "lmms_eval", "vlmevalkit")] == [25, 75, 50, 75]
    assert metrics["per_category"]["attribute"] == {"n": 2, "strict": 50.0, "lenient": 50.0, "lmms_eval": 50.0,
                                                    "vlmevalkit": 50.0}
    assert metrics["per_category"]["spatial"] == {"n": 2, "strict": 0.0, "lenient": 100.0, "lmms_eval": 50.0,
                                                  "vlmevalkit": 100.0}


@pytest.mark.parametrize("suffix", [".parquet", ".tsv"])
def test_hrbench_end_to_end(tmp_path, tiny_cache, suffix):
    path = make_hrbench(tmp_path / f"hr_bench_4k{suffix}")
    proc = focus_run("dataset=hrbench4k", f"dataset.path={path}", "method=vanilla", "logger.wandb.mode=disabled",
                     run_dir=tmp_path / "r", tiny_cache=tiny_cache)
    assert proc.returncode == 1  # three bad rows: undecodable base64, label not an option, no image
    recs = records(tmp_path / "r")
    errors = {r["id"]: r["error"] for r in recs if r["error"]}
    assert set(errors) == {"8", "9", "10"} and "label 'Q'" in errors["9"] and "no image" in errors["10"]
    assert errors["8"].startswith("ValueError: undecodable base64 image")
    metrics = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert set(metrics["per_category"]) == {"FSP", "FCP"} and metrics["n_scored"] == 8
    assert metrics["hrbench_cycle_avg"]["strict"]["overall"] is not None
    assert metrics["accuracy_lenient"] is not None and metrics["config"]["proposer"]["s_dist"] == 3.0


def test_hrbench_metrics_from_known_answers(tmp_path, tiny_cache):
    """Accuracies over all 11 rows (the 3 bad ones count wrong), per category and cycle-averaged, on known outputs
    (labels A,B,C,D by cycle; FSP ids 0-3 and bad row 8, cycle 0)."""
    path = make_hrbench(tmp_path / "hr_bench_4k.tsv")
    args = ("dataset=hrbench4k", f"dataset.path={path}", "method=vanilla", "logger.wandb.mode=disabled")
    assert focus_run(*args, run_dir=tmp_path / "r", tiny_cache=tiny_cache).returncode == 1  # rows 8-10 are bad
    rewrite_predictions(tmp_path / "r", {
        "0": "A",                 # strict and lenient
        "1": "The answer is B.",  # lenient only
        "2": "green",             # lenient only (option text of C)
        "3": "A",                 # wrong
        "4": "(A)",               # lenient only: strict is the bare letter
        "5": "B", "7": "D",       # strict and lenient
        "6": "blue or green",     # two option texts: no letter
    })
    proc = focus_run(*args, run_dir=tmp_path / "r", tiny_cache=tiny_cache)  # resume: nothing to run, re-score
    assert "strict (exact letter, paper protocol): 27.27%" in proc.stdout, proc.stdout + proc.stderr[-2000:]
    metrics = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert metrics["errors"] == 3
    assert (metrics["accuracy_strict"], metrics["accuracy_lenient"]) == pytest.approx((300 / 11, 600 / 11))
    # "blue or green" names two options: both harnesses would ask their judge; counted wrong
    assert (metrics["accuracy_lmms_eval"], metrics["accuracy_vlmevalkit"]) == pytest.approx((600 / 11, 600 / 11))
    assert metrics["needs_judge"] == {"lmms_eval": 1, "vlmevalkit": 1}
    assert metrics["accuracy_without_errors"]["strict"] == 37.5 and metrics["accuracy_without_errors"]["lenient"] == 75
    assert metrics["per_category"]["FSP"]["n"] == 5 and metrics["per_category"]["FSP"]["strict"] == 20.0
    assert metrics["per_category"]["FCP"]["n"] == 6 and metrics["per_category"]["FCP"]["lenient"] == 50.0
    cycle = metrics["hrbench_cycle_avg"]["strict"]  # cycles 0..3 over all rows: 1/3, 1/3, 0/3, 1/2
    assert cycle["overall"] == pytest.approx((100 / 3 + 100 / 3 + 0 + 50) / 4)
    # FSP per cycle: 1/2 (0 right, bad row 8 wrong), 0, 0, 0
    assert cycle["FSP"] == pytest.approx(50 / 4)
    extracted = {r["id"]: r["extracted"] for r in records(tmp_path / "r")}
    assert extracted["2"] == {"strict": None, "lenient": "C", "lmms_eval": "C", "vlmevalkit": "C"}


@pytest.mark.parametrize("suffix", [".parquet", ".tsv"])
def test_mme_end_to_end(tmp_path, tiny_cache, suffix):
    path = make_mme(tmp_path / f"mme{suffix}")
    args = ("dataset=mme_rw_lite", f"dataset.path={path}", "logger.wandb.mode=disabled")
    proc = focus_run(*args, run_dir=tmp_path / "r", tiny_cache=tiny_cache)
    assert proc.returncode == 1  # the row without options
    metrics = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert set(metrics["mme_subsets"]) == {"Perception", "Reasoning"} and metrics["errors"] == 1
    assert len(metrics["per_category"]) == 4 and len(metrics["mme_subtasks"]) == 4
    # known outputs; labels A,B,C,D,E,A,B,C; ids 0,1,4,5 are Perception, 2,3,6,7 Reasoning
    rewrite_predictions(tmp_path / "r", {"0": "A", "1": "B", "2": "C", "3": "The best answer is D", "4": "E",
                                         "5": "B", "6": "blue", "7": "C."})
    assert focus_run(*args, run_dir=tmp_path / "r", tiny_cache=tiny_cache).returncode == 1  # resume: re-score
    metrics = json.loads((tmp_path / "r" / "metrics.json").read_text())
    # over all 9 rows (the row without options counts wrong); both harnesses find no letter in "blue"
    assert [metrics[f"accuracy_{p}"] for p in ("strict", "lenient", "lmms_eval", "vlmevalkit")] == pytest.approx(
        [400 / 9, 700 / 9, 600 / 9, 600 / 9])
    assert metrics["mme_subsets"]["Perception"] == {"n": 5, "strict": 60.0, "lenient": 60.0, "lmms_eval": 60.0,
                                                    "vlmevalkit": 60.0}
    assert metrics["mme_subsets"]["Reasoning"] == {"n": 4, "strict": 25.0, "lenient": 100.0, "lmms_eval": 75.0,
                                                   "vlmevalkit": 75.0}
