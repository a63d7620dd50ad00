import pytest

from focus.scoring import extract_letter, hrbench_cycle_average, score_record, strict_correct, vstar_recall
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


@pytest.mark.parametrize("pred,label,strict,lenient", [
    ("A", "A", True, True),
    (" B\n", "B", True, True),
    ("(A)", "A", False, True),
    ("A.", "A", False, True),
    ("The answer is C", "C", False, True),
    ("The answer is (D).", "D", False, True),
    ("blue", "B", False, True),  # option text
    ("I think red or blue", "A", False, False),  # two option texts → no letter
    ("cyan cyan", "A", False, False),
    ("B", "A", False, False),
])
def test_strict_and_lenient(pred, label, strict, lenient):
    options = ["red", "blue", "green", "white"]
    assert strict_correct(pred, label) is strict
    verdict = score_record({"prediction": pred, "label": label, "options": options})  # what runs and metrics use
    assert (verdict["strict"], verdict["lenient"]) == (strict, lenient)


def test_extract_letter_none():
    assert extract_letter(None, ["a"]) is None


def test_hrbench_cycle_average():
    recs = [{"strict": s, "meta": {"cycle_category": c}} for c, s in
            [(0, True), (0, True), (0, False), (0, False), (1, True), (1, True), (1, True), (1, True),
             (2, False), (2, False), (2, False), (2, True), (3, True), (3, False), (3, True), (3, False)]]
    # cycles: 50, 100, 25, 50 → 56.25 (same as the plain mean here: equal cycle sizes)
    assert hrbench_cycle_average(recs, "strict") == pytest.approx(56.25)
    unequal = recs[:4] + recs[4:6]  # cycle 0: 50 %, cycle 1: 100 % → 75, while the plain mean is 66.7
    assert hrbench_cycle_average(unequal, "strict") == pytest.approx(75.0)


def test_vstar_recall_half_area_rule():
    gt = [[100, 100, 200, 200]]
    assert vstar_recall(gt, [[100, 100, 200, 150]])  # exactly 50 %
    assert not vstar_recall(gt, [[100, 100, 200, 149]])
    assert vstar_recall(gt, [[0, 0, 10, 10], [50, 50, 250, 250]])  # one ROI suffices
    two = [[0, 0, 10, 10], [100, 100, 110, 110]]
    assert not vstar_recall(two, [[0, 0, 20, 20]])  # every GT box must be covered
    assert vstar_recall(two, [[0, 0, 20, 20], [95, 95, 115, 115]])
