r"""Kernel regression with the infinite-width kernels of five architectures, next to the finite networks.

Each architecture is written once with :mod:`lazyrich.nn` (:func:`architecture`) and read in two ways: its
exact infinite-width NNGP :math:`\Sigma` and NTK :math:`\Theta` from :func:`lazyrich.theory.kernel_fn`, and the
finite network of the same description (``init``/``apply``; ``width`` channels, ``fc_width`` hidden units):

* ``fc`` -- Flatten, ``depth`` x (Dense + ReLU), Dense readout;
* ``cnn-vec`` -- ``depth`` x (3x3 SAME Conv + ReLU), Flatten, Dense (Novak et al. 2019's CNN-VEC);
* ``cnn-gap`` -- the same conv stack, GlobalAvgPool, Dense (CNN-GAP);
* ``myrtle`` -- Myrtle-style (Shankar et al. 2020): 2 x (Conv + ReLU), AvgPool 2x2, Conv + ReLU, AvgPool 2x2,
  Conv + ReLU, GlobalAvgPool, Dense;
* ``resnet`` -- a Conv stem, two pre-activation residual blocks ``x + Conv(ReLU(Conv(ReLU(x))))``,
  ReLU, GlobalAvgPool, Dense.

All in the NTK parameterization, weight scale :math:`\sqrt2` in front of each ReLU, readout scale 1, no biases.

Predictors, on one-hot targets centred to zero mean (:math:`y = e_c - 1/10`), class = argmax:

* ``nngp`` -- the NNGP posterior mean :math:`\Sigma(x, X)(\Sigma(X, X) + \lambda \bar\Sigma I)^{-1} y`;
* ``ntk`` -- the mean of the infinitely wide networks trained to convergence by gradient flow on the MSE
  (:math:`t = \infty`), :math:`\Theta(x, X)(\Theta(X, X) + \lambda \bar\Theta I)^{-1} y`;
* ``finite`` -- the finite network trained on the same targets (full-batch Adam on the MSE through the library's
  training driver ``dynamics.solve`` with ``dynamics.optax_rule``), evaluated every ``eval_every`` steps.

The relative regulariser :math:`\lambda` (neural-tangents' ``diag_reg``, :math:`\bar K` the mean diagonal) is
chosen from ``diag_regs`` by validation accuracy (ties: lower validation MSE), and the finite network's
step likewise; test accuracy is reported at that choice. The kernels are computed in ``kernel_dtype``
(tiles of ``kernel_batch``) and the solves (:func:`lazyrich.theory.gp_inference`) in float64.

Published comparison (CIFAR-10, 32x32x3 natural images): CNN-GAP kernels beat CNN-VEC kernels, which beat FC
kernels (Novak et al. 2019; Arora et al. 2019: CNTK-GAP about 77 % with the full training set, the CNTK
with a vectorised readout well below); the Myrtle kernels of Shankar et al. (2020) reach about 90 % with all
50,000 training images. Pooling builds in (approximate) translation invariance, which the Flatten readout
of CNN-VEC discards (its kernel equals that of a locally connected network: Novak et al. 2019).

What this setting shows (the bundled 8x8 digits, 128 training images by default; numbers in
``docs/reproductions.md``): every kernel, and every finite network, is far above chance, and the pooled
convolutional kernels reach the highest accuracies; the digits are small and centred, so the gaps between
architectures are a few per cent and only the largest are resolved by a test set of this size (the checks
use paired binomial standard errors). The CIFAR-10 ordering and the Myrtle number are claims about a
different data set and scale: run ``--set data=cifar10 data_dir=...`` (the binary batches) with larger sizes
for them; the checks mark them untestable on digits.

References:
  Novak et al., "Bayesian Deep Convolutional Networks with Many Channels are Gaussian Processes", ICLR 2019,
  https://arxiv.org/abs/1810.05148;
  Arora et al., "On Exact Computation with an Infinitely Wide Neural Net", NeurIPS 2019,
  https://arxiv.org/abs/1904.11955;
  Shankar et al., "Neural Kernels Without Tangents", ICML 2020, https://arxiv.org/abs/2003.02237.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Literal

import jax
import jax.numpy as jnp
import numpy as np

from lazyrich import _checks, dynamics, nn, theory
from lazyrich.sims import _analysis as an
from lazyrich.sims import datasets
from lazyrich.sims._experiment import Result, progress_bar

NAME = "novak2019_kernel_architectures"
ARCHITECTURES = ("fc", "cnn-vec", "cnn-gap", "myrtle", "resnet")
KERNELS = ("nngp", "ntk", "finite")
NUM_CLASSES = 10


@dataclasses.dataclass(frozen=True, kw_only=True)
class Config:
    """Settings of the kernel-architectures experiment (defaults: a few minutes on two CPU cores).

    Attributes:
      data: ``"digits"`` (scikit-learn's bundled 8x8 digits) or ``"cifar10"`` (the binary batches in
        ``data_dir``; train and validation images from the training batches, test images from the test batch).
      data_dir: folder of the CIFAR-10 binary version (unused for digits).
      archs: architectures, a subset of ``ARCHITECTURES``.
      num_train, num_val, num_test: sizes of the disjoint training, validation and test sets.
      depth: hidden layers of ``fc`` and conv layers of ``cnn-vec``/``cnn-gap``.
      diag_regs: the relative regularisers to choose from (on the validation set).
      kernel_dtype: dtype of the kernel computation.
      kernel_batch: tile size of the kernel computation (memory: ``kernel_batch^2 * (H W)^2`` numbers per
        intermediate for the pooled networks).
      finite: also train the finite networks.
      width: channels of the conv layers of the finite networks.
      fc_width: hidden units of the finite ``fc`` network.
      num_steps, learning_rate, eval_every: full-batch Adam on the MSE, evaluated every ``eval_every`` steps.
    """

    data: Literal["digits", "cifar10"] = "digits"
    data_dir: str = ""
    archs: tuple[str, ...] = ARCHITECTURES
    num_train: int = 128
    num_val: int = 64
    num_test: int = 192
    depth: int = 3
    diag_regs: tuple[float, ...] = (1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0)
    kernel_dtype: Literal["float32", "float64"] = "float32"
    kernel_batch: int = 128
    finite: bool = True
    width: int = 16
    fc_width: int = 256
    num_steps: int = 200
    learning_rate: float = 0.03
    eval_every: int = 10

    def __post_init__(self):
        _checks.check_choice("data", self.data, ("digits", "cifar10"))
        if self.data == "cifar10" and not self.data_dir:
            raise ValueError(
                "`data_dir` must name the folder with the CIFAR-10 binary batches when data='cifar10'."
            )
        if not self.archs or any(a not in ARCHITECTURES for a in self.archs):
            raise ValueError(
                f"`archs` must be a non-empty list of {ARCHITECTURES}, got {self.archs}."
            )
        if len(set(self.archs)) != len(self.archs):
            raise ValueError(f"`archs` must not repeat an architecture, got {self.archs}.")
        for name in (
            "num_train",
            "num_val",
            "num_test",
            "depth",
            "kernel_batch",
            "width",
            "fc_width",
        ):
            _checks.check_int(name, getattr(self, name), minimum=1)
        _checks.check_int("num_steps", self.num_steps, minimum=0)
        _checks.check_int("eval_every", self.eval_every, minimum=1)
        if not self.diag_regs or any(not (r >= 0 and math.isfinite(r)) for r in self.diag_regs):
            raise ValueError(
                f"`diag_regs` must be a non-empty list of finite numbers >= 0, got {self.diag_regs}."
            )
        if not self.learning_rate > 0:
            raise ValueError(f"`learning_rate` must be > 0, got {self.learning_rate}.")
        if self.data == "digits" and self.num_train + self.num_val + self.num_test > 1797:
            raise ValueError(
                "`num_train` + `num_val` + `num_test` must be <= 1797 (the bundled digits), got "
                f"{self.num_train} + {self.num_val} + {self.num_test}."
            )


def default_config(*, quick: bool = False) -> Config:
    if quick:
        return Config(
            num_train=48, num_val=32, num_test=64, depth=2, width=8, num_steps=200, eval_every=20
        )
    return Config()


def architecture(name: str, width: int, *, depth: int = 3) -> nn.Layer:
    """The :mod:`lazyrich.nn` description of one architecture, with a ``NUM_CLASSES``-wide Dense readout.

    Args:
      name: one of ``ARCHITECTURES``.
      width: channels of every conv layer, or hidden units of ``fc``.
      depth: hidden layers of ``fc``, conv layers of ``cnn-vec`` and ``cnn-gap`` (the ``myrtle`` and
        ``resnet`` shapes are fixed).

    Example:
      >>> net = architecture("cnn-gap", 32, depth=2)
      >>> net.output_shape((8, 8, 1))
      (10,)
    """
    _checks.check_choice("name", name, ARCHITECTURES)
    gain = math.sqrt(2.0)

    def conv(w_std=gain):
        return nn.Conv(width, (3, 3), padding="SAME", W_std=w_std)

    def conv_stack(n):
        return [layer for _ in range(n) for layer in (conv(), nn.Relu())]

    readout = nn.Dense(NUM_CLASSES, W_std=1.0)
    if name == "fc":
        hidden = [layer for _ in range(depth) for layer in (nn.Dense(width, W_std=gain), nn.Relu())]
        return nn.serial(nn.Flatten(), *hidden, readout)
    if name == "cnn-vec":
        return nn.serial(*conv_stack(depth), nn.Flatten(), readout)
    if name == "cnn-gap":
        return nn.serial(*conv_stack(depth), nn.GlobalAvgPool(), readout)
    pool = nn.AvgPool((2, 2), strides=(2, 2))
    if name == "myrtle":
        return nn.serial(
            *conv_stack(2), pool, *conv_stack(1), pool, *conv_stack(1), nn.GlobalAvgPool(), readout
        )
    block = nn.serial(
        nn.FanOut(2),
        nn.parallel(nn.serial(nn.Relu(), conv(), nn.Relu(), conv()), nn.Identity()),
        nn.FanInSum(),
    )
    return nn.serial(conv(1.0), block, block, nn.Relu(), nn.GlobalAvgPool(), readout)


# ----------------------------------------------------------------------------------------------------------------
# Data


def load_data(config: Config, key):
    """``(x_train, y_train, x_val, y_val, x_test, y_test)``: images ``(n, H, W, C)`` float32, int labels."""
    n_fit = config.num_train + config.num_val
    if config.data == "digits":
        x, labels = datasets.load_digits()
        x = x.reshape(-1, 8, 8, 1)
        x_fit, l_fit, x_test, l_test = datasets.split(
            x, labels, num_train=n_fit, num_test=config.num_test, key=key
        )
    else:
        k_fit, k_test = jax.random.split(key)
        x_all, l_all = datasets.load_cifar10(config.data_dir, split="train")
        x_fit, l_fit, _, _ = datasets.split(x_all, l_all, num_train=n_fit, num_test=0, key=k_fit)
        x_all, l_all = datasets.load_cifar10(config.data_dir, split="test")
        x_test, l_test, _, _ = datasets.split(
            x_all, l_all, num_train=config.num_test, num_test=0, key=k_test
        )
        x_fit, x_test = x_fit.astype(np.float64), x_test.astype(np.float64)
        mean = x_fit.mean(axis=(0, 1, 2))
        std = x_fit.std(axis=(0, 1, 2))
        x_fit, x_test = ((a - mean) / std for a in (x_fit, x_test))
    x_fit, x_test = np.asarray(x_fit, np.float32), np.asarray(x_test, np.float32)
    n = config.num_train
    return x_fit[:n], l_fit[:n], x_fit[n:], l_fit[n:], x_test, np.asarray(l_test)


def targets(labels) -> np.ndarray:
    """Centred one-hot regression targets :math:`e_c - 1/10`, shape ``(n, 10)`` (float64)."""
    return np.eye(NUM_CLASSES)[np.asarray(labels)] - 1.0 / NUM_CLASSES


# ----------------------------------------------------------------------------------------------------------------
# Kernel regression


def kernel_matrices(net, x_train, x_eval, *, dtype: str, batch_size: int):
    """``(k_train, k_eval)``: :class:`~lazyrich.theory.Kernels` on train x train and eval x train (float64)."""
    kf = theory.kernel_fn(net, batch_size=batch_size)
    with jax.enable_x64(dtype == "float64"):
        xt, xe = (jnp.asarray(a, dtype) for a in (x_train, x_eval))
        k_train, k_eval = kf(xt), kf(xe, xt)
        k_train, k_eval = (
            theory.Kernels(np.asarray(k.nngp, np.float64), np.asarray(k.ntk, np.float64))
            for k in (k_train, k_eval)
        )
    return k_train, k_eval


def regress(k_train, k_eval, y_train, diag_regs):
    """Predictions on the eval rows for each kernel and regulariser: ``{"nngp"|"ntk": (regs, Q, 10)}``."""
    out = {"nngp": [], "ntk": []}
    with jax.enable_x64(True):
        for reg in diag_regs:
            pred = theory.gp_inference(
                k_train, jnp.asarray(y_train), k_eval, get=("nngp", "ntk"), diag_reg=float(reg)
            )
            for g in out:
                out[g].append(np.asarray(getattr(pred, g).mean))
    return {g: np.stack(v) for g, v in out.items()}


def choose(val_pred, val_labels, val_targets) -> int:
    """Index of the best candidate (axis 0 of ``val_pred``): highest accuracy, ties to the lowest MSE."""
    acc = (val_pred.argmax(-1) == np.asarray(val_labels)[None]).mean(-1)
    mse = ((val_pred - val_targets[None]) ** 2).mean(axis=(-1, -2))
    best = np.flatnonzero(acc == acc.max())
    return int(best[np.argmin(mse[best])])


# ----------------------------------------------------------------------------------------------------------------
# Finite networks


def train_network(net, key, x_train, y_train, x_eval, *, config: Config):
    """Full-batch Adam on :math:`\\frac1{2n}\\sum \\|f(x) - y\\|^2` through :func:`lazyrich.dynamics.solve`;
    eval-set outputs every ``eval_every`` steps, starting at step 0: shape ``(num_evals, Q, 10)``."""
    import optax

    params = net.init(key, x_train.shape[1:])

    def loss(p, batch):
        x, y = batch
        return 0.5 * jnp.mean(jnp.sum((net.apply(p, x) - y) ** 2, axis=-1))

    num_evals = config.num_steps // config.eval_every
    steps = [config.eval_every * i for i in range(num_evals + 1)]
    solution = dynamics.solve(
        loss,
        dynamics.optax_rule(optax.adam(config.learning_rate)),
        params,
        (x_train, y_train),
        max_steps=steps[-1],
        save_steps=steps,
        stop=dynamics.Stop(check_every=config.eval_every),
        observe=lambda p, _: net.apply(p, x_eval),
    )
    return solution.observed


# ----------------------------------------------------------------------------------------------------------------
# Run


def run(config: Config, *, key: jax.Array, progress: bool = False) -> Result:
    data_key, net_key = jax.random.split(key)
    x_tr, l_tr, x_val, l_val, x_te, l_te = load_data(config, data_key)
    y_tr, y_val = targets(l_tr), targets(l_val)
    x_eval = np.concatenate([x_val, x_te])
    n_val = len(l_val)
    archs = config.archs
    num_evals = config.num_steps // config.eval_every + 1
    correct = np.zeros((len(archs), len(KERNELS), len(l_te)), bool)
    val_curve = np.full((len(archs), len(KERNELS), max(len(config.diag_regs), num_evals)), np.nan)
    summary = {
        "accuracy": {},
        "validation_accuracy": {},
        "diag_reg": {},
        "finite_step": {},
        "num_test": len(l_te),
        "chance": 1.0 / NUM_CLASSES,
    }
    for i, arch in enumerate(progress_bar(archs, desc="kernel-architectures", enabled=progress)):
        width = config.fc_width if arch == "fc" else config.width
        net = architecture(arch, width, depth=config.depth)
        k_train, k_eval = kernel_matrices(
            net, x_tr, x_eval, dtype=config.kernel_dtype, batch_size=config.kernel_batch
        )
        preds = regress(k_train, k_eval, y_tr, config.diag_regs)
        summary["accuracy"][arch], summary["validation_accuracy"][arch] = {}, {}
        summary["diag_reg"][arch] = {}
        candidates = {g: preds[g] for g in ("nngp", "ntk")}
        if config.finite:
            outs = train_network(
                net, jax.random.fold_in(net_key, i), x_tr, y_tr, x_eval, config=config
            )
            candidates["finite"] = np.asarray(outs, np.float64)
        for j, g in enumerate(KERNELS):
            if g not in candidates:
                summary["accuracy"][arch][g] = math.nan
                continue
            pred = candidates[g]
            val_acc = (pred[:, :n_val].argmax(-1) == l_val[None]).mean(-1)
            val_curve[i, j, : len(val_acc)] = val_acc
            best = choose(pred[:, :n_val], l_val, y_val)
            correct[i, j] = pred[best, n_val:].argmax(-1) == l_te
            summary["accuracy"][arch][g] = float(correct[i, j].mean())
            summary["validation_accuracy"][arch][g] = float(val_acc[best])
            if g == "finite":
                summary["finite_step"][arch] = best * config.eval_every
            else:
                summary["diag_reg"][arch][g] = float(config.diag_regs[best])
    arrays = {
        "test_correct": correct,
        "test_accuracy": correct.mean(-1),
        "validation_curve": val_curve,
        "diag_regs": np.asarray(config.diag_regs, float),
        "eval_steps": np.arange(num_evals) * config.eval_every,
    }
    metadata = {
        "archs": list(archs),
        "kernels": list(KERNELS),
        "targets": "one-hot minus 1/10; class = argmax",
        "diag_reg": "relative: lambda * mean diagonal of the training kernel (neural-tangents' convention)",
        "finite_training": "full-batch optax.adam on the MSE through dynamics.solve",
    }
    return Result(NAME, config, arrays, summary, metadata=metadata)


# ----------------------------------------------------------------------------------------------------------------
# Checks


def paired_difference(correct_a, correct_b) -> tuple[float, float]:
    """Accuracy difference ``a - b`` on the same test set and its paired (McNemar) standard error
    :math:`\\sqrt{(n_{10} + n_{01}) - (n_{10} - n_{01})^2 / n} / n`."""
    a, b = np.asarray(correct_a, bool), np.asarray(correct_b, bool)
    n = a.size
    n10, n01 = int(np.sum(a & ~b)), int(np.sum(~a & b))
    return (n10 - n01) / n, math.sqrt(max(n10 + n01 - (n10 - n01) ** 2 / n, 0.0)) / n


def checks(result: Result) -> list[an.Check]:
    """Every kernel and every finite network beats chance; on digits the CNN-GAP kernels are not worse than
    the FC kernels, on CIFAR-10 the published orderings GAP > VEC > FC; the Myrtle number (untestable here).

    Tolerances: chance level 1/10 plus a one-sided binomial margin :math:`z \\sqrt{0.1 \\cdot 0.9 / n}` at
    family-wise level 1 % (Bonferroni over the kernels, and separately over the networks); differences
    between architectures by the paired standard error of the same test images, one-sided at 1 % per
    comparison (strictly above zero on CIFAR-10; above minus that margin, i.e. not worse, on digits).
    """
    config, a = result.config, result.arrays
    archs = list(result.metadata["archs"])
    kernels = [g for g in KERNELS if g != "finite" or config.finite]
    correct = np.asarray(a["test_correct"], bool)
    n = correct.shape[-1]
    acc = {(arch, g): float(correct[i, KERNELS.index(g)].mean())
           for i, arch in enumerate(archs) for g in kernels}  # fmt: skip
    out = []
    for group, members in (
        ("kernel", [key for key in acc if key[1] != "finite"]),
        ("finite network", [key for key in acc if key[1] == "finite"]),
    ):
        if not members:
            continue
        m = len(members)
        worst = min(members, key=acc.get)
        margin = an.normal_quantile(1 - 0.01 / m) * math.sqrt(0.1 * 0.9 / n)
        out.append(
            an.above(
                f"every {group} beats chance (lowest: {' '.join(worst)})",
                acc[worst],
                1.0 / NUM_CLASSES,
                margin=margin,
                basis=f"binomial SE of chance on {n} test images, Bonferroni 1 % over {m}",
            )
        )
    z = an.normal_quantile(0.99)

    def compare(first, second, g, claim, strict):
        i, j = archs.index(first), archs.index(second)
        diff, se = paired_difference(correct[i, KERNELS.index(g)], correct[j, KERNELS.index(g)])
        margin = z * se if strict else -z * se
        return an.above(
            claim, diff, 0.0, margin=margin,
            basis=f"margin {margin:+.3g} = {'+' if strict else '-'}2.33 paired SE on {n} test images",
        )  # fmt: skip

    on_cifar = config.data == "cifar10"
    # On CIFAR-10 the published orderings, strictly; on the digits, where all kernels are within a few per
    # cent, only that pooling does not hurt (the strict ordering needs more test images than this setting).
    pairs = [("cnn-gap", "cnn-vec"), ("cnn-vec", "fc")] if on_cifar else [("cnn-gap", "fc")]
    for first, second in pairs:
        if first not in archs or second not in archs:
            continue
        for g in ("nngp", "ntk"):
            verb = "beats" if on_cifar else "is at least as accurate as"
            claim = f"{first} {g.upper()} kernel {verb} {second} ({config.data})"
            out.append(compare(first, second, g, claim, strict=on_cifar))
    if not on_cifar:
        gaps = [acc[f, "nngp"] - acc[s, "nngp"] for f, s in (("cnn-gap", "cnn-vec"), ("cnn-vec", "fc"))
                if f in archs and s in archs]  # fmt: skip
        out.append(
            an.untestable(
                "CNN-GAP > CNN-VEC > FC kernels on CIFAR-10 (Novak 2019, Arora 2019)",
                "a CIFAR-10 result (32x32 natural images, thousands of training images); the bundled 8x8 "
                "digits are small and centred, so translation invariance matters less: run data=cifar10",
                measured=min(gaps) if gaps else math.nan,
                expected=0.0,
            )
        )
    if "myrtle" in archs:
        out.append(
            an.untestable(
                "Myrtle kernel ~ 90 % on CIFAR-10 (Shankar 2020)",
                "needs all 50,000 CIFAR-10 training images, ZCA whitening and flip augmentation",
                measured=acc["myrtle", "nngp"],
                expected=0.90,
            )
        )
    return out
