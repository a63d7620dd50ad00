"""Target objects and question type by in-context learning (paper Sec. 3.2 step I, Sec. 3.3; design 4.1).

The prompt follows ZoomEye's style with our own worked examples (per dataset allowed). Parsing takes what follows
"the following objects:", splits on " and " / ", ", strips the final period. Question type (Sec. 3.3) is decided
PER TARGET: a target is type-2 (many instances) when the model marked it with a leading `all `, or when the question
counts it — "how many X", "the number of X", "count (the) X", matched as whole words, so "country", "counter" or
"account number" do not count — and X names the target (a shared word, plurals folded). A counting question whose X
names no target marks every target, unless the model marked some. When nothing parses the `fallback` decides: `rules` (patterns of V*-style
questions) or `whole_image` (answer on the whole image).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..core.cost import stage

ANSWER_LEAD = "So I need the information about the following objects:"

DEFAULT_EXAMPLES = [
    ("What is the color of the woman's handbag?", ["woman's handbag"]),
    ("Is the red umbrella on the left or right side of the white truck?", ["red umbrella", "white truck"]),
    ("How many birds are sitting on the fence?", ["all birds", "fence"]),
    ("What is written on the street sign?", ["street sign"]),
]

# what a counting question counts: "how many X", "(the) number of X" (not "the number of the bus"), "count (the) X",
# "the count of X"; X runs to the next verb, preposition or punctuation
COUNTED = re.compile(
    r"\b(?:how\s+many|number\s+of(?!\s+(?:the|this|that)\b)|count(?:\s+of)?(?:\s+the)?)\b\s*"
    r"(?P<counted>.*?)(?=\s*\b(?:are|is|were|was|can|could|do|does|did|have|has|in|on|at|of|near|that|which|there|"
    r"visible|shown|present)\b|[?.,!;:]|$)", re.I)
IRREGULAR_PLURALS = {"people": "person", "men": "man", "women": "woman", "children": "child", "mice": "mouse",
                     "geese": "goose", "feet": "foot", "teeth": "tooth", "leaves": "leaf", "knives": "knife"}
_STOP = {"the", "a", "an", "of", "all", "in", "on", "and"}


@dataclass
class Targets:
    objects: list[str] = field(default_factory=list)
    type2_objects: list[str] = field(default_factory=list)  # the objects with many instances (type-2, Sec. 3.3)
    source: str = "icl"  # icl | rules | none
    raw: str = ""

    @property
    def failed(self) -> bool:
        return not self.objects

    @property
    def type2(self) -> bool:
        return bool(self.type2_objects)


def build_icl_prompt(question: str, examples=DEFAULT_EXAMPLES) -> str:
    parts = []
    for q, objs in examples:
        parts.append(f"Question: {q}\nIf you want to answer the question, which objects' information do you need?\n"
                     f"{ANSWER_LEAD} {' and '.join(objs)}.")
    parts.append(f"Question: {question}\nIf you want to answer the question, which objects' information do you need?\n")
    return "\n\n".join(parts)


def question_stem(question: str) -> str:
    """The question without its option lines and answer instruction."""
    lines = [ln for ln in question.splitlines() if ln.strip() and not re.match(r"^\s*\(?[A-Ea-e][).]\s", ln)]
    stem = lines[0] if lines else question
    return stem.strip()


def parse_targets(text: str) -> tuple[list[str], list[str]]:
    """Parse the model's answer. Returns (objects without the `all ` marker, the objects that carried it)."""
    if ANSWER_LEAD.lower() in text.lower():
        text = text[text.lower().rindex(ANSWER_LEAD.lower()) + len(ANSWER_LEAD):]
    elif ":" in text:
        text = text.split(":", 1)[1]
    else:  # no answer sentence at all: the output is not an object list
        return [], []
    text = text.strip().split("\n")[0]
    text = re.sub(r"[.!?]+\s*$", "", text).strip()
    if not text:
        return [], []
    objects, marked = [], []
    for part in re.split(r",\s*(?:and\s+)?|\s+and\s+", text):
        part = part.strip().strip("\"'`").strip()
        part = re.sub(r"^(?:the|a|an)\s+", "", part, flags=re.I)
        is_all = part.lower().startswith("all ")
        if is_all:
            part = re.sub(r"^(?:the)\s+", "", part[4:].strip(), flags=re.I)
        if not part or len(part) > 60 or not re.search(r"[A-Za-z]", part):
            continue
        if part.lower() not in (o.lower() for o in objects):
            objects.append(part)
            if is_all:
                marked.append(part)
    return objects, marked


_RULES = [
    re.compile(r"(?:colou?r|material|shape|size) of the (?P<a>[^?,]+?)\s*\?", re.I),
    re.compile(r"is the (?P<a>.+?) (?:on|to) the (?:left|right) (?:or (?:the )?(?:left|right) )?(?:side )?of the "
               r"(?P<b>[^?]+?)\s*\?", re.I),
    re.compile(r"is the (?P<a>.+?) (?:above|below|behind|in front of|under|over) (?:or \w+ )?the (?P<b>[^?]+?)\s*\?",
               re.I),
    re.compile(r"how many (?P<all>[^?]+?) (?:are|is|can)", re.I),
    re.compile(r"what (?:is|does) the (?P<a>[^?]+?) (?:say|read|show|hold|wear)", re.I),
]


def rule_targets(question: str) -> tuple[list[str], list[str]]:
    """Fallback for questions of the usual fine-grained VQA templates when the model's answer does not parse.
    Returns (objects, the type-2 ones)."""
    stem = question_stem(question)
    for rx in _RULES:
        m = rx.search(stem)
        if m:
            groups = {k: v for k, v in m.groupdict().items() if v}
            if "all" in groups:
                return [groups["all"].strip()], [groups["all"].strip()]
            return [groups[k].strip() for k in ("a", "b") if k in groups], []
    return [], []


def _words(text: str) -> set[str]:
    """Content words, lower case, plurals folded ("boxes" → "box", "people" → "person")."""
    words = set()
    for w in re.findall(r"[a-z]+", text.lower()):
        if w in _STOP:
            continue
        w = IRREGULAR_PLURALS.get(w, w)
        w = re.sub(r"(?:(?<=[sxz])es|(?<=[cs]h)es|(?<!s)s)$", "", w) if len(w) > 3 else w
        words.add(w)
    return words


def counted_phrases(question: str) -> list[str]:
    """What the question counts ("how many X", "the number of X", "count the X"), whole words only."""
    return [m.group("counted").strip() for m in COUNTED.finditer(question_stem(question))]


def type2_targets(question: str, objects: list[str], marked: list[str] = ()) -> list[str]:
    """The type-2 objects: those the model marked `all `, and those the question counts (see the module doc)."""
    counted = counted_phrases(question)
    by_question: set[str] = set()
    if counted:
        counted_words = set().union(*(_words(c) for c in counted))
        by_question = {o for o in objects if _words(o) & counted_words}
        if not by_question and not marked:  # counting, but naming no target and none marked: count them all
            by_question = set(objects)
    return [o for o in objects if o in set(marked) or o in by_question]


class TargetExtractor:
    """ICL extraction with a robust parser. `fallback`: rules | whole_image. `with_image`: show the image to the
    model during extraction (the paper does not say; off by default, so extraction costs a short text-only pass)."""

    def __init__(self, fallback: str = "rules", with_image: bool = False, max_new_tokens: int = 24,
                 examples: list | None = None):
        if fallback not in ("rules", "whole_image"):
            raise ValueError(f"targets.fallback must be rules or whole_image, got {fallback!r}")
        self.fallback, self.with_image, self.max_new_tokens = fallback, with_image, max_new_tokens
        self.examples = [(e["question"], list(e["objects"])) for e in examples] if examples else DEFAULT_EXAMPLES

    def __call__(self, adapter, question: str, image=None) -> Targets:
        prompt = build_icl_prompt(question_stem(question), self.examples)
        raw = adapter.generate([image] if (self.with_image and image is not None) else [], prompt,
                               max_new_tokens=self.max_new_tokens)
        objects, marked = parse_targets(raw)
        source = "icl"
        if not objects and self.fallback == "rules":
            objects, marked = rule_targets(question)
            source = "rules" if objects else "none"
        elif not objects:
            source = "none"
        return Targets(objects, type2_targets(question, objects, marked), source, raw)


def extract_targets(extractor, adapter, sample, image):
    """Target extraction (Sec. 3.2) as the cost stage `targets`: the targets and their record fields (one pass)."""
    with stage(adapter, "targets"):
        targets = extractor(adapter, sample.question, image)
    return targets, {"targets": targets.objects, "type2": targets.type2, "type2_targets": targets.type2_objects,
                     "targets_source": targets.source, "targets_failed": targets.failed, "targets_raw": targets.raw,
                     "fp_extract": 1}
