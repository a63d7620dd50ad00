"""metrics.json from records: four protocols over ALL samples (errors count wrong), judge counts, HR-Bench cycle
averages, MME merged subtasks (design sections 6 and 7)."""

import pytest

from focus.scoring import summarise

FOUR = ["red", "blue", "green", "white"]


def rec(i, prediction, label="B", category="attribute", error=None, options=FOUR, **meta):
    return {"id": str(i), "prediction": prediction, "label": label, "options": options, "category": category,
            "error": error, "meta": meta, "fp": 2, "seconds": 1.0}


def test_four_accuracies_over_all_samples_with_errors_counted_wrong():
    records = [
        rec(0, "B"),                      # all four protocols right
        rec(1, "(B)"),                    # strict wrong, the others right
        rec(2, "Answer: B"),              # lmms-eval V* reads the A of "Answer": wrong there
        rec(3, "B or C"),                 # a hedge: lenient wrong, VLMEvalKit would ask its judge, lmms-eval reads B
        rec(4, None, error="ValueError: undecodable image"),  # an error: wrong everywhere
        rec(5, "blue", category="spatial"),  # option text: strict wrong; lmms-eval V* reads B from "BLUE"
        rec(6, "A", category="spatial"),  # wrong everywhere
        rec(7, None, category="spatial", error="FileNotFoundError: missing.jpg"),
    ]
    m = summarise(records, "vstar")
    assert (m["n"], m["n_scored"], m["errors"]) == (8, 6, 2)
    assert m["accuracy_strict"] == pytest.approx(100 * 1 / 8)
    assert m["accuracy_lenient"] == pytest.approx(100 * 4 / 8)
    assert m["accuracy_lmms_eval"] == pytest.approx(100 * 4 / 8)
    assert m["accuracy_vlmevalkit"] == pytest.approx(100 * 4 / 8)
    assert m["accuracy_without_errors"] == pytest.approx(
        {"strict": 100 / 6, "lenient": 400 / 6, "lmms_eval": 400 / 6, "vlmevalkit": 400 / 6})
    assert m["needs_judge"] == {"lmms_eval": 0, "vlmevalkit": 1}
    assert m["per_category"]["attribute"] == pytest.approx(
        {"n": 5, "strict": 20.0, "lenient": 60.0, "lmms_eval": 60.0, "vlmevalkit": 60.0})
    assert m["per_category"]["spatial"] == pytest.approx(
        {"n": 3, "strict": 0.0, "lenient": 100 / 3, "lmms_eval": 100 / 3, "vlmevalkit": 100 / 3})
    assert "denominator" in m["scoring"] and m["mean_fp"] == 2


def test_hrbench_judge_counts_and_cycle_averages_include_errors():
    records = [rec(i, p, label=label, category=cat, cycle_category=cycle, error=err) for i, (p, label, cat, cycle, err)
               in enumerate([("A", "A", "FSP", 0, None), ("B or C", "B", "FSP", 1, None), ("C", "C", "FCP", 0, None),
                             ("green", "C", "FCP", 1, None), (None, "D", "FCP", 1, "ValueError: bad row")])]
    m = summarise(records, "hrbench")
    assert m["needs_judge"] == {"lmms_eval": 1, "vlmevalkit": 1}  # "B or C": can_infer finds two letters
    assert m["accuracy_lmms_eval"] == pytest.approx(60.0)  # 3 of 5: the judged one and the error count wrong
    cycle = m["hrbench_cycle_avg"]["strict"]  # cycle 0: 2/2, cycle 1: 0/3 (the error included)
    assert cycle["overall"] == pytest.approx(50.0)
    assert cycle["FSP"] == pytest.approx(50.0) and cycle["FCP"] == pytest.approx(50.0)
    lenient = m["hrbench_cycle_avg"]["lenient"]  # cycle 0: 2/2; cycle 1: "green" right, hedge and error wrong: 1/3
    assert lenient["overall"] == pytest.approx((100 + 100 / 3) / 2)
    assert m["hrbench_cycle_avg_lmms_eval"]["strict"] == pytest.approx(cycle)  # every category in every cycle
    assert "HR-Bench official" in m["hrbench_cycle_avg"]["rule"]


def test_mme_subsets_subtasks_and_merged_attribute_subtasks():
    mme = dict(options=["red", "blue", "green", "black", "white"], category="Perception/Monitoring")
    records = [rec(0, "A", label="A", subtask="vehicle/attribute/color", **mme),
               rec(1, "B", label="C", subtask="vehicle/attribute/orientation", **mme),
               rec(2, "C", label="C", subtask="vehicle/counting", **mme),
               rec(3, None, label="A", subtask="person/attribute/color", error="KeyError: image", **mme),
               rec(4, "", label="A", subtask="calculate", options=mme["options"], category="Reasoning/Diagram and Table")]
    m = summarise(records, "mme_rw")
    assert m["mme_subsets"]["Perception"]["n"] == 4 and m["mme_subsets"]["Perception"]["strict"] == 50.0
    # lmms-eval and VLMEvalKit read an empty output as "A": right here, wrong for strict and lenient
    assert m["mme_subsets"]["Reasoning"] == {"n": 1, "strict": 0.0, "lenient": 0.0, "lmms_eval": 100.0,
                                             "vlmevalkit": 100.0}
    merged = m["mme_subtasks_merged"]
    assert set(merged) == {"Perception/Monitoring/vehicle/attribute", "Perception/Monitoring/vehicle/counting",
                           "Perception/Monitoring/person/attribute", "Reasoning/Diagram and Table/calculate"}
    assert merged["Perception/Monitoring/vehicle/attribute"]["n"] == 2
    assert merged["Perception/Monitoring/vehicle/attribute"]["strict"] == 50.0
    assert len(m["mme_subtasks"]) == 5
