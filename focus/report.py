"""`python -m focus.report SWEEP_OR_RUN`: the command; the code is focus/review/report.py."""

from .review.report import main

if __name__ == "__main__":
    raise SystemExit(main())
