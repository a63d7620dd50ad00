"""`python -m focus.visualize <run folder> [--ids a b] [--limit n]`: one picture per sample and a contact sheet.

Writes `<run>/viz/<id>.png` (focus/review/plots.py `sample_figure`: caption with question, targets, prediction and label;
each target's relevance map as a heat map with its colour bar; ROIs numbered by rank and coloured by existence
confidence; the chosen crop(s) beside) and `<run>/viz/index.html`, a page with every picture that filters them by
right/wrong and by the method's answer against the whole-image (vanilla) one. A run made without
`method.save_maps=true` kept no relevance maps: they are recomputed for the samples drawn with the run's model
(focus/review/maps.py; `--no-recompute`: pictures without maps, and the command says so). Images are read again from
the run's dataset (its config is in metrics.json or, for a run killed before it was written, in the config identity of
the run folder, focus/harness/runfolder.py), rebuilt only from this package's registered dataset loaders with plain
values (focus/review/safe_config.py): a folder's config never runs code. A folder it cannot use, or whose config names
anything else: one line, exit 2.
"""

from __future__ import annotations

import argparse
import html
import json
import re
import sys
from pathlib import Path

from .. import FocusError
from .maps import can_recompute, recompute_maps
from .plots import SAMPLE_SIZE_PX, sample_figure, save
from ..harness.records import read_records

NO_MAPS = ("{run} kept no relevance maps (it ran without method.save_maps=true): the pictures show ROIs and crops "
           "only. For heat maps, run again with method.save_maps=true (e.g. into a new run_dir).")


def run_config(run_dir: Path) -> dict:
    """The resolved config of a run: from metrics.json, or from the config identity its start wrote."""
    from ..harness.runfolder import IDENTITY_FILE

    for name, key in (("metrics.json", "config"), (IDENTITY_FILE, "identity")):
        file = run_dir / name
        if file.exists():
            try:
                config = json.loads(file.read_text())[key]
                config["dataset"]["loader"]
                return config
            except (ValueError, KeyError, TypeError) as exc:
                raise FocusError(f"{file} holds no dataset config ({type(exc).__name__}: {exc})") from None
    raise FocusError(f"{run_dir} has neither metrics.json nor {IDENTITY_FILE}: not a focus run folder")


def file_name(sample_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", str(sample_id)) + ".png"


def outcome(rec: dict) -> str:
    """The method's strict verdict against the whole-image (vanilla) answer of the same sample, when recorded."""
    if "vanilla_prediction" not in rec:
        return "no vanilla answer"
    mine, vanilla = bool(rec.get("strict")), bool((rec.get("vanilla_correct") or {}).get("strict"))
    return {(True, True): "both right", (True, False): "method right, vanilla wrong",
            (False, True): "method wrong, vanilla right", (False, False): "both wrong"}[(mine, vanilla)]


OUTCOMES = ("method right, vanilla wrong", "method wrong, vanilla right", "both right", "both wrong",
            "no vanilla answer")
_FILTER_JS = """<script>
function apply(){const v=document.getElementById('verdict').value, o=document.getElementById('outcome').value;
let n=0; for(const f of document.querySelectorAll('figure')){const show=(!v||f.dataset.verdict===v)&&
(!o||f.dataset.outcome===o); f.style.display=show?'':'none'; n+=show;}
document.getElementById('count').textContent=n;}
</script>"""


def contact_sheet(entries: list[tuple[str, dict]], out_dir: Path, title: str, sizes: dict | None = None) -> Path:
    """`index.html` in `out_dir`: every picture (file name, record) with a one-line caption, in order, and two
    filters: right/wrong (strict) and the method's answer against vanilla's (`run.vanilla_reference`)."""
    rows, sizes = [], sizes or {}
    counts = {o: 0 for o in OUTCOMES}
    for name, rec in entries:
        verdict = "right" if rec.get("strict") else "wrong"
        kind = outcome(rec)
        counts[kind] += 1
        vanilla = f", vanilla {rec.get('vanilla_prediction')!r}" if "vanilla_prediction" in rec else ""
        cap = (f"{rec['id']}: prediction {rec.get('prediction')!r}{vanilla}, label {rec.get('label')} "
               f"(strict {verdict}; {kind}), fp {rec.get('fp', 0)}")
        w, h = sizes.get(name, SAMPLE_SIZE_PX)
        rows.append(f'<figure data-verdict="{verdict}" data-outcome="{html.escape(kind)}"><a href="{html.escape(name)}">'
                    f'<img src="{html.escape(name)}" loading="lazy" width="{w}" height="{h}" '
                    f'alt="{html.escape(str(rec["id"]))}"></a><figcaption>{html.escape(cap)}</figcaption></figure>')
    options = "".join(f'<option value="{html.escape(o)}">{html.escape(o)} ({n})</option>'
                      for o, n in counts.items() if n)
    right = sum(1 for _, r in entries if r.get("strict"))
    controls = (f'<p>Show: <select id="verdict" onchange="apply()"><option value="">right and wrong</option>'
                f'<option value="right">right ({right})</option><option value="wrong">wrong ({len(entries) - right})'
                f'</option></select> <select id="outcome" onchange="apply()"><option value="">any outcome against '
                f'vanilla</option>{options}</select> — <span id="count">{len(entries)}</span> shown.</p>')
    page = (f"<!doctype html>\n<html><head><meta charset='utf-8'><title>{html.escape(title)}</title><style>"
            "body{font-family:sans-serif;margin:1em} img{max-width:100%;height:auto;border:1px solid #ccc} "
            "figure{margin:0 0 2em 0} figcaption{font-family:monospace}</style>" + _FILTER_JS + "</head><body>\n"
            f"<h1>{html.escape(title)}</h1>\n<p>{len(entries)} samples. Click a picture for full size.</p>\n"
            + controls + "\n" + "\n".join(rows) + "\n</body></html>\n")
    path = out_dir / "index.html"
    path.write_text(page, encoding="utf-8")
    return path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m focus.visualize", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir")
    parser.add_argument("--ids", nargs="*", default=None, help="sample ids to draw (default: the first --limit)")
    parser.add_argument("--limit", type=int, default=8, help="samples to draw when --ids is not given")
    parser.add_argument("--out", default=None, help="output folder (default: <run>/viz)")
    parser.add_argument("--no-recompute", action="store_true",
                        help="do not recompute relevance maps the run did not keep (that loads the run's model)")
    args = parser.parse_args(argv)
    try:
        return draw(Path(args.run_dir), args.ids, args.limit, args.out, recompute=not args.no_recompute)
    except (FocusError, OSError, ValueError) as exc:
        print(f"focus.visualize: {exc}", file=sys.stderr)
        return 2


def draw(run_dir: Path, ids, limit: int, out, recompute: bool = True) -> int:
    if not (run_dir / "samples.jsonl").exists():
        raise FocusError(f"{run_dir} has no samples.jsonl: not a run folder, or no sample has finished yet")
    records = read_records(run_dir / "samples.jsonl")
    if not records:
        print(f"focus.visualize: no records in {run_dir / 'samples.jsonl'}", file=sys.stderr)
        return 2
    config = run_config(run_dir)
    from .safe_config import dataset_from_config
    dataset = dataset_from_config(config["dataset"]["loader"], f"{run_dir} config", limit=None)  # refused first
    failed = [r["id"] for r in records if r.get("error")]
    wanted = [r for r in records if not r.get("error") and (ids is None or r["id"] in ids)]
    if ids is None:
        wanted = wanted[:limit]
    if failed:
        print(f"focus.visualize: skipping {len(failed)} failed sample(s) (no picture to draw): "
              f"{', '.join(failed[:10])}{' ...' if len(failed) > 10 else ''}", file=sys.stderr)
    if not wanted:
        print("focus.visualize: no sample to draw", file=sys.stderr)
        return 2
    by_id = {r["id"]: r for r in wanted}
    images = {}
    for sample in dataset:
        if sample.id in by_id and sample.id not in images:
            images[sample.id] = sample.load_image()
            if len(images) == len(by_id):
                break
    if not any(r.get("relevance_maps") for r in wanted):
        done = 0
        if recompute and can_recompute(config):
            print(f"focus.visualize: {run_dir} kept no relevance maps (method.save_maps=false): recomputing them "
                  f"for the {len(images)} sample(s) drawn with the run's model", file=sys.stderr)
            done = recompute_maps(config, [(by_id[i], im) for i, im in images.items()])
        if not done:
            print("focus.visualize: " + NO_MAPS.format(run=run_dir), file=sys.stderr)
    out_dir = Path(out) if out else run_dir / "viz"
    out_dir.mkdir(parents=True, exist_ok=True)
    drawn, sizes = {}, {}
    for sample_id in by_id:
        if sample_id in images:
            name = file_name(sample_id)
            fig = sample_figure(images[sample_id], by_id[sample_id])
            print(save(fig, out_dir / name))
            drawn[sample_id] = name
            sizes[name] = tuple(round(v) for v in fig.get_size_inches() * fig.dpi)
    missing = [i for i in by_id if i not in drawn]
    if missing:
        print(f"focus.visualize: {len(missing)} id(s) not found in the run's dataset: {', '.join(missing[:10])}",
              file=sys.stderr)
    sheet = contact_sheet([(drawn[i], by_id[i]) for i in by_id if i in drawn], out_dir, f"focus samples: {run_dir}",
                          sizes)
    print(sheet)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
