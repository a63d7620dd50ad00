"""lmms-eval's verdicts (0.7.x task code; design section 6), reproduced rule for rule, quirks included.

Source: EvolvingLMMs-Lab/lmms-eval, the stored copies of:
- V*: `lmms_eval/tasks/vstar_bench/utils.py` -- `extract_answer_letter` on the upper-cased output, correct when it
  equals the label.
- HR-Bench: `lmms_eval/tasks/hrbench/utils.py` `hrbench_process_results` -> `hrbench_evals.py`
  `HRBenchEval.get_chat_response`: `can_infer` (a copy of VLMEvalKit's `can_infer`, focus/scoring/vlmevalkit.py);
  when it fails the GPT judge decides. No judge is called here: such a sample is wrong and counted in `needs_judge`.
- MME-RealWorld: `lmms_eval/tasks/mme_realworld/utils.py` -- `extract_characters_regex`, correct when the extracted
  letter equals the answer (case-insensitively). No judge.
"""

from __future__ import annotations

import re

from .vlmevalkit import can_infer, extract_characters_regex  # noqa: F401  (MME: the same function)

# vstar_bench/utils.py extract_answer_letter: tried in order on the stripped, UPPER-CASED output (so 'blue' starts with
# the letter B, and 'The answer is a blue umbrella' reads 'ANSWER IS A'). Letters A-D whatever the option count.
VSTAR_PATTERNS = tuple(re.compile(p, re.IGNORECASE) for p in (
    r"^([A-D])\s*[\.)\]]*",                                          # starts with a letter
    r"(?:THE\s+)?(?:ANSWER|CHOICE|OPTION)(?:\s+IS)?[\s:]+([A-D])",   # "Answer: A", "The answer is A"
    r"\(([A-D])\)",                                                  # "(A)"
    r"([A-D])\s*(?:\.|\)|])",                                        # "A.", "A)", "A]" anywhere
    r"(?:^|\s)([A-D])(?:\s|$)",                                      # a standalone letter
))
_ANY_LETTER = re.compile(r"[A-D]")


def vstar_letter(response: str) -> str | None:
    """vstar_bench/utils.py `extract_answer_letter`."""
    response = response.strip().upper()
    for pattern in VSTAR_PATTERNS:
        match = pattern.search(response)
        if match:
            return match.group(1).upper()
    letters = _ANY_LETTER.findall(response)
    if len(letters) == 1:
        return letters[0]
    if response and response[0] in "ABCD":
        return response[0]
    return None


def hrbench_reading(prediction: str, options: list[str]) -> tuple[str | None, bool]:
    """hrbench_evals.py `get_chat_response` on the stripped output: (letter, needs_judge)."""
    choices = {chr(ord("A") + i): text for i, text in enumerate(options)}
    letter = can_infer(prediction.strip(), choices)
    return (letter, False) if letter else (None, True)
