"""Scoring, always labelled by protocol (paper App. A.2, Sec. 4.3; design sections 4.7 and 6).

- strict: the generated text equals the label letter, no post-processing (the paper's protocol, App. A.2).
- lenient: the letter extracted as lmms-eval does (leading letter, "(A)", "A.", "answer is A", the option text).
- HR-Bench: accuracy per `cycle_category`, then averaged over cycles (the official HR-Bench score).
- MME-RealWorld-Lite: per task (`category`, e.g. "Perception/Monitoring") and subtask (`l2-category`); the
  Perception and Reasoning averages are over the samples of each subset.
- V* recall (Sec. 4.3, Fig. 4): a sample counts when EVERY ground-truth box is covered to at least 50 % of its area
  by one ROI the search examined (the ROIs whose existence was evaluated, plus the chosen ones).
"""

from __future__ import annotations

import re
import string
from collections import defaultdict
from statistics import mean

from .geometry import coverage

LETTERS = string.ascii_uppercase


def strict_correct(prediction: str | None, label: str) -> bool:
    return prediction is not None and prediction.strip() == label


def extract_letter(prediction: str | None, options: list[str]) -> str | None:
    """lmms-eval-style multiple-choice extraction; None when no letter can be found."""
    if not prediction:
        return None
    valid = LETTERS[:max(1, len(options))]
    text = prediction.strip()
    for rx in (rf"^\(?([{valid}])\)?(?:[.:)\s]|$)", rf"answer is:?\s*\(?([{valid}])\)?\b",
               rf"\(([{valid}])\)", rf"\b([{valid}])[.)]\s", rf"^\s*option\s+([{valid}])\b"):
        m = re.search(rx, text, flags=re.I if "answer" in rx or "option" in rx else 0)
        if m:
            return m.group(1).upper()
    hits = [LETTERS[i] for i, opt in enumerate(options) if opt and re.search(rf"\b{re.escape(opt.lower())}\b",
                                                                             text.lower())]
    return hits[0] if len(hits) == 1 else None


def score_record(record: dict) -> dict:
    """The verdicts of one record, from its prediction, label and options only (so a run can be re-scored)."""
    if record.get("error"):
        return {"strict": False, "lenient": False, "extracted": None}
    prediction, label = record.get("prediction"), record.get("label", "")
    extracted = extract_letter(prediction, record.get("options") or [])
    return {"strict": strict_correct(prediction, label), "lenient": extracted == label, "extracted": extracted}


def vstar_recall(gt_boxes, roi_boxes, min_coverage: float = 0.5) -> bool:
    if not gt_boxes:
        return False
    return all(any(coverage(gt, roi) >= min_coverage for roi in roi_boxes) for gt in gt_boxes)


def examined_boxes(record: dict) -> list:
    boxes = [r["box"] for rois in (record.get("rois") or {}).values() for r in rois
             if r.get("box") and r.get("confidence") is not None]
    return boxes + list(record.get("chosen_boxes") or [])


def _acc(records, key) -> float | None:
    return 100.0 * mean(1.0 if r[key] else 0.0 for r in records) if records else None


def hrbench_cycle_average(records: list[dict], key: str) -> float | None:
    by_cycle = defaultdict(list)
    for r in records:
        by_cycle[str((r.get("meta") or {}).get("cycle_category", "0"))].append(r)
    return mean(_acc(v, key) for v in by_cycle.values()) if by_cycle else None


def summarise(records: list[dict], dataset: str) -> dict:
    """metrics.json content (without config/versions) from the per-sample records, re-scored from predictions."""
    records = [{**r, **score_record(r)} for r in records]
    ok = [r for r in records if not r.get("error")]
    errors = len(records) - len(ok)
    out: dict = {"n": len(records), "n_scored": len(ok), "errors": errors,
                 "scoring": {"accuracy_strict": "exact letter, no post-processing (paper App. A.2)",
                             "accuracy_lenient": "letter extracted lmms-eval style",
                             "denominator": "samples without error"}}
    for key in ("strict", "lenient"):
        out[f"accuracy_{key}"] = _acc(ok, key)
    cats = defaultdict(list)
    for r in ok:
        cats[r.get("category", "")].append(r)
    out["per_category"] = {c: {"n": len(v), "strict": _acc(v, "strict"), "lenient": _acc(v, "lenient")}
                           for c, v in sorted(cats.items())}
    for field in ("fp", "fp_extract", "fp_answer", "calls", "seconds", "peak_memory_gb"):
        vals = [r[field] for r in ok if isinstance(r.get(field), (int, float))]
        out[f"mean_{field}"] = mean(vals) if vals else None
    if dataset.startswith("hrbench"):
        out["hrbench_official"] = {
            "method": "accuracy per cycle_category, averaged over cycles (HR-Bench)",
            **{f"overall_{k}": hrbench_cycle_average(ok, k) for k in ("strict", "lenient")},
            **{f"{c}_{k}": hrbench_cycle_average(v, k) for c, v in cats.items() for k in ("strict", "lenient")}}
    if dataset.startswith("mme"):
        subsets, subtasks = defaultdict(list), defaultdict(list)
        for r in ok:
            subsets[r.get("category", "").split("/")[0]].append(r)
            subtasks[f'{r.get("category", "")}/{(r.get("meta") or {}).get("subtask", "")}'].append(r)
        out["mme_subsets"] = {s: {"n": len(v), "strict": _acc(v, "strict"), "lenient": _acc(v, "lenient")}
                              for s, v in sorted(subsets.items())}
        out["mme_subtasks"] = {s: {"n": len(v), "strict": _acc(v, "strict"), "lenient": _acc(v, "lenient")}
                               for s, v in sorted(subtasks.items())}
    with_gt = [r for r in ok if r.get("gt_boxes")]
    if with_gt and any(r.get("rois") for r in with_gt):
        out["recall"] = 100.0 * mean(1.0 if vstar_recall(r["gt_boxes"], examined_boxes(r)) else 0.0 for r in with_gt)
        out["recall_definition"] = "every GT box covered >= 50% of its area by one examined ROI (paper Sec. 4.3)"
    return out
