"""Ranking ROIs by existence confidence (paper Sec. 3.3, Eq. 5, App. A.5, App. C.1 overrun; design 4.4).

`existence_confidence` is Eq. 5. `rank_rois` is the step logic with a pluggable `evaluate` callable, so it is
tested with scripted logits; `ExistenceRanker` (the `ranker` config group) evaluates crops through the adapter in
batched forwards, and `NoRanking` is the Table 3 ablation.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from .proposer import ROI


def existence_confidence(l_yes, l_no) -> torch.Tensor:
    """c_yes = 2·(softmax([l_Yes, l_No])_Yes − 0.5) ∈ [−1, 1] (Eq. 5)."""
    logits = torch.stack([torch.as_tensor(l_yes, dtype=torch.float32), torch.as_tensor(l_no, dtype=torch.float32)],
                         dim=-1)
    return 2.0 * (torch.softmax(logits, dim=-1)[..., 0] - 0.5)


# evaluate(rois) -> tensor [len(rois), 2] of (l_Yes, l_No); each call is one batched model invocation
Evaluate = Callable[[list[ROI]], torch.Tensor]


def _score(rois: list[ROI], logits: torch.Tensor) -> None:
    conf = existence_confidence(logits[:, 0], logits[:, 1])
    for roi, c, (ly, ln) in zip(rois, conf.tolist(), logits.tolist()):
        roi.confidence, roi.says_yes = float(c), bool(ly > ln)


def evaluate_in_batches(rois: list[ROI], evaluate: Evaluate, batch_size: int) -> int:
    """Score the ROIs not scored yet with as few forwards as `batch_size` allows; returns the number of model
    invocations. (ROIs scored earlier, e.g. in one batch with another target's, keep their confidence.)"""
    todo = [r for r in rois if r.confidence is None]
    calls = 0
    for i in range(0, len(todo), max(1, batch_size)):
        chunk = todo[i:i + max(1, batch_size)]
        _score(chunk, evaluate(chunk))
        calls += 1
    return calls


def first_step(rois: list[ROI], n_steps: int, overrun: bool) -> list[ROI]:
    """The ROIs a ranking evaluates before any overrun: the top `n_steps` (none with n_steps = 1 and no overrun)."""
    if not rois or (n_steps <= 1 and not overrun):
        return []
    return rois[:max(1, n_steps)]


def rank_rois(rois: list[ROI], n_steps: int, overrun: bool, evaluate: Evaluate,
              batch_size: int = 8) -> tuple[list[ROI], int, int]:
    """Re-rank the top `n_steps` ROIs by existence confidence (App. A.5 line 5).

    - n_steps = 1 without overrun: nothing is evaluated, the top ROI stays first (Table 10, 1.47 FP).
    - overrun (App. C.1): if every evaluated ROI answers No (l_Yes < l_No), evaluate the next ROIs in order, one
      per forward, until one answers Yes or none is left.
    Returns (ranked ROIs — evaluated ones first by confidence, the rest in proposal order —, evaluations, calls).
    """
    head = first_step(rois, n_steps, overrun)
    if not head:
        return list(rois), 0, 0
    calls = evaluate_in_batches(head, evaluate, batch_size)
    evaluated = len(head)
    if overrun:
        while not any(r.says_yes for r in rois[:evaluated]) and evaluated < len(rois):
            calls += evaluate_in_batches(rois[evaluated:evaluated + 1], evaluate, 1)
            evaluated += 1
    done = sorted(rois[:evaluated], key=lambda r: -r.confidence)
    return done + list(rois[evaluated:]), evaluated, calls


class ExistenceRanker:
    """The `ranker` config group: n_steps (Table 10: 1, 2, 3, 4, 6, 8), overrun, batch size of one forward.
    batch_targets: the first step of every target of a question (and every ROI of a type-2 target) is evaluated in
    shared batches of `batch_size` before each target's overrun (same confidences, fewer forwards)."""

    def __init__(self, n_steps: int = 2, overrun: bool = True, batch_size: int = 8,
                 prompt: str = "Is there a {target} in the image? Answer Yes or No.", batch_targets: bool = True):
        if n_steps < 1:
            raise ValueError(f"ranker.n_steps must be >= 1, got {n_steps}")
        self.n_steps, self.overrun, self.batch_size, self.prompt = int(n_steps), bool(overrun), int(batch_size), prompt
        self.batch_targets = bool(batch_targets)

    def evaluator(self, adapter, image) -> Evaluate:
        def evaluate(rois: list[ROI]) -> torch.Tensor:
            crops = [image.crop(r.box) for r in rois]
            prompts = [self.prompt.format(target=r.target) for r in rois]
            return adapter.yes_no_logits(crops, prompts)
        return evaluate

    def __call__(self, rois: list[ROI], adapter, image) -> tuple[list[ROI], int, int]:
        return rank_rois(rois, self.n_steps, self.overrun, self.evaluator(adapter, image), self.batch_size)

    def score_all(self, rois: list[ROI], adapter, image) -> tuple[int, int]:
        """Evaluate every ROI (type-2 questions are not limited by n_steps, Sec. 3.3). Returns (evaluations,
        calls): every ROI is one evaluation, also when it was scored in a batch shared with another target."""
        return len(rois), evaluate_in_batches(rois, self.evaluator(adapter, image), self.batch_size)

    def score_first_steps(self, rois_by_target: dict[str, list[ROI]], type2: set, adapter, image) -> int:
        """With `batch_targets`: score, in shared batches, what each target evaluates first — its `first_step`, or
        every ROI of a type-2 target. Returns the calls; the per-target ranking then skips those ROIs."""
        if not self.batch_targets:
            return 0
        todo = [r for target, rois in rois_by_target.items()
                for r in (rois if target in type2 else first_step(rois, self.n_steps, self.overrun))]
        return evaluate_in_batches(todo, self.evaluator(adapter, image), self.batch_size)


class NoRanking(ExistenceRanker):
    """Ablation "no proposal ranking" (Table 3): the ROI with the highest relevance is taken as is."""

    def __init__(self, **kwargs):
        kwargs.setdefault("n_steps", 1)
        super().__init__(**kwargs)
        self.n_steps, self.overrun = 1, False

    def __call__(self, rois, adapter, image):
        return list(rois), 0, 0

    def score_first_steps(self, rois_by_target, type2, adapter, image) -> int:
        return 0
