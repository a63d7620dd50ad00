"""The packaged demo model (focus/demo, its MODEL_CARD.md): the default main job runs FOCUS on it and beats the
whole image; its relevance map finds the target. A wrong token position, a transposed map or an inverted ranking
costs these margins (tests/mutations.py lists such bugs), so they fail here."""

import json

import pytest
import torch

from inproc import run_inprocess
from test_end_to_end import FOCUS_ENV

from focus.data.demo_scenes import DemoScenes
from focus.demo import CHECKPOINT_DIR
from focus.demo.evaluate import existence_accuracy, load_adapter, map_hits
from focus.stages.relevance import Relevance

# Measured on the shipped checkpoint (MODEL_CARD.md): on the default job's 40 questions FOCUS 62.5 % vs vanilla
# 35.0 % (strict); map argmax hit 0.69 on the first 30 questions' 39 targets (random cell 0.08); existence balanced
# accuracy 0.96 on 89 crops of 30 scenes. The floors leave room for float noise across machines, not for a bug.
MARGIN = 15.0        # FOCUS minus vanilla, strict accuracy points, on the default job's 40 questions
MAP_HIT_FLOOR = 0.5  # argmax within one cell of a ground-truth box, first 30 questions (layers [0, 1))
EXISTENCE_FLOOR = 0.75


@pytest.fixture(scope="module")
def demo_adapter():
    torch.set_num_threads(1)
    return load_adapter(CHECKPOINT_DIR)


def test_checkpoint_is_packaged_and_small():
    files = {p.name: p.stat().st_size for p in CHECKPOINT_DIR.iterdir()}
    assert {"model.safetensors", "config.json", "tokenizer.json", "processor_config.json", "MODEL_CARD.md"} <= set(files)
    assert sum(files.values()) < 10 * 2 ** 20


def test_default_main_job_beats_vanilla(tmp_path):
    """`python -m focus.run` with no overrides (the README's first command): FOCUS with the demo model on 40
    demo_scenes questions, the paired vanilla accuracy in the summary."""
    run = tmp_path / "run"
    proc = run_inprocess([f"run_dir={run}", "logger.wandb.mode=disabled"], env=FOCUS_ENV)  # tests/inproc.py
    assert proc.returncode == 0, proc.stderr[-3000:]
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["n"] == 40 and metrics["errors"] == 0 and metrics["method"] == "focus"
    vanilla = metrics["accuracy_vanilla_reference"]["strict"]
    assert metrics["accuracy_strict"] >= vanilla + MARGIN, (metrics["accuracy_strict"], vanilla)
    assert "[focus] vanilla (whole image, same samples, run.vanilla_reference): strict" in proc.stdout
    assert metrics["recall"] >= 60.0


def test_relevance_map_finds_the_target(demo_adapter):
    samples = list(DemoScenes(seed=0, limit=30))
    hits = map_hits(demo_adapter, Relevance(layers=[0, 1]), samples)
    assert hits["map_hit"] >= MAP_HIT_FLOOR > 3 * hits["map_hit_random"], hits


def test_existence_separates_crops_with_and_without_the_target(demo_adapter):
    result = existence_accuracy(demo_adapter, split=0, n=30, prompt="Is there a {target} in the image? Answer Yes or No.")
    assert result["existence_balanced_accuracy"] >= EXISTENCE_FLOOR, result
