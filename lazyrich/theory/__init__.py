"""Infinite-width theory: NNGP/NTK kernels, closed-form predictions, DMFT and toy-model theory.

Model-free: functions here take kernels, data and hyper-parameters as arrays, or a
:mod:`lazyrich.nn` architecture description (no Flax, no finite networks).
Conventions (loss normalisations, time units, kernel normalisations): ``docs/conventions.md``."""

from lazyrich._deprecation import deprecated_getattr as _deprecated_getattr
from lazyrich.theory._committee import CommitteeStatistics as CommitteeStatistics
from lazyrich.theory._committee import committee_gd as committee_gd
from lazyrich.theory._committee import committee_ntk as committee_ntk
from lazyrich.theory._committee import committee_ntk_alignment as committee_ntk_alignment
from lazyrich.theory._committee import committee_output as committee_output
from lazyrich.theory._committee import committee_statistics as committee_statistics
from lazyrich.theory._committee import committee_test_loss_terms as committee_test_loss_terms
from lazyrich.theory._committee import first_crossing_time as first_crossing_time
from lazyrich.theory._committee import grokking_time as grokking_time
from lazyrich.theory._committee import kernel_regression_mse as kernel_regression_mse
from lazyrich.theory._perceptron import depleted_sign_density as depleted_sign_density
from lazyrich.theory._perceptron import perceptron_norm_exponent as perceptron_norm_exponent
from lazyrich.theory._perceptron import (
    perceptron_temperature_exponent as perceptron_temperature_exponent,
)
from lazyrich.theory._perceptron import perceptron_time_exponent as perceptron_time_exponent
from lazyrich.theory._random_walk import diffusion_exponent as diffusion_exponent
from lazyrich.theory._random_walk import ultraslow_distance as ultraslow_distance

from ._dmft.common import DMFTResult as DMFTResult
from ._dmft.common import status_name as dmft_status_name
from ._dmft.deep import solve_dmft_deep as solve_dmft_deep
from ._dmft.deep import solve_dmft_linear as solve_dmft_linear
from ._dmft.solve import solve_dmft as solve_dmft
from ._dmft.solve import whitened_linear_dmft as whitened_linear_dmft
from ._dmft.two_layer import solve_dmft_two_layer as solve_dmft_two_layer
from ._kernel_dynamics import Gaussian as Gaussian
from ._kernel_dynamics import gradient_descent_mse_ensemble as gradient_descent_mse_ensemble
from ._kernel_dynamics import max_learning_rate as max_learning_rate
from ._kernel_dynamics import mse_gradient_flow as mse_gradient_flow
from ._kernel_fn import KernelFn as KernelFn
from ._kernel_fn import kernel_fn as kernel_fn
from ._kernels import Kernels as Kernels
from ._kernels import mlp_kernels as mlp_kernels
from ._linear_rank import linear_kernel_matrix as linear_kernel_matrix
from ._linear_rank import linear_rank_alignment as linear_rank_alignment
from ._linear_rank import (
    linear_rank_alignment_endpoint as linear_rank_alignment_endpoint,
)
from ._predict import Prediction as Prediction
from ._predict import gp_inference as gp_inference
from ._predict import predict as predict
from ._predict_checks import check_kernel_matrix as check_kernel_matrix
from ._solvers import SolveInfo as SolveInfo
from ._solvers import cg_solve as cg_solve
from ._solvers_tiles import kernel_matrix as kernel_matrix
from ._solvers_tiles import mlp_kernel_fn as mlp_kernel_fn

__all__ = [
    "cg_solve",
    "check_kernel_matrix",
    "committee_gd",
    "committee_ntk",
    "committee_ntk_alignment",
    "committee_output",
    "committee_statistics",
    "committee_test_loss_terms",
    "CommitteeStatistics",
    "depleted_sign_density",
    "diffusion_exponent",
    "dmft_status_name",
    "DMFTResult",
    "first_crossing_time",
    "Gaussian",
    "gp_inference",
    "gradient_descent_mse_ensemble",
    "grokking_time",
    "kernel_regression_mse",
    "kernel_fn",
    "KernelFn",
    "kernel_matrix",
    "Kernels",
    "linear_kernel_matrix",
    "linear_rank_alignment",
    "linear_rank_alignment_endpoint",
    "max_learning_rate",
    "mlp_kernel_fn",
    "mlp_kernels",
    "mse_gradient_flow",
    "perceptron_norm_exponent",
    "perceptron_temperature_exponent",
    "perceptron_time_exponent",
    "predict",
    "Prediction",
    "SolveInfo",
    "solve_dmft",
    "solve_dmft_deep",
    "solve_dmft_linear",
    "solve_dmft_two_layer",
    "ultraslow_distance",
    "whitened_linear_dmft",
]

# Deprecated for this release: internals that were exported.
__getattr__ = _deprecated_getattr(
    __name__,
    {
        "check_roughness": (
            "nothing: it is internal (lazyrich.theory._random_walk.check_roughness)",
            "lazyrich.theory._random_walk:check_roughness",
        ),
    },
)
