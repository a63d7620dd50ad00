"""The whole FOCUS pipeline (design section 2) with every real component — target extraction, Fig. 7 relevance,
proposals, existence ranking, final composition — on a scripted model whose answers depend on what it is shown.

The image holds three coloured squares on grey. The scripted model's value vectors make the relevance map peak at the
squares (green strongest, then red, then blue); its yes/no logits depend on the colours inside the crop (red: sure
Yes, green: weak Yes, blue and grey: No); and its final answer names the colours it sees. So the ranked order, the
type-2 threshold and the question type each decide the letter, and a wrong ROI gives a wrong answer.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from focus.data.base import Sample
from focus.core.geometry import GridLayout
from focus.stages.inference import FinalInference
from focus.methods.focus import Focus
from focus.models.base import FeaturePass, VisionLanguageAdapter
from focus.stages.proposer import Proposer
from focus.stages.ranker import ExistenceRanker, NoRanking
from focus.stages.relevance import Relevance
from focus.stages.targets import ANSWER_LEAD, TargetExtractor

W, H, CELL = 1200, 800, 100  # an 8 × 12 grid of 100-px cells
COLOURS = {"red": (230, 20, 20), "green": (20, 200, 20), "blue": (20, 20, 230)}
SQUARES = {"green": (6, 10), "red": (1, 1), "blue": (1, 10)}  # cell (row, col) of each square
STRENGTH = {"green": 10.0, "red": 3.0, "blue": 1.0}  # relevance order: green > red > blue
YES_NO = {"red": (3.0, -3.0), "green": (1.0, 0.0), "blue": (-2.0, 2.0), None: (-3.0, 3.0)}
ANSWERS = {("red",): "A", ("green",): "B", ("green", "red"): "C"}  # anything else: "D"


def scene() -> Image.Image:
    image = Image.new("RGB", (W, H), (128, 128, 128))
    for name, (r, c) in SQUARES.items():
        image.paste(COLOURS[name], (c * CELL + 20, r * CELL + 20, c * CELL + 80, r * CELL + 80))
    return image


def colours_in(image: Image.Image) -> tuple[str, ...]:
    arr = np.asarray(image.convert("RGB")).reshape(-1, 3)
    return tuple(sorted(n for n, rgb in COLOURS.items() if (arr == rgb).all(-1).sum() >= 100))


class ScriptedModel(VisionLanguageAdapter):
    """An adapter whose model is a script (see the module doc). Token sequence: 2 text tokens, the 96 grid tokens,
    the target token."""

    family = "scripted"
    multi_image = False
    local_grid = False
    base_resolution = 100
    num_layers = 1

    def __init__(self, targets_answer: str):
        self.targets_answer = targets_answer
        self.shown: list[list[Image.Image]] = []

    def layout(self, image):
        return GridLayout(H // CELL, W // CELL, (0.0, 0.0, float(W), float(H)), (W, H))

    def relevance_pass(self, image, prompt, target, capture="values"):
        layout = self.layout(image)
        n_visual = layout.rows * layout.cols
        feats = torch.zeros(1, n_visual + 3, 2)  # one layer, one head: [background, target] directions
        feats[0, :, 0] = 1.0
        for name, (r, c) in SQUARES.items():
            feats[0, 2 + r * layout.cols + c, 1] = STRENGTH[name]
        feats[0, -1] = torch.tensor([0.0, 1.0])  # the target token
        return FeaturePass([feats], [n_visual + 2], torch.arange(2, 2 + n_visual), layout,
                           torch.zeros(n_visual + 3, dtype=torch.long))

    def yes_no_logits(self, images, prompts):
        seen = [colours_in(im) for im in images]
        return torch.tensor([YES_NO[next((c for c in ("red", "green", "blue") if c in s), None)] for s in seen])

    def generate(self, images, text, max_new_tokens=16):
        if ANSWER_LEAD.split(":")[0] in text:  # target extraction (ICL prompt)
            return f"{ANSWER_LEAD} {self.targets_answer}."
        self.shown.append(images)
        seen = tuple(sorted(set().union(*(colours_in(im) for im in images))))
        return ANSWERS.get(seen, "D")


def sample(question: str) -> Sample:
    options = ["red", "green", "red and green", "none"]
    return Sample(id="0", question=question, options=options, label="A", category="attribute",
                  prompt=question + "\n(A) red\n(B) green\n(C) red and green\n(D) none")


def focus(ranker=None, t_type2: float = 0.3) -> Focus:
    return Focus(targets=TargetExtractor(), relevance=Relevance(layers=(0, 1)),
                 proposer=Proposer(k=15, s_min=3, s_max=3, s_dist=2),
                 ranker=ranker or ExistenceRanker(n_steps=2, overrun=False),
                 inference_scheme=FinalInference(t_type2=t_type2), max_rois_in_record=50)


def box_of(name):
    """The 3×3-cell ROI the proposer builds around a square, in pixels."""
    r, c = SQUARES[name]
    r0, c0 = min(max(r - 1, 0), H // CELL - 3), min(max(c - 1, 0), W // CELL - 3)
    return [c0 * CELL, r0 * CELL, (c0 + 3) * CELL, (r0 + 3) * CELL]


def test_ranking_decides_the_crop_and_the_answer():
    """Type-1: relevance puts green first, the existence confidence puts red first; the answer is on red."""
    model = ScriptedModel("car")
    rec = focus()(model, sample("What is the colour of the car?"), scene())
    assert rec["targets"] == ["car"] and rec["type2"] is False and rec["type2_targets"] == []
    first, second = rec["rois"]["car"][:2]
    assert first["box"] == box_of("red") and second["box"] == box_of("green")  # re-ranked by c_yes
    assert first["confidence"] > second["confidence"] > 0
    assert rec["chosen_boxes"] == [box_of("red")] and rec["final_mode"] == "type1_single"
    assert rec["prediction"] == "A" and rec["fp"] == 1 + 2
    # without ranking the top relevance ROI (green) is answered on: the ranking is what changed the answer
    rec = focus(ranker=NoRanking())(ScriptedModel("car"), sample("What is the colour of the car?"), scene())
    assert rec["chosen_boxes"] == [box_of("green")] and rec["prediction"] == "B"


def test_type2_question_takes_every_roi_above_the_threshold():
    """"How many": every ROI is evaluated (not limited by n_steps); red (c_yes 1.0) and green (0.46) pass
    t_type2 = 0.3, blue and grey do not; the answer sees both squares on one canvas."""
    model = ScriptedModel("cars")
    rec = focus()(model, sample("How many cars are there?"), scene())
    assert rec["type2"] is True and rec["type2_targets"] == ["cars"] and rec["type2_fallback"] == []
    rois = rec["rois"]["cars"]
    assert len(rois) > 3 and all(r["confidence"] is not None for r in rois)
    assert rec["fp"] == 1 + len(rois)
    assert sorted(rec["chosen_boxes"]) == sorted([box_of("red"), box_of("green")])
    assert rec["final_mode"] == "type2_canvas" and rec["prediction"] == "C"
    assert len(model.shown[-1]) == 1 and colours_in(model.shown[-1][0]) == ("green", "red")


def test_type2_without_a_passing_roi_falls_back_and_says_so():
    model = ScriptedModel("cars")
    rec = focus(t_type2=0.999)(model, sample("How many cars are there?"), scene())
    assert rec["type2_fallback"] == ["cars"] and rec["final_mode"] == "type2_fallback_single"
    assert rec["chosen_boxes"] == [box_of("red")] and rec["prediction"] == "A"


def test_type1_and_type2_targets_in_one_question():
    """Per-target type: the counted target brings all its passing ROIs, the other target its best ROI."""
    model = ScriptedModel("cars and sign")
    rec = focus()(model, sample("How many cars are next to the sign?"), scene())
    assert rec["type2_targets"] == ["cars"] and rec["final_mode"] == "type2_canvas"
    assert sorted(rec["chosen_boxes"]) == sorted([box_of("red"), box_of("green")])  # the sign's best is red too


@pytest.mark.parametrize("question", ["Which country is the car from?", "What is on the counter?"])
def test_words_containing_count_stay_type1(question):
    rec = focus()(ScriptedModel("car"), sample(question), scene())
    assert rec["type2"] is False and rec["fp"] == 1 + 2 and rec["final_mode"] == "type1_single"
