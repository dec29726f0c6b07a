"""Hoffer, Hubara & Soudry (2017), Table 1 (F1 row): the large-batch gap and the recipe that closes it.

An F1-style network (``depth x [Linear(width) -> BN -> ReLU] -> 10``, Keskar et al.) is trained with SGD
(momentum 0.9, weight decay 1e-4, gradient norm clipped at 5, learning rate x0.1 at the milestones) in five
regimes, each fix added to the previous ones:

* ``small``: batch ``small_batch``, learning rate ``learning_rate``, ``num_epochs`` epochs;
* ``large``: batch ``large_batch``, same learning rate and epochs (fewer updates);
* ``+lr``: learning rate times ``sqrt(large_batch / small_batch)``;
* ``+gbn``: ghost batch norm with ghost batches of ``small_batch``;
* ``+ra``: regime adaptation, epochs and milestones times ``ceil(large_batch / small_batch)``.

Default data: the bundled 8x8 digits (``num_train`` training points, the rest as test set, a fresh split per
seed). ``data="mnist"`` with ``data_dir`` pointing at the official IDX files uses the 60,000/10,000 MNIST split
(standardised with mean 0.1307 and standard deviation 0.3081, as the authors' code). Seeds are vmapped.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

from lazyrich import dynamics
from lazyrich._checks import check_int
from lazyrich.sims import _analysis as an
from lazyrich.sims import datasets
from lazyrich.sims._experiment import Result, progress_bar

NAME = "hoffer2017_large_batch_gap"
REGIMES = ("small", "large", "+lr", "+gbn", "+ra")
_FIXES = {
    "large": dict(),
    "+lr": dict(sqrt_lr=True),
    "+gbn": dict(sqrt_lr=True, ghost_bn=True),
    "+ra": dict(sqrt_lr=True, ghost_bn=True, regime_adaptation=True),
}


@dataclasses.dataclass(frozen=True, kw_only=True)
class Config:
    data: Literal["digits", "mnist"] = "digits"
    data_dir: str = ""
    num_train: int = 1024
    width: int = 512
    depth: int = 5
    small_batch: int = 16
    large_batch: int = 512
    learning_rate: float = 0.1
    num_epochs: int = 10
    milestones: tuple[int, ...] = (5, 8)
    momentum: float = 0.9
    weight_decay: float = 1e-4
    clip_norm: float = 5.0
    ema_rate: float = 0.1
    num_seeds: int = 8
    regimes: tuple[str, ...] = REGIMES

    def __post_init__(self):
        for name in ("num_train", "width", "depth", "small_batch", "large_batch", "num_epochs"):
            check_int(name, getattr(self, name), minimum=1)
        check_int("num_seeds", self.num_seeds, minimum=1)
        if self.large_batch < self.small_batch:
            raise ValueError(
                f"`large_batch` ({self.large_batch}) must be >= `small_batch` ({self.small_batch})."
            )
        dynamics.models.ghost_batch_count(self.large_batch, self.small_batch)
        if self.data == "digits" and not self.large_batch <= self.num_train < 1797:
            raise ValueError(
                f"`num_train` must lie in [large_batch, 1797) for the digits, got {self.num_train}."
            )
        if self.data == "mnist" and not self.data_dir:
            raise ValueError(
                "`data_dir` (folder with the MNIST IDX files) is required for data=mnist."
            )
        bad = [r for r in self.regimes if r not in REGIMES]
        if bad or not self.regimes:
            raise ValueError(
                f"`regimes` must be a non-empty subset of {REGIMES}, got {self.regimes}."
            )
        if list(self.milestones) != sorted(self.milestones) or any(
            not 0 < m < self.num_epochs for m in self.milestones
        ):
            raise ValueError(
                f"`milestones` must be increasing epochs in (0, num_epochs), got {self.milestones}."
            )


def default_config(*, quick: bool = False) -> Config:
    if quick:
        # Same batches as the default (ratio 32, 2 updates per epoch at B = 512), a 128 x 3 network and
        # 4 seeds. A ratio of 8 (B = 32 vs 256) shows no gap on the digits within 10 epochs.
        return Config(width=128, depth=3, num_seeds=4)
    return Config()


def regimes(config: Config) -> dict[str, dynamics.models.Regime]:
    """The five :class:`dynamics.models.Regime` objects of the experiment, keyed by name."""
    small = dynamics.models.Regime(
        batch_size=config.small_batch,
        ghost_size=config.small_batch,
        learning_rate=config.learning_rate,
        num_epochs=config.num_epochs,
        milestones=config.milestones,
    )
    out = {"small": small}
    for name, fixes in _FIXES.items():
        out[name] = dynamics.models.large_batch_regime(
            small, batch_size=config.large_batch, **fixes
        )
    return {name: out[name] for name in config.regimes}


def _load(config: Config):
    if config.data == "digits":
        x, y = datasets.load_digits()
        return x, y, None, None
    x_tr, y_tr = datasets.load_mnist(config.data_dir, split="train")
    x_te, y_te = datasets.load_mnist(config.data_dir, split="test")

    def prep(a):
        return ((a.reshape(a.shape[0], -1).astype(np.float32) / 255.0) - 0.1307) / 0.3081

    return prep(x_tr), y_tr, prep(x_te), y_te


def run(config: Config, *, key: jax.Array, progress: bool = False) -> Result:
    x, y, x_test, y_test = _load(config)
    x, y = jnp.asarray(x), jnp.asarray(y)
    if x_test is not None:
        x_test, y_test = jnp.asarray(x_test), jnp.asarray(y_test)
    keys = jr.split(key, config.num_seeds)
    regs = regimes(config)

    def one_seed(regime, lr, k):
        split_key, train_key = jr.split(k)
        if x_test is None:
            perm = jr.permutation(split_key, x.shape[0])
            tr, te = perm[: config.num_train], perm[config.num_train :]
            data = (x[tr], y[tr], x[te], y[te])
        else:
            data = (x, y, x_test, y_test)
        return dynamics.models.train_bn_mlp(
            *data,
            regime=regime,
            learning_rate=lr,
            width=config.width,
            depth=config.depth,
            num_classes=10,
            key=train_key,
            momentum=config.momentum,
            weight_decay=config.weight_decay,
            clip_norm=config.clip_norm,
            ema_rate=config.ema_rate,
        )

    # Regimes that differ only in the (traced) learning rate share one compiled program.
    compiled, records = {}, {}
    for name in progress_bar(regs, total=len(regs), desc="regimes", enabled=progress):
        regime = regs[name]
        static = dataclasses.replace(regime, learning_rate=0.0)
        if static not in compiled:
            compiled[static] = jax.jit(
                jax.vmap(lambda lr, k, r=static: one_seed(r, lr, k), in_axes=(None, 0))
            )
        lr = jnp.asarray(regime.learning_rate, jnp.float32)
        records[name] = jax.device_get(compiled[static](lr, keys))

    names = list(regs)
    acc = np.stack([np.asarray(records[n].test_accuracy) for n in names])  # (R, E)
    train_acc = np.stack([np.asarray(records[n].train_accuracy) for n in names])
    max_steps = max(records[n].distance.shape[1] for n in names)
    curves = np.full((len(names), max_steps), np.nan)
    for i, n in enumerate(names):
        d1 = np.asarray(records[n].first_layer_distance).mean(axis=0)
        curves[i, : d1.size] = d1
    steps = {n: int(records[n].distance.shape[1]) for n in names}
    sem = acc.std(axis=1, ddof=1) / np.sqrt(acc.shape[1]) if acc.shape[1] > 1 else 0 * acc[:, 0]
    summary = {
        "accuracy": {
            n: {"mean": float(acc[i].mean()), "std": float(acc[i].std()), "sem": float(sem[i])}
            for i, n in enumerate(names)
        },
        "train_accuracy": {n: float(train_acc[i].mean()) for i, n in enumerate(names)},
        "num_updates": steps,
        "learning_rate": {n: regs[n].learning_rate for n in names},
        "num_seeds": config.num_seeds,
    }
    if "small" in names and "large" in names:
        a = summary["accuracy"]
        gap = a["small"]["mean"] - a["large"]["mean"]
        summary["gap"] = gap
        for n in names:
            if n not in ("small", "large") and gap > 0:
                summary.setdefault("recovered_fraction", {})[n] = (
                    a[n]["mean"] - a["large"]["mean"]
                ) / gap
    return Result(
        experiment=NAME,
        config=config,
        arrays={"accuracy": acc, "train_accuracy": train_acc, "first_layer_distance": curves},
        summary=summary,
        metadata={
            "regimes": names,
            "loss": "cross-entropy, mean over the batch",
            "bn_convention": "ema_rate (PyTorch momentum) 0.1 per ghost batch; biased running variance",
            "data": config.data,
            "last_incomplete_batch": "dropped (a fresh permutation each epoch)",
        },
    )


def checks(result: Result) -> list[an.Check]:
    """Large batches generalise worse; sqrt learning-rate scaling, ghost BN and regime adaptation recover
    the gap (Hoffer et al., Table 1).

    One-sided tests at the 1 % level (``z_0.99`` standard errors of the difference; standard errors of the
    seed means; regimes share the seeds' data splits, so treating them as independent is conservative).
    """
    acc = result.summary["accuracy"]
    z = an.normal_quantile(0.99)
    out = []
    if "small" in acc and "large" in acc:
        small, large = acc["small"], acc["large"]
        noise = float(np.hypot(small["sem"], large["sem"]))
        out.append(
            an.above(
                "large batch is worse than small batch (accuracy gap)",
                small["mean"] - large["mean"],
                0.0,
                margin=z * noise,
                basis=f"z_0.99 SE of the difference ({result.config.num_seeds} seeds)",
            )
        )
        for name in ("+gbn", "+ra"):
            if name not in acc:
                continue
            fix = acc[name]
            excess = fix["mean"] - 0.5 * (small["mean"] + large["mean"])
            noise = float(
                np.sqrt(fix["sem"] ** 2 + 0.25 * small["sem"] ** 2 + 0.25 * large["sem"] ** 2)
            )
            out.append(
                an.above(
                    f"{name} recovers more than half of the gap",
                    excess,
                    0.0,
                    margin=z * noise,
                    basis="z_0.99 SE of fix - (small + large) / 2",
                )
            )
    return out
