import pytest

from focus.scoring import hrbench_cycle_avg, vstar_recall
from focus.stages.targets import TargetExtractor, build_icl_prompt, parse_targets, rule_targets, type2_targets

LEAD = "So I need the information about the following objects:"


@pytest.mark.parametrize("text,objects,marked", [
    (f"{LEAD} red car.", ["red car"], []),
    (f"{LEAD} the dog and the frisbee.", ["dog", "frisbee"], []),
    (f"{LEAD} cup, plate and spoon", ["cup", "plate", "spoon"], []),
    (f"{LEAD} all birds and fence.", ["birds", "fence"], ["birds"]),  # the marker belongs to one target
    (f"{LEAD} the fence and all the birds.", ["fence", "birds"], ["birds"]),
    (f"blah\n{LEAD} woman's handbag.\nQuestion: next", ["woman's handbag"], []),
    ("objects: umbrella", ["umbrella"], []),
    ("CCCCCC", [], []),  # garbage from a random model
    (f"{LEAD} .", [], []),
    ("", [], []),
])
def test_parse_targets(text, objects, marked):
    assert parse_targets(text) == (objects, marked)


@pytest.mark.parametrize("question,objects,type2", [
    ("What is the color of the woman's shirt?\n(A) red\n(B) blue", ["woman's shirt"], []),
    ("Is the red circle on the left or right side of the blue square?", ["red circle", "blue square"], []),
    ("How many cars are in the image?", ["cars"], ["cars"]),
    ("Describe the weather.", [], []),
])
def test_rule_targets(question, objects, type2):
    assert rule_targets(question) == (objects, type2)


@pytest.mark.parametrize("question,objects,marked,type2", [
    # counting phrases, whole words, per target
    ("How many birds are sitting on the fence?", ["birds", "fence"], [], ["birds"]),
    ("How many birds are sitting on the fence?\n(A) 2\n(B) 3", ["bird", "fence"], [], ["bird"]),  # plural folded
    ("What is the number of boats in the harbor?", ["boats", "harbor"], [], ["boats"]),
    ("Count the cars in the parking lot.", ["car", "parking lot"], [], ["car"]),
    ("What is the count of boxes on the shelf?", ["box", "shelf"], [], ["box"]),
    ("How many people are wearing hats?", ["person", "hat"], [], ["person"]),  # irregular plural
    ("HOW MANY red cars can you see?", ["red car"], [], ["red car"]),
    ("How many glasses are on the table?", ["glass", "table"], [], ["glass"]),
    ("How many are there?", ["apple", "tree"], [], ["apple", "tree"]),  # counts nothing named: every target
    ("How many are there?", ["chairs", "table"], ["chairs"], ["chairs"]),  # ... unless the model marked one
    # words that contain a keyword, or use it another way, are not counting questions
    ("Which country is shown on the flag?", ["flag"], [], []),
    ("What is on the kitchen counter?", ["kitchen counter"], [], []),
    ("What is the account number on the card?", ["card"], [], []),
    ("What is the number of the bus?", ["bus"], [], []),
    ("Is the counting board on the left or right?", ["counting board"], [], []),
    ("What does the discount sign say?", ["discount sign"], [], []),
    ("What color is the scarecrow's hat?", ["scarecrow's hat"], [], []),
    # the ICL marker alone makes a target type-2
    ("What are the birds doing on the fence?", ["birds", "fence"], ["birds"], ["birds"]),
])
def test_type2_is_decided_per_target(question, objects, marked, type2):
    assert type2_targets(question, objects, marked) == type2


class ScriptedGenerate:
    """Stands in for the model during extraction: returns a fixed answer."""

    def __init__(self, text):
        self.text = text

    def generate(self, images, prompt, max_new_tokens=16):
        return self.text


def test_extractor_combines_marker_and_question():
    extract = TargetExtractor()
    t = extract(ScriptedGenerate(f"{LEAD} bird and fence."), "How many birds sit on the fence?")
    assert (t.objects, t.type2_objects, t.type2, t.source) == (["bird", "fence"], ["bird"], True, "icl")
    t = extract(ScriptedGenerate(f"{LEAD} all cups and table."), "What is on the table?")
    assert (t.type2_objects, t.type2) == (["cups"], True)
    t = extract(ScriptedGenerate(f"{LEAD} kitchen counter."), "Which country made the kitchen counter?")
    assert (t.type2_objects, t.type2) == ([], False)
    t = extract(ScriptedGenerate("CCCC"), "How many cars are in the image?")  # rules fallback
    assert (t.objects, t.type2_objects, t.source) == (["cars"], ["cars"], "rules")


def test_icl_prompt():
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
