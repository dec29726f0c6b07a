"""Leaky (continuous-time, Euler-discretised) rate RNN: pure functions, a Flax NNX module and its W_h-only NTK.

.. math::
    u_t = (1 - a)\\, h_{t-1} + a\\,(W_x x_t + W_h h_{t-1}),\\qquad h_t = \\phi(u_t),\\qquad
    \\hat y_t = W_y h_t,\\qquad h_0 = 0,

with leak :math:`a = dt/\\tau` (``leak``), :math:`\\phi` = ReLU by default, no biases (Liu et al.).
Parameters are a dict ``{"w_x": (N, D), "w_h": (N, N), "w_y": (O, N)}`` acting on column vectors.

References:
  Liu et al. (ICLR 2024), https://arxiv.org/abs/2310.08513, Sec. 3; code ``Helena-Yuhan-Liu/BioRNN_RichLazy``.
"""

from __future__ import annotations

import functools
from typing import Literal

import jax
import jax.numpy as jnp
import jax.random as jr
from flax import nnx

from lazyrich import _checks

__all__ = [
    "LeakyRNN",
    "init_rnn_params",
    "recurrent_tangent_kernel",
    "rnn_apply",
    "rnn_hidden",
]

Activation = Literal["relu", "tanh", "linear"]
_ACTIVATIONS = {"relu": jax.nn.relu, "tanh": jnp.tanh, "linear": lambda u: u}


def _check_params(params) -> tuple[int, int, int]:
    if not isinstance(params, dict) or not {"w_x", "w_h", "w_y"} <= set(params):
        raise ValueError(
            "`params` must be a dict with keys 'w_x' (N, D), 'w_h' (N, N) and 'w_y' (O, N), got "
            f"{type(params).__name__} with keys {sorted(params) if isinstance(params, dict) else None}."
        )
    n, d = jnp.shape(params["w_x"])
    _checks.check_square("params['w_h']", params["w_h"])
    if params["w_h"].shape[0] != n or jnp.shape(params["w_y"])[1] != n:
        raise ValueError(
            f"inconsistent `params` shapes: w_x {jnp.shape(params['w_x'])}, w_h {jnp.shape(params['w_h'])}, "
            f"w_y {jnp.shape(params['w_y'])}; expected (N, D), (N, N), (O, N)."
        )
    return n, d, jnp.shape(params["w_y"])[0]


def _check_inputs(x, input_dim: int) -> None:
    _checks.check_ndim("x", x, 3)
    if x.shape[-1] != input_dim:
        raise ValueError(
            f"`x` must have shape (B, T, {input_dim}) to match `params['w_x']`, got {x.shape}."
        )


def init_rnn_params(
    key: jax.Array,
    *,
    input_dim: int,
    width: int,
    output_dim: int,
    w_h: jax.Array | None = None,
    gain=1.25,
    dtype=jnp.float32,
) -> dict[str, jax.Array]:
    r"""Parameters of :func:`rnn_apply` initialised as in the paper's code.

    :math:`W_x \sim U(\pm 1/\sqrt D)`, :math:`W_y \sim U(\pm 1/\sqrt N)` (PyTorch ``nn.Linear`` default, no bias)
    and :math:`W_h = g Z/\sqrt N` unless ``w_h`` is given (e.g. from :func:`low_rank_connectivity`).

    Args:
      key: typed PRNG key.
      input_dim: D.
      width: N.
      output_dim: O.
      w_h: optional ``(N, N)`` recurrent matrix.
      gain: g of the default Gaussian ``w_h``.
      dtype: floating dtype.

    Returns:
      ``{"w_x": (N, D), "w_h": (N, N), "w_y": (O, N)}``.

    Raises:
      ValueError: for sizes < 1 or a ``w_h`` of the wrong shape or with non-finite entries.
    """
    _checks.check_key("key", key)
    for name, value in (("input_dim", input_dim), ("width", width), ("output_dim", output_dim)):
        _checks.check_int(name, value, minimum=1)
    kx, kh, ky = jr.split(key, 3)
    bound_x = 1.0 / jnp.sqrt(jnp.asarray(input_dim, dtype))
    bound_y = 1.0 / jnp.sqrt(jnp.asarray(width, dtype))
    if w_h is None:
        w_h = gain * jr.normal(kh, (width, width), dtype) / jnp.sqrt(jnp.asarray(width, dtype))
    else:
        if jnp.shape(w_h) != (width, width):
            raise ValueError(f"`w_h` must have shape ({width}, {width}), got {jnp.shape(w_h)}.")
        _checks.check_finite("w_h", w_h)
        w_h = jnp.asarray(w_h, dtype)
    return {
        "w_x": jr.uniform(kx, (width, input_dim), dtype, -bound_x, bound_x),
        "w_h": w_h,
        "w_y": jr.uniform(ky, (output_dim, width), dtype, -bound_y, bound_y),
    }


def _scan(params, x, *, leak, activation, perturbation=None):
    """Hidden states ``(B, T, N)``; ``perturbation`` (B, T, N) is added to the pre-activations u_t."""
    phi = _ACTIVATIONS[activation]
    xs = jnp.swapaxes(x, 0, 1)  # (T, B, D)
    drive = jnp.einsum("tbd,nd->tbn", xs, params["w_x"])
    if perturbation is not None:
        drive_pert = jnp.swapaxes(perturbation, 0, 1)
    else:
        drive_pert = jnp.zeros_like(drive)

    def step(h, inputs):
        d_t, e_t = inputs
        u = (1.0 - leak) * h + leak * (d_t + h @ params["w_h"].T) + e_t
        h_new = phi(u)
        return h_new, h_new

    h0 = jnp.zeros((x.shape[0], params["w_h"].shape[0]), drive.dtype)
    _, hs = jax.lax.scan(step, h0, (drive, drive_pert))
    return jnp.swapaxes(hs, 0, 1)


def rnn_hidden(params, x, *, leak=1.0, activation: Activation = "relu") -> jax.Array:
    """Hidden states :math:`h_1..h_T` of the leaky RNN, shape ``(B, T, N)`` for inputs ``x`` of shape (B, T, D).

    Raises:
      ValueError: for inconsistent parameter or input shapes or an unknown ``activation``.
    """
    _, d, _ = _check_params(params)
    _check_inputs(x, d)
    _checks.check_choice("activation", activation, tuple(_ACTIVATIONS))
    return _scan(params, x, leak=leak, activation=activation)


def rnn_apply(params, x, *, leak=1.0, activation: Activation = "relu") -> jax.Array:
    r"""Readout :math:`\hat y_t = W_y h_t` at every step, shape ``(B, T, O)`` (logits for classification).

    Args:
      params: ``{"w_x": (N, D), "w_h": (N, N), "w_y": (O, N)}``.
      x: inputs ``(B, T, D)``.
      leak: :math:`a = dt/\tau` in (0, 1] (may be traced).
      activation: ``"relu"`` (default), ``"tanh"`` or ``"linear"``.

    Returns:
      ``(B, T, O)`` outputs.

    Raises:
      ValueError: for inconsistent parameter or input shapes or an unknown ``activation``.
    """
    h = rnn_hidden(params, x, leak=leak, activation=activation)
    return jnp.einsum("btn,on->bto", h, params["w_y"])


class LeakyRNN(nnx.Module):
    """Flax NNX form of :func:`rnn_apply`; ``nnx.split`` gives the same parameter dict layout.

    Example:
      >>> model = LeakyRNN(input_dim=3, width=16, output_dim=3, rngs=nnx.Rngs(0))
      >>> model(jnp.zeros((2, 8, 3))).shape
      (2, 8, 3)
    """

    def __init__(
        self,
        *,
        input_dim: int,
        width: int,
        output_dim: int,
        rngs: nnx.Rngs,
        w_h: jax.Array | None = None,
        gain: float = 1.25,
        leak: float = 1.0,
        activation: Activation = "relu",
    ):
        _checks.check_choice("activation", activation, tuple(_ACTIVATIONS))
        p = init_rnn_params(
            rngs.params(),
            input_dim=input_dim,
            width=width,
            output_dim=output_dim,
            w_h=w_h,
            gain=gain,
        )
        self.w_x = nnx.Param(p["w_x"])
        self.w_h = nnx.Param(p["w_h"])
        self.w_y = nnx.Param(p["w_y"])
        self.leak = leak
        self.activation = activation

    def params(self) -> dict[str, jax.Array]:
        """The pure-function parameter dict of this module."""
        return {"w_x": self.w_x[...], "w_h": self.w_h[...], "w_y": self.w_y[...]}

    def __call__(self, x: jax.Array) -> jax.Array:
        return rnn_apply(self.params(), x, leak=self.leak, activation=self.activation)


def _activation_derivative(h, activation):
    """:math:`\\phi'(u_t)` from the hidden states :math:`h_t = \\phi(u_t)` (ReLU: 1 where h > 0, as ``jax.nn.relu``)."""
    if activation == "relu":
        return (h > 0).astype(h.dtype)
    if activation == "tanh":
        return 1.0 - h * h
    return jnp.ones_like(h)


def _backpropagated_by_lag(params, x, *, leak, activation):
    r"""Causal backpropagated vectors :math:`\delta^{(t,o)}_s = \partial\hat y_{t,o}/\partial u_s`, packed by lag.

    :math:`\delta^{(t,o)}_t = \phi'(u_t)\odot W_y[o]` and
    :math:`\delta^{(t,o)}_s = \phi'(u_s)\odot M^\top\delta^{(t,o)}_{s+1}` with
    :math:`M = (1 - a) I + a W_h`, for :math:`s < t`; they vanish for :math:`s > t` (causality). Only the
    :math:`s \ge 1` (0-based) vectors enter the kernel, since :math:`h_{s-1} = h_{-1} = 0` at s = 0.

    Returns:
      ``lags``: list over lag k = t - s = 0..T-2 of ``(B, T-1-k, O, N)`` arrays, entry ``[:, j]`` the vector
      of s = j + 1, t = j + 1 + k; and ``h`` ``(B, T, N)``.
    """
    h = _scan(params, x, leak=leak, activation=activation)
    dphi = _activation_derivative(h, activation)
    num_steps = x.shape[1]
    lag = dphi[:, :, None, :] * params["w_y"][None, None]  # (B, T, O, N), s = t = 0..T-1
    lags = [lag[:, 1:]]
    for k in range(1, num_steps - 1):
        prev = lag[:, 1:]  # t = k..T-1 at s + 1 = t - k + 1
        lag = dphi[:, : num_steps - k, None, :] * (
            (1.0 - leak) * prev + leak * (prev @ params["w_h"])
        )
        lags.append(lag[:, 1:])  # drop s = 0
    return lags, h


def _kernel_from_lags(lags1, h1, lags2, h2, *, symmetric):
    r"""Assemble :math:`K_{ab} = \sum_{s,s'}(\delta^a_s\cdot\delta^b_{s'})(h^{(a)}_{s-1}\cdot h^{(b)}_{s'-1})`
    (without the :math:`a_{\rm leak}^2`) as a ``(B1, T, O, B2, T, O)`` array, one matmul per lag k of ``x1``
    against the lags l of ``x2`` (only l >= k when ``symmetric``: the (l, k) block is the transpose)."""
    b1, num_steps, n = h1.shape
    b2, o = h2.shape[0], lags1[0].shape[2]
    dtype = h1.dtype
    # C[i, s, j, s'] = h^i_{s-1} . h^j_{s'-1} for s, s' >= 1 (0-based), i.e. h at 0..T-2.
    gram_h = jnp.einsum("isn,jun->isju", h1[:, :-1], h2[:, :-1])
    packed2 = jnp.concatenate([g.reshape(-1, n) for g in lags2], axis=0)
    offsets = [0]
    for g in lags2:
        offsets.append(offsets[-1] + g.shape[0] * g.shape[1] * o)
    upper = jnp.zeros((b1, num_steps, o, b2, num_steps, o), dtype)
    diag = jnp.zeros_like(upper) if symmetric else None
    for k, g1 in enumerate(lags1):
        first = k if symmetric else 0
        rows = g1.reshape(-1, n)
        dots = rows @ packed2[offsets[first] :].T  # (B1 (T-1-k) O, sum_l B2 (T-1-l) O)
        col = 0
        for l in range(first, len(lags2)):
            width = offsets[l + 1] - offsets[l]
            block = dots[:, col : col + width].reshape(b1, num_steps - 1 - k, o, b2, -1, o)
            col += width
            c = gram_h[:, : num_steps - 1 - k, :, : num_steps - 1 - l]
            block = block * c[:, :, None, :, :, None]
            if symmetric and l == k:
                diag = diag.at[:, k + 1 :, :, :, l + 1 :, :].add(block)
            else:
                upper = upper.at[:, k + 1 :, :, :, l + 1 :, :].add(block)
    if symmetric:
        upper = upper + jnp.transpose(upper, (3, 4, 5, 0, 1, 2)) + diag
    return upper


def recurrent_tangent_kernel(
    params, x1, x2=None, *, leak=1.0, activation: Activation = "relu", batch_size: int | None = None
) -> jax.Array:
    r"""Tangent kernel with respect to the recurrent weights :math:`W_h` only, every output a separate index.

    .. math::
        K_{ab} = \Big\langle \frac{\partial \hat y_a}{\partial W_h}, \frac{\partial \hat y_b}{\partial W_h}
        \Big\rangle_F,\qquad a = (b, t, o)

    over trials ``b``, steps ``t`` and outputs ``o`` (Liu et al.'s K; flattened in (trial, step, output)
    order). It uses the factorisation
    :math:`\partial \hat y_a/\partial W_h = a_{\rm leak}\sum_{s \le t} \delta^a_s h_{s-1}^\top`, with
    :math:`\delta^a_s = \partial \hat y_a/\partial u_s` (zero for s > t: causality), so that

    .. math:: K_{ab} = a_{\rm leak}^2 \sum_{s \le t,\, s' \le t'} (\delta^a_s\cdot\delta^b_{s'})\,
        (h^{(a)}_{s-1}\cdot h^{(b)}_{s'-1})

    and never forms the ``(B T O) x N^2`` Jacobian. The :math:`\delta` are computed by one backward
    recursion per lag t - s (a matmul by :math:`W_h` over all trials and outputs), only for
    :math:`1 \le s \le t` (:math:`h_{-1} = 0` removes s = 0), and grouped by lag, so that the
    :math:`\delta\cdot\delta` products are one matmul per lag over the packed non-zero vectors; for
    ``x2 = None`` the kernel is symmetric and only lag pairs l >= k are formed. Cost: with
    :math:`P = B\,O\,T(T-1)/2` non-zero vectors, :math:`O(P^2 N/2)` for the products (instead of
    :math:`O((BOT^2)^2 N)` without causality) plus :math:`O(P N^2)` for the recursion. It equals
    ``empirical_ntk(..., trace_outputs=False)`` restricted to ``w_h``.

    Args:
      params: RNN parameters (see :func:`rnn_apply`).
      x1: inputs ``(B1, T, D)``.
      x2: inputs ``(B2, T, D)``; ``None`` means ``x1``.
      leak: :math:`a_{\rm leak}`.
      activation: nonlinearity.
      batch_size: process the rows of ``x1`` in chunks of this many trials (memory ``O(batch_size T O B2 T O)``
        per chunk instead of the whole kernel at once; the symmetric saving is then not used);
        ``None`` or ``B1`` = all at once (fastest).

    Returns:
      ``(B1 T O, B2 T O)`` kernel.

    Raises:
      ValueError: for inconsistent shapes, an unknown ``activation`` or a ``batch_size`` not dividing ``B1``.
    """
    _, d, _ = _check_params(params)
    _check_inputs(x1, d)
    if x2 is not None:
        _check_inputs(x2, d)
        _checks.check_same_features("x1", x1, "x2", x2)
        if x2.shape[1] != x1.shape[1]:
            raise ValueError(
                f"`x1` and `x2` must have the same number of steps, got {x1.shape} and {x2.shape}."
            )
    _checks.check_choice("activation", activation, tuple(_ACTIVATIONS))
    num1 = x1.shape[0]
    if batch_size is not None:
        _checks.check_int("batch_size", batch_size, minimum=1)
        if num1 % batch_size:
            raise ValueError(
                f"`batch_size` ({batch_size}) must divide the number of trials in `x1` ({num1})."
            )
    return _tangent_kernel(params, x1, x2, leak, activation=activation, batch_size=batch_size)


@functools.partial(jax.jit, static_argnames=("activation", "batch_size"))
def _tangent_kernel(params, x1, x2, leak, *, activation, batch_size):
    """The validated body of :func:`recurrent_tangent_kernel`, compiled as one program (eager dispatch of its
    many small lag-pair ops would compile each of them separately)."""
    num1, num_steps = x1.shape[0], x1.shape[1]
    o = params["w_y"].shape[0]
    num2 = num1 if x2 is None else x2.shape[0]
    if num_steps < 2:  # y_0 = W_y phi(W_x x_0) does not depend on W_h
        return jnp.zeros((num1 * num_steps * o, num2 * num_steps * o), x1.dtype)
    kw = dict(leak=leak, activation=activation)
    lags2, h2 = _backpropagated_by_lag(params, x1 if x2 is None else x2, **kw)
    if batch_size is None or batch_size == num1:
        if x2 is None:
            k = _kernel_from_lags(lags2, h2, lags2, h2, symmetric=True)
        else:
            lags1, h1 = _backpropagated_by_lag(params, x1, **kw)
            k = _kernel_from_lags(lags1, h1, lags2, h2, symmetric=False)
    else:

        def rows(xb):
            lags1, h1 = _backpropagated_by_lag(params, xb, **kw)
            return _kernel_from_lags(lags1, h1, lags2, h2, symmetric=False)

        k = jax.lax.map(rows, x1.reshape((num1 // batch_size, batch_size) + x1.shape[1:]))
    return (leak**2) * k.reshape(num1 * num_steps * o, num2 * num_steps * o)
