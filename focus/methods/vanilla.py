"""The vanilla baseline: the answer on the whole image (the "Vanilla baseline" rows of the paper's Tables 3, 10, 11)."""

from __future__ import annotations

from ..core.cost import stage


class Vanilla:
    """Answer on the whole image (the "Vanilla baseline" rows of Tables 3, 10, 11)."""

    name = "vanilla"

    def __init__(self, inference_scheme=None, name: str = "vanilla"):
        self.inference_scheme, self.name = inference_scheme, name

    def __call__(self, adapter, sample, image) -> dict:
        with stage(adapter, "answer"):
            prediction, fp_answer, extra = self.inference_scheme.answer(adapter, [image], sample)
        return {"prediction": prediction, "fp": 0, "fp_extract": 0, "fp_answer": fp_answer, **extra}
