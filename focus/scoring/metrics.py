"""metrics.json from the per-sample records (paper App. A.2, Sec. 4.3; design sections 6 and 7).

- Every accuracy is over ALL samples: a record with an error counts as wrong, as lmms-eval and VLMEvalKit score a
  failed sample 0. The same accuracies over the error-free samples are reported beside them, labelled.
- One accuracy per protocol (focus/scoring/protocols.py): `accuracy_strict`, `accuracy_lenient`,
  `accuracy_lmms_eval`, `accuracy_vlmevalkit`; `needs_judge` counts the samples a harness would send to its judge.
- HR-Bench `hrbench_cycle_avg`: per `cycle_category`, the accuracy of each category (FSP, FCP) and of all samples;
  each is summed over the cycles and divided by the number of cycles in the table -- HR-Bench's official code and
  VLMEvalKit (`report_acc_hrbench`). lmms-eval (`hrbench_aggregate_results`) divides instead by the number of cycles
  in which the category occurs; the two differ only on partial runs: `hrbench_cycle_avg_lmms_eval`.
- MME-RealWorld-Lite: per task (`category`, e.g. "Perception/Monitoring"), subtask (`l2-category`) and
  Perception/Reasoning (sample-weighted, as both harnesses); `mme_subtasks_merged` merges the `attribute/...` subtasks
  into one `attribute` subtask per task, as lmms-eval's `mme_realworld_aggregate_results` and VLMEvalKit's
  `get_dimension_rating` report them.
- Uncertainty: every accuracy carries its 95 % Wilson score interval (`interval_95`, per category `ci`); beside the
  vanilla reference (`run.vanilla_reference`) a paired McNemar test on the same samples per protocol: the counts
  right-only-here / right-only-vanilla and the two-sided p-value -- exact binomial when they sum to under 25,
  else chi-squared with continuity correction (`vanilla_reference.mcnemar`).
- V* recall (Sec. 4.3, Fig. 4): a sample counts when EVERY ground-truth box is covered to at least 50 % of its area
  by one ROI the search examined (the ROIs whose existence was evaluated, plus the chosen ones).
"""

from __future__ import annotations

from collections import defaultdict
from statistics import mean

from scipy import stats

from ..core.geometry import coverage
from .protocols import JUDGED, PROTOCOLS, score_record

PROTOCOL_LABELS = {
    "strict": "exact letter, no post-processing (paper App. A.2)",
    "lenient": "one stated answer read in any usual form; none for hedges, echoes, refusals (focus/scoring/lenient.py)",
    "lmms_eval": "lmms-eval 0.7 task rule (V* extract_answer_letter, HR-Bench can_infer, MME extract_characters_regex);"
                 " samples its GPT judge would decide count wrong",
    "vlmevalkit": "VLMEvalKit exact_matching (can_infer, else wrong; MME <answer> tag then its regex)",
}
SCORING_NOTES = {
    **{f"accuracy_{p}": label for p, label in PROTOCOL_LABELS.items()},
    "denominator": "all samples (n); a sample whose record holds an error counts as wrong",
    "accuracy_without_errors": "the same accuracies over the samples without error (n_scored)",
    "needs_judge": "samples the harness would send to its GPT judge; counted wrong in its accuracy",
}
HRBENCH_RULES = {
    "table": "per cycle_category accuracy of each category (and overall), summed over the cycles / the number of "
             "cycles in the table (HR-Bench official code, VLMEvalKit report_acc_hrbench)",
    "category": "per cycle_category accuracy of each category (and overall), averaged over the cycles that hold the "
                "category (lmms-eval hrbench_aggregate_results)",
}


CONFIDENCE = 0.95
INTERVAL_METHOD = "Wilson score interval, 95 % (scipy.stats.binomtest(...).proportion_ci(method='wilson'))"
MCNEMAR_EXACT_BELOW = 25  # discordant pairs under this: exact binomial test; else chi-squared, continuity-corrected
MCNEMAR_METHOD = ("McNemar, paired on the same samples: exact two-sided binomial test on the discordant pairs when "
                  f"they number under {MCNEMAR_EXACT_BELOW}, else chi-squared (1 df) with continuity correction")


def wilson_interval(k: int, n: int, confidence: float = CONFIDENCE) -> list[float] | None:
    """[low, high] in % of the Wilson score interval of k successes in n trials (None for n = 0)."""
    if n <= 0:
        return None
    ci = stats.binomtest(int(k), int(n)).proportion_ci(confidence_level=confidence, method="wilson")
    return [100.0 * ci.low, 100.0 * ci.high]


def mcnemar(here: list[bool], other: list[bool]) -> dict:
    """Paired test of two answer vectors on the same samples: `right_only_here` (b), `right_only_vanilla` (c), the
    two-sided p-value and which test gave it (exact binomial for b + c < MCNEMAR_EXACT_BELOW)."""
    if len(here) != len(other):
        raise ValueError(f"paired test needs the same samples: {len(here)} vs {len(other)} answers")
    b = sum(1 for h, o in zip(here, other) if h and not o)
    c = sum(1 for h, o in zip(here, other) if o and not h)
    if b + c == 0:
        p, test = 1.0, "no discordant pairs"
    elif b + c < MCNEMAR_EXACT_BELOW:
        p, test = float(stats.binomtest(b, b + c, 0.5).pvalue), "exact binomial"
    else:
        p, test = float(stats.chi2.sf((abs(b - c) - 1) ** 2 / (b + c), 1)), "chi-squared, continuity-corrected"
    return {"right_only_here": b, "right_only_vanilla": c, "p_value": min(1.0, p), "test": test}


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


def _accuracies(records) -> dict:
    """n and every protocol's accuracy over `records` (errors included, counted wrong)."""
    return {"n": len(records), **{p: _acc(records, p) for p in PROTOCOLS}}


def _intervals(records) -> dict:
    """Every protocol's 95 % Wilson interval [low, high] in % over `records`."""
    return {p: wilson_interval(sum(1 for r in records if r[p]), len(records)) for p in PROTOCOLS}


def _vanilla_right(record: dict, protocol: str) -> bool:
    return bool((record.get("vanilla_correct") or {}).get(protocol))


def _vanilla_rescored(record: dict, benchmark: str) -> dict:
    """`vanilla_correct` re-scored from `vanilla_prediction` (today's protocols, like the method's own answer)."""
    if "vanilla_prediction" not in record:
        return {}
    verdict = score_record({"prediction": record["vanilla_prediction"], "options": record.get("options"),
                            "label": record.get("label")}, benchmark)
    return {"vanilla_correct": {p: verdict[p] for p in PROTOCOLS}}


def vanilla_summary(records: list[dict]) -> dict:
    """The paired vanilla reference of `records` (scored records carrying `vanilla_correct`): its accuracy and
    interval per protocol over ALL samples (a sample without a vanilla answer counts wrong), per category, the
    McNemar test of the method against it, and its cost (whole-image answer: fp 0)."""
    n = len(records)
    out: dict = {"n": n, "answered": sum(1 for r in records if "vanilla_correct" in r),
                 "cached": sum(1 for r in records if r.get("vanilla_cached")),
                 "accuracy": {}, "interval_95": {}, "mcnemar": {}, "mcnemar_method": MCNEMAR_METHOD}
    for p in PROTOCOLS:
        right = [_vanilla_right(r, p) for r in records]
        out["accuracy"][p] = 100.0 * sum(right) / n if n else None
        out["interval_95"][p] = wilson_interval(sum(right), n)
        out["mcnemar"][p] = mcnemar([bool(r[p]) for r in records], right)
    groups = defaultdict(list)
    for r in records:
        groups[r.get("category", "")].append(r)
    out["per_category"] = {cat: {"n": len(members),
                                 **{p: 100.0 * sum(_vanilla_right(r, p) for r in members) / len(members)
                                    for p in PROTOCOLS},
                                 "ci": {p: wilson_interval(sum(_vanilla_right(r, p) for r in members), len(members))
                                        for p in PROTOCOLS},
                                 "mcnemar": {p: mcnemar([bool(r[p]) for r in members],
                                                        [_vanilla_right(r, p) for r in members])
                                             for p in PROTOCOLS}}
                           for cat, members in sorted(groups.items())}
    out["mean_fp"] = 0
    for field in ("fp_answer", "seconds", "prefill_tokens"):
        vals = [r[f"vanilla_{field}"] for r in records if isinstance(r.get(f"vanilla_{field}"), (int, float))]
        out[f"mean_{field}"] = mean(vals) if vals else None
    return out


def _group(records, key_fn) -> dict:
    groups = defaultdict(list)
    for r in records:
        groups[key_fn(r)].append(r)
    return {k: _accuracies(v) for k, v in sorted(groups.items())}


def hrbench_cycle_avg(records: list[dict], key: str, per: str = "table") -> dict:
    """Cycle-averaged accuracy of `key` for all samples ("overall") and per category.

    per="table": each category's per-cycle accuracies are summed and divided by the number of cycles in the table
    (HR-Bench official / VLMEvalKit); per="category": by the number of cycles holding that category (lmms-eval).
    """
    by_cycle = defaultdict(list)
    for r in records:
        by_cycle[str(_meta(r).get("cycle_category", "0"))].append(r)
    sums, counts = defaultdict(float), defaultdict(int)
    for cycle_records in by_cycle.values():
        groups = defaultdict(list, overall=cycle_records)
        for r in cycle_records:
            groups[r.get("category", "")].append(r)
        for name, members in groups.items():
            sums[name] += _acc(members, key)
            counts[name] += 1
    return {name: total / (len(by_cycle) if per == "table" else counts[name]) for name, total in sums.items()}


def _meta(record: dict) -> dict:
    return record.get("meta") or {}


def _mme_merged_subtask(record: dict) -> str:
    """Task/subtask/l2-category lower-cased, `attribute/...` merged into `<first part>/attribute` (both harnesses)."""
    l2 = str(_meta(record).get("subtask", "")).lower()
    if "attribute" in l2:
        l2 = l2.split("/")[0] + "/attribute"
    return f'{record.get("category", "")}/{l2}'


COST_FIELDS = ("prefill_tokens", "vision_images", "model_seconds", "preprocess_seconds")  # focus/core/cost.py


def cost_summary(records: list[dict]) -> dict:
    """`totals`: each cost field summed over the records; `per_stage`: {stage: {field: mean per sample}} over the
    records that carry per-stage cost; `framework_overhead`: the share of wall time spent outside model calls."""
    out: dict = {"totals": {}}
    for field in ("fp", "fp_extract", "fp_answer", "calls", "seconds", *COST_FIELDS):
        vals = [r[field] for r in records if isinstance(r.get(field), (int, float))]
        out["totals"][field] = sum(vals) if vals else None
    with_cost = [r["cost"] for r in records if isinstance(r.get("cost"), dict)]
    stages: dict = {}
    for per_stage in with_cost:
        for name, fields in per_stage.items():
            for field, value in fields.items():
                stages.setdefault(name, {}).setdefault(field, 0)
                stages[name][field] += value
    out["per_stage"] = {name: {f: v / len(with_cost) for f, v in fields.items()} for name, fields in stages.items()}
    seconds, model = out["totals"]["seconds"], out["totals"]["model_seconds"]
    out["framework_overhead"] = 1.0 - model / seconds if seconds and model is not None else None
    return out


def summarise(records: list[dict], benchmark: str) -> dict:
    """metrics.json content (without config/versions) from the per-sample records, re-scored from predictions."""
    records = [{**r, **score_record(r, benchmark), **_vanilla_rescored(r, benchmark)} for r in records]
    ok = [r for r in records if not r.get("error")]
    out: dict = {"n": len(records), "n_scored": len(ok), "errors": len(records) - len(ok), "benchmark": benchmark,
                 "scoring": SCORING_NOTES}
    for p in PROTOCOLS:
        out[f"accuracy_{p}"] = _acc(records, p)
    out["interval_95"] = {"method": INTERVAL_METHOD, **_intervals(records)}
    out["accuracy_without_errors"] = {p: _acc(ok, p) for p in PROTOCOLS}
    out["needs_judge"] = {p: sum(1 for r in records if r["needs_judge"][p]) for p in JUDGED}
    if any("vanilla_correct" in r for r in records):  # run.vanilla_reference: the paired whole-image answers
        out["accuracy_vanilla_reference"] = {
            p: 100.0 * sum(1 for r in records if (r.get("vanilla_correct") or {}).get(p)) / max(1, len(records))
            for p in PROTOCOLS}
        out["vanilla_reference"] = vanilla_summary(records)
    out["per_category"] = _group(records, lambda r: r.get("category", ""))
    by_category = defaultdict(list)
    for r in records:
        by_category[r.get("category", "")].append(r)
    out["per_category_interval_95"] = {cat: _intervals(members) for cat, members in sorted(by_category.items())}
    for field in ("fp", "fp_extract", "fp_answer", "calls", "seconds", "peak_memory_gb", *COST_FIELDS):
        vals = [r[field] for r in ok if isinstance(r.get(field), (int, float))]
        out[f"mean_{field}"] = mean(vals) if vals else None
    out.update(cost_summary(ok))
    if benchmark == "hrbench":
        for name, per, rule in (("hrbench_cycle_avg", "table", HRBENCH_RULES["table"]),
                                ("hrbench_cycle_avg_lmms_eval", "category", HRBENCH_RULES["category"])):
            out[name] = {"rule": rule, **{p: hrbench_cycle_avg(records, p, per) for p in PROTOCOLS}}
    if benchmark == "mme_rw":
        out["mme_subsets"] = _group(records, lambda r: r.get("category", "").split("/")[0])
        out["mme_subtasks"] = _group(records, lambda r: f'{r.get("category", "")}/{_meta(r).get("subtask", "")}')
        out["mme_subtasks_merged"] = _group(records, _mme_merged_subtask)
    with_gt = [r for r in ok if r.get("gt_boxes")]
    if with_gt and any(r.get("rois") for r in with_gt):
        out["recall"] = 100.0 * mean(1.0 if vstar_recall(r["gt_boxes"], examined_boxes(r)) else 0.0 for r in with_gt)
        out["recall_definition"] = ("every GT box covered >= 50% of its area by one examined ROI (paper Sec. 4.3); "
                                    "over the samples without error")
    return out
