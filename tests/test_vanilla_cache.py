"""The vanilla reference computed once per model, answer scheme and sample content (focus/harness/vanilla_cache.py)."""

import json
from pathlib import Path

from hydra import compose, initialize_config_dir

import focus.harness.runner as runner
from focus.data.base import Sample
from focus.harness.vanilla_cache import VanillaCache, answer_identity
from tests.fixtures import TEST_DEFAULTS

CONF = Path(__file__).resolve().parent.parent / "conf"


def compose_cfg(overrides):
    import focus.harness.config  # noqa: F401  (registers the focus.* resolvers)
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(config_name="config", overrides=[*TEST_DEFAULTS, *overrides])


def sample(question="What colour?", label="A"):
    return Sample(id="s1", question=question, options=["red", "blue"], label=label, category="c",
                  prompt=question + "\n(A) red\n(B) blue", image_digest="img0")


def test_key_follows_model_answer_scheme_and_sample_not_search_settings(tmp_path):
    def key(overrides, s=None):
        return VanillaCache(tmp_path, answer_identity(compose_cfg(overrides))).key(s or sample())

    base = key([])
    assert key(["proposer.s_max=7", "ranker.n_steps=8", "method=zoomeye"]) == base  # search settings: same answer
    assert key(["model.adapter.device=cuda"]) == base
    assert key(["inference_scheme=logits_match"]) != base
    assert key(["model=tiny_qwen25vl"]) != base
    assert key(["model.adapter.torch_dtype=bfloat16"]) != base
    assert key([], sample(label="B")) != base and key([], sample(question="What shape?")) != base


def test_cache_round_trip_ignores_foreign_or_broken_files(tmp_path):
    cache = VanillaCache(tmp_path, {"model": "m"})
    assert cache.get(sample()) is None
    cache.put(sample(), {"vanilla_prediction": "A", "vanilla_correct": {"strict": True}, "vanilla_fp_answer": 1})
    assert cache.get(sample())["vanilla_prediction"] == "A"
    assert VanillaCache(tmp_path, {"model": "other"}).get(sample()) is None
    cache.path(sample()).write_text("{not json")
    assert cache.get(sample()) is None


def test_a_vanilla_job_seeds_the_cache_and_a_focus_job_reads_it(tmp_path, tiny_cache, monkeypatch):
    """The run-level wiring: `method=vanilla` writes its answers under run.vanilla_cache_dir, a FOCUS job of the same
    model and answer scheme reads them instead of answering the whole image again."""
    common = ["dataset.limit=1", "inference_scheme=logits_match", "ranker.n_steps=1", "ranker.overrun=false",
              "logger.wandb.mode=disabled", "run.vanilla_reference=true", f"run.vanilla_cache_dir={tmp_path / 'c'}"]
    assert runner.run(compose_cfg([*common, "method=vanilla"]), tmp_path / "a") == 0
    first = [json.loads(line) for line in (tmp_path / "a" / "samples.jsonl").read_text().splitlines()]
    assert len(list((tmp_path / "c" / "vanilla_cache").glob("*.json"))) == 1

    def refuse(*args, **kwargs):
        raise AssertionError("vanilla recomputed although cached")

    monkeypatch.setattr(runner, "vanilla_reference", refuse)
    assert runner.run(compose_cfg(common), tmp_path / "b") == 0
    second = [json.loads(line) for line in (tmp_path / "b" / "samples.jsonl").read_text().splitlines()]
    assert [r["vanilla_prediction"] for r in second] == [r["prediction"] for r in first]
    assert all(r.get("vanilla_cached") and "vanilla_error" not in r for r in second)
    metrics = json.loads((tmp_path / "b" / "metrics.json").read_text())
    assert metrics["vanilla_reference"]["cached"] == 1 and metrics["vanilla_reference"]["mcnemar"]["strict"]


class CountingScheme:
    def __init__(self):
        self.calls = 0

    def answer(self, adapter, images, sample):
        self.calls += 1
        return "B", 2, {}


def test_process_sample_answers_once_then_reads_the_cache(tmp_path):
    from types import SimpleNamespace

    from PIL import Image

    scheme = CountingScheme()
    adapter = SimpleNamespace(calls=0)
    s = sample()
    s.image_fn = lambda: Image.new("RGB", (8, 8))
    cache = VanillaCache(tmp_path, {"model": "m"})

    def focus_like(adapter, sample, image):
        return {"prediction": "A", "fp": 1}

    recs = [runner.process_sample(s, focus_like_with(scheme, focus_like), adapter, "cpu", "vstar", True, cache)
            for _ in range(2)]
    assert scheme.calls == 1  # the second sample's whole-image answer came from the cache
    assert [r["vanilla_prediction"] for r in recs] == ["B", "B"] and recs[1]["vanilla_cached"]
    assert recs[0]["vanilla_correct"]["strict"] is False and recs[0]["vanilla_fp_answer"] == 2


def focus_like_with(scheme, fn):
    class Method:
        inference_scheme, name = scheme, "focus"

        def __call__(self, adapter, sample, image):
            return fn(adapter, sample, image)

    return Method()
