"""Every named reference in the code's comments resolves to an anchor of docs/design.md.

Forms understood (in `.py` files under src/, tests/ and bench/, and in README.md and BENCHMARKS.md):

| form in a comment                         | anchor in docs/design.md          |
|-------------------------------------------|-----------------------------------|
| `seed 002`, `spec 003`                    | `seed-002`, `spec-003`            |
| ``seed 002 `Worker` ``                    | `seed-002-worker` (the entity)    |
| `VM-001`, `VM-001..003`, `FR-004`, `NFR-002` | `vm-001` (each of a range), `fr-004`, `nfr-002` |
| `facts/chromium-profiles.md`              | `facts-chromium-profiles`         |
| `shared/contract.md`                      | `shared-contract`                 |
| `issue 9`, `issues 9 and 10`              | `issue-9`, `issue-10`             |
| `docs/design.md#some-anchor`              | `some-anchor`                     |
| `docs/other.md`                           | the file exists in the repository |
| `BENCHMARKS.md "Tabs"`                    | a heading of BENCHMARKS.md holding that text |

Informal citations of the facts files (`(facts: ...)`, `see facts`, `in the facts`) name no document, so they
cannot resolve: they fail too, except any listed in `KNOWN_INFORMAL` (none now).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
DESIGN = ROOT / "docs" / "design.md"
SCANNED_DIRS = ("src", "tests", "bench")
SCANNED_FILES = ("README.md", "BENCHMARKS.md")

_SEED = re.compile(r"\b(seed|spec) (\d{3})\b(?:'s)?(?: `(\w+)`)?")
_NUMBERED = re.compile(r"\b(VM|NFR|FR)-(\d{3})(?:\.\.(\d{3}))?\b")
_FACTS = re.compile(r"\bfacts/([\w-]+)\.md\b")
_SHARED = re.compile(r"\bshared/([\w-]+)\.md\b")
_ISSUE = re.compile(r"\bissues? (\d+)(?: and (\d+))?\b")
_DOCS = re.compile(r"(?<![\w/.])docs/([\w/.-]+\.md)(?:#([\w-]+))?")
_BENCHMARKS = re.compile(r'\bBENCHMARKS\.md,? "([^"]+)"')
_INFORMAL_FACTS = re.compile(r"\(facts:|\bsee facts\b(?!/)|\bin the facts\b")
_ANCHOR = re.compile(r'<a id="([\w-]+)"></a>')
_LINK = re.compile(r"\]\(#([\w-]+)\)")

# Informal citations allowed to wait for a comment edit: the phrase, and the file of facts it means. Empty:
# every comment names its file. An entry no comment uses fails the test.
KNOWN_INFORMAL: dict[str, str] = {}


@dataclass(frozen=True)
class Reference:
    """One reference found in a file: what it says, where, and what must exist for it to resolve."""

    text: str
    where: str
    anchor: str | None = None  # an anchor of docs/design.md
    path: str | None = None  # a file of the repository
    heading: tuple[str, str] | None = None  # (file, text of one of its headings)


def references(text: str, where: str) -> list[Reference]:
    """Every reference of the forms above in `text` (`where` names the file for messages)."""
    found: list[Reference] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        at = f"{where}:{lineno}"
        for m in _SEED.finditer(line):
            kind, number, entity = m.groups()
            found.append(Reference(m.group(0), at, anchor=f"{kind}-{number}"))
            if entity:
                found.append(Reference(m.group(0), at, anchor=f"seed-{number}-{entity.lower()}"))
        for m in _NUMBERED.finditer(line):
            prefix, first, last = m.groups()
            for n in range(int(first), int(last or first) + 1):
                found.append(Reference(m.group(0), at, anchor=f"{prefix.lower()}-{n:03d}"))
        for m in _FACTS.finditer(line):
            found.append(Reference(m.group(0), at, anchor=f"facts-{m.group(1)}"))
        for m in _SHARED.finditer(line):
            found.append(Reference(m.group(0), at, anchor=f"shared-{m.group(1)}"))
        for m in _ISSUE.finditer(line):
            for number in filter(None, m.groups()):
                found.append(Reference(m.group(0), at, anchor=f"issue-{number}"))
        for m in _DOCS.finditer(line):
            name, anchor = m.groups()
            found.append(Reference(m.group(0), at, path=f"docs/{name}"))
            if anchor:
                if name != "design.md":
                    pytest.fail(f"{at}: anchors are only checked in docs/design.md, not in {m.group(0)}")
                found.append(Reference(m.group(0), at, anchor=anchor))
        for m in _BENCHMARKS.finditer(line):
            found.append(Reference(m.group(0), at, heading=("BENCHMARKS.md", m.group(1))))
    return found


def informal(text: str) -> list[str]:
    """Lines of `text` that cite the facts without naming a file."""
    return [line.strip() for line in text.splitlines() if _INFORMAL_FACTS.search(line)]


def anchors(markdown: str) -> set[str]:
    """The explicit anchors (`<a id="...">`) of a Markdown text."""
    return set(_ANCHOR.findall(markdown))


def unresolved(refs: list[Reference], known: set[str], root: Path) -> list[Reference]:
    """The references whose anchor, file or heading does not exist."""
    missing = []
    for ref in refs:
        if ref.anchor is not None:
            ok = ref.anchor in known
        elif ref.path is not None:
            ok = (root / ref.path).is_file()
        else:
            assert ref.heading is not None
            file, wanted = ref.heading
            lines = (root / file).read_text(encoding="utf-8").splitlines()
            ok = any(wanted in line for line in lines if line.startswith("#"))
        if not ok:
            missing.append(ref)
    return missing


def _scanned_files() -> list[Path]:
    files = [path for folder in SCANNED_DIRS for path in sorted((ROOT / folder).rglob("*.py"))]
    files += [ROOT / name for name in SCANNED_FILES]
    return [path for path in files if path.resolve() != Path(__file__).resolve()]


# --- the repository ------------------------------------------------------------------------------------


def test_every_reference_in_the_code_resolves_in_design_md() -> None:
    known = anchors(DESIGN.read_text(encoding="utf-8"))
    refs: list[Reference] = []
    for path in _scanned_files():
        refs += references(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
    assert len(refs) > 20, "the scan found almost no reference: is it reading the right folders?"
    missing = unresolved(refs, known, ROOT)
    assert not missing, "references docs/design.md does not define:\n" + "\n".join(
        f"  {ref.where}: {ref.text!r} (wants {ref.anchor or ref.path or ref.heading})" for ref in missing
    )


def test_informal_citations_of_the_facts_are_only_the_known_ones() -> None:
    lines = [line for path in _scanned_files() for line in informal(path.read_text(encoding="utf-8"))]
    unknown = [line for line in lines if not any(phrase in line for phrase in KNOWN_INFORMAL)]
    assert not unknown, "cite the facts by file (facts/<name>.md), not informally:\n" + "\n".join(unknown)
    stale = [phrase for phrase in KNOWN_INFORMAL if not any(phrase in line for line in lines)]
    assert not stale, f"KNOWN_INFORMAL lists phrases no comment uses any more: {stale}"
    known = anchors(DESIGN.read_text(encoding="utf-8"))
    assert all(f"facts-{Path(file).stem}" in known for file in KNOWN_INFORMAL.values())


def test_design_md_links_and_anchors_are_consistent() -> None:
    text = DESIGN.read_text(encoding="utf-8")
    ids = _ANCHOR.findall(text)
    assert len(ids) == len(set(ids)), f"anchors defined twice: {sorted({i for i in ids if ids.count(i) > 1})}"
    dangling = sorted(set(_LINK.findall(text)) - set(ids))
    assert not dangling, f"links inside docs/design.md to anchors it does not define: {dangling}"


# --- the checker itself --------------------------------------------------------------------------------


def test_each_form_maps_to_its_anchor() -> None:
    text = "\n".join(
        [
            "x (seed 000): y; seed 002's fresh tab; seed 002 `Worker` z",
            "spec 003 VM-001..003; VM-002 and FR-016, NFR-004",
            "see facts/chromium-profiles.md and shared/contract.md",
            "issue 9; issues 9 and 10; docs/design.md#golden-files",
            'BENCHMARKS.md "Tabs"',
        ]
    )
    refs = references(text, "t.py")
    assert [r.anchor for r in refs if r.anchor] == [
        "seed-000", "seed-002", "seed-002", "seed-002-worker",
        "spec-003", "vm-001", "vm-002", "vm-003", "vm-002", "fr-016", "nfr-004",
        "facts-chromium-profiles", "shared-contract",
        "issue-9", "issue-9", "issue-10", "golden-files",
    ]  # fmt: skip
    assert [r.path for r in refs if r.path] == ["docs/design.md"]
    assert [r.heading for r in refs if r.heading] == [("BENCHMARKS.md", "Tabs")]
    assert refs[0].where == "t.py:1" and refs[-1].where == "t.py:5"


def test_unknown_references_are_reported(tmp_path: Path) -> None:
    (tmp_path / "BENCHMARKS.md").write_text("# Benchmarks\n## Tabs\n", encoding="utf-8")
    refs = references(
        'VM-009; seed 001; seed 002 `Nobody`; facts/none.md; docs/missing.md; BENCHMARKS.md "Nope"; '
        'BENCHMARKS.md "Tabs"',
        "t.py",
    )
    known = {"seed-002", "vm-001"}
    assert [r.anchor or r.path or r.heading for r in unresolved(refs, known, tmp_path)] == [
        "seed-001",
        "seed-002-nobody",
        "vm-009",
        "facts-none",
        "docs/missing.md",
        ("BENCHMARKS.md", "Nope"),
    ]


def test_informal_facts_citations_are_found() -> None:
    text = "a (facts: 30 s)\nb see facts)\nc the plan in the facts, see\n"
    text += "raw facts from the page\ndone(facts);\nfacts/x.md"
    assert informal(text) == ["a (facts: 30 s)", "b see facts)", "c the plan in the facts, see"]
