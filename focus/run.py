"""`python -m focus.run [overrides]`: the Hydra entry point (design sections 1, 2, 7).

Config errors (unknown group option, s_min > s_max, missing dataset path, ...) end with ONE line on stderr and exit
status 2 before any model is loaded. A run whose samples all succeeded exits 0; one with failed samples exits 1.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.errors import InstantiationException
from hydra.types import RunMode
from omegaconf import DictConfig

from . import FocusError
from .config import register_resolvers

CONF_DIR = Path(__file__).resolve().parent.parent / "conf"
GROUPS = ("model", "dataset", "relevance", "proposer", "ranker", "inference_scheme", "targets", "method", "logger")

register_resolvers()


def check_group_overrides(argv: list[str], conf_dir: Path = CONF_DIR) -> str | None:
    """One-line message for `group=option` overrides naming an option that has no yaml file, else None."""
    for arg in argv:
        if "=" not in arg or arg.startswith(("-", "+", "~", "hydra")):
            continue
        key, value = arg.split("=", 1)
        if key not in GROUPS:
            continue
        for option in value.split(","):
            if option and not (conf_dir / key / f"{option}.yaml").exists():
                choices = sorted(p.stem for p in (conf_dir / key).glob("*.yaml"))
                return f"focus: unknown {key} '{option}'; choose one of: {', '.join(choices)}"
    return None


def _fail(message: str) -> None:
    print(message if message.startswith("focus:") else f"focus: error: {message}", file=sys.stderr, flush=True)
    sys.exit(2)


@hydra.main(version_base="1.3", config_path="../conf", config_name="config")
def main(cfg: DictConfig) -> int:
    logging.getLogger("transformers").setLevel(logging.ERROR)
    from .console import quiet_libraries
    from .runner import run
    quiet_libraries()
    hc = HydraConfig.get()
    multirun = hc.mode == RunMode.MULTIRUN
    try:
        status = run(cfg, hc.runtime.output_dir)
    except FocusError as exc:
        if multirun:
            raise
        _fail(str(exc))
    except (ValueError, FileNotFoundError, InstantiationException) as exc:  # building components from config
        if multirun:
            raise
        cause = exc.__cause__ if isinstance(exc, InstantiationException) and exc.__cause__ else exc
        _fail(str(cause) if isinstance(cause, FocusError) else f"{type(cause).__name__}: {cause}".replace("\n", " "))
    if status and not multirun:
        sys.exit(status)
    return status


def entry() -> None:
    message = check_group_overrides(sys.argv[1:])
    if message:
        _fail(message)
    main()


if __name__ == "__main__":
    entry()
