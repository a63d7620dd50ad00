"""Bad config and bad files are refused before any model loads, in one line naming the key or the file
(focus/harness/validate.py, focus/data/tabular.py, focus/core/hub.py)."""

import os
import socket
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from omegaconf import OmegaConf

from fixtures import hrbench_rows, make_mme, write_rows
from test_configs import GROUPS, compose_cfg, options
from inproc import run_inprocess
from test_end_to_end import FOCUS_ENV, ROOT, focus_args, one_line

from focus import FocusError
from focus.data.hrbench import HRBench
from focus.data.mme_realworld import MMERealWorldLite
from focus.data.vstar import VStarBench
from focus.harness.validate import LAYER_KEYS, LIST_SCHEMA, SCHEMA, check_config, check_values

COMPOSITIONS = [[f"{g}={o}"] for g in GROUPS for o in options(g)]


def leaves(node, prefix=""):
    for key, value in node.items():
        if isinstance(value, dict):
            yield from leaves(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def test_schema_covers_every_numeric_and_boolean_option():
    """A numeric or boolean option added to conf/ without a rule in SCHEMA fails here; so does a stale rule."""
    seen = set()
    for overrides in COMPOSITIONS:
        for key, value in leaves(OmegaConf.to_container(compose_cfg(overrides), resolve=True)):
            seen.add(key)
            numeric = isinstance(value, (bool, int, float)) or (
                isinstance(value, list) and value and isinstance(value[0], (int, float)))
            # dataset.hparams.* reach proposer.*; method.proposer etc. are interpolations of the groups: both checked
            # method.per_family.* reach method.<key> (checked) the same way; model.presets.* reach model.adapter.*
            if numeric and not key.startswith(("dataset.hparams.", "method.per_family.", "model.presets.",
                                               *(f"method.{g}." for g in GROUPS))):
                assert key in SCHEMA or key in LIST_SCHEMA or key in LAYER_KEYS, \
                    f"{key} (= {value!r}) has no rule in focus.harness.validate.SCHEMA"
    stale = set(SCHEMA) | set(LIST_SCHEMA) | set(LAYER_KEYS)
    assert not stale - seen, f"rules for options no config has: {stale - seen}"


@pytest.mark.parametrize("overrides", COMPOSITIONS)
def test_every_shipped_config_passes(overrides):
    check_values(compose_cfg(overrides))


@pytest.mark.parametrize("override,message", [
    ("proposer.k=abc", "proposer.k must be an integer >= 1, got 'abc'"),
    ("dataset.limit=abc", "dataset.limit must be an integer >= 1 or null, got 'abc'"),
    ("dataset.limit=-1", "dataset.limit must be an integer >= 1 or null, got -1"),
    ("dataset.limit=0", "dataset.limit must be an integer >= 1 or null, got 0"),
    # the bad value is named where the user wrote it, not where an interpolation reads it (model.hparams.k)
    ("ranker.n_steps=abc", "ranker.n_steps must be an integer >= 1, got 'abc'"),
    ("model.hparams.k=2.5", "model.hparams.k must be an integer >= 1, got 2.5"),
    ("proposer.nms=1.5", "proposer.nms must be a number in [0, 1], got 1.5"),
    ("proposer.s_dist=-1", "proposer.s_dist must be a number >= 0, got -1"),
    ("ranker.overrun=maybe", "ranker.overrun must be true or false, got 'maybe'"),
    ("seed=null", "seed must be an integer >= 0, got None"),
    ("inference_scheme.canvas_fill=[0,0]", "inference_scheme.canvas_fill must be a list of 3 values, each an integer"),
    ("relevance.layers=[a,b]", "relevance.layers must be [l, L): two integers >= 0, got ['a', 'b']"),
    ("relevance.layers=7", "relevance.layers must be [l, L): two integers >= 0, got 7"),
])
def test_bad_values_name_the_key(override, message):
    with pytest.raises(FocusError) as info:
        check_values(compose_cfg([override]))
    assert str(info.value).startswith(message)


def llava_config_folder(path: Path, layers: int) -> Path:
    """A checkpoint folder holding only config.json (no weights): enough to validate, impossible to load."""
    from transformers import LlamaConfig, LlavaConfig
    LlavaConfig(text_config=LlamaConfig(num_hidden_layers=layers)).save_pretrained(path)
    return path


@pytest.mark.parametrize("layers,ok", [("[14,32]", True), ("[0,32]", True), ("[40,50]", False), ("[3,1]", False)])
def test_layer_range_against_the_depth_in_config_json(tmp_path, layers, ok):
    folder = llava_config_folder(tmp_path / "ckpt", 32)
    cfg = compose_cfg(["model=llava15", f"model.path={folder}", "model.adapter.device=cpu",
                       f"relevance.layers={layers}"])
    if ok:
        check_config(cfg)
    else:
        with pytest.raises(FocusError, match=r"0 <= l < L <= 32: \[l, L\) counts the model's 32 decoder layers"):
            check_config(cfg)


def test_tiny_models_refuse_ranges_beyond_the_depth_they_refer_to(tiny_cache):
    check_config(compose_cfg(["relevance.layers=[0,14]", f"tiny_cache_dir={tiny_cache}"]))  # Table 3's ablation
    with pytest.raises(FocusError, match=r"relevance.layers=\[40, 50\] must satisfy 0 <= l < L <= 32"):
        check_config(compose_cfg(["relevance.layers=[40,50]", f"tiny_cache_dir={tiny_cache}"]))
    with pytest.raises(FocusError, match="maps to no layer of this 4-layer model"):
        check_config(compose_cfg(["relevance.layers=[14,15]", f"tiny_cache_dir={tiny_cache}"]))


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks a machine without CUDA")
def test_cuda_device_without_cuda(tiny_cache):
    with pytest.raises(FocusError, match="model.adapter.device=cuda but CUDA is not available"):
        check_config(compose_cfg(["model.adapter.device=cuda", f"tiny_cache_dir={tiny_cache}"]))
    with pytest.raises(FocusError, match="model.adapter.device must be auto, cpu, mps, cuda or cuda:N, got 'gpu'"):
        check_config(compose_cfg(["model.adapter.device=gpu", f"tiny_cache_dir={tiny_cache}"]))


# ---------------------------------------------------------------------------------------------------------- files
def hrbench_without(path: Path, column: str) -> Path:
    return write_rows(path, [{k: v for k, v in r.items() if k != column} for r in hrbench_rows(bad=False)])


@pytest.mark.parametrize("make,message", [
    (lambda p: hrbench_without(p / "hr.tsv", "answer"), "lacks the column(s) answer of the HR-Bench format"),
    (lambda p: hrbench_without(p / "hr.parquet", "question"), "lacks the column(s) question of the HR-Bench format"),
    (lambda p: hrbench_without(p / "hr.tsv", "image"), "lacks the column(s) image of the HR-Bench format"),
    (lambda p: (p / "hr.tsv").write_text("index\tquestion\tanswer\tA\tB\timage\n") and p / "hr.tsv",
     "hr.tsv has a header but no rows"),
    (lambda p: (p / "hr.tsv").write_text("") or p / "hr.tsv", "hr.tsv is empty"),
    (lambda p: (p / "hr.parquet").write_bytes(b"") or p / "hr.parquet", "hr.parquet is not a readable parquet file"),
    (lambda p: (p / "hr.parquet").write_text("index\tquestion\n0\tq\n") and p / "hr.parquet",
     "hr.parquet is not a readable parquet file"),
    (lambda p: pq.write_table(pa.table({c: pa.array([], pa.string()) for c in hrbench_rows()[0]}), p / "hr.parquet")
     or p / "hr.parquet", "hr.parquet has a header but no rows"),
])
def test_hrbench_files_are_checked_when_the_loader_is_built(tmp_path, make, message):
    path = make(tmp_path)
    with pytest.raises(FocusError) as info:
        HRBench(path=str(path))
    assert message in str(info.value) and str(path) in str(info.value)


def test_mme_and_vstar_files_are_checked(tmp_path):
    rows = [{k: v for k, v in r.items() if k != "multi-choice options"} for r in hrbench_rows(bad=False)]
    write_rows(tmp_path / "mme.parquet", [{**r, "bytes": r.pop("image")} for r in rows])
    MMERealWorldLite(path=str(make_mme(tmp_path / "good.parquet")))  # the distributed format passes
    for r in rows:
        r.pop("A"), r.pop("B")
    write_rows(tmp_path / "mme.parquet", rows)
    with pytest.raises(FocusError, match=r"lacks the column\(s\) bytes or image, multi-choice options or A "):
        MMERealWorldLite(path=str(tmp_path / "mme.parquet"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(FocusError, match="holds no .parquet or .tsv file"):
        MMERealWorldLite(path=str(tmp_path / "empty"))
    (tmp_path / "vstar").mkdir()
    (tmp_path / "vstar" / "test_questions.jsonl").write_text("\n\n")
    with pytest.raises(FocusError, match="test_questions.jsonl has no questions"):
        VStarBench(path=str(tmp_path / "vstar"))


def test_rows_with_bad_labels_or_images_name_the_row(tmp_path):
    rows = hrbench_rows(bad=True)
    rows[0]["answer"] = ""  # an empty label: "" is in every string, it must still be refused
    samples = {s.id: s for s in HRBench(path=str(write_rows(tmp_path / "hr.tsv", rows)))}
    assert samples["0"].error == "label '' is not among the options ['A', 'B', 'C', 'D']"
    assert samples["9"].error == "label 'Q' is not among the options ['A', 'B', 'C', 'D']"
    assert samples["10"].error == "row 11 of hr.tsv has no image"
    with pytest.raises(ValueError, match=r"^undecodable base64 image in row 9 of hr.tsv: "):
        samples["8"].load_image()
    rows[1]["image"] = "bm90IGFuIGltYWdl"  # base64 of "not an image"
    samples = {s.id: s for s in HRBench(path=str(write_rows(tmp_path / "hr.tsv", rows)))}
    with pytest.raises(ValueError, match=r"^cannot decode image row 2 of hr.tsv: not an image format PIL reads"):
        samples["1"].load_image()


# ------------------------------------------------------------------------------------------- from the command line
def silent_server():
    """A TCP port that accepts connections and never answers: a hub behind a network that drops packets."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    accepted = []
    threading.Thread(target=lambda: accepted.extend(iter(lambda: server.accept()[0], None)), daemon=True).start()
    return server, accepted


def run_cli(args, env_changes, timeout):
    env = {k: v for k, v in {**os.environ, **FOCUS_ENV}.items()
           if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE")}
    env.update({"HF_HUB_OFFLINE": "1", **env_changes})
    env = {k: v for k, v in env.items() if v is not None}
    start = time.perf_counter()
    proc = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env)
    return proc, time.perf_counter() - start


def test_bad_inputs_are_refused_in_one_line_before_the_model_loads(tmp_path, tiny_cache):
    """One case of each kind as a user types it (the messages of the others are checked above, in process): exit
    status 2, one line on stderr, no stack trace, no model load. A hub id with no network fails after one short
    probe (seconds), not after minutes of retries."""
    server, accepted = silent_server()
    no_answer = hrbench_without(tmp_path / "no_answer.tsv", "answer")
    header_only = tmp_path / "header_only.tsv"
    header_only.write_text("index\tquestion\tanswer\tA\tB\timage\n")
    cases = [  # (overrides, environment changes, what the line says)
        (["proposer.k=abc"], {}, "proposer.k must be an integer >= 1, got 'abc'"),
        (["dataset.limit=-1"], {}, "dataset.limit must be an integer >= 1 or null, got -1"),
        (["relevance.layers=[40,50]"], {}, "relevance.layers=[40, 50] must satisfy 0 <= l < L <= 32"),
        (["dataset=hrbench4k", f"dataset.path={no_answer}"], {}, "lacks the column(s) answer"),
        (["dataset=hrbench4k", f"dataset.path={header_only}"], {}, "has a header but no rows"),
        (["model=llava15", "model.path=focus-test/no-such-model"], {},
         "cannot load model 'focus-test/no-such-model': it is neither a local folder nor in the Hugging Face cache"),
        (["model=llava15", "model.path=focus-test/no-such-model"],
         {"HF_HUB_OFFLINE": None, "HF_ENDPOINT": f"http://127.0.0.1:{server.getsockname()[1]}"},
         "cannot load model 'focus-test/no-such-model': it is neither a local folder nor in the Hugging Face cache"),
    ]
    if not torch.cuda.is_available():
        cases.append((["model.adapter.device=cuda"], {}, "model.adapter.device=cuda but CUDA is not available"))

    def one(i_case):
        i, (overrides, env, needle) = i_case
        args = focus_args(*overrides, "logger.wandb.mode=disabled", run_dir=tmp_path / f"run{i}",
                          tiny_cache=tiny_cache)
        if not env:  # in this process (tests/inproc.py: the same entry point, stderr and exit status)
            start = time.perf_counter()
            return run_inprocess(args[3:], env=FOCUS_ENV), time.perf_counter() - start
        return run_cli(args, env, timeout=60)  # a real process: the hub settings are read when it imports

    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(one, enumerate(cases)))
    for (overrides, env, needle), (proc, seconds) in zip(cases, results):
        assert proc.returncode == 2, (overrides, proc.stderr[-2000:])
        assert needle in one_line(proc), overrides
        assert "Loading weights" not in proc.stderr
    # the silent hub was asked once and given up on (huggingface_hub alone retries each file for minutes; run_cli
    # gives these commands 60 s)
    assert accepted and "focus: the Hugging Face hub cannot be reached (timed out); using the local cache only" \
        in results[6][0].stdout
    server.close()
