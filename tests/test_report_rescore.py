"""`python -m focus.report --rescore`: metrics.json recomputed from samples.jsonl with no model (design section 7)."""

import json
import os
import subprocess
import sys

import pytest
import yaml

from test_end_to_end import ROOT

FOUR = ["red", "blue", "green", "white"]
# the 7B checkpoint is not in this machine's cache and the hub is offline: any model load would fail
MODEL = {"family": "llava15", "adapter": {"_target_": "focus.models.llava15.LlavaAdapter",
                                          "path": "llava-hf/llava-1.5-7b-hf"}}


def write_run(run, benchmark, predictions, old_metrics=True):
    run.mkdir(parents=True)
    recs = [{"id": str(i), "prediction": p, "label": "B", "options": FOUR, "category": "FSP" if i % 2 else "FCP",
             "meta": {"cycle_category": i % 2}, "error": None if p is not None else "ValueError: bad image",
             "strict": True, "lenient": True}  # stale verdicts: re-scoring must not trust them
            for i, p in enumerate(predictions)]
    (run / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    config = {"model": MODEL, "method": {"name": "focus"}, "dataset": {"name": "x", "benchmark": benchmark}}
    (run / ".hydra").mkdir()
    (run / ".hydra" / "config.yaml").write_text(yaml.safe_dump(config))
    if old_metrics:  # the format before the four protocols: scored-only denominator, old HR-Bench key
        (run / "metrics.json").write_text(json.dumps({
            "n": len(recs), "accuracy_strict": 100.0, "accuracy_lenient": 100.0, "hrbench_official": {},
            "method": "focus", "config": config, "versions": {"focus": "0.0.1"}}))


def report(*args):
    code = ("import sys; from focus.review.report import main; rc = main(sys.argv[1:]); "
            "print('MODEL-LIBS', 'torch' in sys.modules, 'transformers' in sys.modules); sys.exit(rc)")
    return subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"})


def test_rescore_sweep_without_model(tmp_path):
    sweep = tmp_path / "sweep"
    write_run(sweep / "0_hr", "hrbench", ["B", "(B)", "Answer: B", "B or C", None])
    write_run(sweep / "1_vstar", "vstar", ["Answer: B", "blue", "A"], old_metrics=False)
    proc = report("--rescore", str(sweep))
    assert proc.returncode == 0, proc.stderr
    assert "re-scored 2 run(s)" in proc.stdout and "MODEL-LIBS False False" in proc.stdout  # nothing of a model loaded
    hr = json.loads((sweep / "0_hr" / "metrics.json").read_text())
    assert (hr["n"], hr["errors"], hr["rescored"]) == (5, 1, True)
    assert (hr["accuracy_strict"], hr["accuracy_lenient"]) == (20.0, 60.0)  # over all 5 samples, the error wrong
    assert (hr["accuracy_lmms_eval"], hr["accuracy_vlmevalkit"]) == (60.0, 60.0)
    assert hr["needs_judge"] == {"lmms_eval": 1, "vlmevalkit": 1} and "hrbench_official" not in hr
    assert hr["hrbench_cycle_avg"]["lenient"]["overall"] == pytest.approx((100 * 2 / 3 + 100 / 2) / 2)  # 2/3, 1/2
    assert hr["versions"] == {"focus": "0.0.1"} and hr["config"]["model"]["family"] == "llava15"
    vstar = json.loads((sweep / "1_vstar" / "metrics.json").read_text())  # built from .hydra/config.yaml
    assert vstar["accuracy_lmms_eval"] == pytest.approx(100 / 3) and vstar["accuracy_lenient"] == pytest.approx(200 / 3)
    assert vstar["method"] == "focus" and "hrbench_cycle_avg" not in vstar
    assert "acc_lmms_eval" in (sweep / "report.csv").read_text().splitlines()[0]


def test_rescore_without_benchmark_fails_before_writing(tmp_path):
    write_run(tmp_path / "a", None, ["B"])
    before = (tmp_path / "a" / "metrics.json").read_text()
    proc = report("--rescore", str(tmp_path))
    assert proc.returncode == 2 and "pass --benchmark" in proc.stderr
    assert (tmp_path / "a" / "metrics.json").read_text() == before
    proc = report("--rescore", "--benchmark", "mme_rw", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert json.loads((tmp_path / "a" / "metrics.json").read_text())["benchmark"] == "mme_rw"
