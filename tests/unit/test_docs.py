"""The documentation: README.md stays short enough to read in five minutes, and README.md and
docs/*.md link only to files and headings that exist and name only paths that exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
README_MAX_BYTES = 12 * 1024
PATH_ROOTS = ("postwatch/", "deploy/", "benchmarks/", "tests/", "examples/")

_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")
_HEADING = re.compile(r" {0,3}#{1,6}[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*")
_CODE_SPAN = re.compile(r"(`+)(.+?)(?<!`)\1(?!`)", re.DOTALL)
_LINK = re.compile(r"\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")


def _prose(text: str) -> tuple[str, list[str]]:
    """The text outside fenced code blocks (fenced lines blanked) and its headings."""
    kept: list[str] = []
    headings: list[str] = []
    fence: str | None = None
    for line in text.splitlines():
        opening = _FENCE.match(line)
        if fence is not None:
            if opening and opening.group(1)[0] == fence[0] and len(opening.group(1)) >= len(fence):
                fence = None
            kept.append("")
        elif opening:
            fence = opening.group(1)
            kept.append("")
        else:
            heading = _HEADING.fullmatch(line)
            if heading:
                headings.append(heading.group(1))
            kept.append(line)
    return "\n".join(kept), headings


def anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: its text (links and code as their text), lower
    case, without punctuation other than `-` and `_`, spaces made hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(text: str) -> set[str]:
    """Every heading anchor of a Markdown text; a repeated one gets `-1`, `-2`, ... as on
    GitHub."""
    seen: dict[str, int] = {}
    found: set[str] = set()
    for heading in _prose(text)[1]:
        base = anchor(heading)
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def problems(doc: Path, root: Path) -> list[str]:
    """What is wrong with a Markdown file: relative links to files or headings that do not
    exist, and paths in backticks under `PATH_ROOTS` that `root` does not hold."""
    text = doc.read_text(encoding="utf-8")
    prose = _prose(text)[0]
    found: list[str] = []
    for span in _CODE_SPAN.finditer(prose):
        words = span.group(2).split()
        if words and words[0].startswith(PATH_ROOTS) and not (root / words[0]).exists():
            found.append(f"path `{words[0]}` does not exist")
    for link in _LINK.finditer(_CODE_SPAN.sub("code", prose)):
        target = link.group(1)
        if _SCHEME.match(target):
            continue
        name, _, fragment = target.partition("#")
        linked = (doc.parent / name).resolve() if name else doc
        if not linked.is_file():
            found.append(f"link {target}: no file {name}")
        elif fragment and fragment not in anchors(linked.read_text(encoding="utf-8")):
            found.append(f"link {target}: no heading #{fragment} in {name or doc.name}")
    return found


def test_readme_reads_in_five_minutes() -> None:
    size = len((ROOT / "README.md").read_bytes())
    assert size < README_MAX_BYTES, f"README.md is {size} bytes; move detail into docs/"


@pytest.mark.parametrize("doc", DOCS, ids=lambda doc: str(doc.relative_to(ROOT)))
def test_links_and_paths_resolve(doc: Path) -> None:
    assert problems(doc, ROOT) == []


def test_docs_link_to_one_another() -> None:
    linked = {
        (ROOT / "docs" / name).resolve()
        for name in re.findall(r"\]\(docs/([^)#]+)", (ROOT / "README.md").read_text("utf-8"))
    }
    assert {doc.resolve() for doc in DOCS[1:]} <= linked, "a page of docs/ the README omits"


@pytest.mark.parametrize(
    ("heading", "expected"),
    [
        ("Alert v1", "alert-v1"),
        ("Offline matching (`postwatch match`)", "offline-matching-postwatch-match"),
        ("Reappearance, look-alikes and escalation", "reappearance-look-alikes-and-escalation"),
        ("What `deploy/` holds", "what-deploy-holds"),
        ("Posts → alerts", "posts--alerts"),
        ("snake_case and [a link](x.md)", "snake_case-and-a-link"),
    ],
)
def test_anchors_follow_github(heading: str, expected: str) -> None:
    assert anchor(heading) == expected


def test_broken_links_and_paths_are_found(tmp_path: Path) -> None:
    (tmp_path / "postwatch").mkdir()
    (tmp_path / "postwatch" / "real.py").write_text("")
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "other.md").write_text("# Notes\n\n## Notes\n\n```sh\n# Not a heading\n```\n")
    page = docs / "page.md"
    page.write_text(
        "# Page\n\n"
        "[ok](other.md#notes-1), [ok](#page), [ok](https://example.org/x.md),\n"
        "[missing file](gone.md), [missing heading](other.md#not-a-heading),\n"
        "[missing here](#nowhere), `postwatch/real.py` and `postwatch/gone.py --help`.\n\n"
        "```md\n[inside a fence](fenced.md) `postwatch/fenced.py`\n```\n"
    )
    assert problems(page, tmp_path) == [
        "path `postwatch/gone.py` does not exist",
        "link gone.md: no file gone.md",
        "link other.md#not-a-heading: no heading #not-a-heading in other.md",
        "link #nowhere: no heading #nowhere in page.md",
    ]
