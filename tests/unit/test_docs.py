"""The README and the manual in docs/ stay true to the tree: links resolve, the README stays short,
the architecture's module map names every module, the settings table every setting."""

from __future__ import annotations

import ast
import re
import unicodedata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
PACKAGE = ROOT / "feedsvc"
GENERATED = {DOCS / "BENCHMARKS.md"}  # written by `make bench`, not by hand
README_MAX_LINES = 160

_FENCE = re.compile(r"^\s*(```|~~~)")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_CODE_SPAN = re.compile(r"(`+)(.+?)\1")
# [text](target "title") and ![alt](target); the text may hold one level of brackets.
_INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_REFERENCE = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$")
_EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)  # http:, https:, mailto: ...


def _markdown_files() -> list[Path]:
    return [README, *sorted(DOCS.glob("*.md"))]


def _prose_lines(text: str) -> list[str]:
    """The lines of a Markdown text outside code blocks (fenced, or indented after a blank line)."""
    kept: list[str] = []
    fenced = False
    indented = False
    previous_blank = True
    for line in text.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
            kept.append("")
            continue
        if fenced:
            kept.append("")
            continue
        blank = not line.strip()
        if line.startswith("    ") and (indented or previous_blank) and not blank:
            indented = True
            kept.append("")
            continue
        if not blank:
            indented = False
        kept.append(line)
        previous_blank = blank
    return kept


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: formatting dropped, lower case, punctuation removed, spaces
    to hyphens (letters of any script, digits, `-` and `_` kept)."""
    text = _CODE_SPAN.sub(lambda m: m.group(2), heading)
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)  # a link keeps its text
    text = re.sub(r"<[^>]+>", "", text)  # inline HTML
    text = text.strip().lower()
    kept = "".join(c for c in text if c in " -_" or unicodedata.category(c)[0] in "LNM")
    return kept.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    found: set[str] = set()
    seen: dict[str, int] = {}
    for line in _prose_lines(path.read_text(encoding="utf-8")):
        match = _HEADING.match(line)
        if match is None:
            continue
        slug = _slug(match.group(2))
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        found.add(slug if count == 0 else f"{slug}-{count}")
    return found


def _links(path: Path) -> list[tuple[int, str]]:
    links: list[tuple[int, str]] = []
    for number, line in enumerate(_prose_lines(path.read_text(encoding="utf-8")), 1):
        prose = _CODE_SPAN.sub("", line)
        links += [(number, m.group(1)) for m in _INLINE_LINK.finditer(prose)]
        if (ref := _REFERENCE.match(prose)) is not None:
            links.append((number, ref.group(1)))
    return links


def _modules() -> list[Path]:
    return sorted(p.relative_to(PACKAGE) for p in PACKAGE.rglob("*.py") if p.name != "__init__.py")


def _packages() -> list[Path]:
    return sorted(p.parent.relative_to(PACKAGE) for p in PACKAGE.rglob("__init__.py") if p.parent != PACKAGE)


def _names(text: str, relative: str) -> bool:
    """Whether `text` names `relative` (a path under feedsvc/) as `feedsvc/<relative>` or `<relative>`."""
    return re.search(rf"(?<![\w/.-])(?:feedsvc/)?{re.escape(relative)}(?![\w])", text) is not None


@pytest.mark.parametrize("path", _markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(path: Path) -> None:
    broken: list[str] = []
    for number, target in _links(path):
        if _EXTERNAL.match(target):
            continue
        file_part, _, anchor = target.partition("#")
        linked = (path.parent / file_part).resolve() if file_part else path
        if not linked.exists():
            broken.append(f"{path.name}:{number}: {target}: no such file")
            continue
        if anchor and linked.suffix == ".md" and anchor not in _anchors(linked):
            broken.append(f"{path.name}:{number}: {target}: no heading with the anchor #{anchor}")
    assert not broken, "\n".join(broken)


def test_docs_exist() -> None:
    for name in ("document-format", "feeds", "newsroom", "operations", "deployment", "websub", "architecture"):
        assert (DOCS / f"{name}.md").is_file(), f"docs/{name}.md is missing"


def test_readme_is_short_and_starts_with_the_two_commands() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines; at most {README_MAX_LINES}"
    top = "\n".join(lines[:40])
    assert "make run" in top and "make test" in top


def test_readme_links_every_manual_page() -> None:
    linked = {target.partition("#")[0] for _, target in _links(README)}
    missing = [p.name for p in DOCS.glob("*.md") if p not in GENERATED and f"docs/{p.name}" not in linked]
    assert not missing, f"README.md links none of: {', '.join(sorted(missing))}"


def test_readme_names_every_package() -> None:
    readme = README.read_text(encoding="utf-8")
    missing = [str(p) for p in _packages() if not _names(readme, f"{p.as_posix()}/")]
    assert not missing, f"README.md's map of the code lacks: {', '.join(missing)}"


def test_architecture_names_every_module() -> None:
    text = (DOCS / "architecture.md").read_text(encoding="utf-8")
    missing = [f"feedsvc/{m.as_posix()}" for m in _modules() if not _names(text, m.as_posix())]
    assert not missing, f"docs/architecture.md does not name: {', '.join(missing)}"


def test_docs_name_no_module_that_is_gone() -> None:
    """A `feedsvc/....py` path in the README or the manual is a file in the tree."""
    stale: list[str] = []
    for path in _markdown_files():
        if path in GENERATED:
            continue
        for named in sorted(set(re.findall(r"(?<![\w/.-])feedsvc/[\w/]+\.py\b", path.read_text(encoding="utf-8")))):
            if not (ROOT / named).is_file():
                stale.append(f"{path.relative_to(ROOT)}: {named}")
    assert not stale, "no such module:\n" + "\n".join(stale)


def test_operations_lists_every_setting() -> None:
    tree = ast.parse((PACKAGE / "settings.py").read_text(encoding="utf-8"))
    names = [node.args[0].value for node in ast.walk(tree)
             if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "Setting"
             and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)]
    assert len(names) > 20, "the settings' SPEC was not found in feedsvc/settings.py"
    text = (DOCS / "operations.md").read_text(encoding="utf-8")
    missing = [name for name in names
               if f"`FEEDSVC_{name.upper()}`" not in text or f"`--{name.replace('_', '-')}`" not in text]
    assert not missing, f"docs/operations.md's settings table lacks: {', '.join(missing)}"


def test_slugs_follow_github() -> None:
    assert _slug("Live watching is proved, not assumed") == "live-watching-is-proved-not-assumed"
    assert _slug("`/healthz`") == "healthz"
    assert _slug("Before a file goes out: `feedsvc check`") == "before-a-file-goes-out-feedsvc-check"
    assert _slug("Rejected files (not published)") == "rejected-files-not-published"
    assert _slug("Access: the editor token") == "access-the-editor-token"
