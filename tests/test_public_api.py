"""Every public name is exported explicitly, importable and documented; moved names keep working, with a
deprecation warning that names their new location."""

import ast
import importlib
import inspect
import pathlib
import re
import warnings

import pytest

import lazyrich
from lazyrich import dynamics, theory

ROOT = pathlib.Path(__file__).resolve().parents[1]
SUBPACKAGES = [
    "lazyrich",
    "lazyrich.nn",
    "lazyrich.theory",
    "lazyrich.dynamics",
    "lazyrich.dynamics.diagnostics",
    "lazyrich.dynamics.models",
    "lazyrich.dynamics.rnn",
    "lazyrich.sims",
    "lazyrich.sims.datasets",
]
DYNAMICS_SUBMODULES = ("diagnostics", "models", "rnn")

# The public names of `lazyrich.dynamics` before the submodules existed (the previous release's __all__):
# every one must still resolve, from the core or as a deprecated alias.
PREVIOUS_DYNAMICS_NAMES = """
ACTIVATIONS adapt_regime advance_perceptron aligned_rank_one_connectivity BatchStats bias_free_mlp
bias_free_mlp_apply_fn bias_free_mlp_init BiasFreeCNN BiasFreeMLP BNMLP centered centered_kernel_alignment
centered_outputs check_train_inputs committee_apply committee_empirical_ntk connectivity_rank
dale_connectivity effective_rank eigenvalue_ratio_rank empirical_nngp empirical_ntk from_linen from_nnx
gaussian_connectivity ghost_batch_count ghost_batch_norm GhostBatchNorm init_perceptron init_rnn_params
kernel_alignment kernel_pca kernel_spectrum kernel_target_alignment large_batch_optimizer large_batch_regime
layer_name LeakyRNN learning_rate_for_temperature linearize LOSSES low_rank_connectivity masked_cross_entropy
meanfield_mlp_init meanfield_mlp_kernels meanfield_mlp_preactivations meanfield_mlp_readout mlp
normalized_activation NORMALIZED_ACTIVATIONS ntk_vector_product num_training_steps param_path
participation_ratio per_sample_loss PerceptronState recurrent_kernel_alignment recurrent_tangent_kernel
Regime relative_kernel_change representation_alignment rescale_connectivity rnn_apply rnn_hidden scaled_loss
second_moment sequential_ema shuffle_connectivity sqrt_scaled_learning_rate STATUS_CAP STATUS_DIVERGED
STATUS_OK temperature train train_bn_mlp train_committee train_meanfield_gradient_flow train_perceptron
train_rnn fit_rank_one_connectivity fit_rank_one_network TrainConfig TrainRecord TrainResult TrainRNNResult
TrainState truncate_rank weight_change
""".split()
INTERNALS = {"check_train_inputs", "layer_name", "STATUS_OK", "STATUS_CAP", "STATUS_DIVERGED"}


@pytest.mark.parametrize("name", SUBPACKAGES)
def test_all_names_exist_and_are_documented(name):
    module = importlib.import_module(name)
    assert inspect.getdoc(module), f"{name} has no docstring"
    assert isinstance(module.__all__, list | tuple)
    assert len(set(module.__all__)) == len(module.__all__), f"duplicates in {name}.__all__"
    for symbol in module.__all__:
        with warnings.catch_warnings():
            warnings.simplefilter("error", DeprecationWarning)  # nothing exported is deprecated
            obj = getattr(module, symbol)  # raises if missing
        if inspect.isfunction(obj) or inspect.isclass(obj):
            assert inspect.getdoc(obj), f"{name}.{symbol} has no docstring"


def test_dynamics_core_and_submodules_partition_the_names():
    core = set(dynamics.__all__) - set(DYNAMICS_SUBMODULES)
    seen = set(core)
    for sub in DYNAMICS_SUBMODULES:
        names = set(getattr(dynamics, sub).__all__)
        assert not names & seen, (
            f"dynamics.{sub} re-exports {names & seen} already exported elsewhere"
        )
        seen |= names
    assert not INTERNALS & seen, "internals must not be exported"
    # Nothing of the previous release was lost: every old name is in the core or in a submodule, or is an
    # internal kept only as a deprecated alias.
    assert set(PREVIOUS_DYNAMICS_NAMES) <= seen | INTERNALS


@pytest.mark.parametrize("name", PREVIOUS_DYNAMICS_NAMES)
def test_previous_dynamics_names_still_resolve(name):
    if name in dynamics.__all__:
        with warnings.catch_warnings():
            warnings.simplefilter("error", DeprecationWarning)
            getattr(dynamics, name)
        return
    with pytest.warns(
        DeprecationWarning, match=rf"lazyrich\.dynamics\.{name} is deprecated"
    ) as record:
        old = getattr(dynamics, name)
    message = str(record[0].message)
    owner = [sub for sub in DYNAMICS_SUBMODULES if name in getattr(dynamics, sub).__all__]
    if owner:  # moved: the warning names the new location, and the alias is the same object
        (sub,) = owner
        assert f"use lazyrich.dynamics.{sub}.{name}." in message
        assert old is getattr(getattr(dynamics, sub), name)
    elif name.startswith("STATUS_"):  # the shared status codes replace the trainer's constants
        assert "use lazyrich.Status." in message
        assert old == getattr(lazyrich.Status, message.rsplit(".", 2)[-2])
    else:
        assert "it is internal" in message


def test_status_aliases_keep_their_values():
    with pytest.warns(DeprecationWarning):
        codes = (dynamics.STATUS_OK, dynamics.STATUS_CAP, dynamics.STATUS_DIVERGED)
    assert (
        codes
        == (lazyrich.Status.OK, lazyrich.Status.STEP_CAP, lazyrich.Status.DIVERGED)
        == (0, 1, 2)
    )


def test_theory_internals_are_deprecated_aliases():
    assert "check_roughness" not in theory.__all__
    with pytest.warns(DeprecationWarning, match="it is internal"):
        check = theory.check_roughness
    with pytest.raises(ValueError):
        check(3.0)


@pytest.mark.parametrize("module", [dynamics, theory])
def test_unknown_names_raise_attribute_error(module):
    with pytest.raises(AttributeError, match="no_such_name"):
        module.no_such_name  # noqa: B018


def test_no_code_in_the_repository_uses_a_deprecated_alias():
    from lazyrich.dynamics import _MOVED

    EXEMPT = {"test_public_api.py", "namespaces.md"}  # they document the aliases
    pattern = re.compile(r"\b(?:dynamics|dy)\.(" + "|".join(map(re.escape, _MOVED)) + r")\b")
    offenders = []
    for top in ("lazyrich", "tests", "benchmarks", "examples", "docs"):
        for path in (ROOT / top).rglob("*"):
            if path.suffix not in (".py", ".md", ".ipynb") or path.name in EXEMPT:
                continue
            for number, line in enumerate(path.read_text().splitlines(), 1):
                for match in pattern.finditer(line):
                    new = _MOVED[match.group(1)][0]
                    offenders.append(
                        f"{path.relative_to(ROOT)}:{number}: {match.group(0)} -> {new}"
                    )
    assert not offenders, "deprecated aliases used:\n" + "\n".join(offenders)


def test_each_diagnostic_is_defined_once():
    """The alignments, spectra and effective ranks live in lazyrich._linalg; no other module defines a public
    function of the same name."""
    defined = {}
    for path in (ROOT / "lazyrich").rglob("*.py"):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
                defined.setdefault(node.name, []).append(path.relative_to(ROOT).as_posix())
    for name in dynamics.diagnostics.__all__:
        assert getattr(dynamics.diagnostics, name).__module__ == "lazyrich._linalg", name
        assert defined[name] == ["lazyrich/_linalg.py"], (name, defined[name])


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
