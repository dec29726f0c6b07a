r"""Predictions of infinitely wide networks: the NNGP posterior, the NTK-GP and the MSE ensemble.

With training inputs :math:`X`, targets :math:`y`, the NNGP :math:`\Sigma` and the NTK
:math:`\Theta`, and :math:`K_r = K + \text{diag\_reg}\cdot\operatorname{tr}(K)/n \cdot I`
(neural-tangents' relative regulariser):

* ``"nngp"`` (Bayesian posterior of the NNGP, Lee et al. 2018; also the ensemble of networks whose
  readout alone is trained by gradient flow):
  :math:`\mu(x) = \Sigma(x, X)\Sigma_r^{-1}y`,
  :math:`C(x, x') = \Sigma(x, x') - \Sigma(x, X)\Sigma_r^{-1}\Sigma(X, x')`;
* ``"ntk"`` (the NTK-GP: the infinite ensemble of infinitely wide networks trained to convergence
  by gradient flow on the MSE, Lee et al. 2019, eq. 16): with :math:`A(x) = \Theta(x,
  X)\Theta_r^{-1}`, :math:`\mu(x) = A(x)y` and :math:`C(x, x') = \Sigma(x, x') - A(x)\Sigma(X, x')
  - \Sigma(x, X)A(x')^\top + A(x)\Sigma(X, X)A(x')^\top`;
* at a finite time ``t`` both are the gradient-flow ensemble of
  :func:`gradient_descent_mse_ensemble` (one eigendecomposition serves every time).

These are neural-tangents' ``predict.gp_inference`` and ``predict.gradient_descent_mse_ensemble``.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from typing import Any, Literal, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from lazyrich._checks import check_choice, check_finite, check_ndim, check_square
from lazyrich._status import Status
from lazyrich.theory import _solvers as S
from lazyrich.theory import _solvers_tiles as T
from lazyrich.theory._kernel_dynamics import (
    Gaussian,
    check_time_and_rates,
    gradient_descent_mse_ensemble,
)
from lazyrich.theory._kernels import Kernels
from lazyrich.theory._predict_checks import (
    check_cross_kernel,
    check_inputs,
    check_kernel_matrix,
)

SOLVERS = ("auto", "eigh", "cholesky", "cg")
EIGH_LIMIT = 4096


class Prediction(NamedTuple):
    """Predictions of :func:`predict`.

    Attributes:
      nngp: :class:`Gaussian` of the NNGP predictor (``None`` if not requested).
      ntk: :class:`Gaussian` of the NTK predictor (``None`` if not requested).
      info: ``{"nngp": SolveInfo, "ntk": SolveInfo}`` for the linear solves (``"cholesky"`` and
        ``"cg"``); empty for the eigendecomposition.
    """

    nngp: Gaussian | None
    ntk: Gaussian | None
    info: dict[str, S.SolveInfo]


def _part(k: Any, g: str, name: str) -> Any:
    if k is None:
        return None
    if hasattr(k, "nngp") and hasattr(k, "ntk"):
        return getattr(k, g)
    raise TypeError(
        f"`{name}` must have `.nngp` and `.ntk` (e.g. `Kernels(nngp, ntk)`; a field not needed may "
        f"be None), got {type(k).__name__}."
    )


def _required(value: Any, name: str, g: str, why: str) -> Any:
    if value is None:
        raise ValueError(f"`{name}.{g}` is required {why}, got None.")
    return value


# --------------------------------------------------------------------------------------------------
# t = infinity by linear solves (Cholesky or CG)


class _Data(NamedTuple):
    """What the t = infinity solve needs, as arrays (pytree) for one kernel g."""

    y: jax.Array  # (n, O)
    k_train: Any  # K_g(X, X) stored (rows >= n, n) or None (matrix-free)
    k_cross: Any  # K_g(x, X) (Q, n), or None (matrix-free or on the training set)
    s_train: Any  # Sigma(X, X) (rows, n) for the NTK covariance, or None
    s_cross: Any  # Sigma(x, X) (Q, n) for the covariance, or None
    s_test: Any  # Sigma(x, x) (Q, Q) for the covariance, or None
    x_train: Any  # matrix-free inputs, or None
    x_test: Any


def _products(data: _Data, g: str, *, kernel_fn, tile, acc, mesh, test: bool):
    """(operator of K_g(X, X), V -> K_g(x, X) V, V -> Sigma(X, X) V, V -> Sigma(x, X) V)."""
    n = data.y.shape[0]
    if kernel_fn is None:
        op = T.sharded_dense_operator(data.k_train, n, acc, mesh)
        s_op = (
            None if data.s_train is None else T.sharded_dense_operator(data.s_train, n, acc, mesh)
        )

        def mul(k):
            return lambda v: S.blocked_matmul(k, v, acc)

        cross = mul(data.k_cross) if test else None
        s_cross = None if data.s_cross is None else mul(data.s_cross)
        return op, cross, (None if s_op is None else s_op.matvec), s_cross
    common = dict(tile=tile, acc=acc, mesh=mesh)
    op = T.matrix_free_operator(kernel_fn, g, data.x_train, **common)
    s_train = (
        op.matvec
        if g == "nngp"
        else T.tiled_product(kernel_fn, "nngp", data.x_train, data.x_train, **common)
    )
    if not test:
        return op, None, s_train, None
    cross = T.tiled_product(kernel_fn, g, data.x_test, data.x_train, **common)
    s_cross = T.tiled_product(kernel_fn, "nngp", data.x_test, data.x_train, **common)
    return op, cross, s_train, s_cross


@functools.partial(
    jax.jit,
    static_argnames=(
        "g",
        "solver",
        "compute_cov",
        "test",
        "kernel_fn",
        "tile",
        "mesh",
        "max_iter",
        "rank",
        "patience",
    ),
)
def _solve_infinite(
    data: _Data,
    diag_reg,
    tol,
    *,
    g,
    solver,
    compute_cov,
    test,
    kernel_fn,
    tile,
    mesh,
    max_iter,
    rank,
    patience,
):
    acc = data.y.dtype
    op, cross, s_train, s_cross = _products(
        data, g, kernel_fn=kernel_fn, tile=tile, acc=acc, mesh=mesh, test=test
    )
    shift = S.relative_shift(op.diag(), jnp.asarray(diag_reg, acc))
    if not test:
        # On the training inputs the regularised driving kernel is the train-train kernel
        # (neural-tangents' convention; see gradient_descent_mse_ensemble).
        cross = lambda v: op.matvec(v) + shift * v  # noqa: E731
        s_cross = cross if g == "nngp" else s_train
    num_out = data.y.shape[1]
    rhs = data.y
    n = data.y.shape[0]
    if compute_cov:
        if kernel_fn is None:
            k_dt = (data.k_cross.T if test else data.k_train[:n]).astype(acc)
            if not test:
                k_dt = k_dt + shift * jnp.eye(n, dtype=acc)
        else:
            rows = data.x_test if test else data.x_train
            k_dt = jax.lax.map(
                lambda xt: T._part(kernel_fn(xt[None], data.x_train, get=(g,)), g, "a row")[0],
                rows,
                batch_size=min(tile, rows.shape[0]),
            ).T.astype(acc)
            if not test:
                k_dt = k_dt + shift * jnp.eye(n, dtype=acc)
        rhs = jnp.concatenate([rhs, k_dt], axis=1)
    if solver == "cg":
        x, info = S.conjugate_gradients(
            op, rhs, shift, tol=tol, max_iter=max_iter, rank=rank, patience=patience
        )
    else:
        dense = data.k_train[:n].astype(acc) + shift * jnp.eye(n, dtype=acc)
        factor = jax.scipy.linalg.cho_factor(dense, lower=True)
        x = jax.scipy.linalg.cho_solve(factor, rhs)
        norm = jnp.linalg.norm(rhs, axis=0)
        resid = jnp.linalg.norm(rhs - dense @ x, axis=0) / jnp.where(norm > 0, norm, 1.0)
        ok = jnp.all(jnp.isfinite(x)) & jnp.all(resid <= tol)
        status = jnp.where(ok, int(Status.OK), int(Status.NOT_CONVERGED)).astype(jnp.int32)
        info = S.SolveInfo(status, jnp.asarray(0, jnp.int32), resid, jnp.full((1,), jnp.nan, acc))
    mean = cross(x[:, :num_out])
    cov = None
    if compute_cov:
        w = x[:, num_out:]
        s_test = data.s_test.astype(acc)
        if not test and g == "nngp":
            s_test = s_test + shift * jnp.eye(n, dtype=acc)
        if g == "nngp":
            cov = s_test - s_cross(w)
        else:
            c = s_cross(w)
            cov = s_test - c - c.T + w.T @ s_train(w)
    return mean, cov, info


# --------------------------------------------------------------------------------------------------
# The entry point


def _probe(kernel_fn, x_train, x_test, need):
    """Call the kernel function on two small slices; errors name `kernel_fn` and the inputs."""
    a = jnp.asarray(x_train[:2])
    b = jnp.asarray((x_train if x_test is None else x_test)[:1])
    try:
        out = kernel_fn(b, a, get=need)
    except Exception as err:  # noqa: BLE001 - re-raised with the argument named
        raise ValueError(
            f"`kernel_fn` failed on inputs shaped like `x_train` {np.shape(x_train)} / `x_test` "
            f"{None if x_test is None else np.shape(x_test)} (expected a callable "
            f"`kernel_fn(x1, x2=None, *, get) -> Kernels` accepting them): "
            f"{type(err).__name__}: {err}"
        ) from err
    for g in need:
        value = T._part(out, g, "the probe")
        if np.shape(value) != (b.shape[0], a.shape[0]):
            raise ValueError(
                f"`kernel_fn` must return `{g}` of shape (n1, n2) = {(b.shape[0], a.shape[0])} for "
                f"inputs of {b.shape[0]} and {a.shape[0]} rows, got {np.shape(value)}."
            )


def predict(
    y_train: Any,
    *,
    k_train_train: Any = None,
    k_test_train: Any = None,
    k_test_test: Any = None,
    kernel_fn: Any = None,
    x_train: Any = None,
    x_test: Any = None,
    get: Sequence[str] | str = ("nngp", "ntk"),
    t: float | jax.Array | None = None,
    learning_rate: float | jax.Array = 1.0,
    diag_reg: float | jax.Array = 0.0,
    compute_cov: bool = False,
    solver: Literal["auto", "eigh", "cholesky", "cg"] = "auto",
    tol: float | None = None,
    max_iter: int | None = None,
    preconditioner: str | None = "pivoted_cholesky",
    rank: int | None = None,
    patience: int | None = None,
    matrix_free: bool = False,
    tile_size: int = 1024,
    devices: Sequence[jax.Device] | None = None,
    store: str | os.PathLike | None = None,
    validate: bool = True,
) -> Prediction:
    r"""Mean (and covariance) of the NNGP / NTK predictors of infinitely wide networks.

    The kernels are given either as matrices (``k_train_train``, ``k_test_train``,
    ``k_test_test``) or as a kernel function with inputs (``kernel_fn``, ``x_train``, ``x_test``);
    ``x_test=None`` / ``k_test_train=None`` predicts on the training inputs. See the module
    documentation for the formulas. ``t=None`` (or ``inf``) gives the converged predictors
    (neural-tangents' ``gp_inference``); a finite ``t`` (scalar or 1-D) gives the gradient-flow
    ensemble at that time (loss :math:`\frac{1}{2nO}\sum(f - y)^2`, time in units of the learning
    rate, neural-tangents' ``gradient_descent_mse_ensemble``).

    Solvers: ``"eigh"`` (dense eigendecomposition; the only one for finite ``t``; null modes get the
    pseudo-inverse), ``"cholesky"`` (dense), ``"cg"`` (preconditioned conjugate gradients, see
    :func:`cg_solve`; the only one with ``matrix_free`` or ``devices``). ``"auto"`` picks
    ``"eigh"`` for finite ``t`` or up to 4096 training points, else ``"cg"``. A CG solve that does
    not reach ``tol`` still returns its iterate, with ``info[g].status == Status.NOT_CONVERGED``.

    Args:
      y_train: targets ``(n, O)`` or ``(n,)``.
      k_train_train: train-train kernels with ``.nngp`` / ``.ntk`` (``(n, n)``), e.g.
        :class:`Kernels`. Needed: the kernels in ``get``, and ``nngp`` for a covariance.
      k_test_train: test-train kernels ``(Q, n)``.
      k_test_test: test-test NNGP ``(Q, Q)`` (an array or an object with ``.nngp``); required for
        ``compute_cov`` with test points.
      kernel_fn: ``kernel_fn(x1, x2=None, *, get) -> Kernels`` (e.g. :func:`mlp_kernel_fn`).
      x_train: training inputs ``(n, ...)`` for ``kernel_fn``.
      x_test: test inputs ``(Q, ...)`` for ``kernel_fn``.
      get: ``"nngp"``, ``"ntk"`` or both.
      t: time(s), or ``None`` for convergence.
      learning_rate: :math:`\eta` (finite ``t`` only).
      diag_reg: relative diagonal regulariser (>= 0).
      compute_cov: also return the covariance over the test points.
      solver: see above.
      tol, max_iter, preconditioner, rank, patience: CG options (see :func:`cg_solve`); ``tol`` is
        also the residual above which a Cholesky solve reports ``NOT_CONVERGED``.
      matrix_free: with ``kernel_fn``: never store an :math:`n \times n` matrix; every CG product
        recomputes kernel tiles of ``tile_size`` rows (memory :math:`O(n \cdot \text{tile\_size})`).
      tile_size: rows per kernel tile.
      devices: shard kernel rows over these devices (``jax.devices()`` under ``jax.distributed``:
        every process must call with the same arguments; each computes the rows of its devices).
      store: folder for resumable kernel tiles (``kernel_fn`` without ``matrix_free``; see
        :func:`kernel_matrix`).
      validate: check train-train (and test-test) kernels for symmetry and positive
        semi-definiteness (see :mod:`lazyrich.theory._predict_checks`); ``False`` skips these two
        checks only.

    Returns:
      :class:`Prediction` with a :class:`Gaussian` per requested kernel: ``mean`` ``([T,] Q, O)``
      (``([T,] Q)`` for 1-D targets), ``covariance`` ``([T,] Q, Q)`` or ``None``.

    Raises:
      ValueError / TypeError: before any work, on any mismatched shape, non-finite entry,
        non-symmetric or indefinite kernel, ``diag_reg < 0``, ``t < 0``, an unknown ``get`` or
        ``solver``, a kernel function that fails on the inputs or returns wrong shapes, or an
        impossible combination of options (both matrices and a kernel function, finite ``t`` with
        ``"cg"``, ...).

    Example:
      >>> import jax.numpy as jnp
      >>> kernel_fn = mlp_kernel_fn(depth=2, bias_std=0.1)
      >>> x = jnp.linspace(-1.0, 1.0, 8)[:, None] * jnp.array([[1.0, 0.5]])
      >>> out = predict(jnp.sin(3 * x[:, 0]), kernel_fn=kernel_fn, x_train=x, get="nngp")
      >>> print(jnp.allclose(out.nngp.mean, jnp.sin(3 * x[:, 0]), atol=1e-4))
      True

    References:
      Lee et al. (2018), https://arxiv.org/abs/1711.00165 (NNGP posterior);
      Lee et al. (2019), https://arxiv.org/abs/1902.06720, Sec. 2.3 (ensemble, NTK-GP).
    """
    # ---------------- validation, before any work ----------------
    get = T.normalize_get(get)
    check_choice("solver", solver, SOLVERS)
    if not isinstance(compute_cov, bool):
        raise TypeError(f"`compute_cov` must be a bool, got {compute_cov!r}.")
    check_ndim("y_train", y_train, (1, 2))
    check_finite("y_train", y_train)
    check_time_and_rates(t, learning_rate, diag_reg)
    finite_t = t is not None and not (
        not isinstance(t, jax.core.Tracer) and np.ndim(t) == 0 and np.isinf(t)
    )
    n = np.shape(y_train)[0]
    need = tuple(dict.fromkeys(get + (("nngp",) if compute_cov else ())))
    by_function = kernel_fn is not None
    if by_function:
        for name, value in (
            ("k_train_train", k_train_train),
            ("k_test_train", k_test_train),
            ("k_test_test", k_test_test),
        ):
            if value is not None:
                raise ValueError(
                    f"give kernel matrices or `kernel_fn` with inputs, not both; got `kernel_fn` "
                    f"and `{name}`."
                )
        if not callable(kernel_fn):
            raise TypeError(f"`kernel_fn` must be callable, got {type(kernel_fn).__name__}.")
        if x_train is None:
            raise ValueError("`x_train` is required with `kernel_fn`, got None.")
        check_inputs("x_train", x_train)
        if np.shape(x_train)[0] != n:
            raise ValueError(
                f"`x_train` must have {n} rows (one per row of `y_train`), got shape "
                f"{np.shape(x_train)}."
            )
        if x_test is not None:
            check_inputs("x_test", x_test, np.shape(x_train)[1:])
    else:
        for name, value in (("x_train", x_train), ("x_test", x_test)):
            if value is not None:
                raise ValueError(f"`{name}` is only used with `kernel_fn`; pass kernel matrices.")
        if k_train_train is None:
            raise ValueError("give `k_train_train` (kernel matrices) or `kernel_fn` with inputs.")
        if matrix_free or store is not None:
            raise ValueError("`matrix_free` and `store` need `kernel_fn` with inputs.")
    if matrix_free and not by_function:
        raise ValueError("`matrix_free=True` needs `kernel_fn`.")
    if store is not None and matrix_free:
        raise ValueError("`store` stores kernel tiles; it does nothing with `matrix_free=True`.")
    mesh = T.make_mesh(devices)
    if mesh is not None and mesh.size == 1:
        mesh = None
    if solver == "auto":
        if finite_t:
            solver = "eigh"
        elif matrix_free or mesh is not None or n > EIGH_LIMIT:
            solver = "cg"
        else:
            solver = "eigh"
    if finite_t and solver != "eigh":
        raise ValueError(f"a finite `t` needs `solver='eigh'`, got solver={solver!r}.")
    if (matrix_free or mesh is not None) and solver != "cg":
        raise ValueError(
            f"`matrix_free` and `devices` need `solver='cg'` (or 'auto'), got {solver!r}."
        )
    max_iter, rank, patience = S.check_solver_options(
        tol, max_iter, rank, patience, preconditioner, n
    )
    test = x_test is not None if by_function else k_test_train is not None

    # ---------------- kernels ----------------
    if by_function:
        _probe(kernel_fn, x_train, x_test, need)
        xtr = jnp.asarray(x_train)
        xte = None if x_test is None else jnp.asarray(x_test)
        if matrix_free:
            k_train_train = k_test_train = None
            if compute_cov and test:
                k_test_test = T._part(kernel_fn(xte, None, get=("nngp",)), "nngp", "x_test")
        else:
            k_train_train = T.kernel_matrix(
                kernel_fn, xtr, get=need, tile_size=tile_size, devices=devices, store=store
            )
            if test:
                k_test_train = T.kernel_matrix(kernel_fn, xte, xtr, get=need, tile_size=tile_size)
                if compute_cov:
                    k_test_test = T._part(kernel_fn(xte, None, get=("nngp",)), "nngp", "x_test")
    else:
        xtr = xte = None
        for g in need:
            _required(_part(k_train_train, g, "k_train_train"), "k_train_train", g, "for get")
            k = _part(k_train_train, g, "k_train_train")
            check_kernel_matrix(f"k_train_train.{g}", k, validate=validate)
            if np.shape(k)[0] != n:
                raise ValueError(
                    f"`k_train_train.{g}` must be ({n}, {n}) (one row per row of `y_train`), got "
                    f"{np.shape(k)}."
                )
            if test:
                kt = _required(_part(k_test_train, g, "k_test_train"), "k_test_train", g, "for get")
                check_cross_kernel(f"k_test_train.{g}", kt, None, n)
        if test and compute_cov:
            q = np.shape(_part(k_test_train, need[0], "k_test_train"))[0]
            for g in need:
                if np.shape(_part(k_test_train, g, "k_test_train"))[0] != q:
                    raise ValueError(
                        f"`k_test_train` fields must have the same number of rows, got "
                        f"{ {h: np.shape(_part(k_test_train, h, 'k_test_train')) for h in need} }."
                    )
            if k_test_test is None:
                raise ValueError("`compute_cov=True` with test points needs `k_test_test`.")
            k_test_test = getattr(k_test_test, "nngp", k_test_test)
            check_square("k_test_test", k_test_test)
            if np.shape(k_test_test)[0] != q:
                raise ValueError(
                    f"`k_test_test` must be ({q}, {q}) (one row per test point), got "
                    f"{np.shape(k_test_test)}."
                )
            check_kernel_matrix("k_test_test", k_test_test, validate=validate)
        elif k_test_test is not None and not (test and compute_cov):
            raise ValueError("`k_test_test` is only used with `compute_cov=True` and test points.")

    # ---------------- solve ----------------
    y, squeeze = (
        (jnp.asarray(y_train)[:, None], True)
        if np.ndim(y_train) == 1
        else (
            jnp.asarray(y_train),
            False,
        )
    )
    out: dict[str, Gaussian] = {}
    info: dict[str, S.SolveInfo] = {}
    if solver == "eigh":
        sigma = _part(k_train_train, "nngp", "k_train_train")
        for g in get:
            theta = _part(k_train_train, g, "k_train_train")
            kdd = Kernels(sigma if sigma is not None else theta, theta)
            ktd = None
            if test:
                ks = _part(k_test_train, "nngp", "k_test_train")
                kt = _part(k_test_train, g, "k_test_train")
                ktd = Kernels(ks if ks is not None else kt, kt)
            res = gradient_descent_mse_ensemble(
                kdd,
                y,
                t if finite_t else None,
                k_test_train=ktd,
                nngp_test_test=k_test_test if (test and compute_cov) else None,
                kernel=g,
                learning_rate=learning_rate,
                diag_reg=diag_reg,
                validate=False,
            )
            cov = res.covariance if compute_cov else None
            out[g] = Gaussian(res.mean[..., 0] if squeeze else res.mean, cov)
        return Prediction(out.get("nngp"), out.get("ntk"), info)

    acc = S.accumulation_dtype(
        y.dtype
        if by_function
        else jnp.result_type(
            *(jnp.asarray(_part(k_train_train, g, "k_train_train")).dtype for g in need)
        )
    )
    acc = S.accumulation_dtype(jnp.promote_types(acc, y.dtype))
    tol = S.default_tol(acc) if tol is None else tol
    y = y.astype(acc)
    tile = min(tile_size, n)
    for g in get:
        data = _Data(
            y=T.replicate(y, mesh),
            k_train=None if matrix_free else _stored(k_train_train, g, mesh, n),
            k_cross=None
            if (matrix_free or not test)
            else jnp.asarray(_part(k_test_train, g, "k_test_train")),
            s_train=None
            if (matrix_free or not compute_cov or g == "nngp")
            else _stored(k_train_train, "nngp", mesh, n),
            s_cross=None
            if (matrix_free or not compute_cov or not test)
            else jnp.asarray(_part(k_test_train, "nngp", "k_test_train")),
            s_test=None
            if not compute_cov
            else (k_test_test if test else _part(k_train_train, "nngp", "k_train_train")[:n]),
            x_train=None if not matrix_free else T.replicate(xtr, mesh),
            x_test=None if not (matrix_free and test) else T.replicate(xte, mesh),
        )
        if compute_cov and not test and matrix_free:
            data = data._replace(
                s_test=T._part(kernel_fn(xtr, None, get=("nngp",)), "nngp", "x_train")
            )
        if mesh is not None:
            data = jax.tree.map(
                lambda a: T.replicate(np.asarray(a), mesh) if _local(a) else a, data
            )
        mean, cov, solve_info = _solve_infinite(
            data,
            T.replicate(np.asarray(diag_reg, acc), mesh),
            T.replicate(np.asarray(tol, acc), mesh),
            g=g,
            solver=solver,
            compute_cov=compute_cov,
            test=test,
            kernel_fn=kernel_fn if matrix_free else None,
            tile=tile,
            mesh=mesh,
            max_iter=max_iter,
            rank=rank,
            patience=patience,
        )
        out[g] = Gaussian(mean[:, 0] if squeeze else mean, cov)
        info[g] = solve_info
    return Prediction(out.get("nngp"), out.get("ntk"), info)


def _local(a: Any) -> bool:
    """True for an array that is not yet a global array laid out on a multi-device mesh."""
    return not (isinstance(a, jax.Array) and len(a.sharding.device_set) > 1)


def _stored(k: Any, g: str, mesh: Any, n: int) -> jax.Array:
    """The stored train-train kernel g, row-sharded over ``mesh`` (padded rows) when given."""
    value = _part(k, g, "k_train_train")
    if mesh is None or (isinstance(value, jax.Array) and len(value.sharding.device_set) > 1):
        return jnp.asarray(value)
    arr = np.asarray(value)
    rows = T.padded_rows(n, mesh, 1)
    arr = np.concatenate([arr, np.repeat(arr[:1], rows - n, 0)])
    sharding = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec(T.AXIS, None))
    return jax.make_array_from_callback(arr.shape, sharding, lambda idx: arr[idx])


def gp_inference(
    k_train_train: Any,
    y_train: Any,
    k_test_train: Any = None,
    k_test_test: Any = None,
    *,
    get: Sequence[str] | str = ("nngp", "ntk"),
    diag_reg: float | jax.Array = 0.0,
    solver: Literal["auto", "eigh", "cholesky", "cg"] = "auto",
    validate: bool = True,
    **solver_options: Any,
) -> Prediction:
    r"""Exact NNGP posterior and NTK-GP (neural-tangents' ``predict.gp_inference``).

    :func:`predict` at ``t = None`` with kernel matrices: the covariance is returned when
    ``k_test_test`` is given (or on the training set, ``k_test_train=None``).

    Args:
      k_train_train: :class:`Kernels` ``(n, n)``.
      y_train: targets ``(n, O)`` or ``(n,)``.
      k_test_train: :class:`Kernels` ``(Q, n)``, or ``None`` for the training inputs.
      k_test_test: test-test NNGP ``(Q, Q)`` (array or with ``.nngp``), for the covariance.
      get: ``"nngp"``, ``"ntk"`` or both.
      diag_reg: relative diagonal regulariser.
      solver: ``"auto"``, ``"eigh"``, ``"cholesky"`` or ``"cg"``.
      validate: symmetry / PSD checks of the kernels.
      **solver_options: ``tol``, ``max_iter``, ``preconditioner``, ``rank``, ``patience``.

    Returns:
      :class:`Prediction`.

    Example:
      >>> import jax.numpy as jnp
      >>> k = Kernels(jnp.array([[2.0, 1.0], [1.0, 2.0]]), jnp.array([[3.0, 1.0], [1.0, 3.0]]))
      >>> out = gp_inference(k, jnp.array([1.0, -1.0]), get="nngp")
      >>> print(out.nngp.mean, out.nngp.covariance.shape)
      [ 1. -1.] (2, 2)
    """
    compute_cov = k_test_test is not None or k_test_train is None
    return predict(
        y_train,
        k_train_train=k_train_train,
        k_test_train=k_test_train,
        k_test_test=k_test_test,
        get=get,
        diag_reg=diag_reg,
        compute_cov=compute_cov,
        solver=solver,
        validate=validate,
        **solver_options,
    )
