"""Every public name is exported explicitly, importable and documented."""

import importlib
import inspect

import pytest

SUBPACKAGES = [
    "lazyrich.nn",
    "lazyrich.theory",
    "lazyrich.dynamics",
    "lazyrich.sims",
    "lazyrich.sims.datasets",
]


@pytest.mark.parametrize("name", SUBPACKAGES)
def test_all_names_exist_and_are_documented(name):
    module = importlib.import_module(name)
    assert isinstance(module.__all__, list | tuple)
    assert len(set(module.__all__)) == len(module.__all__), f"duplicates in {name}.__all__"
    for symbol in module.__all__:
        obj = getattr(module, symbol)  # raises if missing
        if inspect.isfunction(obj) or inspect.isclass(obj):
            assert inspect.getdoc(obj), f"{name}.{symbol} has no docstring"


def test_figure_modules_follow_the_protocol():
    from lazyrich.figures import figure_registry

    registry = figure_registry()
    assert "ntk-convergence" in registry and "ntk-function-bands" in registry
    for fig_name, module in registry.items():
        assert module.DESCRIPTION and module.PAPER, fig_name
        experiment = module.EXPERIMENT
        for attr in ("NAME", "Config", "default_config", "run"):
            assert hasattr(experiment, attr), f"{experiment.__name__} lacks {attr}"
        quick, full = experiment.default_config(quick=True), experiment.default_config()
        assert type(quick) is type(full) is experiment.Config
