"""Leaky (continuous-time, Euler-discretised) rate RNN: pure functions, a Flax NNX module and its W_h-only NTK.

.. math::
    u_t = (1 - a)\\, h_{t-1} + a\\,(W_x x_t + W_h h_{t-1}),\\qquad h_t = \\phi(u_t),\\qquad
    \\hat y_t = W_y h_t,\\qquad h_0 = 0,

with leak :math:`a = dt/\tau` (``leak``), :math:`\\phi` = ReLU by default, no biases (papers.md §4.1). Parameters
are a dict ``{"w_x": (N, D), "w_h": (N, N), "w_y": (O, N)}`` acting on column vectors.

References:
  Liu et al. (ICLR 2024), https://arxiv.org/abs/2310.08513, Sec. 3; code ``Helena-Yuhan-Liu/BioRNN_RichLazy``.
"""

from __future__ import annotations

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


def _output_jacobian_wrt_preactivations(params, x, *, leak, activation):
    """Per trial, d y_{t,o} / d u_s of shape (B, T, O, T, N), and the hidden states (B, T, N)."""

    def single(xb):
        def out(eps):
            h = _scan(params, xb[None], leak=leak, activation=activation, perturbation=eps[None])[0]
            return h @ params["w_y"].T, h

        eps0 = jnp.zeros((xb.shape[0], params["w_h"].shape[0]), xb.dtype)
        jac, h = jax.jacrev(out, has_aux=True)(eps0)
        return jac, h

    return jax.vmap(single)(x)


def recurrent_tangent_kernel(
    params, x1, x2=None, *, leak=1.0, activation: Activation = "relu", batch_size: int | None = None
) -> jax.Array:
    r"""Tangent kernel with respect to the recurrent weights :math:`W_h` only, every output a separate index.

    .. math::
        K_{ab} = \Big\langle \frac{\partial \hat y_a}{\partial W_h}, \frac{\partial \hat y_b}{\partial W_h}
        \Big\rangle_F,\qquad a = (b, t, o)

    over trials ``b``, steps ``t`` and outputs ``o`` (Liu et al.'s K; flattened in (trial, step, output)
    order). It uses the factorisation
    :math:`\partial \hat y_a/\partial W_h = a_{\rm leak}\sum_s \delta^a_s h_{s-1}^\top`, with
    :math:`\delta^a_s = \partial \hat y_a/\partial u_s`, so that

    .. math:: K_{ab} = a_{\rm leak}^2 \sum_{s,s'} (\delta^a_s\cdot\delta^b_{s'})\,(h^{(a)}_{s-1}\cdot h^{(b)}_{s'-1})

    and never forms the ``(B T O) x N^2`` Jacobian: the cost is :math:`O(B^2 T^3 O N)` instead of
    :math:`O(B^2 T^2 O^2 N^2)`. It equals ``empirical_ntk(..., trace_outputs=False)`` restricted to ``w_h``.

    Args:
      params: RNN parameters (see :func:`rnn_apply`).
      x1: inputs ``(B1, T, D)``.
      x2: inputs ``(B2, T, D)``; ``None`` means ``x1``.
      leak: :math:`a_{\rm leak}`.
      activation: nonlinearity.
      batch_size: process the rows of ``x1`` in chunks of this many trials (bounded memory); ``None`` = all.

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
    _checks.check_choice("activation", activation, tuple(_ACTIVATIONS))
    num1 = x1.shape[0]
    if batch_size is not None:
        _checks.check_int("batch_size", batch_size, minimum=1)
        if num1 % batch_size:
            raise ValueError(
                f"`batch_size` ({batch_size}) must divide the number of trials in `x1` ({num1})."
            )

    jac1, h1 = _output_jacobian_wrt_preactivations(params, x1, leak=leak, activation=activation)
    if x2 is None:
        jac2, h2 = jac1, h1
    else:
        jac2, h2 = _output_jacobian_wrt_preactivations(params, x2, leak=leak, activation=activation)
    # h_{s-1} with h_0 = 0.
    hp1 = jnp.concatenate([jnp.zeros_like(h1[:, :1]), h1[:, :-1]], axis=1)
    hp2 = jnp.concatenate([jnp.zeros_like(h2[:, :1]), h2[:, :-1]], axis=1)

    def rows(block):
        jb, hb = block  # (b, T, O, T, N), (b, T, N)
        c = jnp.einsum("isn,jun->ijsu", hb, hp2)  # (b, B2, T_s, T_s')
        z = jnp.einsum("ijsu,jpqun->ijpqsn", c, jac2)  # (b, B2, T, O, T_s, N)
        return jnp.einsum("itosn,ijpqsn->itojpq", jb, z)

    if batch_size is None or batch_size == num1:
        k = rows((jac1, hp1))
    else:
        shape = (num1 // batch_size, batch_size)
        k = jax.lax.map(
            rows, (jac1.reshape(shape + jac1.shape[1:]), hp1.reshape(shape + hp1.shape[1:]))
        )
        k = k.reshape((num1,) + k.shape[2:])
    t, o = jac1.shape[1], jac1.shape[2]
    return (leak**2) * k.reshape(num1 * t * o, -1)
