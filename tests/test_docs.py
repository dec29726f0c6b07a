"""The repository's documentation: docs/ exists, covers every figure, and no file points at a missing file."""

import ast
import fnmatch
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
SCANNED = ("lazyrich", "tests", "benchmarks", "examples", "docs")
# Notes that live outside the repository and must never be referred to from it (spelled in pieces so that
# this file does not mention them itself).
OUTSIDE_NOTES = tuple(stem + ".md" for stem in ("papers", "anchors", "style"))
TEXT_SUFFIXES = {".py", ".md", ".toml", ".json", ".txt", ".sh", ".ipynb", ".cfg", ".yaml", ".yml"}
# A repository path mentioned in prose: a top-level folder of the repository, then a path.
PATH = re.compile(r"(?<![\w/.-])((?:lazyrich|tests|benchmarks|examples|docs)/[\w./*<>{}-]*[\w*>}])")
# A Markdown file name (any folder).
MARKDOWN = re.compile(r"(?<![\w/.-])([\w./-]*\w\.md)\b")


def _repo_files() -> list[str]:
    files = []
    for top in (*SCANNED, "README.md", "pyproject.toml"):
        path = ROOT / top
        if path.is_file():
            files.append(top)
        elif path.is_dir():
            for p in path.rglob("*"):
                if p.is_file() and "__pycache__" not in p.parts and not p.name.startswith("."):
                    files.append(p.relative_to(ROOT).as_posix())
    return sorted(files)


FILES = _repo_files()
TEXT_FILES = [f for f in FILES if pathlib.Path(f).suffix in TEXT_SUFFIXES or f == "README.md"]


def _as_pattern(mention: str) -> str:
    """Placeholders in a mentioned path (``<name>``, ``{a,b}``, ``NAME``, ``DIR``) become wildcards."""
    pattern = re.sub(r"<[^>]*>?|\{[^}]*\}?", "*", mention)
    return "/".join(re.sub(r"^[A-Z_]{3,}(?=\.|$)", "*", part) for part in pattern.split("/"))


def _exists(mention: str) -> bool:
    pattern = _as_pattern(mention.rstrip("."))
    if any(c in pattern for c in "*?["):
        return any(fnmatch.fnmatch(f, pattern) or fnmatch.fnmatch(f, pattern + "/*") for f in FILES)
    return pattern in FILES or any(f.startswith(pattern + "/") for f in FILES)


@pytest.mark.parametrize("name", OUTSIDE_NOTES)
def test_no_file_mentions_the_outside_notes(name):
    offenders = [f for f in TEXT_FILES if name in (ROOT / f).read_text(errors="replace")]
    assert not offenders, f"{name} is not in the repository but is mentioned in {offenders}"


def test_every_mentioned_repository_path_exists():
    missing = []
    for f in TEXT_FILES:
        for match in PATH.finditer((ROOT / f).read_text(errors="replace")):
            if not _exists(match.group(1)):
                missing.append(f"{f}: {match.group(1)}")
    assert not missing, "mentioned paths that are not in the repository:\n" + "\n".join(missing)


def test_every_mentioned_markdown_file_exists():
    names = {pathlib.Path(f).name for f in FILES} | set(FILES)
    missing = []
    for f in TEXT_FILES:
        for match in MARKDOWN.finditer((ROOT / f).read_text(errors="replace")):
            mention = match.group(1).lstrip("./")
            if mention not in names and pathlib.Path(mention).name not in names:
                missing.append(f"{f}: {match.group(1)}")
    assert not missing, "mentioned Markdown files that are not in the repository:\n" + "\n".join(
        missing
    )


def test_the_check_catches_a_missing_file():
    assert _exists("docs/conventions.md") and _exists("examples/sweeps/<name>.toml")
    assert _exists("benchmarks/NAME.py") and _exists("examples/results/liu2024_rank_sweep_*.json")
    # (joined here so that this file does not itself mention missing paths)
    assert not _exists("/".join(["docs", "no_such_page" + ".md"]))
    assert not _exists("/".join(["benchmarks", "results", "no_such.json"]))


def _figure_names() -> list[str]:
    """``NAME`` of every figure module, read from the source (no matplotlib import)."""
    names = []
    for path in sorted((ROOT / "lazyrich" / "figures").glob("[!_]*.py")):
        for node in ast.parse(path.read_text()).body:
            if (
                isinstance(node, ast.Assign)
                and [getattr(t, "id", None) for t in node.targets] == ["NAME"]
                and isinstance(node.value, ast.Constant)
            ):
                names.append(node.value.value)
    return names


@pytest.mark.parametrize("page", ["conventions.md", "reproductions.md"])
def test_docs_pages_exist_and_cover_every_figure(page):
    figures = _figure_names()
    assert len(figures) >= 14, figures
    text = (ROOT / "docs" / page).read_text()
    missing = [name for name in figures if f"`{name}`" not in text]
    assert not missing, f"docs/{page} does not mention the figures {missing}"


def test_docs_links_resolve():
    for page in (ROOT / "docs").glob("*.md"):
        for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", page.read_text()):
            if "://" in target:
                continue
            assert (page.parent / target).exists(), f"{page.name} links to missing {target}"
