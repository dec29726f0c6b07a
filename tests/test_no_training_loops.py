"""No hand-written training loop outside the driver: every `lax.scan` / `fori_loop` / `while_loop` call in
`lazyrich.dynamics` and `lazyrich.sims` is in a module allowed to loop, for the reason given."""

import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[1] / "lazyrich"
LOOPS = {"scan", "fori_loop", "while_loop"}
ALLOWED = {
    "dynamics/_driver.py": "the training driver",
    "dynamics/_rules.py": "sub-steps of one gradient-flow step",
    "dynamics/_perceptron.py": "the event-driven perceptron simulator (jumps over null steps)",
    "dynamics/_ntk.py": "tiles of the empirical kernel",
    "dynamics/_rnn.py": "the forward recurrence over time steps",
}


def _loop_calls(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr in LOOPS:
                yield node.lineno, node.func.attr


def test_loops_only_where_allowed():
    found = {}
    for package in ("dynamics", "sims"):
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            calls = list(_loop_calls(path))
            if calls and rel not in ALLOWED:
                found[rel] = calls
    assert not found, f"training loops outside dynamics.solve: {found}"


def test_the_check_sees_loops():
    allowed_with_loops = [rel for rel in ALLOWED if list(_loop_calls(ROOT / rel))]
    assert sorted(allowed_with_loops) == sorted(ALLOWED)
