"""The report's comparison columns and rows: every method beside vanilla, with its uncertainty (paper Tables 3, 10).

- `stat_columns`: per run, each protocol's 95 % Wilson interval (`ci95_<protocol>`, metrics.json `interval_95`) and,
  for a run with a paired vanilla reference (`run.vanilla_reference`), the vanilla accuracy on the same samples, the
  McNemar counts right-only-here / right-only-vanilla and its p-value (strict protocol; every protocol's test is in
  metrics.json `vanilla_reference.mcnemar`).
- `vanilla_rows`: one row per distinct vanilla reference (model, dataset, answer scheme, resolution preset, samples),
  method `vanilla (reference)`, fp 0, its own prefill tokens and seconds: the report's tables and plots show it
  beside the methods, per category too.
"""

from __future__ import annotations

from ..scoring import PROTOCOLS

REFERENCE = "vanilla (reference)"


def interval(ci) -> str | None:
    return f"{ci[0]:.1f}–{ci[1]:.1f}" if ci else None


def stat_columns(metrics: dict) -> dict:
    ci = metrics.get("interval_95") or {}
    out = {f"ci95_{p}": interval(ci.get(p)) for p in PROTOCOLS}
    ref = metrics.get("vanilla_reference")
    if ref:
        test = ref["mcnemar"]["strict"]
        out.update(vanilla_strict=ref["accuracy"]["strict"], vanilla_ci95=interval(ref["interval_95"]["strict"]),
                   only_here_vs_vanilla=f"{test['right_only_here']}/{test['right_only_vanilla']}",
                   p_mcnemar=f"{test['p_value']:.3g}")  # 3 significant digits: a p-value is not a %
    return out


def answer_scheme(config: dict) -> str | None:
    return (config.get("inference_scheme") or {}).get("answer")


def preset(config: dict) -> str | None:
    return (config.get("model") or {}).get("preset")


def vanilla_rows(rows: list[dict]) -> list[dict]:
    """Rows for the paired vanilla references of `rows` (each row's `_vanilla`, `_config`), one per distinct
    reference; numbered after the last row."""
    out: dict[tuple, dict] = {}
    for r in rows:
        ref = r.get("_vanilla")
        if not ref:
            continue
        config = r.get("_config") or {}
        key = (r["model"], r["dataset"], answer_scheme(config), preset(config), ref["n"],
               tuple(round(ref["accuracy"][p] or 0.0, 6) for p in PROTOCOLS))
        if key in out:
            out[key]["_paired"].append(r["#"])
            continue
        ci = ref.get("interval_95") or {}
        out[key] = {"method": REFERENCE, "model": r["model"], "dataset": r["dataset"], "n": ref["n"], "errors": None,
                    "preset": preset(config),
                    **{f"acc_{p}": ref["accuracy"][p] for p in PROTOCOLS},
                    **{f"ci95_{p}": interval(ci.get(p)) for p in PROTOCOLS},
                    "mean_fp": 0, "mean_calls": None, "mean_prefill_tokens": ref.get("mean_prefill_tokens"),
                    "mean_seconds": ref.get("mean_seconds"), "_paired": [r["#"]], "_overrides": [],
                    "_categories": {cat: {k: v for k, v in c.items() if k in ("n", *PROTOCOLS)}
                                    for cat, c in (ref.get("per_category") or {}).items()},
                    "_ci": ci, "_category_ci": {cat: c.get("ci") or {} for cat, c in (ref.get("per_category") or {}).items()},
                    "_reference": True}
    start = max((r["#"] for r in rows), default=0)
    result = []
    for i, row in enumerate(out.values(), 1):
        row["#"] = start + i
        row["run"] = "whole image, same samples as #" + ", #".join(str(n) for n in row["_paired"])
        result.append(row)
    return result


def point_extras(row: dict, curve: bool = True) -> dict:
    """What a plot point of `row` carries besides x and y: its strict interval and whether its series is a curve
    (plain vanilla runs, e.g. over input resolutions in experiments/budget_matched.yaml)."""
    ci = (row.get("_ci") or {}).get("strict")
    return {"lo": ci[0] if ci else None, "hi": ci[1] if ci else None, "curve": curve and row.get("method") == "vanilla"}
