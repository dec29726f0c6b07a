"""The rank-sweep experiment: config validation, and the paper's qualitative claim (slow)."""

import jax
import numpy as np
import pytest

from lazyrich import sims
from lazyrich.sims.experiments import liu2024_rank_sweep as rank_sweep


def test_config_validation():
    with pytest.raises(ValueError, match="`ranks`"):
        rank_sweep.Config(width=10, ranks=(1, 20))
    with pytest.raises(ValueError, match="`ranks`"):
        rank_sweep.Config(width=10, ranks=(0, 5))
    with pytest.raises(ValueError, match="`tasks`"):
        rank_sweep.Config(tasks=("gonogo",))
    with pytest.raises(ValueError, match="`num_kernel_trials`"):
        rank_sweep.Config(num_probe=8, num_kernel_trials=16)
    with pytest.raises(ValueError, match="`log_every`"):
        rank_sweep.Config(num_steps=100, log_every=30)
    assert rank_sweep.default_config().width == 300 and rank_sweep.default_config().ranks == (
        1,
        30,
        100,
        300,
    )


def _claim(summary, tasks):
    for task in tasks:
        s = summary[task]
        assert s["weight_change_spearman"] < 0, (task, s)
        assert s["kernel_alignment_spearman"] > 0, (task, s)
        assert s["representation_alignment_spearman"] > 0, (task, s)


@pytest.mark.slow
def test_qualitative_claim_reduced_setting():
    # N = 100, ranks {1, 10, 30, 100}, 3 seeds, 2000 SGD steps (lr 0.01, momentum 0.9): ~20 CPU-minutes.
    config = sims.apply_overrides(
        rank_sweep.default_config(),
        dict(
            width=100,
            ranks="1,10,30,100",
            num_seeds=3,
            num_steps=2000,
            learning_rate=0.01,
            num_probe=128,
            num_kernel_trials=16,
        ),
    )
    result = sims.run(rank_sweep, config, seed=0)
    _claim(result.summary, config.tasks)


@pytest.mark.slow
@pytest.mark.gpu
def test_qualitative_claim_default_setting():
    # The paper's setting (N = 300, 10k steps, 5 seeds, three tasks): hours on CPU, minutes on a GPU.
    result = sims.run(rank_sweep, rank_sweep.default_config(), seed=0)
    _claim(result.summary, ("2af", "dms", "cxt"))
    for task in ("2af", "dms", "cxt"):
        assert np.all(
            np.isfinite(result.arrays["kernel_alignment"][list(result.config.tasks).index(task)])
        )


def test_point_protocol_shapes():
    config = rank_sweep.Config(
        tasks=("dms",),
        width=8,
        ranks=(1, 8),
        num_seeds=1,
        num_steps=4,
        log_every=2,
        num_probe=4,
        num_kernel_trials=2,
        kernel_batch_size=1,
        aligned=False,
    )
    traced = {name: jax.numpy.float32(getattr(config, name)) for name in rank_sweep.TRACED}
    out = jax.jit(lambda k: rank_sweep.point(config, traced, k))(jax.random.key(0))
    assert out["kernel_alignment"].shape == (1, 2) and out["loss_curve"].shape == (1, 2, 2)
    assert out["status"].dtype == np.int32 and int(out["status"]) == 0
