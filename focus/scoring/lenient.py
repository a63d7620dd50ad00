"""The `lenient` protocol: the option letter a person reads in a free-form answer (design section 6).

The project's own rule, not a harness's. It reads ONE stated answer in any usual form and refuses to pick when the
output does not give one. In order (the first rule that finds something decides):

0. Normalise: Unicode NFKC (full-width "（B）", "Ｂ", "：" become ASCII), markdown emphasis/code marks removed.
1. Answer containers: the last `<answer>...</answer>`, `\\boxed{...}` or JSON/dict `"answer": "..."` is the final
   answer; its content alone is read by rules 2-6.
2. Answer statements: "answer is C", "Answer: C", "Final answer: (D)", "the correct option is B", "I'd choose C",
   "答案是C", "选C" -- the last one that is not negated decides; a hedged one ("answer is C or D") gives no letter.
   After a statement word a lower-case letter counts unless a word follows it ("the answer is a blue umbrella").
3. A refusal ("I cannot determine ...", "sorry", "none of the options", "not enough information") with no statement
   gives no letter.
4. Answer lines: a line that is only a letter ("B", "(c)", "**B**", "[D]", "b.") or a letter with its own option
   text ("B. blue"). One letter on all such lines decides (a chain of thought whose last line is "B"); different
   letters ("C\\nD") or a letter labelling another option's text ("B. red" when red is A) give none.
5. Letter mentions: capital letters standing alone ("It's C.", "Option B", "I think it's D"), wrapped letters of any
   case ("(c)", "[D]"); a capital "A" followed by a lower-case word is the article, not a letter; letters outside
   the options are ignored. Negated mentions ("not B", "(C) is wrong", "B is incorrect") are dropped. One letter
   left decides; two or more (a hedge: "C or D") give none. An echo of the option list -- two or more options
   written as "(X) text of X" -- is ignored, so a bare echo gives no letter.
6. Option text: with no letter at all, the one option whose text appears as whole words, not negated ("not on
   the left") and not only inside a longer matching option ("dark red" is not "red"); none or several give none.
"""

from __future__ import annotations

import re
import string
import unicodedata
from dataclasses import dataclass

LETTERS = string.ascii_uppercase

MARKUP = re.compile(r"[*`#]+")
CONTAINERS = (
    re.compile(r"<answer>(.*?)</answer>", re.S | re.I),
    re.compile(r"\\boxed\{([^{}]*)\}"),
    re.compile(r"""["']answer["']\s*:\s*["']([^"']*)["']""", re.I),
)
# words that introduce the answer; the letter token must follow (rule 2)
_COPULA = r"(?:is|would be|should be|will be|must be|[:=\-–—])?"
STATEMENT = re.compile(
    rf"(?:\b(?:(?:final|correct|best|right|my)\s+)?answer\s*{_COPULA}"
    rf"|\b(?:final|correct|best|right|my)\s+(?:option|choice)\s*{_COPULA}"
    r"|\b(?:i\s+(?:would\s+|will\s+)?|i'd\s+)?(?:choose|chose|select|pick|go with)"
    r"|答案|选项|选择|选)"
    r"\s*(?:option|choice|letter)?\s*[:：是为]?\s*", re.I)
LETTER_TOKEN = re.compile(r"(?P<open>[(\[]?)(?P<letter>[A-Za-z])(?P<close>[)\]]?)(?![A-Za-z0-9])")
HEDGE_TAIL = re.compile(
    r"\s*(?:,|/|&|、|\bor\b|\band\b)\s*(?:option\s+)?[(\[]?(?P<letter>[A-Za-z])[)\]]?(?![A-Za-z0-9])", re.I)
REFUSAL = re.compile(
    r"\bsorry\b|\b(?:cannot|can ?not|can't|couldn't|unable to|not able to|impossible to|no way to)\b.{0,60}?"
    r"\b(?:determine|tell|answer|identify|see|know|say|decide|help|assist|provide|be determined)\b"
    r"|\bnone of (?:the )?(?:above|options|choices|them)\b|\bdon't know\b"
    r"|\bnot (?:enough|sufficient) (?:information|detail)|\binsufficient (?:information|detail)"
    r"|\bno (?:correct|right|valid) (?:answer|option|choice)\b|^\W*n/a\W*$", re.I | re.S)
_NEGATORS = r"\bnot|n't|\bno|\bneither|\bnor|\brather than|\binstead of|不是"
# a negation right before a letter ("not B", "rule out (C)")
NEGATION_BEFORE = re.compile(rf"(?:{_NEGATORS}|\bexcept|\bexclud(?:e|ing)|\brule(?:d)? out|\beliminat(?:e|ing)|排除)"
                             r"\s*(?:option|choice|answer)?\s*[(\[]?$", re.I)
# an option text may stand a few words after its negation ("not on the left")
TEXT_NEGATION_BEFORE = re.compile(rf"(?:{_NEGATORS})(?:\s+[\w']+){{0,2}}\s*$", re.I)
NEGATION_AFTER = re.compile(
    r"^[)\]]?\s*(?:(?:is|was|seems|looks|would be|must be)\s+(?:definitely\s+|clearly\s+|also\s+)?"
    r"(?:not\b|wrong|incorrect|false|unlikely|ruled out|eliminated|excluded)|isn't\b|wasn't\b"
    r"|(?:wrong|incorrect|false)\b|can be (?:ruled out|eliminated|excluded)|不对|错)", re.I)
# after a bare capital "A" these words make it the letter ("A is correct"); another lower-case word, the article
LETTER_VERBS = {"is", "was", "seems", "appears", "would", "should", "could", "might", "must", "looks", "fits",
                "matches", "and", "or"}
MENTION = re.compile(r"(?<![A-Za-z0-9])(?:[(\[](?P<wrapped>[A-Za-z])[)\]]|(?P<bare>[A-Z])(?![A-Za-z0-9]))")
BARE_LINE = re.compile(r"^\W*?[(\[]?(?P<letter>[A-Za-z])[)\]]?\W*$")
LABELLED_LINE = re.compile(r"^\s*(?:[(\[](?P<w>[A-Za-z])[)\]]\s*|(?P<p>[A-Za-z])\s*[.:：)\-–—]\s*|(?P<s>[A-Z])\s+)"
                           r"(?P<text>.+?)\s*[.。]?\s*$")


@dataclass(frozen=True)
class Mention:
    letter: str
    start: int
    end: int


def normalise(text: str) -> str:
    return MARKUP.sub("", unicodedata.normalize("NFKC", text))


def _norm_option(option) -> str:
    return " ".join(normalise(str(option)).lower().split()).rstrip(".")


def _negated(text: str, start: int, end: int, before=NEGATION_BEFORE) -> bool:
    return bool(before.search(text[max(0, start - 40):start]) or NEGATION_AFTER.match(text[end:end + 40]))


def _statements(text: str, valid: str) -> list[tuple[Mention, bool]]:
    """(letter mention, hedged) for every answer statement, in order."""
    out = []
    for m in STATEMENT.finditer(text):
        tok = LETTER_TOKEN.match(text, m.end())
        if not tok or tok.group("letter").upper() not in valid:
            continue
        letter, wrapped = tok.group("letter"), bool(tok.group("open") or tok.group("close"))
        rest = text[tok.end():]
        if letter.islower() and not wrapped and re.match(r"\s+[A-Za-z]", rest):
            continue  # "the answer is a blue umbrella": an article
        mention = Mention(letter.upper(), tok.start(), tok.end())
        if _negated(text, mention.start, mention.end):
            continue
        tail = HEDGE_TAIL.match(rest)
        other = tail.group("letter") if tail else ""
        hedged = (other and other.upper() in valid and other.upper() != mention.letter
                  and (other.isupper() or "(" in tail.group(0) or "[" in tail.group(0)
                       or not re.match(r"\s+[A-Za-z]", rest[tail.end():])))
        out.append((mention, bool(hedged)))
    return out


def _echo_spans(text: str, options: list[str], valid: str) -> list[tuple[int, int]]:
    """Spans of "(X) text of X" / "X. text of X" pairs when two or more options are written out (an echo)."""
    spans, letters = [], set()
    low = text.lower()
    for i, opt in enumerate(options[:len(valid)]):
        norm = _norm_option(opt)
        if not norm:
            continue
        rx = rf"(?<![a-z0-9])[(\[]?{LETTERS[i].lower()}[)\].:]\s*{re.escape(norm)}(?![a-z0-9])"
        for m in re.finditer(rx, low):
            if not NEGATION_BEFORE.search(text[max(0, m.start() - 30):m.start()]):
                spans.append(m.span())
                letters.add(i)
    return spans if len(letters) >= 2 else []


def _answer_lines(text: str, options: list[str], valid: str, echo: list) -> list[str | None]:
    """Letters of lines that are only a letter or a letter with option text; None marks a contradicting label."""
    texts = {_norm_option(o): LETTERS[i] for i, o in enumerate(options[:len(valid)])}
    out, pos = [], 0
    for line in text.splitlines(keepends=True):
        start, pos = pos, pos + len(line)
        if any(a <= start < b or start <= a < pos for a, b in echo):
            continue
        bare = BARE_LINE.match(line.strip())
        if bare and bare.group("letter").upper() in valid:
            out.append(bare.group("letter").upper())
            continue
        lab = LABELLED_LINE.match(line)
        if lab:
            letter = (lab.group("w") or lab.group("p") or lab.group("s")).upper()
            named = texts.get(_norm_option(lab.group("text")))
            if letter in valid and named is not None:
                out.append(letter if named == letter else None)
    return out


def _mentions(text: str, valid: str, echo: list) -> set[str]:
    letters = set()
    for m in MENTION.finditer(text):
        letter = (m.group("wrapped") or m.group("bare")).upper()
        if letter not in valid or any(a <= m.start() < b for a, b in echo):
            continue
        if m.group("bare"):
            after = text[m.end():]
            if letter == "A":
                word = re.match(r"\s+([a-z][a-z']*)", after)
                if word and word.group(1) not in LETTER_VERBS:
                    continue  # "A blue umbrella": the article
            if re.match(r"\.[A-Za-z]\.", after) or re.search(r"[A-Za-z]\.$", text[max(0, m.start() - 2):m.start()]):
                continue  # an abbreviation: "E.g.", "U.S.A."
        if _negated(text, m.start(), m.end()):
            continue
        letters.add(letter)
    return letters


def _option_text(text: str, options: list[str], valid: str) -> str | None:
    low = text.lower()
    found = []  # (start, end, letter)
    for i, opt in enumerate(options[:len(valid)]):
        norm = _norm_option(opt)
        if norm:
            found += [(m.start(), m.end(), LETTERS[i])
                      for m in re.finditer(rf"(?<![a-z0-9]){re.escape(norm)}(?![a-z0-9])", low)]
    # a match lying inside a longer match of another option is that option ("dark red" is not "red")
    outer = [(a, b, c) for a, b, c in found if not any(a2 <= a and b <= b2 and b2 - a2 > b - a for a2, b2, _ in found)]
    kept = {c for a, b, c in outer if not _negated(text, a, b, TEXT_NEGATION_BEFORE)}
    return kept.pop() if len(kept) == 1 else None


def _read(text: str, options: list[str], valid: str) -> str | None:
    statements = _statements(text, valid)
    if statements:
        mention, hedged = statements[-1]
        return None if hedged else mention.letter
    if REFUSAL.search(text):
        return None
    echo = _echo_spans(text, options, valid)
    lines = _answer_lines(text, options, valid, echo)
    if lines:
        return lines[0] if None not in lines and len(set(lines)) == 1 else None
    letters = _mentions(text, valid, echo)
    if letters:
        return letters.pop() if len(letters) == 1 else None
    if echo:
        return None
    return _option_text(text, options, valid)


def lenient_letter(prediction: str | None, options: list[str]) -> str | None:
    """The letter a person reads in `prediction` (rules in the module docstring); None when there is no single one."""
    if not prediction or not options:
        return None
    valid = LETTERS[:len(options)]
    text = normalise(str(prediction))
    for container in CONTAINERS:
        inner = container.findall(text)
        if inner:
            return _read(inner[-1], options, valid)
    return _read(text, options, valid)
