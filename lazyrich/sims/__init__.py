"""Data sets, tasks, experiments, sweeps and result storage.

``sims`` joins ``theory`` and ``dynamics``: each experiment of :mod:`lazyrich.sims.experiments` runs a paper's
protocol from an integer seed and returns a :class:`Result` that figures plot and sweeps store."""

from lazyrich.sims import datasets as datasets
from lazyrich.sims import experiments as experiments
from lazyrich.sims._analysis import Check as Check
from lazyrich.sims._analysis import checks as checks
from lazyrich.sims._analysis import verdict as verdict
from lazyrich.sims._experiment import Result as Result
from lazyrich.sims._experiment import apply_overrides as apply_overrides
from lazyrich.sims._experiment import config_to_dict as config_to_dict
from lazyrich.sims._experiment import experiments_registry as experiments_registry
from lazyrich.sims._experiment import get_experiment as get_experiment
from lazyrich.sims._experiment import json_ready as json_ready
from lazyrich.sims._experiment import progress_bar as progress_bar
from lazyrich.sims._experiment import provenance as provenance
from lazyrich.sims._experiment import run as run
from lazyrich.sims._random_landscape import (
    empirical_structure_function as empirical_structure_function,
)
from lazyrich.sims._random_landscape import random_potential as random_potential
from lazyrich.sims._random_landscape import simulate_random_walk as simulate_random_walk
from lazyrich.sims._random_landscape import structure_function as structure_function
from lazyrich.sims._results import load_figure_result as load_figure_result
from lazyrich.sims._results import load_results as load_results
from lazyrich.sims._results import sweep_status as sweep_status
from lazyrich.sims._sweep import Sweep as Sweep
from lazyrich.sims._sweep import load_sweep as load_sweep
from lazyrich.sims._sweep import plan_sweep as plan_sweep
from lazyrich.sims._sweep_exec import run_sweep as run_sweep

__all__ = [
    "apply_overrides",
    "Check",
    "checks",
    "config_to_dict",
    "datasets",
    "empirical_structure_function",
    "experiments",
    "experiments_registry",
    "get_experiment",
    "json_ready",
    "load_figure_result",
    "load_results",
    "load_sweep",
    "plan_sweep",
    "progress_bar",
    "provenance",
    "random_potential",
    "Result",
    "run",
    "run_sweep",
    "simulate_random_walk",
    "structure_function",
    "Sweep",
    "sweep_status",
    "verdict",
]
