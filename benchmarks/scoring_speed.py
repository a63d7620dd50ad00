"""Run time of scoring 10,000 records under the four protocols (focus/scoring; design section 6).

Builds records whose predictions mix the usual answer forms (bare letters, statements, chains of thought, option
texts, hedges, echoes, containers, CJK) and times `summarise` -- every protocol's verdict for every record plus the
metrics -- once per benchmark, best of `--repeats`. Prints seconds per benchmark and records per second.
"""

import argparse
import random
import time

from focus.scoring import summarise

OPTIONS = {"vstar": ["red", "blue", "green", "white"], "hrbench": ["the left sign", "the right sign", "a bus", "a car"],
           "mme_rw": ["one", "two", "three", "four", "five"]}
OUTPUTS = [
    "A", "B.", "(C)", "**D**", "Answer: B", "The answer is (C).", "Final answer: A", "I think it's D.", "b", "（B）",
    "答案是C", "<answer>B</answer>", '{"answer": "C"}', "\\boxed{A}", "C or D", "C\nD",
    "(C) is wrong, so the answer is (B)",
    "The answer is a blue umbrella.", "not B, it is A", "", "I cannot determine the answer from the image.",
    "(A) red\n(B) blue\n(C) green\n(D) white", "blue", "the left sign", "three",
    "Let me look closely. The object in the upper left is partly hidden, but its colour is clearly visible and matches "
    "the second option rather than the first or the last one, which are both too bright.\nB",
    "First, I locate the sign. It stands on the right side of the road next to a parked car, so the answer is B.",
]


def make_records(benchmark: str, n: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    options = OPTIONS[benchmark]
    return [{"id": str(i), "prediction": rng.choice(OUTPUTS), "label": "ABCDE"[rng.randrange(len(options))],
             "options": options, "category": rng.choice(["Perception/Monitoring", "Reasoning/OCR"]),
             "meta": {"cycle_category": i % 4, "subtask": rng.choice(["vehicle/attribute/color", "counting"])},
             "error": "ValueError: bad image" if i % 97 == 0 else None, "fp": 3, "seconds": 1.0}
            for i in range(n)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    total = 0.0
    for benchmark in OPTIONS:
        records = make_records(benchmark, args.records)
        best = float("inf")
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            metrics = summarise(records, benchmark)
            best = min(best, time.perf_counter() - t0)
        total += best
        print(f"{benchmark:8s} {args.records} records x 4 protocols: {best:.2f} s "
              f"({args.records / best:,.0f} records/s; lenient {metrics['accuracy_lenient']:.1f}%, "
              f"lmms-eval {metrics['accuracy_lmms_eval']:.1f}%, VLMEvalKit {metrics['accuracy_vlmevalkit']:.1f}%)")
    print(f"mean over the three benchmarks: {total / len(OPTIONS):.2f} s per {args.records} records")


if __name__ == "__main__":
    main()
