"""Large-batch recipe: sqrt scaling, regime adaptation, optimizer semantics, and the BN-MLP trainer."""

import math

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
import pytest

from lazyrich import dynamics
from tests.conftest import TOLERANCE


def test_sqrt_scaling_and_regime_adaptation():
    lr = dynamics.models.sqrt_scaled_learning_rate(0.1, batch_size=4096, base_batch_size=128)
    assert lr == pytest.approx(0.1 * math.sqrt(32))
    assert dynamics.models.adapt_regime(50, (10, 20, 30), batch_size=4096, base_batch_size=128) == (
        1600,
        (320, 640, 960),
    )
    # ceil(B_L / B_S): 100 / 64 -> 2
    assert dynamics.models.adapt_regime(3, (1,), batch_size=100, base_batch_size=64) == (6, (2,))


def test_large_batch_regime_composes_fixes():
    small = dynamics.models.Regime(
        batch_size=128, ghost_size=128, learning_rate=0.1, num_epochs=50, milestones=(10, 20)
    )
    plain = dynamics.models.large_batch_regime(small, batch_size=4096)
    assert (plain.ghost_size, plain.learning_rate, plain.num_epochs) == (4096, 0.1, 50)
    full = dynamics.models.large_batch_regime(
        small, batch_size=4096, sqrt_lr=True, ghost_bn=True, regime_adaptation=True
    )
    assert full.ghost_size == 128 and full.num_epochs == 1600 and full.milestones == (320, 640)
    assert full.learning_rate == pytest.approx(0.1 * math.sqrt(32))
    # Same number of updates as the small batch after regime adaptation.
    n = 8192
    assert dynamics.models.num_training_steps(n, full) == dynamics.models.num_training_steps(
        n, small
    )


def test_optimizer_clip_weight_decay_momentum_schedule():
    """PyTorch order: clip the raw gradient, add wd * w, momentum buffer b = mu b + g, w -= lr_t b."""
    lr, mu, wd = 0.5, 0.9, 0.01
    tx = dynamics.models.large_batch_optimizer(
        learning_rate=lr,
        steps_per_epoch=2,
        milestones=(1,),
        momentum=mu,
        weight_decay=wd,
        clip_norm=5.0,
    )
    w = jnp.array([1.0, -2.0])
    grads = [jnp.array([30.0, 40.0]), jnp.array([0.3, 0.4]), jnp.array([-1.0, 2.0])]
    state = tx.init(w)
    b, w_ref = np.zeros(2), np.asarray(w, np.float64)
    for t, g in enumerate(grads):
        upd, state = tx.update(g, state, w)
        w = optax.apply_updates(w, upd)
        g = np.asarray(g, np.float64)
        g = g * min(1.0, 5.0 / np.linalg.norm(g))
        b = mu * b + g + wd * w_ref
        w_ref = w_ref - lr * (0.1 if t >= 2 else 1.0) * b
        np.testing.assert_allclose(w, w_ref, **TOLERANCE["float32"])


def test_regime_validation():
    with pytest.raises(ValueError, match="ghost_size"):
        dynamics.models.Regime(
            batch_size=100, ghost_size=32, learning_rate=0.1, num_epochs=2, milestones=()
        )
    with pytest.raises(ValueError, match="milestones"):
        dynamics.models.Regime(
            batch_size=64, ghost_size=32, learning_rate=0.1, num_epochs=2, milestones=(2, 1)
        )


def test_train_bn_mlp_contract_and_ghost_batches_change_training(getkey):
    x = jr.normal(getkey(), (64, 8))
    y = (x[:, 0] > 0).astype(jnp.int32)
    small = dynamics.models.Regime(
        batch_size=16, ghost_size=16, learning_rate=0.1, num_epochs=3, milestones=(2,)
    )
    ghost = dynamics.models.large_batch_regime(small, batch_size=32, ghost_bn=True)

    def train(regime, k):
        return dynamics.models.train_bn_mlp(
            x, y, x, y, regime=regime, width=16, depth=2, num_classes=2, key=k
        )

    keys = jr.split(getkey(), 2)
    rec = jax.jit(jax.vmap(lambda k: train(ghost, k)))(keys)
    steps = dynamics.models.num_training_steps(64, ghost)
    assert rec.distance.shape == (2, steps) and rec.first_layer_distance.shape == (2, steps)
    assert rec.test_accuracy.shape == (2,)
    d = np.asarray(rec.distance)
    assert np.all(np.isfinite(d)) and np.all(d > 0)
    assert np.all(np.asarray(rec.first_layer_distance) <= d + 1e-6)
    assert float(rec.train_accuracy.mean()) > 0.6  # a learnable linear rule after 6 steps
    # Ghost batches of 16 inside batches of 32 normalise differently from BN over the full 32 (the
    # layer-level equality at ghost size = batch size is tests/dynamics/test_ghost_bn.py's).
    full = dynamics.models.large_batch_regime(small, batch_size=32, ghost_bn=False)
    assert full.ghost_size == 32 and ghost.ghost_size == 16
    rec_full = jax.jit(jax.vmap(lambda k: train(full, k)))(keys)
    assert not np.allclose(np.asarray(rec_full.distance), d, rtol=1e-3)
