"""The FOCUS pipeline (paper Sec. 3, App. A.5 algorithm; design sections 2 and 4.7).

`Focus.__call__` runs targets → relevance → proposals → ranking → final inference for one sample and returns the
record fields, counting forward passes exactly as App. A.2: `fp` = relevance passes + existence evaluations (one per
(image, prompt), even when batched), `fp_extract` = target extraction, `fp_answer` = final answer passes.

Question type is per target (Sec. 3.3, `focus.stages.targets`): a type-1 target contributes its best-ranked ROI, a type-2
target every ROI whose existence confidence exceeds `t_type2` (all its ROIs are evaluated, not limited by n_steps).
A type-2 target with no ROI above the threshold (or under the "no ranking" ablation, which has no confidences) falls
back to its best ROI; the record lists it in `type2_fallback`, and when no type-2 ROI is left at all the final mode
says so: `type2_fallback_single | _union | _canvas | _multi_image` instead of `type1_*`.
"""

from __future__ import annotations

from ..core.cost import stage
from ..stages.ranker import NoRanking
from ..stages.targets import extract_targets



class Focus:
    """FOCUS with swappable components (each a config group)."""

    name = "focus"

    def __init__(self, targets, relevance, proposer, ranker, inference_scheme, max_rois_in_record: int = 10,
                 save_maps: bool = False, name: str = "focus"):
        self.name = name
        self.targets, self.relevance, self.proposer = targets, relevance, proposer
        self.ranker, self.inference_scheme = ranker, inference_scheme
        self.max_rois_in_record, self.save_maps = max_rois_in_record, save_maps

    def __call__(self, adapter, sample, image) -> dict:
        targets, rec = extract_targets(self.targets, adapter, sample, image)
        if targets.failed:  # design 4.1: answer on the whole image, never crash
            with stage(adapter, "answer"):
                prediction, fp_answer, extra = self.inference_scheme.answer(adapter, [image], sample)
            return {**rec, "prediction": prediction, "fp": 0, "fp_answer": fp_answer, "rois": {}, **extra}

        with stage(adapter, "relevance"):  # one pass per target (the image prefix shared, if configured)
            rel_maps = self.relevance.maps(adapter, image, targets.objects)
        fp = self.relevance.passes_per_target * len(targets.objects)
        with stage(adapter, "proposals"):
            proposals = {t: self.proposer(rel_maps[t].grid, rel_maps[t].layout, target=t,
                                          min_crop=adapter.base_resolution) for t in targets.objects}
        best, type2_rois, fallback, rois_record, maps = [], [], [], {}, {}
        ranked_type2 = set(targets.type2_objects) if not isinstance(self.ranker, NoRanking) else set()
        with stage(adapter, "ranking"):
            self.ranker.score_first_steps(proposals, ranked_type2, adapter, image)
            for target in targets.objects:
                rel, rois = rel_maps[target], proposals[target]
                passing = []
                if target in ranked_type2:
                    n_eval, _ = self.ranker.score_all(rois, adapter, image)
                    ranked = sorted(rois, key=lambda r: -(r.confidence if r.confidence is not None else -2))
                    passing = [r for r in rois if r.confidence is not None
                               and r.confidence > self.inference_scheme.t_type2]
                else:
                    ranked, n_eval, _ = self.ranker(rois, adapter, image)
                fp += n_eval
                if passing:
                    type2_rois += passing
                elif ranked:
                    best.append(ranked[0])
                    if target in targets.type2_objects:
                        fallback.append(target)
                rois_record[target] = [r.to_dict() for r in ranked[:self.max_rois_in_record]]
                if self.save_maps:
                    maps[target] = {"grid": [[round(v, 6) for v in row] for row in rel.grid.tolist()],
                                    "layout": rel.layout.to_dict()}
        with stage(adapter, "answer"):
            if not best and not type2_rois:
                images, composed = [image], {"mode": "whole_image", "boxes": []}
            else:
                images, composed = self.inference_scheme.compose(adapter, image, best, type2_rois)
            if fallback and not type2_rois:  # answered as type-1 although a target was type-2: say so
                composed["mode"] = composed["mode"].replace("type1_", "type2_fallback_", 1)
            prediction, fp_answer, extra = self.inference_scheme.answer(adapter, images, sample)
        rec.update({"prediction": prediction, "fp": fp, "fp_answer": fp_answer, "rois": rois_record,
                    "chosen_boxes": [list(b) for b in composed["boxes"]], "final_mode": composed["mode"],
                    "type2_fallback": fallback, **extra})
        if self.save_maps:
            rec["relevance_maps"] = maps
        return rec

