"""Scoring protocols, always labelled (paper App. A.2; design section 6), and the metrics built on them.

One entry point, used by the runner, the report and the tests: `verdict(prediction, options, label, protocol,
benchmark)`; `extract(...)` gives the letter each protocol read. Protocols:

- `strict`: the generated text, stripped, is exactly the label letter (the paper's protocol, App. A.2).
- `lenient`: the project's own reading of a free-form answer (focus/scoring/lenient.py).
- `lmms_eval`: the verdict of lmms-eval 0.7's task code for the benchmark (focus/scoring/lmms_eval.py).
- `vlmevalkit`: VLMEvalKit's verdict in its judge-free `exact_matching` mode (focus/scoring/vlmevalkit.py).

Benchmarks: `vstar` (V*Bench, and datasets scored like it: synthetic), `hrbench`, `mme_rw`; each dataset config
names its own (`dataset.benchmark`). Where a harness would ask its GPT judge (lmms-eval on HR-Bench, VLMEvalKit on
V*/HR-Bench when no letter is found), the sample counts as wrong and `needs_judge` says so.
"""

from .metrics import examined_boxes, hrbench_cycle_avg, summarise, vstar_recall
from .protocols import BENCHMARKS, PROTOCOLS, Reading, extract, read, score_record, verdict

__all__ = ["BENCHMARKS", "PROTOCOLS", "Reading", "examined_boxes", "extract", "hrbench_cycle_avg", "read",
           "score_record", "summarise", "verdict", "vstar_recall"]
