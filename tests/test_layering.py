"""The package's layering rules (theory and dynamics below sims, sims below figures), on every import."""

import ast
import pathlib

import pytest

import lazyrich

ROOT = pathlib.Path(lazyrich.__file__).parent
BANNED = {
    "dynamics": ("lazyrich.sims", "lazyrich.figures", "lazyrich.theory", "matplotlib"),
    "theory": ("lazyrich.sims", "lazyrich.figures", "lazyrich.dynamics", "matplotlib", "flax"),
    "sims": ("lazyrich.figures", "matplotlib"),
    # The architecture description language: pure JAX, below theory and dynamics (both may import it).
    "nn": (
        "lazyrich.theory",
        "lazyrich.dynamics",
        "lazyrich.sims",
        "lazyrich.figures",
        "matplotlib",
        "flax",
    ),
    # Figures plot what the experiments computed: theory curves come in the experiments' results.
    "figures": ("lazyrich.theory", "lazyrich.dynamics"),
}


def imports_of(path: pathlib.Path):
    package = path.relative_to(ROOT.parent).with_suffix("").parts[:-1]
    if path.name == "__init__.py":
        package = path.relative_to(ROOT.parent).parts[:-1]
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(package[: len(package) - node.level + 1]) if node.level else ""
            module = ".".join(part for part in (base, node.module) if part)
            yield module
            yield from (f"{module}.{alias.name}" for alias in node.names)


@pytest.mark.parametrize("subpackage", sorted(BANNED))
def test_subpackage_respects_layering(subpackage):
    files = sorted((ROOT / subpackage).rglob("*.py"))
    assert files, f"no modules found in lazyrich/{subpackage}"
    for path in files:
        for name in imports_of(path):
            for banned in BANNED[subpackage]:
                assert name != banned and not name.startswith(banned + "."), (
                    f"{path.relative_to(ROOT.parent)} imports `{name}`, which `{subpackage}` may not use"
                )


def test_matplotlib_only_in_figures():
    for path in sorted(ROOT.rglob("*.py")):
        if "figures" in path.relative_to(ROOT).parts:
            continue
        for name in imports_of(path):
            assert not name.startswith("matplotlib"), f"{path} imports matplotlib"


def test_import_lazyrich_does_not_import_figures():
    import subprocess
    import sys

    code = (
        "import sys, lazyrich; assert 'lazyrich.figures' not in sys.modules; "
        "assert 'matplotlib' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
