"""`python -m focus.run ...` inside the test process: the same entry point (`focus.run.entry`: the pre-Hydra checks,
Hydra's command-line parsing, launcher, callbacks and logging, the runner), the same stdout, stderr and exit status,
without the several seconds of interpreter start-up and imports a subprocess costs on a 2-core machine.

Tests keep a real subprocess only where the process boundary is what they test (locks held by another process,
signals, kill -9, `unshare` sandboxes, torchrun, submitit jobs).
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_LOCK = threading.Lock()  # one command at a time: argv, cwd and the standard streams are process-wide


class _Tee(io.StringIO):
    """A captured stream that still has a `fileno` (libraries ask) pointing at the real one."""

    def __init__(self, real):
        super().__init__()
        self._real = real

    def fileno(self) -> int:
        return self._real.fileno()

    def isatty(self) -> bool:
        return False


def run_inprocess(args, cwd: str | os.PathLike = ROOT, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run `python -m focus.run *args` in this process; returns a CompletedProcess (returncode, stdout, stderr)."""
    import torch

    from focus import run as focus_run_module

    torch.set_num_threads(1)  # tiny models: one thread is several times faster than two on a shared CPU
    args = [str(a) for a in args]
    with _LOCK:
        old_argv, old_cwd, old_env = sys.argv, os.getcwd(), dict(os.environ)
        out, err = _Tee(sys.__stdout__), _Tee(sys.__stderr__)
        code = 0
        logging_state = _logging_state()
        try:
            os.environ.update(env or {})
            os.chdir(cwd)
            sys.argv = ["focus.run", *args]
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                try:
                    focus_run_module.entry()
                except SystemExit as exc:
                    code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
                    if not isinstance(exc.code, (int, type(None))):
                        print(exc.code, file=sys.stderr)
                finally:
                    _restore_logging(logging_state)
        finally:
            sys.argv = old_argv
            os.chdir(old_cwd)
            os.environ.clear()
            os.environ.update(old_env)
    return subprocess.CompletedProcess(["focus.run", *args], code, out.getvalue(), err.getvalue())


def run_main(main, argv, cwd: str | os.PathLike = ROOT) -> subprocess.CompletedProcess:
    """Another command's `main(argv) -> status` (e.g. focus.review.report.main) in this process, captured."""
    out, err = _Tee(sys.__stdout__), _Tee(sys.__stderr__)
    argv = [str(a) for a in argv]
    with _LOCK:
        old_cwd = os.getcwd()
        try:
            os.chdir(cwd)
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                try:
                    code = main(argv) or 0
                except SystemExit as exc:
                    code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        finally:
            os.chdir(old_cwd)
    return subprocess.CompletedProcess([getattr(main, "__module__", "main"), *argv], code, out.getvalue(),
                                       err.getvalue())


def _logging_state() -> tuple:
    import logging
    root = logging.getLogger()
    return list(root.handlers), root.level


def _restore_logging(state: tuple) -> None:
    """Close the handlers Hydra configured for the run (its log file, the console stream that is our buffer) and put
    back the ones pytest had on the root logger."""
    import logging
    handlers, level = state
    root = logging.getLogger()
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
            with contextlib.suppress(Exception):
                handler.close()
    for handler in handlers:
        if handler not in root.handlers:
            root.addHandler(handler)
    root.setLevel(level)
