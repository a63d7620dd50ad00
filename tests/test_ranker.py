import pytest
import torch

from focus.stages.proposer import ROI
from focus.stages.ranker import NoRanking, existence_confidence, rank_rois


def rois(n):
    return [ROI(cells=(i, 0, i + 1, 1), anchor=(i, 0), anchor_score=1.0 - i / 10, target="t") for i in range(n)]


class Scripted:
    """A stub model: (l_Yes, l_No) per ROI index, counting calls and evaluated ROIs."""

    def __init__(self, logits):
        self.logits, self.calls, self.seen = logits, 0, []

    def __call__(self, batch):
        self.calls += 1
        self.seen += [r.anchor[0] for r in batch]
        return torch.tensor([self.logits[r.anchor[0]] for r in batch], dtype=torch.float32)


def test_existence_confidence_formula():
    assert float(existence_confidence(2.0, 2.0)) == pytest.approx(0.0)
    c = float(existence_confidence(3.0, 1.0))
    assert c == pytest.approx(2 * (torch.softmax(torch.tensor([3.0, 1.0]), 0)[0].item() - 0.5))
    assert -1 <= float(existence_confidence(-50.0, 50.0)) <= -0.99


def test_steps1_without_overrun_evaluates_nothing():
    stub = Scripted({i: (0.0, 1.0) for i in range(5)})
    ranked, n_eval, calls = rank_rois(rois(5), 1, False, stub)
    assert (n_eval, calls, stub.calls) == (0, 0, 0) and ranked[0].anchor == (0, 0)


def test_reranks_top_n_in_one_batched_forward():
    stub = Scripted({0: (0.0, 1.0), 1: (2.0, 0.0), 2: (1.0, 0.0), 3: (5.0, 0.0)})
    ranked, n_eval, calls = rank_rois(rois(4), 3, False, stub, batch_size=8)
    assert (n_eval, calls) == (3, 1) and stub.seen == [0, 1, 2]
    assert [r.anchor[0] for r in ranked] == [1, 2, 0, 3]  # ROI 3 is better but beyond n_steps


def test_overrun_continues_until_yes():
    stub = Scripted({0: (0.0, 1.0), 1: (0.0, 2.0), 2: (0.0, 3.0), 3: (1.0, 0.0), 4: (9.0, 0.0)})
    ranked, n_eval, calls = rank_rois(rois(5), 2, True, stub, batch_size=8)
    assert n_eval == 4 and calls == 3 and stub.seen == [0, 1, 2, 3]  # one batch of 2, then one by one
    assert ranked[0].anchor[0] == 3


def test_overrun_stops_when_none_left_and_not_when_yes_found():
    stub = Scripted({i: (0.0, 1.0) for i in range(3)})
    assert rank_rois(rois(3), 1, True, stub)[1] == 3
    stub = Scripted({0: (1.0, 0.0), 1: (0.0, 1.0)})
    assert rank_rois(rois(2), 1, True, stub)[1] == 1


def test_batch_size_splits_forwards():
    stub = Scripted({i: (float(i), 0.0) for i in range(8)})
    _, n_eval, calls = rank_rois(rois(8), 8, False, stub, batch_size=3)
    assert (n_eval, calls) == (8, 3)


def test_no_ranking_ablation():
    r = rois(3)
    ranked, n_eval, calls = NoRanking()(r, adapter=None, image=None)
    assert ranked == r and n_eval == 0 and calls == 0
