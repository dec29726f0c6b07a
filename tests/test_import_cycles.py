"""No import cycle inside `lazyrich`: every import statement (module level or inside a function) is an edge.

An import inside a function only delays a cycle; it does not remove it, so function-level imports count.
`from package import name` is an edge to the submodule `package.name` when that is a module, else to
`package`. A child module is not given an implicit edge to its parent package (Python imports the parent
first, which is not a cycle); an explicit `import lazyrich` or `from lazyrich.sims import x` (x not a
module) inside `lazyrich.sims` is, and would be reported.
"""

from __future__ import annotations

import ast
import pathlib

import lazyrich

ROOT = pathlib.Path(lazyrich.__file__).parent


def module_graph(package_dir: pathlib.Path) -> dict[str, set[str]]:
    """Module name -> names of the package's modules it imports (anywhere in its source)."""
    files = {}
    for path in package_dir.rglob("*.py"):
        parts = path.relative_to(package_dir.parent).with_suffix("").parts
        files[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph = {}
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        edges = set()
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                edges.update(a.name for a in node.names if a.name in files)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    module = ".".join(base + ([node.module] if node.module else []))
                else:
                    module = node.module or ""
                for alias in node.names:
                    if f"{module}.{alias.name}" in files:
                        edges.add(f"{module}.{alias.name}")
                    elif module in files:
                        edges.add(module)
        edges.discard(name)
        graph[name] = edges
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph as a list of modules (first repeated at the end), or ``None``."""
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)) is not None:
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)) is not None:
            return cycle
    return None


def test_lazyrich_has_no_import_cycle():
    graph = module_graph(ROOT)
    assert {"lazyrich._cli", "lazyrich.sims._sweep", "lazyrich.sims._results"} <= set(graph)
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_check_finds_function_level_and_relative_cycles(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("from pkg import a\n")
    (pkg / "a.py").write_text("def f():\n    from pkg.sub import b\n")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "b.py").write_text("from . import c\n")
    (pkg / "sub" / "c.py").write_text("import os\n")
    graph = module_graph(pkg)
    assert graph["pkg.a"] == {"pkg.sub.b"} and graph["pkg.sub.b"] == {"pkg.sub.c"}
    assert find_cycle(graph) is None
    (pkg / "sub" / "c.py").write_text("def g():\n    from ..a import f\n")  # c -> a -> b -> c
    cycle = find_cycle(module_graph(pkg))
    assert cycle is not None and set(cycle) == {"pkg.a", "pkg.sub.b", "pkg.sub.c"}
    (pkg / "sub" / "c.py").write_text("import pkg\n")  # c -> pkg (its __init__) -> a -> b -> c
    assert set(find_cycle(module_graph(pkg))) == {"pkg", "pkg.a", "pkg.sub.b", "pkg.sub.c"}
