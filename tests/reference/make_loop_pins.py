"""Pin the numbers of the hand-written training loops before they became thin uses of ``dynamics.solve``.

Run once at commit d2b0a4c (the last commit with the original loops) from the repository root:

    PYTHONPATH=$PWD python tests/reference/make_loop_pins.py

It writes ``tests/reference/loop_pins.npz`` (arguments: only the named ``pin_*`` functions; the random-walk
pin was generated at commit 4a4c36c, before that loop's migration); ``tests/dynamics/test_driver_parity.py`` runs the same settings
through the current code and compares. Every setting is small (the whole script runs in about a minute on 2
CPU cores) and uses the loops' own conventions.
"""

from __future__ import annotations

import pathlib

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

from lazyrich import dynamics
from lazyrich.sims.experiments import jacot2018_ntk_convergence as jacot
from lazyrich.sims.experiments import liu2024_linear_theory as liu
from lazyrich.sims.experiments import toy_quadratic as toy

OUT = pathlib.Path(__file__).with_name("loop_pins.npz")


def train_setting():
    """Small data for ``dynamics.train`` (hinge, alpha-scaled bias-free MLP)."""
    d, h, p, q = 6, 16, 24, 16
    rng = np.random.default_rng(0)
    x = rng.standard_normal((p + q, d)).astype(np.float32)
    y = np.where(x[:, 0] + 0.5 * x[:, 1] >= 0, 1.0, -1.0).astype(np.float32)
    apply_fn = dynamics.models.bias_free_mlp_apply_fn(input_dim=d, width=h, depth=2)
    params0 = dynamics.models.bias_free_mlp_init(input_dim=d, width=h, depth=2, key=jr.key(0))
    return apply_fn, params0, x[:p], y[:p], x[p:], y[p:], h


TRAIN_CASES = {
    "gd": dict(
        method="gd", learning_rate=0.5, alpha=4.0, max_steps=256, check_every=4, num_saves=6
    ),
    "sgd": dict(
        method="sgd", batch_size=4, learning_rate=0.5, alpha=8.0, max_steps=512, check_every=8
    ),
    "langevin": dict(
        method="langevin",
        learning_rate=0.25,
        alpha=8.0,
        temperature=2.0**-6,
        max_steps=256,
        check_every=4,
        ntk_size=6,
    ),
    "mse_none": dict(
        method="gd",
        loss="mse",
        stop="none",
        loss_power=2,
        learning_rate=0.3,
        alpha=2.0,
        max_steps=64,
        check_every=2,
    ),
    "diverge": dict(
        method="gd",
        loss="mse",
        learning_rate=60.0,
        alpha=1.0,
        max_steps=64,
        check_every=1,
        max_weight_change=10.0,
    ),
}


def pin_train(out):
    apply_fn, params0, x, y, xt, yt, h = train_setting()
    for name, kw in TRAIN_CASES.items():
        config = dynamics.TrainConfig(width=h, **kw)
        extra = dict(train_size=20) if name == "sgd" else {}
        res = jax.jit(
            lambda k, c=config, e=extra: dynamics.train(
                apply_fn, params0, x, y, key=k, config=c, x_test=xt, y_test=yt, **e
            )
        )(jr.key(3))
        out[f"train_{name}_status"] = res.status
        out[f"train_{name}_num_steps"] = res.num_steps
        if name == "diverge":
            continue
        out[f"train_{name}_save_steps"] = res.save_steps
        out[f"train_{name}_train_outputs"] = res.train_outputs
        out[f"train_{name}_test_outputs"] = res.test_outputs
        for k, v in res.curves.items():
            out[f"train_{name}_curve_{k}"] = v


def pin_committee(out):
    w0 = jr.normal(jr.key(1), (12, 5))
    x = jr.normal(jr.key(2), (20, 5))
    y = x[:, 0] * x[:, 1]
    obs = jax.jit(
        lambda w: dynamics.models.train_committee(
            w, x, y, alpha=2.0, epsilon=0.5, learning_rate0=0.05, save_steps=(0, 3, 10, 40)
        )
    )(w0)
    out["committee_w"] = obs


def pin_meanfield(out):
    params = dynamics.models.meanfield_mlp_init(jr.key(4), input_dim=3, width=16, depth=2)
    x = jr.normal(jr.key(5), (10, 3))
    y = jnp.tanh(x[:, 0])
    res = dynamics.models.train_meanfield_gradient_flow(
        params, x[:7], y[:7], x[7:], jnp.asarray([0.0, 0.5, 1.25, 3.0]), gamma0=1.5, substeps=3
    )
    for k in ("f_train", "f_test", "ntk", "phi", "g"):
        out[f"meanfield_{k}"] = res[k]


def pin_large_batch(out):
    x = jr.normal(jr.key(6), (48, 6))
    y = (x[:, 0] > 0).astype(jnp.int32)
    small = dynamics.models.Regime(
        batch_size=8, ghost_size=4, learning_rate=0.1, num_epochs=2, milestones=(1,)
    )
    rec = jax.jit(
        lambda k: dynamics.models.train_bn_mlp(
            x, y, x, y, regime=small, width=8, depth=2, num_classes=2, key=k
        )
    )(jr.key(7))
    for k, v in rec._asdict().items():
        out[f"large_batch_{k}"] = v


def _batches(k):
    x = jr.normal(k, (8, 5, 3))
    labels = jnp.where(
        jnp.arange(5) == 4, (x[:, :, 0].sum(1) > 0).astype(jnp.int32)[:, None] + 1, 0
    )
    return x, labels, jnp.ones((8, 5))


def pin_rnn(out):
    p = dynamics.rnn.init_rnn_params(jr.key(8), input_dim=3, width=10, output_dim=3)
    res = jax.jit(
        lambda p: dynamics.rnn.train_rnn(
            p, _batches, key=jr.key(9), num_steps=12, learning_rate=0.01, initial_step=5
        )
    )(p)
    out["rnn_w_h"], out["rnn_loss"], out["rnn_accuracy"] = res.params["w_h"], res.loss, res.accuracy
    fitted, loss = jax.jit(
        lambda p: dynamics.rnn.fit_rank_one_network(p, _batches, key=jr.key(10), num_steps=10)
    )(p)
    out["rank_one_w_h"], out["rank_one_w_y"], out["rank_one_loss"] = (
        fitted["w_h"],
        fitted["w_y"],
        loss,
    )


def pin_sims(out):
    apply_fn, params = dynamics.mlp(jr.key(11), input_dim=2, width=16, depth=2)
    x = jr.normal(jr.key(12), (10, 2))
    y = (x[:, 0] * x[:, 1])[:, None]
    trained = jax.jit(
        lambda p: jacot.gradient_descent_mse(apply_fn, p, x, y, learning_rate=0.2, num_steps=30)
    )(params)
    out["jacot_outputs"] = apply_fn(trained, x)
    w0 = jr.normal(jr.key(13), (6, 4)) * 0.3
    v0 = jr.normal(jr.key(14), (6,)) * 0.3
    beta = jr.normal(jr.key(15), (4,))
    w, v, loss = jax.jit(lambda: liu._simulate(w0, v0, beta, 0.1, 200))()
    out["liu_w"], out["liu_v"], out["liu_loss"] = w, v, loss
    for name, cfg in {
        "toy": toy.Config(num_steps=60, save_every=6, learning_rate=0.5, temperature=0.01),
        "toy_diverge": toy.Config(num_steps=60, save_every=6, learning_rate=2.5, temperature=0.0),
    }.items():
        res = jax.jit(lambda k, c=cfg: toy.point(c, {}, k))(jr.key(16))
        for k, v in res.items():
            out[f"{name}_{k}"] = v


def pin_random_walk(out):
    from lazyrich.sims import _random_landscape as landscape

    fields = jnp.stack(
        [
            landscape.random_potential(size=16, dim=2, roughness=1.0, key=jr.key(k))
            for k in (17, 18, 19)
        ]
    )
    out["random_walk_distances"] = jax.jit(
        lambda f: landscape.simulate_random_walk(
            f, save_steps=(1, 5, 20, 60), learning_rate=0.3, temperature=0.05, key=jr.key(18)
        )
    )(fields)


PINS = (
    pin_train,
    pin_committee,
    pin_meanfield,
    pin_large_batch,
    pin_rnn,
    pin_sims,
    pin_random_walk,
)


def main(names=None):
    """Pin every loop (or the pins named), adding to / replacing entries of an existing file."""
    out = dict(np.load(OUT)) if OUT.exists() else {}
    for pin in PINS:
        if names is None or pin.__name__ in names:
            pin(out)
    np.savez_compressed(OUT, **{k: np.asarray(v) for k, v in out.items()})
    print(f"wrote {OUT} ({len(out)} arrays)")


if __name__ == "__main__":
    import sys

    main(sys.argv[1:] or None)
