"""Prompt presets of the harnesses (dataset.prompt_style) and the dataset.benchmark key (design section 6)."""

import pytest

from focus import FocusError
from focus.data.base import build_prompt
from focus.data.hrbench import HRBench
from focus.data.synthetic import SyntheticDataset
from focus.data.vstar import VStarBench
from fixtures import make_hrbench, make_vstar

INSTR = "Answer with the option's letter from the given choices directly."
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
