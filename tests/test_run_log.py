"""The run folder keeps what the console said (focus/harness/runlog.py) and `python -m focus.run --help` says what
the command does (focus/harness/cli_help.py)."""

import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from test_configs import CONF
from fixtures import TEST_DEFAULTS

from focus.harness.cli_help import ROOT, help_text, readme_examples
from focus.harness.runner import run


def test_run_log_holds_start_bar_and_summary_and_a_resume_appends(tmp_path, tiny_cache, capsys):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(config_name="config", overrides=[*TEST_DEFAULTS, "dataset.limit=1", "method=vanilla",
                                                       f"tiny_cache_dir={tiny_cache}", "logger.wandb.mode=disabled"])
    assert run(cfg, tmp_path) == 0
    summary = capsys.readouterr().out.strip().splitlines()
    log = (tmp_path / "run.log").read_text().splitlines()
    assert "[focus] start:" in log[0] and "1/1" in log[1]  # the start line, then the bar's last state
    assert [line.split("] - ", 1)[1] for line in log[2:]] == summary  # every summary line, in order
    assert any("accuracy over all samples" in line for line in log)
    assert run(cfg, tmp_path) == 0  # resume: nothing to do, the log grows, nothing is lost
    again = (tmp_path / "run.log").read_text().splitlines()
    assert again[:len(log)] == log and len(again) > len(log)


def test_help_describes_the_command_its_examples_and_every_experiment(monkeypatch, capsys):
    from focus.run import entry
    monkeypatch.setattr(sys, "argv", ["focus.run", "--help"])
    with pytest.raises(SystemExit) as stop:
        entry()
    assert stop.value.code == 0
    page = capsys.readouterr().out
    assert page == help_text() + "\n"
    assert "writes a run folder" in page and "run.log" in page
    readme = (ROOT / "README.md").read_text()
    examples = readme_examples()
    assert len(examples) >= 8 and all(e.split("  #")[0].strip() in " ".join(readme.split()) for e in examples)
    for exp in sorted((ROOT / "experiments").glob("*.yaml")):
        assert f"  {exp.stem} " in page
    assert "model: " + ", ".join(sorted(p.stem for p in (ROOT / "conf" / "model").glob("*.yaml"))) in page
