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
    with pytest.raises(ValueError, match="`aligned_fit_steps`"):
        rank_sweep.Config(aligned_fit_steps=0)
    with pytest.raises(ValueError, match="`checkpoints`"):
        next(rank_sweep.iterate(rank_sweep.Config(), key=jax.random.key(0), checkpoints=(150,)))
    assert rank_sweep.default_config().width == 300 and rank_sweep.default_config().ranks == (
        1,
        30,
        100,
        300,
    )


def _claim_alignments(summary, tasks):
    for task in tasks:
        s = summary[task]
        assert s["kernel_alignment_spearman"] > 0, (task, s)
        assert s["representation_alignment_spearman"] > 0, (task, s)


def _claim(summary, tasks):
    _claim_alignments(summary, tasks)
    for task in tasks:
        assert summary[task]["weight_change_spearman"] < 0, (task, summary[task])


def _aligned_is_lazier(summary, tasks):
    # The fitted (task-aligned: rank-1 W_h and readout) rank-1 initialisation keeps its tangent
    # kernel better than the random rank-1 one. Liu et al.'s Proposition 1 analogue asks for KA ~ 1
    # and a minimal weight change; measured at N = 300 (2 seeds, 1000 updates) KA is 0.61 / 0.94 /
    # 0.995 (2AF / DMS / CXT) against 0.12-0.19, but on DMS and CXT the fit sits on a chance-level
    # decision plateau (see lazyrich.dynamics.rnn.fit_rank_one_network), so only the kernel-alignment
    # ordering is asserted.
    for task in tasks:
        s = summary[task]
        assert s["aligned_rank1_kernel_alignment"] > s["mean_kernel_alignment"][0], s


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
    _aligned_is_lazier(result.summary, config.tasks)


@pytest.fixture(scope="module")
def default_result():
    # The paper's setting (N = 300, 10k steps, 5 seeds, three tasks): ~84 TFLOP of training, i.e. about 1.5
    # hours on an idle CPU core (see the module docstring), ~2 minutes on one GPU.
    return sims.run(rank_sweep, rank_sweep.default_config(), seed=0)


@pytest.mark.slow
def test_default_setting_alignments_and_richest_rank_one(default_result):
    # Liu et al. Fig. 1 for the alignments, the aligned-initialisation claim (ordering only) for the
    # aligned rank-1 networks, and rank 1 as the richest (largest weight change) on every task.
    # Representation alignment saturates at 0.95-0.99 above rank 30, so only its correlation with
    # rank and rank 1's lowest value are asserted.
    tasks = ("2af", "dms", "cxt")
    _claim_alignments(default_result.summary, tasks)
    for task in tasks:
        s = default_result.summary[task]
        assert s["kernel_alignment_increasing"], (task, s)
        wc, ra = s["mean_weight_change"], s["mean_representation_alignment"]
        assert wc[0] > max(wc[1:]) and ra[0] < min(ra[1:]), (task, s)
    _aligned_is_lazier(default_result.summary, tasks)


@pytest.mark.slow
@pytest.mark.xfail(
    strict=True,
    reason="Liu et al. Fig. 1's weight-change monotonicity does not hold at the paper's setting: "
    "from rank 30 to 300 the weight change grows on DMS and CXT (20/20 and 18/20 seeds; examples/"
    "results/liu2024_rank_sweep_protocols_10000_updates.json), also with the paper code's per-rank "
    "draws",
)
def test_default_setting_weight_change_decreases(default_result):
    for task in ("2af", "dms", "cxt"):
        s = default_result.summary[task]
        assert s["weight_change_decreasing"], (task, s)
        assert s["weight_change_spearman"] < 0, (task, s)


@pytest.mark.slow  # compiles point and the flat-axis programs: ~1-2 CPU-minutes each
@pytest.mark.parametrize("redraw", [False, True])
def test_run_equals_vmapped_point(redraw):
    config = rank_sweep.Config(
        tasks=("2af", "dms"), aligned_fit_steps=3, redraw_per_rank=redraw, **TINY
    )
    items = list(rank_sweep.iterate(config, key=jax.random.key(0), checkpoints=(2,)))
    assert [step for step, _ in items] == [2, 4]
    result = items[-1][1]
    traced = {n: jax.numpy.float32(getattr(config, n)) for n in rank_sweep.TRACED}
    keys = jax.random.split(jax.random.key(0), config.num_seeds)
    out = jax.jit(jax.vmap(lambda k: rank_sweep.point(config, traced, k)))(keys)
    for name in ("weight_change", "kernel_alignment", "loss_curve", "aligned_kernel_alignment"):
        # (seed, task, ...) -> (task, seed, ...); float32 reassociation between the two programs.
        np.testing.assert_allclose(
            np.moveaxis(np.asarray(out[name]), 0, 1), result.arrays[name], rtol=1e-5, atol=1e-6
        )


TINY = dict(
    width=8,
    ranks=(1, 8),
    num_seeds=2,
    num_steps=4,
    log_every=2,
    num_probe=4,
    num_kernel_trials=2,
    kernel_batch_size=1,
)


def test_point_protocol_shapes():
    config = rank_sweep.Config(**dict(TINY, tasks=("dms",), num_seeds=1, aligned=False))
    traced = {name: jax.numpy.float32(getattr(config, name)) for name in rank_sweep.TRACED}
    out = jax.jit(lambda k: rank_sweep.point(config, traced, k))(jax.random.key(0))
    assert out["kernel_alignment"].shape == (1, 2) and out["loss_curve"].shape == (1, 2, 2)
    assert out["status"].dtype == np.int32 and int(out["status"]) == 0


def test_status_is_per_seed_and_ignores_undefined_alignments():
    # A NaN alignment (all-zero ReLU states give a Gram matrix with no direction) is not a divergence; a
    # non-finite loss is, and only for its own seed.
    config = rank_sweep.Config(**dict(TINY, tasks=("2af", "dms"), num_seeds=3, aligned=False))
    rng = np.random.default_rng(0)
    shape = (2, 3, 2)
    arrays = {
        m: rng.uniform(0.1, 1.0, shape)
        for m in ("weight_change", "kernel_alignment", "representation_alignment", "accuracy")
    }
    arrays["loss_curve"] = rng.uniform(0.1, 1.0, shape + (2,))
    arrays["representation_alignment"][1, 0, 1] = np.nan
    result = rank_sweep._result(config, arrays, num_steps_done=4)
    assert result.status == "ok" and result.arrays["status"].tolist() == [0, 0, 0]
    assert np.isfinite(result.summary["dms"]["mean_representation_alignment"]).all()
    arrays["loss_curve"][0, 2, 0, 1] = np.inf
    result = rank_sweep._result(config, arrays, num_steps_done=4)
    assert result.status == "diverged" and result.arrays["status"].tolist() == [0, 0, 2]


def test_redraw_per_rank_keys():
    # Shared protocol: every rank of a seed starts from the same draws; the paper code's protocol: one
    # independent key per rank, the same for every seed's rank index across calls.
    seeds = jax.random.split(jax.random.key(3), 2)
    grid = jax.numpy.stack([seeds] * 3, axis=1)  # (seed, rank)

    def bits(keys):
        return np.asarray(jax.random.key_data(keys)).reshape(keys.shape + (-1,))

    shared = rank_sweep.Config(ranks=(1, 30, 300))
    redraw = rank_sweep.Config(ranks=(1, 30, 300), redraw_per_rank=True)
    same = bits(rank_sweep._rank_keys(shared, grid))
    assert (same == same[:, :1]).all()
    fresh = bits(rank_sweep._rank_keys(redraw, grid))
    assert len({tuple(k) for k in fresh.reshape(-1, fresh.shape[-1])}) == 6
    np.testing.assert_array_equal(fresh, bits(rank_sweep._rank_keys(redraw, grid)))
