"""Dispatch of the four scoring protocols over the three benchmarks (design section 6; see focus/scoring/__init__)."""

from __future__ import annotations

from typing import NamedTuple

from . import lmms_eval, vlmevalkit
from .lenient import LETTERS, lenient_letter

PROTOCOLS = ("strict", "lenient", "lmms_eval", "vlmevalkit")
BENCHMARKS = ("vstar", "hrbench", "mme_rw")
JUDGED = ("lmms_eval", "vlmevalkit")  # protocols whose harness may call a judge


class Reading(NamedTuple):
    letter: str | None  # the option letter the protocol read; 'Z' = the harness's own "no option" answer
    needs_judge: bool = False  # the harness would have asked its GPT judge (the sample is scored wrong here)


def check(protocol: str, benchmark: str) -> None:
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown scoring protocol {protocol!r}; choose one of {', '.join(PROTOCOLS)}")
    if benchmark not in BENCHMARKS:
        raise ValueError(f"unknown benchmark {benchmark!r}; choose one of {', '.join(BENCHMARKS)}")


def read(prediction: str | None, options: list[str], protocol: str, benchmark: str) -> Reading:
    """What `protocol` reads in `prediction` for a question with `options` (texts in letter order)."""
    check(protocol, benchmark)
    text = "" if prediction is None else str(prediction)
    if protocol == "strict":
        stripped = text.strip()
        return Reading(stripped if len(stripped) == 1 and stripped in LETTERS[:len(options)] else None)
    if protocol == "lenient":
        return Reading(lenient_letter(prediction, options))
    if benchmark == "mme_rw":
        harness = lmms_eval.extract_characters_regex if protocol == "lmms_eval" else vlmevalkit.mme_letter
        return Reading(harness(text) or None)
    if protocol == "vlmevalkit":
        return Reading(*vlmevalkit.mcq_reading(text, options))
    if benchmark == "hrbench":
        return Reading(*lmms_eval.hrbench_reading(text, options))
    return Reading(lmms_eval.vstar_letter(text))


def extract(prediction: str | None, options: list[str], protocol: str, benchmark: str) -> str | None:
    """The letter `protocol` reads in `prediction`, or None (no letter, or one only a judge could give)."""
    return read(prediction, options, protocol, benchmark).letter


def is_correct(reading: Reading, label: str) -> bool:
    return reading.letter is not None and not reading.needs_judge and reading.letter == label.strip().upper()


def verdict(prediction: str | None, options: list[str], label: str, protocol: str, benchmark: str) -> bool:
    """Whether `protocol` scores `prediction` correct for the question whose answer is `label`."""
    return is_correct(read(prediction, options, protocol, benchmark), label)


def score_record(record: dict, benchmark: str) -> dict:
    """Every protocol's verdict and letter for one record, from its prediction, options and label only (so a run can
    be re-scored); a record with an error is wrong under every protocol."""
    if record.get("error"):
        return {**{p: False for p in PROTOCOLS}, "extracted": {p: None for p in PROTOCOLS},
                "needs_judge": {p: False for p in JUDGED}}
    options, label = record.get("options") or [], str(record.get("label") or "")
    readings = {p: read(record.get("prediction"), options, p, benchmark) for p in PROTOCOLS}
    return {**{p: is_correct(r, label) for p, r in readings.items()},
            "extracted": {p: r.letter for p, r in readings.items()},
            "needs_judge": {p: readings[p].needs_judge for p in JUDGED}}

