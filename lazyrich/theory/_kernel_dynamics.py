r"""Closed-form function-space dynamics of wide networks under MSE gradient flow (Jacot et al., Sec. 5).

Loss convention (neural-tangents' ``predict.gradient_descent_mse``):
:math:`\mathcal L = \frac{1}{2PO} \sum_{i,o} (f_o(x_i) - y_{io})^2` over P training points and O
outputs, so gradient flow with a fixed kernel :math:`K` (traced over outputs, shape ``(P, P)``) at
rate :math:`\eta` gives

.. math::
    f_t(X) = y + e^{-\eta t K / (PO)} (f_0(X) - y), \qquad
    f_t(x) = f_0(x) + K(x, X)\, V \operatorname{diag}\!\Big(
        \frac{1 - e^{-\eta t \lambda_k/(PO)}}{\lambda_k}\Big) V^\top (y - f_0(X)),

with :math:`K(X, X) = V \operatorname{diag}(\lambda) V^\top` (eigenvalues clipped at 0). ``t``
counts gradient-flow time in units of the learning rate (absolute time :math:`\eta t`).
"""

from __future__ import annotations

from typing import Any, Literal, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from lazyrich._checks import check_choice, check_finite, check_ndim, check_square
from lazyrich.theory._predict_checks import check_kernel_matrix


class Gaussian(NamedTuple):
    """Mean and covariance of a Gaussian over network outputs.

    Attributes:
      mean: shape ``([T,] Q, O)`` (or ``([T,] Q)`` for 1-D targets).
      covariance: shape ``([T,] Q, Q)``, shared by all outputs (the outputs are i.i.d. at infinite
        width); ``None`` when it was not requested.
    """

    mean: jax.Array
    covariance: jax.Array | None


def _as_2d_targets(name: str, y: Any) -> tuple[jax.Array, bool]:
    check_ndim(name, y, (1, 2))
    y = jnp.asarray(y)
    return (y[:, None], True) if y.ndim == 1 else (y, False)


def _check_rows(name: str, x: Any, rows: int, what: str) -> None:
    if np.shape(x)[0] != rows:
        raise ValueError(f"`{name}` has {np.shape(x)[0]} rows but {what} has {rows}.")


def _regularize(k: jax.Array, diag_reg: Any) -> jax.Array:
    """K + diag_reg * mean(diag K) * I (neural-tangents' relative scale)."""
    n = k.shape[0]
    scale = jnp.trace(k) / n
    return k + (diag_reg * scale) * jnp.eye(n, dtype=k.dtype)


def _eigh(k: jax.Array, diag_reg: Any) -> tuple[jax.Array, jax.Array]:
    evals, evecs = jnp.linalg.eigh(_regularize(k, diag_reg))
    return jnp.maximum(evals, 0.0), evecs


def _rate(t: Any, learning_rate: Any, normalization: int, dtype) -> jax.Array:
    t = jnp.asarray(jnp.inf if t is None else t, dtype)
    return learning_rate * t / normalization


def _decay_and_gain(evals: jax.Array, rate: jax.Array) -> tuple[jax.Array, jax.Array]:
    """exp(-rate lambda) and (1 - exp(-rate lambda)) / lambda, with their limits at lambda = 0.

    ``rate`` has shape ``([T])``; results ``([T,] P)``. Null modes do not move; at infinite time
    their gain is set to 0 (the pseudo-inverse), which is exact when the test kernel is orthogonal
    to them.
    """
    r = rate[..., None]
    positive = evals > 0
    lam = jnp.where(positive, evals, 1.0)
    x = r * lam
    decay = jnp.where(positive, jnp.exp(-x), 1.0)
    gain = jnp.where(positive, -jnp.expm1(-x) / lam, jnp.where(jnp.isfinite(r), r, 0.0))
    return decay, gain


def _check_common(
    k_train_train, y_train, t, learning_rate, diag_reg, validate=True, name="k_train_train"
):
    check_kernel_matrix(name, k_train_train, validate=validate)
    check_ndim("y_train", y_train, (1, 2))
    check_finite("y_train", y_train)
    _check_rows("y_train", y_train, np.shape(k_train_train)[0], "`k_train_train`")
    check_time_and_rates(t, learning_rate, diag_reg)


def check_time_and_rates(t, learning_rate, diag_reg):
    """``t`` >= 0 (scalar or 1-D, or None), ``learning_rate`` > 0, ``diag_reg`` >= 0, finite."""
    if t is not None:
        check_ndim("t", t, (0, 1))
        if not isinstance(t, jax.core.Tracer) and np.any(np.asarray(t) < 0):
            raise ValueError(f"`t` must be >= 0, got {t!r}.")
    for name, value in (("learning_rate", learning_rate), ("diag_reg", diag_reg)):
        check_ndim(name, value, 0)
        if not isinstance(value, jax.core.Tracer) and not np.isfinite(value):
            raise ValueError(f"`{name}` must be finite, got {value!r}.")
    if not isinstance(learning_rate, jax.core.Tracer) and learning_rate <= 0:
        raise ValueError(f"`learning_rate` must be > 0, got {learning_rate!r}.")
    if not isinstance(diag_reg, jax.core.Tracer) and diag_reg < 0:
        raise ValueError(f"`diag_reg` must be >= 0, got {diag_reg!r}.")


def mse_gradient_flow(
    k_train_train: jax.Array,
    y_train: jax.Array,
    t: float | jax.Array | None,
    *,
    learning_rate: float | jax.Array = 1.0,
    f0_train: jax.Array | None = None,
    k_test_train: jax.Array | None = None,
    f0_test: jax.Array | None = None,
    diag_reg: float | jax.Array = 0.0,
    validate: bool = True,
) -> tuple[jax.Array, jax.Array | None]:
    r"""Network outputs after MSE gradient flow with a fixed kernel, in closed form.

    .. math::
        f_t(X) = y + e^{-\eta t K/(PO)} (f_0(X) - y), \quad
        f_t(x) = f_0(x) + K(x, X) K^{-1} (I - e^{-\eta t K/(PO)}) (y - f_0(X)),

    the solution of :math:`\dot f = -\eta\, K \nabla_f \mathcal L` for the loss
    :math:`\frac{1}{2PO}\sum (f - y)^2` (neural-tangents' ``gradient_descent_mse`` convention). One
    eigendecomposition of :math:`K` serves every time in ``t``; eigenvalues are clipped at 0, and at
    :math:`t = \infty` null modes get the pseudo-inverse (for a positive definite :math:`K` this is
    kernel regression, :math:`f_\infty(x) = f_0(x) + K(x, X) K^{-1}(y - f_0(X))`).

    Args:
      k_train_train: kernel on the training inputs, shape ``(P, P)``.
      y_train: targets, shape ``(P, O)`` or ``(P,)``.
      t: time (in units of the learning rate) as a scalar or a 1-D array of ``T`` times; ``None`` or
        ``inf`` is convergence.
      learning_rate: :math:`\eta`.
      f0_train: outputs at initialization on the training inputs, shape of ``y_train`` (default 0).
      k_test_train: kernel between test and training inputs, shape ``(Q, P)``.
      f0_test: outputs at initialization on the test inputs, shape ``(Q, O)`` or ``(Q,)`` (default
        0).
      diag_reg: adds ``diag_reg * mean(diag K)`` to the diagonal of ``K`` (neural-tangents' relative
        scale).
      validate: check that ``k_train_train`` is symmetric and positive semi-definite to the
        tolerance of :mod:`lazyrich.theory._predict_checks` (eigenvalues down to ``-rtol`` times the
        largest are clipped at 0); ``False`` skips these two checks.

    Returns:
      ``(f_train_t, f_test_t)`` with shapes ``([T,] P, O)`` and ``([T,] Q, O)`` (no ``O`` axis for
      1-D targets); ``f_test_t`` is ``None`` without ``k_test_train``.

    Raises:
      ValueError: if ``k_train_train`` is not square, non-finite, not symmetric or not PSD, shapes of ``y_train``,
        ``f0_train``, ``k_test_train`` or ``f0_test`` do not match, ``t`` is negative or more than
        1-D, ``learning_rate <= 0`` or ``diag_reg < 0``.

    Example:
      >>> import jax.numpy as jnp
      >>> k = jnp.array([[2.0, 1.0], [1.0, 2.0]])
      >>> f_train, _ = mse_gradient_flow(k, jnp.array([1.0, -1.0]), jnp.inf)
      >>> print(f_train)
      [ 1. -1.]

    References:
      Jacot, Gabriel, Hongler (2018), https://arxiv.org/abs/1806.07572, Sec. 5;
      Lee et al. (2019), https://arxiv.org/abs/1902.06720, eqs. 9-10.
    """
    _check_common(k_train_train, y_train, t, learning_rate, diag_reg, validate)
    y, squeeze = _as_2d_targets("y_train", y_train)
    num_train, num_out = y.shape
    if f0_train is None:
        f0 = jnp.zeros_like(y)
    else:
        if np.shape(f0_train) != np.shape(y_train):
            raise ValueError(
                f"`f0_train` must have the shape of `y_train` {np.shape(y_train)}, "
                f"got {np.shape(f0_train)}."
            )
        check_finite("f0_train", f0_train)
        f0 = jnp.asarray(f0_train).reshape(y.shape)
    if k_test_train is not None:
        check_ndim("k_test_train", k_test_train, 2)
        check_finite("k_test_train", k_test_train)
        if np.shape(k_test_train)[1] != num_train:
            raise ValueError(
                f"`k_test_train` must have {num_train} columns (one per training point), got shape "
                f"{np.shape(k_test_train)}."
            )
        num_test = np.shape(k_test_train)[0]
        want = (num_test,) if squeeze else (num_test, num_out)
        if f0_test is not None:
            if np.shape(f0_test) != want:
                raise ValueError(f"`f0_test` must have shape {want}, got {np.shape(f0_test)}.")
            check_finite("f0_test", f0_test)
    elif f0_test is not None:
        raise ValueError("`f0_test` was given without `k_test_train`.")

    k = jnp.asarray(k_train_train)
    evals, evecs = _eigh(k, diag_reg)
    rate = _rate(t, learning_rate, num_train * num_out, k.dtype)
    decay, gain = _decay_and_gain(evals, rate)  # ([T,] P)
    r0 = evecs.T @ (f0 - y)  # (P, O)
    f_train = y + jnp.einsum("pk,...k,ko->...po", evecs, decay, r0)
    f_test = None
    if k_test_train is not None:
        ktv = jnp.asarray(k_test_train) @ evecs  # (Q, P)
        g0 = (
            jnp.zeros((ktv.shape[0], num_out), k.dtype) if f0_test is None else jnp.asarray(f0_test)
        )
        g0 = g0.reshape(ktv.shape[0], num_out)
        f_test = g0 - jnp.einsum("qk,...k,ko->...qo", ktv, gain, r0)
    if squeeze:
        f_train = f_train[..., 0]
        f_test = None if f_test is None else f_test[..., 0]
    return f_train, f_test


def _kernel_part(name: str, k: Any, part: str) -> jax.Array:
    if not hasattr(k, part):
        raise TypeError(
            f"`{name}` must have `.nngp` and `.ntk` arrays (e.g. the result of `mlp_kernels`), "
            f"got {type(k).__name__}."
        )
    return jnp.asarray(getattr(k, part))


def gradient_descent_mse_ensemble(
    k_train_train: Any,
    y_train: jax.Array,
    t: float | jax.Array | None = None,
    *,
    k_test_train: Any = None,
    nngp_test_test: jax.Array | None = None,
    kernel: Literal["ntk", "nngp"] = "ntk",
    learning_rate: float | jax.Array = 1.0,
    diag_reg: float | jax.Array = 0.0,
    validate: bool = True,
) -> Gaussian:
    r"""Mean and covariance of an infinite ensemble of infinitely wide networks trained by MSE flow.

    At infinite width :math:`f_0 \sim GP(0, \Sigma)` (the NNGP) and training follows the fixed
    kernel :math:`\Theta` (the NTK), so :math:`f_t(x) = f_0(x) + A_t(x)(y - f_0(X))` with
    :math:`A_t(x) = \Theta(x, X)\Theta^{-1}(I - e^{-\eta t \Theta/(PO)})` is Gaussian (Jacot et al.
    2018, §5; Lee et al. 2019, eqs. 15-16):

    .. math::
        \mu_t(x) = A_t(x)\, y, \qquad
        C_t(x, x') = \Sigma(x, x') - A_t(x)\Sigma(X, x') - \Sigma(x, X) A_t(x')^\top
                     + A_t(x)\,\Sigma(X, X)\, A_t(x')^\top.

    At :math:`t = \infty` (``t=None``), :math:`A = \Theta(x, X)\Theta^{-1}`: Jacot's Gaussian limit.
    With ``kernel="nngp"``, :math:`\Theta` is replaced by :math:`\Sigma` (training only the
    readout); then :math:`C_t = \Sigma(x,x') - \Sigma(x,X) \Sigma^{-1}(I - e^{-2\eta
    t\Sigma/(PO)})\Sigma(X,x')`, and at :math:`t = \infty` this is the exact Bayesian (NNGP)
    posterior. ``diag_reg`` regularizes the kernel driving the dynamics (:math:`\Theta`, or
    :math:`\Sigma` for ``"nngp"``), as neural-tangents' ``gradient_descent_mse_ensemble`` and
    ``gp_inference`` do.

    Args:
      k_train_train: train-train kernels with ``.nngp`` and ``.ntk`` (e.g. :class:`Kernels`), ``(P,
        P)``.
      y_train: targets ``(P, O)`` or ``(P,)``.
      t: time (in units of the learning rate), scalar or 1-D of ``T`` times; ``None`` or ``inf`` is
        convergence.
      k_test_train: test-train kernels ``(Q, P)``; ``None`` predicts on the training inputs, where,
        as in neural-tangents, the regularised driving kernel (``K + diag_reg mean(diag K) I``) is
        used as the train-train kernel (for ``"nngp"`` also in the covariance).
      nngp_test_test: NNGP on the test inputs ``(Q, Q)``; needed for the covariance when
        ``k_test_train`` is given (otherwise ``covariance`` is ``None``).
      kernel: ``"ntk"`` (gradient descent on all layers) or ``"nngp"`` (readout only / Bayesian).
      learning_rate: :math:`\eta`.
      diag_reg: relative diagonal regularizer, ``diag_reg * mean(diag K)``.
      validate: check the train-train kernels and ``nngp_test_test`` for symmetry and positive
        semi-definiteness (:mod:`lazyrich.theory._predict_checks`); ``False`` skips these checks.

    Returns:
      :class:`Gaussian` with ``mean`` ``([T,] Q, O)`` and ``covariance`` ``([T,] Q, Q)``.

    Raises:
      ValueError / TypeError: on mismatched shapes, non-finite, non-symmetric or indefinite
        kernels, an unknown ``kernel``, kernels without ``.nngp``/``.ntk``, negative ``t``,
        ``learning_rate <= 0`` or ``diag_reg < 0``.

    References:
      Jacot, Gabriel, Hongler (2018), https://arxiv.org/abs/1806.07572, Sec. 5;
      Lee et al. (2019), https://arxiv.org/abs/1902.06720, Sec. 2.3.
    """
    check_choice("kernel", kernel, ("ntk", "nngp"))
    sigma_dd = _kernel_part("k_train_train", k_train_train, "nngp")
    theta_dd = _kernel_part("k_train_train", k_train_train, kernel)
    _check_common(
        theta_dd, y_train, t, learning_rate, diag_reg, validate, name=f"k_train_train.{kernel}"
    )
    if kernel == "ntk":
        check_kernel_matrix("k_train_train.nngp", sigma_dd, validate=validate)
    if sigma_dd.shape != theta_dd.shape:
        raise ValueError(
            f"`k_train_train.nngp` and `.ntk` must have the same shape, got {sigma_dd.shape} and "
            f"{theta_dd.shape}."
        )
    y, squeeze = _as_2d_targets("y_train", y_train)
    num_train, num_out = y.shape
    if k_test_train is None:
        if nngp_test_test is not None:
            raise ValueError("`nngp_test_test` was given without `k_test_train`.")
        # On the training inputs the regularised kernel stands for the train-train kernel wherever
        # the driving kernel appears (neural-tangents' convention): for "nngp" the covariance is
        # that of noisy observations, for "ntk" the NNGP terms are not regularised.
        theta_td = _regularize(theta_dd, diag_reg)
        sigma_td = sigma_tt = theta_td if kernel == "nngp" else sigma_dd
    else:
        theta_td = _kernel_part("k_test_train", k_test_train, kernel)
        sigma_td = _kernel_part("k_test_train", k_test_train, "nngp")
        for name, kt in (("k_test_train", theta_td), ("k_test_train.nngp", sigma_td)):
            check_ndim(name, kt, 2)
            check_finite(name, kt)
            if kt.shape[1] != num_train:
                raise ValueError(
                    f"`{name}` must have {num_train} columns (one per training point), "
                    f"got {kt.shape}."
                )
        sigma_tt = None
        if nngp_test_test is not None:
            check_kernel_matrix("nngp_test_test", nngp_test_test, validate=validate)
            _check_rows("nngp_test_test", nngp_test_test, theta_td.shape[0], "`k_test_train`")
            sigma_tt = jnp.asarray(nngp_test_test)

    evals, evecs = _eigh(theta_dd, diag_reg)
    rate = _rate(t, learning_rate, num_train * num_out, theta_dd.dtype)
    _, gain = _decay_and_gain(evals, rate)  # ([T,] P)
    # A_t = Theta(x, X) V diag(gain) V^T, shape ([T,] Q, P).
    a_t = jnp.einsum("qk,...k,pk->...qp", theta_td @ evecs, gain, evecs)
    mean = a_t @ y
    cov = None
    if sigma_tt is not None:
        if kernel == "nngp":
            _, gain2 = _decay_and_gain(evals, 2 * rate)
            stv = sigma_td @ evecs
            cov = sigma_tt - jnp.einsum("qk,...k,rk->...qr", stv, gain2, stv)
        else:
            cross = a_t @ sigma_td.T  # A Sigma(X, x')
            cov = (
                sigma_tt
                - cross
                - jnp.swapaxes(cross, -1, -2)
                + a_t @ sigma_dd @ jnp.swapaxes(a_t, -1, -2)
            )
    if squeeze:
        mean = mean[..., 0]
    return Gaussian(mean, cov)


def max_learning_rate(
    k_train_train: jax.Array,
    *,
    num_outputs: int = 1,
    momentum: float | jax.Array = 0.0,
) -> jax.Array:
    r"""Largest stable learning rate of full-batch gradient descent with a fixed kernel.

    For the loss :math:`\frac{1}{2PO}\sum (f - y)^2`, one GD step maps the residual by
    :math:`I - \eta K/(PO)`, a contraction iff :math:`\eta < 2PO/\lambda_{\max}(K)`; with heavy-ball
    momentum :math:`\beta` the bound is :math:`2(1 + \beta) PO/\lambda_{\max}(K)`
    (neural-tangents' ``predict.max_learning_rate`` convention).

    Args:
      k_train_train: kernel on the training inputs (traced over outputs), shape ``(P, P)``.
      num_outputs: number of outputs ``O`` (so ``P * O`` is the size of the targets).
      momentum: heavy-ball momentum :math:`\beta \in [0, 1)`.

    Returns:
      The scalar :math:`2(1 + \beta) P O / \lambda_{\max}(K)`.

    Raises:
      ValueError: if ``k_train_train`` is not square or non-finite, or ``num_outputs < 1``.

    References:
      Lee et al. (2019), https://arxiv.org/abs/1902.06720, Sec. 2.4 (and neural-tangents).
    """
    check_square("k_train_train", k_train_train)
    check_finite("k_train_train", k_train_train)
    if (
        isinstance(num_outputs, bool)
        or not isinstance(num_outputs, int | np.integer)
        or num_outputs < 1
    ):
        raise ValueError(f"`num_outputs` must be a positive integer, got {num_outputs!r}.")
    k = jnp.asarray(k_train_train)
    lam_max = jnp.linalg.eigvalsh(k)[-1]
    return 2 * (1 + momentum) * k.shape[0] * num_outputs / lam_max
