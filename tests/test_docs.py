"""Every document the code cites is in the repository: each `docs/...` path and each "design section N" / "design
N.M" reference in focus/, README.md, benchmarks/ and conf/ resolves to a file / a numbered heading of
docs/design.md."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = [ROOT / "README.md", *(p for d in ("focus", "benchmarks", "conf") for p in sorted((ROOT / d).rglob("*"))
                                 if p.suffix in (".py", ".yaml", ".md", ".txt"))]
DOC_PATH = re.compile(r"\bdocs/[A-Za-z0-9_./-]*[A-Za-z0-9_]")
NUMBER = r"\d+(?:\.\d+)?"
DESIGN_REF = re.compile(rf"\bdesign (?:sections? )?({NUMBER}(?:(?:, | and |-| to ){NUMBER})*)")


def design_sections() -> set[str]:
    """"1".."8" of `## N. Title` and "4.2" of `### 4.2 Title` in docs/design.md."""
    text = (ROOT / "docs" / "design.md").read_text()
    return set(re.findall(r"^#{2,3} (\d+(?:\.\d+)?)\.? ", text, flags=re.M))


def references(pattern):
    for path in SOURCES:
        for match in pattern.finditer(path.read_text(errors="replace")):
            yield path.relative_to(ROOT), match


def test_every_docs_path_exists():
    cited = {(str(path), m.group(0)) for path, m in references(DOC_PATH)}
    assert any(ref == "docs/baselines.md" for _, ref in cited)  # the README cites it
    missing = sorted((path, ref) for path, ref in cited if not (ROOT / ref).exists())
    assert not missing, missing


def test_every_design_section_reference_has_its_heading():
    sections = design_sections()
    assert {"1", "2", "3", "4", "4.2", "4.7", "5", "6", "7", "8"} <= sections
    cited = [(str(path), number) for path, m in references(DESIGN_REF)
             for number in re.findall(NUMBER, m.group(1))]
    assert len(cited) >= 30  # the docstrings and `focus.report --help` cite it
    missing = sorted({(path, number) for path, number in cited if number not in sections})
    assert not missing, missing


def test_the_patterns_find_what_they_should():
    """The checker itself: a reference to a section that does not exist is caught."""
    assert re.findall(NUMBER, DESIGN_REF.search("(design sections 2, 7 and 8)").group(1)) == ["2", "7", "8"]
    assert DESIGN_REF.search("design 4.2 sets the defaults").group(1) == "4.2"
    assert DOC_PATH.search("see docs/demo-model-findings.md.").group(0) == "docs/demo-model-findings.md"
    assert "9" not in design_sections() and "4.9" not in design_sections()
