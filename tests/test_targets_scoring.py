import pytest

from focus.scoring import hrbench_cycle_avg, vstar_recall
from focus.targets import build_icl_prompt, is_type2, parse_targets, rule_targets

LEAD = "So I need the information about the following objects:"


@pytest.mark.parametrize("text,objects,type2", [
    (f"{LEAD} red car.", ["red car"], False),
    (f"{LEAD} the dog and the frisbee.", ["dog", "frisbee"], False),
    (f"{LEAD} cup, plate and spoon", ["cup", "plate", "spoon"], False),
    (f"{LEAD} all birds and fence.", ["birds", "fence"], True),
    (f"blah\n{LEAD} woman's handbag.\nQuestion: next", ["woman's handbag"], False),
    ("objects: umbrella", ["umbrella"], False),
    ("CCCCCC", [], False),  # garbage from a random model
    (f"{LEAD} .", [], False),
    ("", [], False),
])
def test_parse_targets(text, objects, type2):
    assert parse_targets(text) == (objects, type2)


@pytest.mark.parametrize("question,objects,type2", [
    ("What is the color of the woman's shirt?\n(A) red\n(B) blue", ["woman's shirt"], False),
    ("Is the red circle on the left or right side of the blue square?", ["red circle", "blue square"], False),
    ("How many cars are in the image?", ["cars"], True),
    ("Describe the weather.", [], False),
])
def test_rule_targets(question, objects, type2):
    assert rule_targets(question) == (objects, type2)


def test_type2_keywords_and_prompt():
    assert is_type2("How many people are there?") and is_type2("What is the number of boats?")
    assert not is_type2("What is the color of the bus?")
    prompt = build_icl_prompt("What is on the table?")
    assert prompt.endswith("which objects' information do you need?\n") and LEAD in prompt


def test_hrbench_cycle_avg_official_and_lmms_eval_rules():
    def rec(cycle, category, ok):
        return {"strict": ok, "category": category, "meta": {"cycle_category": cycle}}
    recs = [rec(c, cat, ok) for c, cat, ok in
            [(0, "FSP", True), (0, "FSP", True), (0, "FCP", False), (0, "FCP", False),
             (1, "FSP", True), (1, "FSP", True), (1, "FCP", True), (1, "FCP", True),
             (2, "FSP", False), (2, "FSP", False), (2, "FCP", False), (2, "FCP", True),
             (3, "FSP", True), (3, "FSP", False), (3, "FCP", True), (3, "FCP", False)]]
    # cycles overall: 50, 100, 25, 50 -> 56.25; FSP: 100, 100, 0, 50 -> 62.5; FCP: 0, 100, 50, 50 -> 50
    full = {"overall": 56.25, "FSP": 62.5, "FCP": 50.0}
    assert hrbench_cycle_avg(recs, "strict") == pytest.approx(full)
    assert hrbench_cycle_avg(recs, "strict", per="category") == pytest.approx(full)  # all categories in all cycles
    partial = recs[:4] + recs[4:6]  # cycle 1 holds only FSP samples
    # official / VLMEvalKit: a category's sum over cycles / number of cycles in the table (2); lmms-eval: / cycles
    # holding the category (FCP: 1)
    assert hrbench_cycle_avg(partial, "strict") == pytest.approx({"overall": 75.0, "FSP": 100.0, "FCP": 0.0})
    partial = recs[:2] + recs[4:8]  # cycle 0 holds only FSP samples: FCP appears in cycle 1 only (100 %)
    assert hrbench_cycle_avg(partial, "strict")["FCP"] == pytest.approx(50.0)
    assert hrbench_cycle_avg(partial, "strict", per="category")["FCP"] == pytest.approx(100.0)


def test_vstar_recall_half_area_rule():
    gt = [[100, 100, 200, 200]]
    assert vstar_recall(gt, [[100, 100, 200, 150]])  # exactly 50 %
    assert not vstar_recall(gt, [[100, 100, 200, 149]])
    assert vstar_recall(gt, [[0, 0, 10, 10], [50, 50, 250, 250]])  # one ROI suffices
    two = [[0, 0, 10, 10], [100, 100, 110, 110]]
    assert not vstar_recall(two, [[0, 0, 20, 20]])  # every GT box must be covered
    assert vstar_recall(two, [[0, 0, 20, 20], [95, 95, 115, 115]])
