"""VLMEvalKit's judge-free verdicts (design section 6), reproduced rule for rule, quirks included.

Source: open-compass/VLMEvalKit (`vlmeval/utils/matching_util.py` at 18fc37a, `vlmeval/dataset/utils/
multiple_choice.py` at 895762d, `vlmeval/dataset/image_mcq.py`); function names below are theirs. Another stored copy
of matching_util.py (134b4ea) also requires the letter to stand more than 5 words before the end, which would reject
a bare "A" answer; that variant is not followed.

- V* and HR-Bench are multiple-choice datasets (`ImageMCQDataset` / `HRBenchDataset`, `vlmeval/dataset/image_mcq.py`)
  scored by `mcq_vanilla_eval` -> `extract_answer_from_item` (multiple_choice.py): the letter is
  `can_infer(prediction, choices)`; when that fails, the GPT judge is asked, and in the judge-free `exact_matching`
  mode the sample gets the letter 'Z' (wrong). Here: letter None, `needs_judge` True.
- MME-RealWorld (`MMERealWorld.evaluate`, `image_mcq.py`): the text inside `<answer>...</answer>` (stripped and upper-
  cased) if there is one, then `extract_characters_regex` (lmms-eval's MME task uses the same function); an empty
  extraction scores 0. No judge.
"""

from __future__ import annotations

import re

# vlmeval/utils/matching_util.py (18fc37a) can_infer_option: refusals the kit maps to 'Z' (no option).
REJECT_TO_ANSWER = ("Sorry, I can't help with images of people yet.", "I can't process this file.",
                    "I'm sorry, but without the image provided", "Cannot determine the answer")
SPLIT_CHARS = ".()[],:;!*#{}"  # replaced by spaces before splitting into words (same file)
_SPLIT_TABLE = str.maketrans(SPLIT_CHARS, " " * len(SPLIT_CHARS))


def can_infer_option(answer: str, choices: dict[str, str]) -> str | bool:
    """matching_util.py `can_infer_option`: the one option letter that is a whole word after punctuation is blanked.

    Quirks kept: a capital 'A' used as an article counts as the letter A (the kit only warns about it with VERBOSE);
    two different letters give False; a lone word 'Z' gives 'Z'.
    """
    if "Failed to obtain answer via API" in answer:
        return False
    if any(err in answer for err in REJECT_TO_ANSWER):
        return "Z"
    splits = answer.translate(_SPLIT_TABLE).split()
    count = sum(1 for c in choices if c in splits)
    if count == 1:
        return next(c for c in choices if c in splits)
    if count == 0 and "Z" in splits:
        return "Z"
    return False


def can_infer_text(answer: str, choices: dict[str, str]) -> str | bool:
    """matching_util.py `can_infer_text`: the one option whose text is a substring of the lower-cased answer.

    A substring, not a word: 'red' is found in 'dark red' and in 'bored', so contained option texts give False.
    """
    answer = answer.lower()
    cands = [k for k, text in choices.items() if str(text).lower() in answer]
    return cands[0] if len(cands) == 1 else False


def can_infer(answer, choices: dict[str, str]) -> str | bool:
    """matching_util.py `can_infer`: an option letter, else an option text; False when neither is single."""
    answer = str(answer)
    return can_infer_option(answer, choices) or can_infer_text(answer, choices)


def mcq_reading(prediction: str, options: list[str]) -> tuple[str | None, bool]:
    """V* / HR-Bench: (letter, needs_judge) as `extract_answer_from_item` with no judge model."""
    choices = {chr(ord("A") + i): text for i, text in enumerate(options)}
    letter = can_infer(prediction, choices)
    return (letter, False) if letter else (None, True)


# extract_characters_regex: prefixes removed verbatim (case-sensitive). Two pairs of adjacent string literals lack a
# comma in the source, so they concatenate: kept as the source has them.
MME_ANSWER_PREFIXES = ("The best answer is", "The correct answer is", "The answer is", "The answer",
                       "The best option is" "The correct option is", "Best answer:" "Best option:")
MME_CHOICES = ("(A)", "(B)", "(C)", "(D)", "(E)")  # the function's default `choices`; option texts are never passed
_MME_LETTER = re.compile(r"[ABCDE]")


def extract_characters_regex(s) -> str:
    """multiple_choice.py `extract_characters_regex`; lmms-eval's mme_realworld/utils.py holds the same function.

    The FIRST capital A-E anywhere once the prefixes are removed ('Because ...' reads B). With no capital A-E, the
    output must be a substring of '(a)'..'(e)': '' and '(' read 'A', 'b' reads 'B'. More than 10 words without a
    capital A-E read '' (no answer).
    """
    if isinstance(s, dict):
        s = ""
    s = str(s).strip()
    for prefix in MME_ANSWER_PREFIXES:
        s = s.replace(prefix, "")
    if len(s.split()) > 10 and not _MME_LETTER.search(s):
        return ""
    match = _MME_LETTER.search(s)
    if match is None:
        for choice in MME_CHOICES:
            if s.lower() in choice.lower():
                return choice[1]
        return ""
    return match[0]


ANSWER_TAG = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)


def mme_letter(prediction: str) -> str:
    """image_mcq.py `MMERealWorld.evaluate`: the `<answer>` tag's text, upper-cased, then the regex; '' = none."""
    match = ANSWER_TAG.search(prediction)
    if match:
        prediction = match.group(1).strip().upper()
    return extract_characters_regex(prediction)
