"""`python -m focus.run [overrides]`: the Hydra entry point (design sections 1, 2, 7).

Config errors (unknown group option, s_min > s_max, missing dataset path, ...) end with ONE line on stderr and exit
status 2 before any model is loaded; so do a run folder in use by another process, a resume with another config and
faults of the machine (disk full, read-only folder, permission denied: focus/harness/runfolder.py). A run whose samples all
succeeded exits 0; one with failed samples exits 1, and so does a multirun in which any job had failed samples
(the sweep's closing summary lists those jobs). SIGINT / SIGTERM end the run after the current record with one
line and exit 130 / 143 (focus/harness/signals.py), also when they come before the first sample.
"""

from __future__ import annotations

import logging
import signal
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.errors import InstantiationException
from hydra.types import RunMode
from omegaconf import DictConfig

from . import FocusError
from .harness.config import register_resolvers
from .harness.runfolder import ENVIRONMENT_ERRNOS, environment_error, writable_problem

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


def error_line(exc: Exception) -> str:
    """One line for an error raised while checking the config, building components or writing the run folder."""
    if isinstance(exc, InstantiationException) and exc.__cause__:
        exc = exc.__cause__
    if isinstance(exc, FocusError):
        return str(exc)
    if isinstance(exc, OSError) and exc.errno in ENVIRONMENT_ERRNOS:
        return environment_error(exc)
    return f"{type(exc).__name__}: {exc}".replace("\n", " ")


def run_dir_argument(argv: list[str]) -> str | None:
    """The folder a command will write: `run_dir=`, else Hydra's default under the current folder; None when
    `hydra.run.dir`/`hydra.sweep.dir` are overridden (Hydra resolves them)."""
    if any(a.startswith(("hydra.run.dir=", "hydra.sweep.dir=")) for a in argv):
        return None
    values = [a.split("=", 1)[1] for a in argv if a.startswith("run_dir=")]
    return values[-1] if values and values[-1] not in ("", "null") else "."


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="config")  # absolute: also as `focus-run`
def main(cfg: DictConfig) -> int:
    logging.getLogger("transformers").setLevel(logging.ERROR)
    logging.raiseExceptions = False  # a log file on a full disk must not print tracebacks; the run reports the fault
    hc = HydraConfig.get()
    multirun = hc.mode == RunMode.MULTIRUN
    try:
        from .harness.validate import check_values
        check_values(cfg)  # type and range of every option, before torch and transformers are imported (seconds)
        from .harness.console import quiet_libraries
        from .harness.runner import run
        quiet_libraries()
        status = run(cfg, hc.runtime.output_dir)
    except (FocusError, ValueError, OSError, InstantiationException) as exc:  # config, run folder, machine
        if multirun:
            raise
        _fail(error_line(exc))
    if status and not multirun:
        sys.exit(status)
    return status


def _early_signal(signum, frame):
    """SIGTERM before the run's own handlers are in place (imports, config, model load): stop at once."""
    from .harness.signals import Interrupted
    raise Interrupted(signum)


_early_signal.focus_handler = True  # focus/harness/signals.py replaces it (a launcher's handler it would keep)


def entry() -> None:
    if any(a in ("--help", "-h") for a in sys.argv[1:]):  # ours (Hydra's generic page: --hydra-help)
        from .harness.cli_help import help_text
        print(help_text())
        sys.exit(0)
    if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:  # a launcher's own handler stays
        signal.signal(signal.SIGTERM, _early_signal)
    try:
        run_dir = run_dir_argument(sys.argv[1:])
        message = check_group_overrides(sys.argv[1:]) or (writable_problem(run_dir) if run_dir else None)
        if message:  # before Hydra, which creates the folder and its log file and would print a stack trace
            _fail(message)
        from .harness.console import forget_sweep_failures, sweep_failed_jobs
        forget_sweep_failures()
        main()
    except KeyboardInterrupt:
        _stopped(signal.SIGINT)
    except BaseException as exc:
        if type(exc).__name__ != "Interrupted":
            raise
        _stopped(exc.signum)
    if sweep_failed_jobs():  # a multirun whose jobs had failed samples (listed in its summary) exits 1, as a run does
        sys.exit(1)


def _stopped(signum: int) -> None:
    """A signal that ended the run before or between records (a second signal, or one before the first sample)."""
    print(f"focus: interrupted by {signal.Signals(signum).name} before the current sample was written; the records "
          f"already written are kept: run the same command to resume", file=sys.stderr, flush=True)
    sys.exit(128 + int(signum))


if __name__ == "__main__":
    entry()
