"""Prompt presets of the harnesses and loader details: V* option parsing and option-sentence order (design 6)."""

import json

import pytest

from focus import FocusError
from focus.data.base import build_prompt
from focus.data.hrbench import HRBench
from focus.data.synthetic import SyntheticDataset
from focus.data.vstar import VStarBench, sentences_in_letter_order, split_question
from fixtures import make_hrbench, make_vstar

INSTR = "Answer with the option's letter from the given choices directly."


@pytest.mark.parametrize("text", [
    f"What is the color of the cup?\n(A) red\n(B) dark red\n(C) blue\n(D) white\n{INSTR}",  # as distributed
    "What is the color of the cup? (A) red (B) dark red (C) blue (D) white",                # one line
    f"What is the color of the cup? (A) red (B) dark red (C) blue (D) white {INSTR}",        # one line + instruction
    f"What is the color\nof the cup?\n(A) red (B) dark red\n(C) blue\n(D) white\n{INSTR}",   # mixed
])
def test_split_question_lines_and_one_line(text):
    assert split_question(text) == ("What is the color of the cup?", ["red", "dark red", "blue", "white"])


def test_split_question_two_options_and_none():
    assert split_question("Is the dog left or right of the car? (A) left (B) right") == (
        "Is the dog left or right of the car?", ["left", "right"])
    assert split_question(f"Describe the image.\n{INSTR}") == ("Describe the image.", [])


SENTENCES = {"red": "The cup is red.", "dark red": "The cup is dark red.", "blue": "The cup is blue.",
             "white": "The cup is white."}


@pytest.mark.parametrize("short", [["red", "dark red", "blue", "white"], ["dark red", "red", "white", "blue"],
                                   ["blue", "white", "red", "dark red"]])
@pytest.mark.parametrize("label_index", range(4))
def test_option_sentences_never_swap_contained_texts(short, label_index):
    """The JSON lists the correct sentence first, then the others in any order; "red" must not take "dark red"."""
    correct = short[label_index]
    others = [SENTENCES[o] for o in sorted(short, key=lambda o: ("dark" not in o, o)) if o != correct]  # dark red first
    ordered = sentences_in_letter_order(short, "ABCD"[label_index], [SENTENCES[correct]] + others)
    assert ordered == [SENTENCES[o] for o in short]


def test_option_sentences_bad_label_or_count():
    assert sentences_in_letter_order(["red", "blue"], "C", ["x", "y"]) is None
    assert sentences_in_letter_order(["red", "blue"], "A", ["x"]) is None


OPTS = ["red", "blue", "green", "white"]


@pytest.mark.parametrize("style,benchmark,prompt", [
    ("paper", "vstar", f"What color?\n(A) red\n(B) blue\n(C) green\n(D) white\n{INSTR}"),
    ("paper", "hrbench", f"What color?\n(A) red\n(B) blue\n(C) green\n(D) white\n{INSTR}"),
    ("lmms_eval", "vstar", f"What color?\nA. red\nB. blue\nC. green\nD. white\n{INSTR}\n{INSTR}"),
    ("lmms_eval", "hrbench", "What color?\nA. red\nB. blue\nC. green\nD. white\nAnswer the option letter directly."),
    ("lmms_eval", "mme_rw", "What color? The choices are listed below:\n(A) red\n(B) blue\n(C) green\n(D) white\n"
                            "Select the best answer to the above multiple-choice question based on the image. Respond "
                            "with only the letter (A, B, C, D, or E) of the correct option.\nThe best answer is: "),
    ("vlmevalkit", "vstar", "Question: What color?\nOptions:\nA. red\nB. blue\nC. green\nD. white\n"
                            "Please select the correct answer from the options above. \n"),
    ("vlmevalkit", "hrbench", "Question: What color?\nOptions:\nA. red\nB. blue\nC. green\nD. white\n"
                              "Please select the correct answer from the options above. \n"),
    ("vlmevalkit", "mme_rw", "What color? The choices are listed below:\n(A) red\n(B) blue\n(C) green\n(D) white\n"
                             "Select the best answer to the above multiple-choice question based on the image. "
                             "Respond with only the letter (A, B, C, D, or E) of the correct option. \n"
                             "The best answer is:"),
])
def test_prompt_presets(style, benchmark, prompt):
    assert build_prompt("What color?", OPTS, INSTR, style, benchmark) == prompt


def test_loaders_use_the_configured_style(tmp_path):
    vstar = VStarBench(path=str(make_vstar(tmp_path / "v")), prompt_style="vlmevalkit")
    first = next(iter(vstar))
    assert first.prompt.startswith("Question: What is the color of the cup?\nOptions:\nA. blue\nB. red\n")
    hr = HRBench(path=str(make_hrbench(tmp_path / "hr.tsv")), prompt_style="lmms_eval")
    assert next(iter(hr)).prompt.endswith("D. white\nAnswer the option letter directly.")
    synthetic = next(iter(SyntheticDataset(num_samples=1)))
    assert synthetic.prompt.endswith(f"\n(D) {synthetic.options[3]}\n{INSTR}")  # paper style by default


def test_vstar_one_line_options_and_sentence_order_from_files(tmp_path):
    root = make_vstar(tmp_path / "v")
    folder = root / "direct_attributes"
    (folder / "sa_0.json").write_text(json.dumps({
        "target_object": ["cup"], "bbox": [[1, 2, 3, 4]],
        "options": ["The cup is red.", "The cup is dark red.", "The cup is blue.", "The cup is white."]}))
    row = {"image": "direct_attributes/sa_0.jpg", "category": "direct_attributes", "question_id": "0", "label": "B",
           "text": "What is the color of the cup? (A) dark red (B) red (C) blue (D) white"}
    (root / "test_questions.jsonl").write_text(json.dumps(row) + "\n")
    sample = next(iter(VStarBench(path=str(root))))
    assert sample.options == ["dark red", "red", "blue", "white"] and sample.error is None
    assert sample.option_sentences == ["The cup is dark red.", "The cup is red.", "The cup is blue.",
                                       "The cup is white."]


@pytest.mark.parametrize("kwargs,needle", [({"prompt_style": "fancy"}, "dataset.prompt_style"),
                                           ({"benchmark": "vqa"}, "dataset.benchmark")])
def test_bad_style_or_benchmark_is_a_config_error(kwargs, needle):
    with pytest.raises(FocusError, match=needle):
        SyntheticDataset(num_samples=1, **kwargs)


@pytest.mark.parametrize("dataset,benchmark", [("vstar", "vstar"), ("synthetic", "vstar"), ("hrbench4k", "hrbench"),
                                               ("hrbench8k", "hrbench"), ("mme_rw_lite", "mme_rw")])
def test_every_dataset_config_names_its_benchmark(dataset, benchmark):
    from test_configs import compose_cfg
    cfg = compose_cfg([f"dataset={dataset}"])
    assert (cfg.dataset.benchmark, cfg.dataset.prompt_style) == (benchmark, "paper")
    assert (cfg.dataset.loader.benchmark, cfg.dataset.loader.prompt_style) == (benchmark, "paper")  # interpolated
