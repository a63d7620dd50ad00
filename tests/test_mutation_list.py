"""The mutation list (tests/mutations.py) stays in step with the code: every original line is still there, once."""

import pytest

from mutations import MUTATIONS, occurrences


@pytest.mark.parametrize("mutation", MUTATIONS, ids=lambda m: m.name)
def test_each_mutation_still_applies(mutation):
    assert len(occurrences(mutation)) == 1, (
        f"{mutation.file} no longer holds this line once; update tests/mutations.py: {mutation.original!r}")
    assert mutation.mutated != mutation.original


def test_names_are_unique():
    names = [m.name for m in MUTATIONS]
    assert len(names) == len(set(names))
