"""The W&B report of a sweep (focus/review/wandb_report.py): built offline from a real 2-job sweep's offline W&B
runs, every panel over keys the runs logged; `--upload` without a login says so in one line."""

import json
import re

import pytest
from hydra import compose, initialize_config_dir

from test_configs import CONF
from fixtures import TEST_DEFAULTS

from focus.harness.runner import run
from focus.review.report import main as report_main
from focus.review.wandb_report import offline_runs, read_offline_run


@pytest.fixture(scope="module")
def wandb_sweep(tmp_path_factory, tiny_cache):
    """Two runs of one W&B group differing in ranker.n_steps, as a multirun makes them (offline W&B on)."""
    root = tmp_path_factory.mktemp("wandb_sweep")
    for job, steps in enumerate((1, 2)):
        with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
            cfg = compose(config_name="config", overrides=[
                *TEST_DEFAULTS, "dataset.limit=1", f"ranker.n_steps={steps}", f"tiny_cache_dir={tiny_cache}",
                "logger.wandb.mode=offline", "logger.wandb.group=sweep_t", f"logger.wandb.name=n_steps_{steps}",
                "logger.table_rows=1", "logger.image_side=200"])
        assert run(cfg, root / f"{job}_ranker.n_steps={steps}") == 0
    return root


def referenced_keys(spec: dict) -> tuple[set, set, set]:
    """(summary keys, config keys, tables) that the spec's panels and run-set filters name."""
    text = json.dumps(spec)
    summary = set(re.findall(r'"summary(?::|_metrics\.)([^"]+)"', text))
    config = {f"{a}.{b}" for a, b in re.findall(r'"config[:.]([^."]+)\.value\.([^"]+)"', text)}
    config |= set(re.findall(r'"section": "config", "name": "([^"]+)"', text))
    tables = set(re.findall(r'"val": "([^"]+)"', text)) & {"samples"}
    return summary, config, tables


def panels(spec: dict) -> list[dict]:
    return [p for b in spec["spec"]["blocks"] if b["type"] == "panel-grid"
            for p in b["metadata"]["panelBankSectionConfig"]["panels"]]


def test_report_spec_from_a_real_sweep_names_only_logged_keys(wandb_sweep, capsys):
    runs = offline_runs(wandb_sweep)
    assert len(runs) == 2 and {r["group"] for r in runs} == {"sweep_t"}
    assert {r["config"]["ranker.n_steps"] for r in runs} == {1, 2}
    assert "accuracy_strict" in runs[0]["summary"] and runs[0]["tables"] == {"samples"}

    assert report_main([str(wandb_sweep), "--wandb-report"]) == 0
    spec = json.loads((wandb_sweep / "wandb_report.json").read_text())
    logged_summary = set.union(*(r["summary"] for r in runs))
    logged_config = set.union(*(set(r["config"]) for r in runs))
    summary, config, tables = referenced_keys(spec)
    assert summary and summary <= logged_summary, summary - logged_summary
    assert config and config <= logged_config, config - logged_config
    assert tables == {"samples"}

    kinds = [p["viewType"] for p in panels(spec)]
    scatter = {(p["config"]["xAxis"], p["config"]["yAxis"]) for p in panels(spec) if p["viewType"] == "Scatter Plot"}
    assert {("summary:mean_fp", "summary:accuracy_strict"),
            ("summary:mean_prefill_tokens", "summary:accuracy_strict")} <= scatter
    parallel = [p for p in panels(spec) if p["viewType"] == "Parallel Coordinates Plot"]
    assert len(parallel) == 1 and parallel[0]["config"]["columns"][0]["accessor"] == "config:ranker.value.n_steps"
    bars = [p["config"]["metrics"] for p in panels(spec) if p["viewType"] == "Bar Chart"]
    assert any(b and all(m.startswith("summary_metrics.per_category/") for m in b) for b in bars)
    assert "Weave" in kinds
    # one run set per method, each filtered to the sweep's W&B group
    grids = [b for b in spec["spec"]["blocks"] if b["type"] == "panel-grid"]
    filters = json.dumps(grids[0]["metadata"]["runSets"][0]["filters"])
    assert '"name": "group"' in filters and '"sweep_t"' in filters and '"method.name"' in filters


def test_upload_without_login_says_so_in_one_line(wandb_sweep, capsys, monkeypatch, tmp_path):
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("WANDB_CONFIG_DIR", str(tmp_path))  # no settings file, no key
    monkeypatch.setenv("NETRC", str(tmp_path / "netrc"))
    status = report_main([str(wandb_sweep), "--wandb-report", "--upload"])
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert status == 1 and len(err) == 1 and err[0].startswith("focus.report: not logged in to W&B"), err
    # a key but no W&B server (a closed local port): the network is checked before any W&B call
    monkeypatch.setenv("WANDB_API_KEY", "0" * 40)
    monkeypatch.setenv("WANDB_BASE_URL", "http://127.0.0.1:9")
    status = report_main([str(wandb_sweep), "--wandb-report", "--upload"])
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert status == 1 and len(err) == 1 and "is not reachable from this machine" in err[0], err


def test_offline_run_reader_rejects_other_files(tmp_path):
    bad = tmp_path / "run-x.wandb"
    bad.write_bytes(b"not a wandb log")
    with pytest.raises(ValueError, match="not a W&B transaction log"):
        read_offline_run(bad)
