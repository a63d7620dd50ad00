"""Every scoring protocol on a table of raw model outputs, for every benchmark (design section 6).

Each row: the rule it exercises, the options, the raw output, the label, and the expected letters
"strict lenient | lmms-eval: V* HR-Bench MME | VLMEvalKit: V* HR-Bench MME" -- "-" no letter, "?" no letter because
the harness would ask its GPT judge (counted in needs_judge), "Z" the harness's own "no option" answer. The lenient
letters are what a person reads; the lmms-eval and VLMEvalKit letters were obtained by running a literal
transcription of the harnesses' code (lmms-eval tasks vstar_bench/hrbench/mme_realworld utils, VLMEvalKit
matching_util.can_infer and MMERealWorld.evaluate) on each output. Strict and lenient do not depend on the benchmark.
"""

import pytest

from focus.scoring import BENCHMARKS, PROTOCOLS, extract, read, verdict

TWO = ["left", "right"]
FOUR = ["red", "blue", "green", "white"]
NEST = ["red", "dark red", "blue", "light blue"]  # option texts inside others
FIVE = ["one", "two", "three", "four", "five"]
SIGN = ["a stop sign", "a yield sign", "a speed limit sign", "a parking sign", "no sign"]

TABLE = [
    ('bare letter', FOUR, 'B', 'B', 'B B | B B B | B B B'),
    ('bare letter, surrounding whitespace', FOUR, '  C \n', 'C', 'C C | C C C | C C C'),
    ('bare letter, wrong answer', FOUR, 'A', 'C', 'A A | A A A | A A A'),
    ('letter + period', FOUR, 'B.', 'B', '- B | B B B | B B B'),
    ('letter + closing paren', FOUR, 'D)', 'D', '- D | D D D | D D D'),
    ('wrapped (X)', FOUR, '(A)', 'A', '- A | A A A | A A A'),
    ('wrapped [X]', FOUR, '[D]', 'D', '- D | D D D | D D D'),
    ('markdown bold letter', FOUR, '**B**', 'B', '- B | B B B | B B B'),
    ('markdown bold statement', FOUR, '**Answer:** C', 'C', '- C | C C A | C C A'),
    ('letter with its own option text', FOUR, 'B. blue', 'B', '- B | B B B | B B B'),
    ('(X) with its own option text', FOUR, '(C) green', 'C', '- C | C C C | C C C'),
    ('X: with its own option text', FOUR, 'D: white', 'D', '- D | D D D | D D D'),
    ("letter labelling another option's text", FOUR, 'B. red', 'B', '- - | B B B | B B B'),
    ("statement 'Answer: X'", FOUR, 'Answer: C', 'C', '- C | A C A | C C A'),
    ("statement 'The answer is X.'", FOUR, 'The answer is B.', 'A', '- B | B B B | B B B'),
    ("statement 'The answer is (X).'", FOUR, 'The answer is (D).', 'D', '- D | D D D | D D D'),
    ("statement 'Final answer: X'", FOUR, 'Final answer: D', 'D', '- D | D D D | D D D'),
    ("statement 'correct option is (X) text'", FOUR, 'The correct option is (A) red.', 'A', '- A | A A A | A A A'),
    ("statement 'best choice is X'", FOUR, 'The best choice is C.', 'C', '- C | C C C | C C C'),
    ("statement 'I'd choose X'", FOUR, "I'd choose B.", 'B', '- B | B B B | B B B'),
    ("mention 'It's X.'", FOUR, "It's C.", 'C', '- C | C C C | C C C'),
    ("mention 'I think it's X.'", FOUR, "I think it's D.", 'D', '- D | D D D | D D D'),
    ("mention 'Option X'", FOUR, 'Option B', 'B', '- B | B B B | B B B'),
    ('lower-case bare letter', FOUR, 'a', 'A', '- A | A ? A | ? ? A'),
    ('lower-case wrapped letter', FOUR, '(c)', 'C', '- C | C ? C | ? ? C'),
    ('lower-case letter after statement', FOUR, 'answer: d', 'D', '- D | A ? - | ? ? -'),
    ('lower-case letter + period', FOUR, 'b.', 'B', '- B | B ? - | ? ? -'),
    ('full-width wrapped letter', FOUR, '（B）', 'B', '- B | B ? B | ? ? B'),
    ('full-width letter', FOUR, 'Ｃ', 'C', '- C | - ? - | ? ? -'),
    ('CJK statement 答案是X', FOUR, '答案是C', 'C', '- C | C ? C | ? ? C'),
    ('CJK statement 选X', FOUR, '选B', 'B', '- B | B ? B | ? ? B'),
    ('CJK statement with full-width colon', FOUR, '正确答案：D', 'D', '- D | D ? D | ? ? D'),
    ('container <answer>', FOUR, '<answer>C</answer>', 'C', '- C | - ? C | ? ? C'),
    ('container <answer> after <think>', FOUR,
     '<think>Red is not it; it looks blue.</think><answer>B</answer>', 'B', '- B | - ? B | ? ? B'),
    ('container <answer>, lower-case letter', FOUR, '<answer>c</answer>', 'C', '- C | - ? - | ? ? C'),
    ('container \\boxed', FOUR, 'The answer is $\\boxed{A}$', 'A', '- A | - A A | A A A'),
    ('container JSON answer', FOUR, '{"answer": "A"}', 'A', '- A | - ? A | ? ? A'),
    ('container dict answer', FOUR, "{'answer': 'D', 'confidence': 0.9}", 'D', '- D | - ? D | ? ? D'),
    ('chain of thought, last line a bare letter', FOUR,
     'Let me look at the cup. Option A is red, but the cup looks bluish.\nB', 'B', '- B | A A A | A A A'),
    ('chain of thought, last line a wrapped letter', FOUR,
     'The sign has a white background and (C) green is unlikely.\n(D)', 'D', '- D | C ? C | ? ? C'),
    ("hedge 'X or Y'", FOUR, 'C or D', 'C', '- - | C ? C | ? ? C'),
    ("hedge 'either X or Y'", FOUR, 'It is either A or B.', 'A', '- - | B ? A | ? ? A'),
    ('hedge: two bare-letter lines', FOUR, 'C\nD', 'C', '- - | C ? C | ? ? C'),
    ('hedged statement', FOUR, 'The answer is C or D.', 'C', '- - | C ? C | ? ? C'),
    ("hedge 'both X and Y'", FOUR, 'Both B and C could be right.', 'B', '- - | B ? B | ? ? B'),
    ('hedged statement with comma', FOUR, 'Answer: A, B', 'A', '- - | A ? A | ? ? A'),
    ('echo of the option list, lines', FOUR, '(A) red\n(B) blue\n(C) green\n(D) white', 'A', '- - | A ? A | ? ? A'),
    ('echo of the option list, one line', FOUR, '(A) red (B) blue (C) green (D) white', 'A', '- - | A ? A | ? ? A'),
    ('echo then a statement', FOUR, 'A. red\nB. blue\nC. green\nD. white\nAnswer: B', 'B', '- B | A ? A | ? ? A'),
    ('echo then a bare letter', FOUR, 'A. red\nB. blue\nC. green\nD. white\nC', 'C', '- C | A ? A | ? ? A'),
    ('negated letter, then statement', FOUR, '(C) is wrong, so the answer is (B)', 'B', '- B | C ? C | ? ? C'),
    ("negation 'not X, it is Y'", FOUR, 'not B, it is A', 'A', '- A | A ? B | ? ? B'),
    ("negation 'X is incorrect'", FOUR, 'A is incorrect. D', 'D', '- D | A ? A | ? ? A'),
    ("negation 'Y, not X'", FOUR, 'B, not A', 'B', '- B | B ? B | ? ? B'),
    ('only a negated letter', FOUR, 'Not A.', 'A', '- - | A A A | A A A'),
    ("negated statement 'answer isn't X, it's Y'", FOUR, "The answer isn't B, it's C.", 'C', '- C | C ? B | ? ? B'),
    ("article 'A' then option text", FOUR, 'A blue umbrella.', 'B', '- B | A A A | A A A'),
    ("article 'a' after 'answer is', option text", FOUR, 'The answer is a blue umbrella.', 'B', '- B | A B - | B B -'),
    ("article 'A', no option text", FOUR, 'A man is holding it.', 'A', '- - | A A A | A A A'),
    ("letter 'A' before a verb", FOUR, 'A is correct.', 'A', '- A | A A A | A A A'),
    ("refusal 'cannot determine'", FOUR, 'I cannot determine the color from this image.', 'A', '- - | - ? - | ? ? -'),
    ("refusal in VLMEvalKit's list", FOUR,
     "Sorry, I can't help with images of people yet.", 'A', '- - | - Z - | Z Z -'),
    ("refusal 'none of the options'", FOUR, 'None of the options is correct.', 'A', '- - | - ? - | ? ? -'),
    ('refusal naming an option text', FOUR, "I can't tell whether it is red.", 'A', '- - | D A - | A A -'),
    ('option text, exact', FOUR, 'blue', 'B', '- B | B B - | B B -'),
    ('option text in a sentence', FOUR, 'The umbrella is green.', 'C', '- C | - C - | C C -'),
    ('option text, capitalised', FOUR, 'White', 'D', '- D | - D - | D D -'),
    ('two option texts', FOUR, 'red or blue', 'A', '- - | - ? - | ? ? -'),
    ('negated option text', FOUR, 'It is not red, it is white.', 'D', '- D | D ? - | ? ? -'),
    ('option text inside a longer word', FOUR, 'It looks reddish.', 'A', '- - | - A - | A A -'),
    ('empty output', FOUR, '', 'A', '- - | - ? A | ? ? A'),
    ('whitespace output', FOUR, '   ', 'A', '- - | - ? A | ? ? A'),
    ('letter beyond the options', FOUR, 'E', 'A', '- - | - ? E | ? ? E'),
    ('statement with a letter beyond the options', FOUR, 'Answer: F', 'A', '- - | A ? A | ? ? A'),
    ('capital article in prose, option text', FOUR, 'There is a cup. A cup is green.', 'C', '- C | A A A | A A A'),
    ('long chain of thought ending in a statement', FOUR,
     'First, I locate the umbrella in the upper left. Its canopy is clearly blue with a '
     'white trim. Therefore the answer is B.', 'B', '- B | B B B | B B B'),
    ('corrected statement: the last one counts', FOUR,
     'The answer is A. Wait, looking again, the answer is C.', 'C', '- C | A ? A | ? ? A'),
    ('letter then explanation', FOUR, 'B because the cup is blue.', 'B', '- B | B B B | B B B'),
    ('letter dash option text', FOUR, 'C - green', 'C', '- C | C C C | C C C'),
    ("lone 'Z'", FOUR, 'Z', 'A', '- - | - Z - | Z Z -'),
    ('API failure text', FOUR, 'Failed to obtain answer via API.', 'A', '- - | - ? A | ? ? A'),
    ("refusal 'Cannot determine the answer'", FOUR, 'Cannot determine the answer', 'A', '- - | C Z C | Z Z C'),
    ('a digit, not a letter', FOUR, '1', 'A', '- - | - ? - | ? ? -'),
    ('question echoed with its options', FOUR,
     'What is the color of the cup? (A) red (B) blue (C) green (D) white', 'A', '- - | A ? A | ? ? A'),
    ('letter in quotes', FOUR, '"C"', 'C', '- C | C ? C | ? ? C'),
    ('lower-case letter, comma, option text', FOUR, 'c, green', 'C', '- C | C C - | C C -'),
    ('letter line then explanation line', FOUR, 'D\nThe sign is white.', 'D', '- D | D D D | D D D'),
    ('wrapped letter in a sentence', FOUR, 'The correct one is (B).', 'B', '- B | B B B | B B B'),
    ('bulleted letter', FOUR, '- B', 'B', '- B | B B B | B B B'),
    ('decorated letter', FOUR, '✅ C', 'C', '- C | C C C | C C C'),
    ('markdown heading then letter', FOUR, '### Answer\nB', 'B', '- B | B B A | B B A'),
    ('code block', FOUR, '```\nA\n```', 'A', '- A | A A A | A A A'),
    ("statement 'Answer: option X'", FOUR, 'Answer: option D', 'D', '- D | A D A | D D A'),
    ("statement 'I would select X'", FOUR, 'I would select A.', 'A', '- A | A A A | A A A'),
    ("statement 'go with X'", FOUR, "I'll go with C.", 'C', '- C | C C C | C C C'),
    ('word starting with a letter (lmms-eval V* reads it)', FOUR, 'Blue.', 'B', '- B | B B B | B B B'),
    ('word starting with D, option text', FOUR, 'Definitely green.', 'C', '- C | D C D | C C D'),
    ('upper-case statement', FOUR, 'ANSWER: C', 'C', '- C | A C A | C C A'),
    ('capital article, option text (VLMEvalKit reads A)', FOUR, 'A green cup.', 'C', '- C | A A A | A A A'),
    ("two letters 'X and Y'", FOUR, 'B and C', 'B', '- - | B ? B | ? ? B'),
    ("option text as a substring ('red' in 'bored')", FOUR, 'bored', 'A', '- - | B A - | A A -'),
    ("lone 'Z' with period", FOUR, 'Z.', 'A', '- - | - Z - | Z Z -'),
    ("pronoun 'I', option text", FOUR, 'I see white.', 'D', '- D | - D - | D D -'),
    ('acronym letters, option text', FOUR, 'The DVD case is red.', 'A', '- A | D A D | A A D'),
    ('the same letter three times', FOUR, 'B. The answer is B because (B) blue matches.', 'B', '- B | B B B | B B B'),
    ('statement then a hedge remark', FOUR, 'Answer: (C)\nThough (D) is also possible.', 'C', '- C | A ? A | ? ? A'),
    ('letter with question mark', FOUR, 'B?', 'B', '- B | B ? B | ? ? B'),
    ('letter mid-sentence', FOUR, "I'd say C, the green one.", 'C', '- C | - C C | C C C'),
    ('letter line then sentence naming its text', FOUR,
     'C\nGreen is the color of the cup.', 'C', '- C | C C C | C C C'),
    ('lower-case letter + paren + text', FOUR, 'c) green', 'C', '- C | C C - | C C -'),
    ('every option text named', FOUR, 'The colors red, blue, green and white all appear.', 'A', '- - | - ? - | ? ? -'),
    ("refusal 'Unable to determine'", FOUR, 'Unable to determine from the image.', 'A', '- - | - ? - | ? ? -'),
    ("refusal 'N/A'", FOUR, 'N/A', 'A', '- - | A ? A | ? ? A'),
    ("negation 'neither X nor Y', option text", FOUR,
     'The cup is neither red nor blue; it is green.', 'C', '- C | - ? - | ? ? -'),
    ("refusal 'not enough information'", FOUR,
     'There is not enough information to answer.', 'A', '- - | - ? - | ? ? -'),
    ('container JSON with a reason', FOUR, '{"reason": "the cup is blue", "answer": "B"}', 'B', '- B | - B B | B B B'),
    ('container \\boxed, lower-case', FOUR, '\\boxed{d}', 'D', '- D | - ? - | ? ? -'),
    ('container holding a hedge', FOUR, '<answer>A or B</answer>', 'A', '- - | - ? A | ? ? A'),
    ('container holding an option text', FOUR, '<answer>green</answer>', 'C', '- C | - C - | C C E'),
    ('CJK statement 答案：X', FOUR, '答案：A', 'A', '- A | A ? A | ? ? A'),
    ('CJK full-width letter in a sentence', FOUR, '选项Ｄ正确', 'D', '- D | - ? - | ? ? -'),
    ('CJK negation 不是X，是Y', FOUR, '不是A，是B', 'B', '- B | - ? A | ? ? A'),
    ('two options: bare letter', TWO, 'A', 'A', 'A A | A A A | A A A'),
    ('two options: option text', TWO, 'left', 'A', '- A | - A - | A A -'),
    ('two options: option text in a sentence', TWO,
     'The dog is on the right side of the car.', 'B', '- B | - B - | B B -'),
    ('two options: letter beyond the options', TWO, 'C', 'A', '- - | C ? C | ? ? C'),
    ('two options: statement', TWO, 'Answer: B', 'B', '- B | A B A | B B A'),
    ('two options: negated option text', TWO, 'It is left of the car, not right.', 'A', '- A | - ? - | ? ? -'),
    ('two options: word starting with a letter, then letter', TWO,
     'Because the dog faces left, A.', 'A', '- A | B A B | A A B'),
    ('two options: chain of thought, last line', TWO, 'The dog is near the left edge.\nA', 'A', '- A | A A A | A A A'),
    ("two options: hedge 'X/Y'", TWO, 'A/B', 'A', '- - | A ? A | ? ? A'),
    ('two options: lower-case letter', TWO, 'b', 'B', '- B | B ? B | ? ? B'),
    ('two options: echo', TWO, 'A. left\nB. right', 'A', '- - | A ? A | ? ? A'),
    ("two options: refusal in VLMEvalKit's list", TWO,
     "I'm sorry, but without the image provided I cannot answer.", 'A', '- - | - Z - | Z Z -'),
    ('two options: option text negated a few words back', TWO, 'Not on the left; right.', 'B', '- B | - ? - | ? ? -'),
    ('two options: capital article, option text', TWO, 'A left turn.', 'A', '- A | A A A | A A A'),
    ('contained option text: the longer one', NEST, 'dark red', 'B', '- B | D ? - | ? ? -'),
    ('contained option text: the shorter one', NEST, 'red', 'A', '- A | D A - | A A -'),
    ('contained option text in a sentence', NEST, 'The scarf is light blue.', 'D', '- D | - ? - | ? ? -'),
    ('contained option texts: both', NEST, 'It is red, maybe dark red.', 'A', '- - | D ? - | ? ? -'),
    ('contained option text after its letter', NEST, 'B. dark red', 'B', '- B | B B B | B B B'),
    ('contained option texts: echo', NEST,
     '(A) red\n(B) dark red\n(C) blue\n(D) light blue', 'A', '- - | A ? A | ? ? A'),
    ('contained option text after a statement', NEST, 'The answer is D, light blue.', 'D', '- D | D D D | D D D'),
    ('contained option text negated', NEST, 'Not dark red but red.', 'A', '- A | D ? - | ? ? -'),
    ('five options: bare E', FIVE, 'E', 'E', 'E E | - E E | E E E'),
    ('five options: statement E', FIVE, 'The answer is E.', 'E', '- E | A E E | E E E'),
    ('five options: option text', FIVE, 'four', 'D', '- D | - D - | D D -'),
    ('five options: a digit is not the option text', FIVE, '3', 'C', '- - | - ? - | ? ? -'),
    ('five options: letter with its own option text', FIVE, 'E. five', 'E', '- E | - E E | E E E'),
    ('five options: hedge', FIVE, 'D or E', 'D', '- - | D ? D | ? ? D'),
    ('five options: lower-case e', FIVE, 'e', 'E', '- E | - ? E | ? ? E'),
    ("five options: MME prefix 'The best answer is'", FIVE, 'The best answer is C', 'C', '- C | C C C | C C C'),
    ('five options: prefix then lower-case letter', FIVE, 'The best answer is: d', 'D', '- D | D ? - | ? ? -'),
    ('five options: over 10 words without A-E', FIVE,
     'There are several cars in the picture and the scene is busy with many people '
     'walking', 'A', '- - | - ? - | ? ? -'),
    ('five options: first capital is not the answer', FIVE, 'Because of the angle, C', 'C', '- C | B C B | C C B'),
    ('five options: empty output', FIVE, '', 'A', '- - | - ? A | ? ? A'),
    ('five options: a lone parenthesis', FIVE, '(', 'A', '- - | - ? A | ? ? A'),
    ('five options: <answer> with lower-case letter', FIVE, '<answer>e</answer>', 'E', '- E | - ? - | ? ? E'),
    ('five options: CJK statement', FIVE, '最佳答案为：B', 'B', '- B | B ? B | ? ? B'),
    ("five options: 'The answer: X'", FIVE, 'The answer: B', 'B', '- B | B B B | B B B'),
    ('five options: <think> then bare letter', FIVE,
     '<think>Counting gives three.</think>\nC', 'C', '- C | C C C | C C C'),
    ("five options: abbreviation 'E.g.', option text", FIVE, 'E.g. it shows three', 'C', '- C | - E E | E E E'),
    ('sentence options: option text', SIGN, 'It is a yield sign.', 'B', '- B | A B - | B B -'),
    ('sentence options: capital article starting the option text', SIGN, 'A stop sign.', 'A', '- A | A A A | A A A'),
    ("sentence options: 'no sign' option", SIGN, 'There is no sign.', 'E', '- E | - E - | E E -'),
    ('sentence options: letter with its own text', SIGN, 'C. a speed limit sign', 'C', '- C | C C C | C C C'),
    ('sentence options: bare letter', SIGN, 'D', 'D', 'D D | D D D | D D D'),
    # The last forms (README "Scoring"): lmms-eval's MME prefix list (two pairs of literals concatenate, so 'Best
    # answer:' and 'Best option:' are never removed and the B of 'Best' is read), VLMEvalKit's can_infer on a letter
    # followed by a reason, on JSON answers (quoted letters are not words: option texts decide) and on outputs that
    # discuss one option before choosing another (the first letter mentioned wins, or two letters defer to texts).
    ("MME prefix 'Best answer: X' (never removed: 'B' of Best read)", FIVE,
     'Best answer: A', 'A', '- A | B A B | A A B'),
    ("MME prefix 'Best option: (X)'", FIVE, 'Best option: (C)', 'C', '- C | B C B | C C B'),
    ("MME prefix 'The best option is X'", FIVE, 'The best option is D', 'D', '- D | D D D | D D D'),
    ("MME prefix 'The correct option is X'", FIVE, 'The correct option is E', 'E', '- E | - E E | E E E'),
    ("MME prefix 'Best answer: (X) text'", FIVE, 'Best answer: (B) two', 'B', '- B | B B B | B B B'),
    ("letter then reason 'X, because ...'", FOUR, 'B, because the cup is clearly blue.', 'B', '- B | B B B | B B B'),
    ('letter then reason naming another option', FOUR, 'C, because it is green, not red.', 'C', '- C | C C C | C C C'),
    ("letter then reason with article 'A'", FOUR, 'D, because A white cup stands there.', 'D', '- D | D D D | D D D'),
    ("letter then reason 'X. Reason: ...'", TWO, 'B. Reason: the dog is on the right.', 'B', '- B | B B B | B B B'),
    ('JSON answer with reason', FOUR, '{"answer": "B", "reason": "the cup is blue"}', 'B', '- B | - B B | B B B'),
    ('JSON answer with reason naming two options', FOUR,
     '{"answer": "C", "reason": "green, not white"}', 'C', '- C | - ? C | ? ? C'),
    ('JSON answer with reason, no option text', FOUR,
     '{"answer": "D", "reason": "it matches the object"}', 'D', '- D | - ? D | ? ? D'),
    ('discusses an option, then chooses another', FOUR,
     'Option B (blue) does not match the cup. So the answer is A.', 'A', '- A | B B B | B B B'),
    ('discusses an option, then chooses another, no parentheses', FOUR,
     'Option C does not match. So the answer is D.', 'D', '- D | C ? C | ? ? C'),
    ('rules out an option, then states the answer', TWO,
     'Option A does not fit since the dog is not on the left. The answer is B.', 'B', '- B | A A A | A A A'),
    ('discusses option text, then chooses a letter', FOUR,
     'Blue does not match the cup; so the answer is A', 'A', '- A | B A B | A A B'),
]


def expected(code: str) -> dict:
    """{(protocol, benchmark): (letter, needs_judge)} from a row's expectation string."""
    strict_lenient, lmms, vlmk = (part.split() for part in code.split("|"))
    out = {}
    for b, bench in enumerate(BENCHMARKS):
        for protocol, value in (("strict", strict_lenient[0]), ("lenient", strict_lenient[1]),
                                ("lmms_eval", lmms[b]), ("vlmevalkit", vlmk[b])):
            out[protocol, bench] = (None if value in "-?" else value, value == "?")
    return out


def test_table_size_and_coverage():
    assert len(TABLE) >= 150
    assert {len(options) for _, options, *_ in TABLE} == {2, 4, 5}


@pytest.mark.parametrize("rule,options,output,label,code", TABLE, ids=[row[0] for row in TABLE])
def test_every_protocol_on_every_benchmark(rule, options, output, label, code):
    for (protocol, bench), (letter, needs_judge) in expected(code).items():
        reading = read(output, options, protocol, bench)
        assert (reading.letter, reading.needs_judge) == (letter, needs_judge), (protocol, bench)
        assert extract(output, options, protocol, bench) == letter
        assert verdict(output, options, label, protocol, bench) is (letter == label and not needs_judge)


def test_issue_examples_lenient_vs_harnesses():
    """The outputs that motivated the four protocols, on V* options."""
    assert verdict("The answer is a blue umbrella.", FOUR, "A", "lmms_eval", "vstar")  # case-insensitive letter match
    assert not verdict("The answer is a blue umbrella.", FOUR, "A", "lenient", "vstar")
    assert verdict("", FOUR, "A", "lmms_eval", "mme_rw")  # lmms-eval MME: an empty output reads "A"
    assert not verdict("", FOUR, "A", "lenient", "mme_rw")
    assert verdict("(C) is wrong, so the answer is (B)", FOUR, "B", "lenient", "hrbench")
    assert not verdict("(C) is wrong, so the answer is (B)", FOUR, "B", "lmms_eval", "vstar")


@pytest.mark.parametrize("protocol,benchmark", [("exact", "vstar"), ("strict", "vstar_bench")])
def test_unknown_protocol_or_benchmark(protocol, benchmark):
    with pytest.raises(ValueError, match="unknown"):
        verdict("A", FOUR, "A", protocol, benchmark)


def test_error_free_prediction_none():
    for protocol in PROTOCOLS:
        assert extract(None, FOUR, protocol, "vstar") is None
