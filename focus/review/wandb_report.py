"""A W&B report of a sweep, built offline (design section 1: reviewing runs; README "Studies, clusters, GPUs, review").

`python -m focus.report SWEEP --wandb-report` reads the offline W&B runs inside the sweep's run folders
(`<run>/wandb/offline-run-*/run-*.wandb`, the records W&B itself writes) for the keys each run really logged, and
builds with the `wandb-workspaces` report API (what `wandb.apis.reports` wraps) a report over them:

- accuracy (strict; the paired whole-image answer too when the runs log it) against mean forward passes (paper
  Fig. 3 / Table 10) and against prefill tokens per question, one run set per method (`method.name`);
- accuracy per category (a bar per run and category);
- a parallel-coordinates panel over the config keys that differ between the runs (what the sweep swept), then
  accuracy, fp and prefill tokens;
- the per-sample table with its pictures (`samples`, focus/review/wandb_logger.py);
- the local report table (report.md) as text, so the numbers are there before any panel loads.

Every panel names only keys the runs logged (a panel over a key no run has is left out). The spec is written as
`wandb_report.json` (the report view spec W&B stores, `ReportViewspec`). `--upload`, after `wandb sync` of the runs,
saves it to the W&B project and prints its URL; without a login or a network it says so in one line.
"""

from __future__ import annotations

import json
import socket
import struct
from pathlib import Path
from urllib.parse import urlparse

REPORT_FILE = "wandb_report.json"
TABLE_KEY = "samples"  # focus/review/wandb_logger.py logs the per-sample table under this key
ACCURACY = "accuracy_strict"
COSTS = (("mean_fp", "mean forward passes (fp, App. A.2)"), ("mean_prefill_tokens", "mean prefill tokens / question"))
# config subtrees that never tell runs apart as an experiment does (where files go, how they are logged)
NOT_SWEPT = ("_wandb", "run_dir", "tiny_cache_dir", "logger", "hydra", "run.")
_BLOCK = 32768  # W&B's transaction log: LevelDB log format, 32 KiB blocks, 7-byte record headers


def _log_records(path: Path):
    """The payloads of a W&B `.wandb` file (LevelDB log format after the 7-byte `:W&B` header)."""
    data = path.read_bytes()
    if data[:4] != b":W&B":
        raise ValueError(f"{path} is not a W&B transaction log")
    pos, pending = 7, b""
    while pos + 7 <= len(data):
        left = _BLOCK - pos % _BLOCK
        if left < 7:  # block trailer
            pos += left
            continue
        _, size, kind = struct.unpack("<IHB", data[pos:pos + 7])
        chunk, pos = data[pos + 7:pos + 7 + size], pos + 7 + size
        if kind == 1:  # full
            yield chunk
        elif kind == 2:  # first
            pending = chunk
        elif kind == 3:  # middle
            pending += chunk
        elif kind == 4:  # last
            yield pending + chunk
            pending = b""


def flatten(tree: dict, prefix: str = "") -> dict:
    """Nested config dict → {"ranker.n_steps": 2, ...} (W&B's dotted config keys; an empty dict is a leaf)."""
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict) and value:
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def read_offline_run(path: Path) -> dict:
    """What one offline W&B run holds: id, project, group, name, config (flattened), summary keys, table keys."""
    from wandb.proto import wandb_internal_pb2 as pb

    run = {"file": str(path), "config": {}, "summary": set(), "tables": set(), "history": set()}
    for payload in _log_records(path):
        rec = pb.Record()
        rec.ParseFromString(payload)
        kind = rec.WhichOneof("record_type")
        if kind == "run":
            run.update(id=rec.run.run_id, project=rec.run.project, group=rec.run.run_group,
                       name=rec.run.display_name)
            for item in rec.run.config.update:
                run["config"].update(flatten({item.key: json.loads(item.value_json)}))
        elif kind == "config":
            for item in rec.config.update:
                run["config"].update(flatten({item.key: json.loads(item.value_json)}))
        elif kind == "summary":
            for item in rec.summary.update:
                key = item.key or ".".join(item.nested_key)
                top = key.split(".")[0]
                value = json.loads(item.value_json) if item.value_json else None
                if isinstance(value, dict) and value.get("_type", "").startswith("table"):
                    run["tables"].add(key)
                elif top in run["tables"] or key.startswith("_"):
                    continue
                elif key.endswith("._type") and str(value).startswith("table"):
                    run["tables"].add(top)
                else:
                    run["summary"].add(key)
        elif kind == "history":
            run["history"].update(i.key or ".".join(i.nested_key) for i in rec.history.item)
    run["summary"] = {k for k in run["summary"] if k.split(".")[0] not in run["tables"]}
    return run


def offline_runs(root: Path) -> list[dict]:
    """The newest offline W&B run of every run folder under `root` (folders with metrics.json), in path order."""
    runs = []
    for metrics in sorted(Path(root).rglob("metrics.json")):
        files = sorted(metrics.parent.glob("wandb/offline-run-*/run-*.wandb"))
        if files:
            run = read_offline_run(files[-1])
            run["folder"] = str(metrics.parent)
            runs.append(run)
    return runs


def swept_keys(runs: list[dict]) -> list[str]:
    """Config keys whose value is not the same in every run (a run lacking a key counts as its own value); of keys
    that vary alike (an interpolated copy), the shortest."""
    keys = dict.fromkeys(k for r in runs for k in r["config"] if not k.startswith(NOT_SWEPT))
    out, seen = [], set()
    for k in sorted(keys, key=lambda k: (k.count("."), k)):  # `ranker.n_steps` before its copy `method.ranker.n_steps`
        values = tuple(json.dumps(r["config"].get(k), sort_keys=True) for r in runs)
        if len(set(values)) > 1 and values not in seen:
            out.append(k)
            seen.add(values)
    return out


def _logged(runs: list[dict], key: str) -> bool:
    return any(key in r["summary"] for r in runs)


def build_report(root: Path, runs: list[dict], entity: str = "", project: str | None = None,
                 table_markdown: str | None = None):
    """The report (a `wandb_workspaces.reports.v2.Report`) over `runs`; `entity=""` builds it offline."""
    import wandb_workspaces.reports.v2 as wr

    project = project or next((r["project"] for r in runs if r.get("project")), "focus")
    groups = sorted({r["group"] for r in runs if r.get("group")})
    methods = list(dict.fromkeys(str(r["config"].get("method.name")) for r in runs if r["config"].get("method.name")))
    where = " or ".join(f"Group = '{g}'" for g in groups)

    def runset(name: str, method: str | None = None):
        parts = [f"({where})" if len(groups) > 1 else where] if where else []
        if method is not None:
            parts.append(f"Config('method.name') = '{method}'")
        return wr.Runset(entity=entity, project=project, name=name, filters=" and ".join(parts))

    per_method = [runset(m, m) for m in methods] or [runset("runs")]
    everything = [runset("all runs of the sweep")]
    s = wr.SummaryMetric
    vanilla = sorted(k for r in runs for k in r["summary"] if "vanilla" in k and "strict" in k)
    vanilla = list(dict.fromkeys(vanilla))
    cost_panels = []
    for key, label in COSTS:
        if not _logged(runs, key):
            continue
        cost_panels.append(wr.ScatterPlot(title=f"accuracy (strict) vs {label}", x=s(key), y=s(ACCURACY),
                                          layout=wr.Layout(w=12, h=8)))
        for v in vanilla:
            cost_panels.append(wr.ScatterPlot(title=f"vanilla accuracy (whole image, same samples) vs {label}",
                                              x=s(key), y=s(v), layout=wr.Layout(w=12, h=8)))
    bars = [wr.BarPlot(title="accuracy (strict): the method" + (" and vanilla (whole image)" if vanilla else ""),
                       metrics=[s(ACCURACY), *[s(v) for v in vanilla]], orientation="h",
                       layout=wr.Layout(w=24, h=8))]
    categories = list(dict.fromkeys(k for r in runs for k in sorted(r["summary"]) if k.startswith("per_category/")))
    swept = swept_keys(runs)
    columns = [wr.ParallelCoordinatesPlotColumn(metric=wr.Config(k), display_name=k) for k in swept]
    columns += [wr.ParallelCoordinatesPlotColumn(metric=s(k), display_name=k)
                for k in (ACCURACY, *vanilla, *(c for c, _ in COSTS)) if _logged(runs, k)]
    tables = sorted({t for r in runs for t in r["tables"]})
    blocks = [wr.H1(text=f"focus sweep {Path(root).name}"),
              wr.P(text=f"{len(runs)} runs (W&B group {', '.join(groups) or '-'}, project {project}); swept: "
                        f"{', '.join(swept) or 'nothing (one configuration)'}. Accuracy over all samples, errors "
                        f"counted wrong; strict = the exact letter (paper protocol, App. A.2).")]
    if table_markdown:
        blocks += [wr.H2(text="Runs (focus.report)"), wr.MarkdownBlock(text=table_markdown)]
    blocks += [wr.H2(text="Accuracy vs cost, per method"),
               wr.PanelGrid(runsets=per_method, panels=cost_panels + bars)]
    if categories:
        blocks += [wr.H2(text="Accuracy per category"),
                   wr.PanelGrid(runsets=everything, panels=[wr.BarPlot(
                       title="accuracy (strict) per category", metrics=[s(k) for k in categories],
                       orientation="h", layout=wr.Layout(w=24, h=8))])]
    if columns:
        blocks += [wr.H2(text="What the sweep varied"),
                   wr.PanelGrid(runsets=everything, panels=[wr.ParallelCoordinatesPlot(
                       title="swept options → accuracy and cost", columns=columns, layout=wr.Layout(w=24, h=9))])]
    if tables:
        blocks += [wr.H2(text="Samples (pictures: relevance map, ROIs by rank, the crops answered on)"),
                   wr.PanelGrid(runsets=everything, panels=[wr.WeavePanelSummaryTable(
                       table_name=t, layout=wr.Layout(w=24, h=16)) for t in tables])]
    return wr.Report(project=project, entity=entity, title=f"focus: {Path(root).name}"[:128],
                     description=f"built by focus.report from {len(runs)} offline runs", blocks=blocks,
                     width="fluid")


def spec_json(report) -> dict:
    """The report's view spec as W&B stores it (`Report.save()` uploads this)."""
    return json.loads(report._to_model().model_dump_json(by_alias=True, exclude_none=True))


def write_spec(root: Path, table_markdown: str | None = None) -> tuple[Path, dict]:
    runs = offline_runs(root)
    if not runs:
        raise ValueError(f"no offline W&B run under {root} (runs made with logger.wandb.mode=disabled, or online)")
    spec = spec_json(build_report(root, runs, table_markdown=table_markdown))
    path = Path(root) / REPORT_FILE
    path.write_text(json.dumps(spec, indent=1) + "\n", encoding="utf-8")
    return path, spec


def _reachable(url: str, timeout: float = 3.0) -> bool:
    parsed = urlparse(url)
    try:
        socket.create_connection((parsed.hostname, parsed.port or (443 if parsed.scheme == "https" else 80)),
                                 timeout=timeout).close()
        return True
    except OSError:
        return False


def has_api_key(base_url: str) -> bool:
    """A W&B key is configured (WANDB_API_KEY, or the netrc entry `wandb login` writes), checked without network."""
    import netrc
    import os

    if os.environ.get("WANDB_API_KEY"):
        return True
    try:
        entry = netrc.netrc(os.environ.get("NETRC") or None).authenticators(urlparse(base_url).hostname or "")
    except (OSError, netrc.NetrcParseError):
        return False
    return bool(entry and entry[2])


def upload(root: Path, table_markdown: str | None = None) -> tuple[int, str]:
    """Save the report to the runs' W&B project; (exit status, the one line to print: its URL, or why not).
    The login and the network are checked first, so an offline machine gets its answer at once."""
    import os

    base = os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")
    spec = Path(root) / REPORT_FILE
    if not has_api_key(base):
        return 1, ("not logged in to W&B: run `wandb login` (or set WANDB_API_KEY), `wandb sync` the runs, then "
                   f"--upload again; the spec is in {spec}")
    if not _reachable(base):
        return 1, f"W&B ({base}) is not reachable from this machine: the spec is in {spec}"
    try:
        import wandb

        api = wandb.Api(timeout=30)
        entity = os.environ.get("WANDB_ENTITY") or api.default_entity
        report = build_report(root, offline_runs(root), entity=entity, table_markdown=table_markdown).save()
        return 0, f"W&B report: {report.url}"
    except Exception as exc:  # network, permissions, a project never synced
        return 1, (f"W&B report not saved ({type(exc).__name__}: {' '.join(str(exc).split())[:200]}); did `wandb sync` "
                   f"of the runs finish? The spec is in {spec}")
