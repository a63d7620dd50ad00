"""`python -m focus.report <run or sweep folder>`: tables and trade-off plots from run folders (design sections 1, 7).

Reads every `metrics.json` under the folder (no W&B needed) and writes
- `report.md` / `report.csv`: one row per run -- its overrides, method, model (`model.name`: the checkpoint, or the
  tiny model's name), dataset, accuracy under each scoring protocol, mean fp, model calls, language-model prefill
  tokens (focus/core/cost.py), seconds, memory, V* recall;
- `report_categories.csv` (and a section of report.md): accuracy per category under each protocol, per run;
- `pareto.png`: strict accuracy vs mean forward passes (paper Fig. 3 / Table 10), `accuracy_vs_prefill_tokens.png`:
  strict accuracy vs the tokens the language model computed per question (what a forward pass costs: an image
  prefill or a short suffix), and `accuracy_vs_seconds.png`: strict accuracy vs seconds per question; one series per
  method/model/dataset, each point labelled with the overrides that distinguish its run, the Pareto front of each
  series drawn (focus/review/plots.py);
then prints the tables.

`--rescore` first recomputes every run's `metrics.json` from its `samples.jsonl` (the scoring of focus/scoring/), with
no model: runs made before a scoring change, or on another machine, get today's protocols.

Partial results say so (focus/review/completeness.py): the `done` column is "n/expected" ("incomplete" when short or
still running), `--rescore` writes `complete`, `expected` and `running` into metrics.json, and the output (console
and report.md) lists incomplete runs, sweep jobs without metrics.json or without a folder, and runs whose every
sample errored. Nothing in a folder is executed: configs are read as data (json, yaml.safe_load).
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from pathlib import Path

from .comparison import REFERENCE, point_extras, stat_columns, vanilla_rows
from .completeness import done_text, extent, problems
from .plots import tradeoff_plot
from ..harness.records import read_records, write_json
from ..scoring import BENCHMARKS, PROTOCOLS, summarise


def natural_key(path: Path) -> list:
    """Sort key reading digit runs as numbers: job 2 before job 10 (Hydra names jobs 0_..., 1_..., 10_...)."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", str(path))]


def find_runs(root: Path) -> list[Path]:
    return sorted((p.parent for p in root.rglob("metrics.json")), key=natural_key)


IGNORED_OVERRIDES = ("run_dir=", "tiny_cache_dir=", "logger.", "hydra")


def override_items(run: Path) -> list[str] | None:
    """The run's command-line overrides (Hydra's .hydra/overrides.yaml) that change results, or None without it."""
    overrides = run / ".hydra" / "overrides.yaml"
    if not overrides.exists():
        return None
    import yaml
    return [o for o in (yaml.safe_load(overrides.read_text()) or []) if not o.startswith(IGNORED_OVERRIDES)]


def run_overrides(run: Path, root: Path) -> str:
    items = override_items(run)
    if items:
        return " ".join(items)
    return str(run.relative_to(root)) if run != root else run.name


def model_name(config: dict) -> str | None:
    """`model.name` of the run's config; for runs made before that key: tiny_<family>, the checkpoint, the family."""
    model = config.get("model") or {}
    if model.get("name"):
        return str(model["name"])
    if model.get("tiny"):
        return f"tiny_{model.get('family')}"
    return model.get("path") or model.get("family")


def collect(root: Path) -> list[dict]:
    """One row per run folder under `root` (sorted by path); `_overrides` and `_categories` are not table columns."""
    rows = []
    for number, run in enumerate(find_runs(root), 1):
        m = json.loads((run / "metrics.json").read_text())
        config = m.get("config") or {}
        row = {"#": number, "run": run_overrides(run, root), "method": m.get("method"), "model": model_name(config),
               "dataset": (config.get("dataset") or {}).get("name"), "n": m.get("n"), "done": done_text(m),
               "errors": m.get("errors"), "acc_strict": m.get("accuracy_strict"),
               "acc_lenient": m.get("accuracy_lenient"), "acc_lmms_eval": m.get("accuracy_lmms_eval"),
               "acc_vlmevalkit": m.get("accuracy_vlmevalkit"), "mean_fp": m.get("mean_fp"),
               "mean_calls": m.get("mean_calls"), "mean_prefill_tokens": m.get("mean_prefill_tokens"),
               "mean_seconds": m.get("mean_seconds"), "peak_memory_gb": m.get("mean_peak_memory_gb"),
               "recall": m.get("recall"), "_overrides": override_items(run), "_categories": m.get("per_category") or {}}
        row["_choices"] = component_choices(run)
        row.update(stat_columns(m), _vanilla=m.get("vanilla_reference"), _config=config, _ci=m.get("interval_95"),
                   _category_ci=m.get("per_category_interval_95") or {},
                   preset=(config.get("model") or {}).get("preset"))
        row["_run_dir"], row["_metrics"] = run, m
        rows.append(row)
    distinct_overrides(rows)
    name_variants(rows)
    return rows + vanilla_rows(rows)  # the paired vanilla references, fp 0 (focus/review/comparison.py)


COMPONENT_GROUPS = ("targets", "relevance", "proposer", "ranker", "inference_scheme")


def component_choices(run: Path) -> dict:
    """The config-group options a run was composed from (Hydra's `.hydra/hydra.yaml` runtime.choices)."""
    path = run / ".hydra" / "hydra.yaml"
    if not path.exists():
        return {}
    import yaml
    choices = ((yaml.safe_load(path.read_text()) or {}).get("hydra") or {}).get("runtime", {}).get("choices") or {}
    return {g: choices[g] for g in COMPONENT_GROUPS if g in choices}


def distinct_overrides(rows: list[dict]) -> None:
    """The run column keeps only the overrides that are not the same in every row (all of them for one row)."""
    if len(rows) < 2 or any(r["_overrides"] is None for r in rows):
        return
    common = set.intersection(*(set(r["_overrides"]) for r in rows))
    for r in rows:
        r["run"] = " ".join(o for o in r["_overrides"] if o not in common) or "(the overrides all rows share)"


def name_variants(rows: list[dict]) -> None:
    """Rows of one `method.name` composed from different components (Table 3's ablations: relevance=random,
    ranker=none) are named by them: `focus (relevance=random, ranker=none)`."""
    for method in dict.fromkeys(r["method"] for r in rows):
        members = [r for r in rows if r["method"] == method and r["_choices"]]
        varying = [g for g in COMPONENT_GROUPS if len({r["_choices"].get(g) for r in members}) > 1]
        for r in members if varying else []:
            parts = [f"{g}={r['_choices'].get(g)}" for g in varying]
            r["method"] = f"{method} ({', '.join(parts)})"


def _fmt(v, decimals: int | None = 2) -> str:
    if v is None:
        return ""
    if isinstance(v, bool) or not isinstance(v, (int, float)) or decimals is None:
        return str(v)
    return f"{v:.{decimals}f}"


def column_decimals(rows: list[dict], col: str) -> int | None:
    """One number format per column: integers stay integers; a column holding any fraction gets 2 decimals
    (0 from 1000 up: token counts)."""
    values = [r.get(col) for r in rows if isinstance(r.get(col), (int, float)) and not isinstance(r.get(col), bool)]
    if not values or all(isinstance(v, int) for v in values):
        return None
    return 0 if max(abs(v) for v in values) >= 1000 else 2


def _markdown(rows: list[dict], cols: list[str]) -> str:
    decimals = {c: column_decimals(rows, c) for c in cols}
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(_fmt(r.get(c), decimals[c]) for c in cols) + " |" for r in rows]
    return "\n".join(lines)


def _csv(rows: list[dict], cols: list[str], path: Path) -> None:
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)


def category_rows(rows: list[dict]) -> list[dict]:
    """One row per (run, category): n and the accuracy under each protocol (errors counted wrong)."""
    return [{"#": r["#"], "method": r["method"], "model": r["model"], "dataset": r["dataset"], "category": cat or "-",
             "n": c.get("n"), **{p: c.get(p) for p in PROTOCOLS},
             "ci95_strict": _ci_text(((r.get("_category_ci") or {}).get(cat) or {}).get("strict"))}
            for r in rows for cat, c in r["_categories"].items()]


def _ci_text(ci) -> str | None:
    return f"{ci[0]:.1f}–{ci[1]:.1f}" if ci else None


def write_table(rows: list[dict], out: Path) -> str:
    """report.md / report.csv (one row per run) and report_categories.csv; returns the text to print."""
    cols = [c for c in dict.fromkeys(k for r in rows for k in r) if not c.startswith("_")]
    _csv(rows, cols, out / "report.csv")
    cats = category_rows(rows)
    cat_cols = ["#", "method", "model", "dataset", "category", "n", *PROTOCOLS, "ci95_strict"]
    _csv(cats, cat_cols, out / "report_categories.csv")
    text = _markdown(rows, cols)
    cat_text = _markdown(cats, cat_cols)
    (out / "report.md").write_text(
        "# focus report\n\nAccuracy over all samples (errors count wrong): strict = exact letter (paper protocol); "
        "lenient = the focus reading of free-form answers; lmms_eval / vlmevalkit = those harnesses' rules "
        "(judge-free). fp = visual-search forward passes (App. A.2); calls = model invocations (a batched forward "
        "is one); prefill_tokens = language-model input positions computed per question, image tokens included "
        "(README \"Cost per question\"). ci95_* = 95 % Wilson score interval of the accuracy; `vanilla (reference)` rows: "
        "the whole-image answers to the same samples (run.vanilla_reference), fp 0; vanilla_strict, "
        "only_here_vs_vanilla (samples right only under this run / only under vanilla) and p_mcnemar (McNemar's "
        "paired test, exact binomial under 25 discordant pairs) compare each run with it, strict protocol.\n\n" + text +
        "\n\n## Per category\n\nAccuracy [%] per category under each protocol; # is the run's row above.\n\n"
        + cat_text + "\n\n![accuracy vs forward passes](pareto.png)\n\n"
        "![accuracy vs prefill tokens per question](accuracy_vs_prefill_tokens.png)\n\n"
        "![accuracy vs seconds per question](accuracy_vs_seconds.png)\n")
    return text + "\n\nper category (# = run row above):\n" + cat_text


def series_name(row: dict) -> str:
    model = Path(str(row["model"])).name if row.get("model") else "?"
    return f'{row["method"]} · {model} · {row["dataset"]}'


def point_labels(rows: list[dict]) -> list[str]:
    """Per run, the overrides that tell it apart from the other runs of its series (same method, model, dataset):
    `key=value` for each key whose value is not the same in all of them, keyed by its last dotted part unless two
    such keys share it. A run without an override for such a key shows `key=default`."""
    labels = [""] * len(rows)
    for name in dict.fromkeys(series_name(r) for r in rows):
        members = [i for i, r in enumerate(rows) if series_name(r) == name]
        if len(members) < 2:
            continue
        if any(rows[i]["_overrides"] is None for i in members):  # no Hydra record: the run folder names it
            for i in members:
                labels[i] = rows[i]["run"]
            continue
        parsed = {i: dict(o.split("=", 1) if "=" in o else (o, "") for o in rows[i]["_overrides"]) for i in members}
        keys = list(dict.fromkeys(k for i in members for k in parsed[i]))
        varying = [k for k in keys if len({parsed[i].get(k, "default") for i in members}) > 1]
        short = {k: k.rsplit(".", 1)[-1].lstrip("+~") for k in varying}
        clash = {v for v in short.values() if list(short.values()).count(v) > 1}
        for i in members:  # an added config group (`+comparison=vanilla`) is named by its option alone
            labels[i] = ", ".join(parsed[i].get(k, "default") if k.startswith("+") else
                                  f"{k if short[k] in clash else short[k]}={parsed[i].get(k, 'default')}"
                                  for k in varying)
    return labels


PLOT_NOTES = {
    "mean_fp": f"bars: 95 % Wilson intervals; {REFERENCE}: the whole image, fp 0",
    "mean_prefill_tokens": "bars: 95 % Wilson intervals; solid line: vanilla runs over input resolutions",
    "mean_seconds": "seconds depend on the machine that ran them (see each run's metrics.json versions)"}


def plot_tradeoffs(rows: list[dict], out: Path) -> dict[str, list[str]]:
    """pareto.png (accuracy vs mean fp), accuracy_vs_prefill_tokens.png and accuracy_vs_seconds.png; returns each
    file's point labels."""
    labels = point_labels(rows)
    drawn = {}
    for file, key, x_label, title, min_span in (
            ("pareto.png", "mean_fp", "mean forward passes of the visual search per question (fp, App. A.2)",
             "accuracy vs forward passes", 1.0),
            ("accuracy_vs_prefill_tokens.png", "mean_prefill_tokens",
             "mean language-model prefill tokens per question (image tokens included, whole pipeline)",
             "accuracy vs prefill tokens", 100.0),
            ("accuracy_vs_seconds.png", "mean_seconds", "mean seconds per question (wall time, whole pipeline)",
             "accuracy vs time", 0.1)):
        points = [{"series": series_name(r), "x": r[key], "y": r["acc_strict"],
                   "label": "whole image" if r.get("_reference") else label,
                   **point_extras(r, curve=key == "mean_prefill_tokens")}
                  for r, label in zip(rows, labels)]
        drawn[file] = tradeoff_plot(points, out / file, x_label, title, min_span,
                                    include_zero=key != "mean_seconds", note=PLOT_NOTES.get(key))
    return drawn


def rescore(root: Path, benchmark: str | None = None) -> list[Path]:
    """Recompute `metrics.json` of every run folder under `root` from its `samples.jsonl`; no model is loaded.

    The benchmark (which harness rules apply) is `benchmark` if given, else the run's `dataset.benchmark` from its
    metrics.json or `.hydra/config.yaml`; every run's is checked before anything is written. The config, method and
    package versions of the old metrics.json are kept.
    """
    plan = []
    for samples in sorted(p for p in root.rglob("samples.jsonl") if "shards" not in p.parts):
        run = samples.parent
        old = json.loads((run / "metrics.json").read_text()) if (run / "metrics.json").exists() else {}
        config = old.get("config")
        if config is None and (run / ".hydra" / "config.yaml").exists():
            import yaml
            try:  # safe_load: a YAML tag naming Python code is refused, never run
                config = yaml.safe_load((run / ".hydra" / "config.yaml").read_text())
            except yaml.YAMLError as exc:
                if benchmark is None:
                    raise ValueError(f"{run / '.hydra' / 'config.yaml'} is not plain YAML ("
                                     f"{' '.join(str(exc).split())[:120]}); pass --benchmark to score without "
                                     f"it") from None
                config = {}
        if not config and (run / "config_identity.json").exists():  # a run killed before metrics, without .hydra
            try:
                config = json.loads((run / "config_identity.json").read_text()).get("identity")
            except (ValueError, AttributeError):
                config = None
        config = config if isinstance(config, dict) else {}
        bench = benchmark or (config.get("dataset") or {}).get("benchmark")
        if bench not in BENCHMARKS:
            raise ValueError(f"{run}: dataset.benchmark is {bench!r}, not one of {', '.join(BENCHMARKS)}; "
                             f"pass --benchmark")
        plan.append((run, samples, old, config, bench))
    for run, samples, old, config, bench in plan:
        records = read_records(samples)
        metrics = summarise(records, bench)
        metrics.update(method=old.get("method") or (config.get("method") or {}).get("name"), config=config,
                       versions=old.get("versions"), rescored=True, **extent(run, len(records), old))
        write_json(run / "metrics.json", metrics)
    return [p[0] for p in plan]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m focus.report", description=__doc__)
    parser.add_argument("folder", help="a run folder or a sweep folder holding run folders")
    parser.add_argument("--out", default=None, help="where to write report.md/csv and pareto.png (default: folder)")
    parser.add_argument("--rescore", action="store_true",
                        help="first recompute every metrics.json from its samples.jsonl (no model is loaded)")
    parser.add_argument("--benchmark", choices=BENCHMARKS, default=None,
                        help="with --rescore: score as this benchmark instead of the runs' dataset.benchmark")
    parser.add_argument("--wandb-report", action="store_true",
                        help="also build a W&B report over the runs' offline W&B files: <folder>/wandb_report.json")
    parser.add_argument("--upload", action="store_true",
                        help="with --wandb-report: save the report to the W&B project (after `wandb sync` of the "
                             "runs) and print its URL")
    args = parser.parse_args(argv)
    root = Path(args.folder)
    if args.rescore:
        try:
            runs = rescore(root, args.benchmark)
        except ValueError as exc:
            print(f"focus.report: {exc}", file=sys.stderr)
            return 2
        print(f"focus.report: re-scored {len(runs)} run(s) under {root}")
    rows = collect(root)
    if not rows:
        print(f"focus.report: no metrics.json under {root}")
        return 2
    out = Path(args.out) if args.out else root
    out.mkdir(parents=True, exist_ok=True)
    print(write_table(rows, out))
    notes = problems(root, {r["_run_dir"]: r["_metrics"] for r in rows if "_run_dir" in r})  # not the vanilla rows
    if notes:
        print("\n" + "\n".join(notes))
        with (out / "report.md").open("a") as f:
            f.write("\n## Incomplete, missing or failed runs\n\n" + "".join(f"- {n}\n" for n in notes))
    plot_tradeoffs(rows, out)
    print("\nwrote " + ", ".join(str(out / f) for f in ("report.md", "report.csv", "report_categories.csv",
                                                          "pareto.png", "accuracy_vs_prefill_tokens.png",
                                                          "accuracy_vs_seconds.png")))
    if args.wandb_report or args.upload:
        return wandb_report(root, _markdown(rows, [c for c in dict.fromkeys(k for r in rows for k in r)
                                                   if not c.startswith("_")]), args.upload)
    return 0


def wandb_report(root: Path, table: str, upload: bool) -> int:
    """`--wandb-report [--upload]`: the W&B report spec of the sweep (focus/review/wandb_report.py)."""
    from .wandb_report import upload as save_report, write_spec
    try:
        path, spec = write_spec(root, table)
    except ImportError as exc:
        print(f"focus.report: --wandb-report needs {exc.name or 'wandb-workspaces'}: pip install -e . (or pip install "
              "wandb-workspaces)", file=sys.stderr)
        return 2
    except (ValueError, OSError) as exc:
        print(f"focus.report: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {path} (W&B report spec, {len(spec['spec']['blocks'])} blocks)")
    if not upload:
        return 0
    status, line = save_report(root, table)
    print(f"focus.report: {line}", file=sys.stderr if status else sys.stdout)
    return status


if __name__ == "__main__":
    raise SystemExit(main())
