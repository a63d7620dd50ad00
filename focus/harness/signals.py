"""SIGINT / SIGTERM end a run after the record in progress, in one line, with a distinct exit status (design
section 7: nothing already written is lost, the same command resumes).

- The first SIGINT (Ctrl-C) or SIGTERM (what SLURM sends at preemption or the time limit) lets the current sample
  finish and be written; the run then prints `focus: interrupted by SIGTERM after N of M samples; run the same command
  to resume` and exits 128 + the signal number (130 for SIGINT, 143 for SIGTERM), with no traceback and no metrics.
- A second signal ends the run at once (`Interrupted`, a BaseException, so no sample turns it into an error record);
  the record in progress is lost and redone on resume.
- Under submitit (the hydra-submitit launcher, conf/hydra/launcher/slurm.yaml), submitit owns SIGTERM (it ignores it)
  and SIGUSR2 (its checkpoint: the launcher's `checkpoint` hook resubmits the same job, which resumes the same run
  folder). A handler already installed for a signal is kept as the one to call: SIGUSR2 then also waits for the
  current record, and submitit's handler runs at the record boundary (it requeues the job and exits).
"""

from __future__ import annotations

import signal
import sys
import threading

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
HANDOFF_SIGNALS = (signal.SIGUSR2,)  # submitit's checkpoint signal: wait for the record, then call its handler


class Interrupted(BaseException):
    """A second signal: stop now."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def signal_name(signum: int) -> str:
    return signal.Signals(signum).name


class StopSignals:
    """Context manager: while inside, the signals above set `signum` instead of ending the process."""

    def __init__(self):
        self.signum: int | None = None
        self._previous: dict = {}

    def __enter__(self) -> "StopSignals":
        if threading.current_thread() is not threading.main_thread():
            return self
        for sig in STOP_SIGNALS + HANDOFF_SIGNALS:
            prev = signal.getsignal(sig)
            if sig in HANDOFF_SIGNALS and not callable(prev):
                continue  # no launcher's checkpoint to hand off to
            if sig == signal.SIGTERM and callable(prev) and not getattr(prev, "focus_handler", False):
                continue  # a launcher (submitit) owns SIGTERM: leave its handler alone
            self._previous[sig] = prev
            signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for sig, prev in self._previous.items():
            signal.signal(sig, prev)
        self._previous = {}

    def _handle(self, signum, frame) -> None:
        if self.signum is not None:
            raise Interrupted(signum)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + int(self.signum or 0)

    def finish(self, done: int, expected: int | None) -> None:
        """After the last record: say so in one line, hand off to a launcher's checkpoint, or exit 128 + signal."""
        of = f" of {expected}" if expected is not None else ""
        name = signal_name(self.signum)
        prev = self._previous.get(self.signum)
        self.__exit__()
        if self.signum in HANDOFF_SIGNALS and callable(prev):
            print(f"focus: {name} (preemption or time limit) after {done}{of} samples; the launcher requeues the job, "
                  f"which resumes this run folder", file=sys.stderr, flush=True)
            prev(self.signum, None)  # submitit: checkpoint, requeue, exit
        print(f"focus: interrupted by {name} after {done}{of} samples; run the same command to resume",
              file=sys.stderr, flush=True)
        raise SystemExit(self.exit_code)
