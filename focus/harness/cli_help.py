"""`python -m focus.run --help`: what the command does, the README's example commands, the experiments of
`experiments/` and the config groups (design section 1). Cheap: reads text files only, imports nothing heavy, so the
page appears at once; Hydra's own flags stay under `--hydra-help`."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DESCRIPTION = """\
python -m focus.run [--multirun|-m] [--config-dir DIR --config-name NAME] [key=value ...]

Runs FOCUS (training-free visual cropping for fine-grained VQA, guided by the MLLM's KV cache; Zhong et al.,
NeurIPS 2025) or a baseline (vanilla, ZoomEye, ViCrop) over a dataset and writes a run folder: samples.jsonl (one
record per question), metrics.json (accuracies under four scoring protocols, per category, forward passes, cost),
run.log (what the console said), the offline W&B run. With no arguments: FOCUS with the packaged demo model on 40
demo_scenes questions, vanilla beside it, about a minute on a CPU, offline. Config errors: one line, exit 2, before
any model loads; failed samples: exit 1. Same run_dir again = resume. Review: python -m focus.report FOLDER
[--wandb-report], python -m focus.visualize RUN."""
FALLBACK_EXAMPLES = ["python -m focus.run", "python -m focus.run model=llava15 dataset=vstar",
                     "python -m focus.run -m proposer.s_max=5,7,9",
                     "python -m focus.run --config-dir experiments --config-name nsteps_pareto"]


def readme_examples(readme: Path = ROOT / "README.md", limit: int = 14) -> list[str]:
    """The `python -m focus.run ...` lines of the README's bash blocks, in order, each once."""
    try:
        text = readme.read_text(encoding="utf-8")
    except OSError:
        return FALLBACK_EXAMPLES
    lines = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            if line.strip().startswith("python -m focus.run"):
                command, _, comment = line.partition("  #")
                command = " ".join(command.split())
                lines.append(f"{command:<58}  # {comment.strip()}" if comment.strip() else command)
    return list(dict.fromkeys(lines))[:limit] or FALLBACK_EXAMPLES


def experiments(folder: Path = ROOT / "experiments") -> list[tuple[str, str]]:
    """(name, first comment line) of every `experiments/*.yaml`."""
    out = []
    for path in sorted(folder.glob("*.yaml")):
        first = next((line.lstrip("# ").strip() for line in path.read_text(encoding="utf-8").splitlines()
                      if line.startswith("#")), "")
        out.append((path.stem, first))
    return out


def groups(conf: Path = ROOT / "conf") -> list[tuple[str, list[str]]]:
    return [(d.name, sorted(p.stem for p in d.glob("*.yaml"))) for d in sorted(conf.iterdir())
            if d.is_dir() and d.name != "hydra"]


def help_text() -> str:
    parts = [DESCRIPTION, "", "Examples (README):"] + [f"  {e}" for e in readme_examples()]
    found = experiments()
    if found:
        parts += ["", "Experiments (python -m focus.run --config-dir experiments --config-name NAME; append "
                      "model=tiny_llava15 dataset=synthetic dataset.limit=2 for a CPU smoke run):"]
        width = max(len(n) for n, _ in found)
        parts += [f"  {n:<{width}}  {d}" for n, d in found]
    if (ROOT / "conf").is_dir():
        parts += ["", "Config groups (group=option):"] + [f"  {g}: {', '.join(opts)}" for g, opts in groups()]
    parts += ["", "More: README.md; Hydra's own flags: python -m focus.run --hydra-help; "
                  "the composed config: python -m focus.run --cfg job"]
    return "\n".join(parts)
