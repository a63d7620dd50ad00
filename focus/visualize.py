"""`python -m focus.visualize RUN`: the command; the code is focus/review/visualize.py."""

from .review.visualize import main

if __name__ == "__main__":
    raise SystemExit(main())
