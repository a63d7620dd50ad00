"""`python -m focus.report <run or sweep folder>`: an offline table and Pareto plot from run folders (design 7).

Reads every `metrics.json` under the folder (no W&B needed) and writes `report.md`, `report.csv` (one row per run:
overrides, accuracy under each scoring protocol, per-category accuracy, mean fp, seconds, memory) and `pareto.png`
(strict accuracy vs mean fp, one series per method, the Pareto front marked), then prints the table.

`--rescore` first recomputes every run's `metrics.json` from its `samples.jsonl` (the scoring of focus/scoring/), with
no model: runs made before a scoring change, or on another machine, get today's protocols.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

from .records import read_records, write_json
from .scoring import BENCHMARKS, summarise


def find_runs(root: Path) -> list[Path]:
    return sorted(p.parent for p in root.rglob("metrics.json"))


def run_overrides(run: Path, root: Path) -> str:
    overrides = run / ".hydra" / "overrides.yaml"
    if overrides.exists():
        import yaml
        items = [o for o in (yaml.safe_load(overrides.read_text()) or [])
                 if not o.startswith(("run_dir=", "tiny_cache_dir=", "logger.", "hydra"))]
        if items:
            return " ".join(items)
    return str(run.relative_to(root)) if run != root else run.name


def collect(root: Path) -> list[dict]:
    rows = []
    for run in find_runs(root):
        m = json.loads((run / "metrics.json").read_text())
        row = {"run": run_overrides(run, root), "method": m.get("method"),
               "model": (m.get("config") or {}).get("model", {}).get("family"),
               "dataset": (m.get("config") or {}).get("dataset", {}).get("name"), "n": m.get("n"),
               "errors": m.get("errors"), "acc_strict": m.get("accuracy_strict"),
               "acc_lenient": m.get("accuracy_lenient"), "acc_lmms_eval": m.get("accuracy_lmms_eval"),
               "acc_vlmevalkit": m.get("accuracy_vlmevalkit"), "mean_fp": m.get("mean_fp"),
               "mean_seconds": m.get("mean_seconds"), "peak_memory_gb": m.get("mean_peak_memory_gb"),
               "recall": m.get("recall")}
        for cat, c in (m.get("per_category") or {}).items():
            row[f"strict[{cat}]"] = c.get("strict")
        rows.append(row)
    return rows


def _fmt(v) -> str:
    if v is None:
        return ""
    return f"{v:.2f}" if isinstance(v, float) else str(v)


def write_table(rows: list[dict], out: Path) -> str:
    cols = list(dict.fromkeys(k for r in rows for k in r))
    with (out / "report.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols)
        w.writeheader()
        w.writerows(rows)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(_fmt(r.get(c)) for c in cols) + " |" for r in rows]
    text = "\n".join(lines)
    (out / "report.md").write_text("# focus report\n\nAccuracy over all samples (errors count wrong): strict = exact "
                                   "letter (paper protocol); lenient = the focus reading of free-form answers; "
                                   "lmms_eval / vlmevalkit = those harnesses' rules (judge-free). fp = visual-search "
                                   "forward passes (App. A.2).\n\n" + text + "\n")
    return text


def pareto_front(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Points not dominated by another with fewer (or equal) fp and higher (or equal) accuracy."""
    front, best = [], float("-inf")
    for fp, acc in sorted(points, key=lambda p: (p[0], -p[1])):
        if acc > best:
            front.append((fp, acc))
            best = acc
    return front


def plot_pareto(rows: list[dict], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    series: dict = {}
    for r in rows:
        if r["acc_strict"] is not None:
            series.setdefault(f'{r["method"]} ({r["model"]}, {r["dataset"]})', []).append(
                (r["mean_fp"] or 0.0, r["acc_strict"]))
    for label, pts in series.items():
        ax.scatter([p[0] for p in pts], [p[1] for p in pts], label=label)
        front = pareto_front(pts)
        ax.plot([p[0] for p in front], [p[1] for p in front], linestyle="--")
    ax.set_xlabel("mean forward passes of the visual search (fp)")
    ax.set_ylabel("accuracy, strict [%]")
    ax.set_title("accuracy vs forward passes")
    ax.grid(alpha=0.3)
    if series:
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


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
            config = yaml.safe_load((run / ".hydra" / "config.yaml").read_text())
        config = config or {}
        bench = benchmark or (config.get("dataset") or {}).get("benchmark")
        if bench not in BENCHMARKS:
            raise ValueError(f"{run}: dataset.benchmark is {bench!r}, not one of {', '.join(BENCHMARKS)}; "
                             f"pass --benchmark")
        plan.append((run, samples, old, config, bench))
    for run, samples, old, config, bench in plan:
        metrics = summarise(read_records(samples), bench)
        metrics.update(method=old.get("method") or (config.get("method") or {}).get("name"), config=config,
                       versions=old.get("versions"), rescored=True)
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
    plot_pareto(rows, out / "pareto.png")
    print(f"\nwrote {out / 'report.md'}, {out / 'report.csv'}, {out / 'pareto.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
