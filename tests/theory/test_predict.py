"""theory.predict / gp_inference: neural-tangents parity (float64), solvers agree, bad inputs."""

import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lazyrich import theory
from lazyrich._status import Status

REF = np.load(pathlib.Path(__file__).parents[1] / "reference" / "nt_predict.npz")
DEPTH, W_STD, B_STD, LR = 3, 1.5, 0.05, 0.5
TOL = dict(rtol=1e-6, atol=1e-9)  # the parity asked of float64 predictions


def kernel_fn():
    return theory.mlp_kernel_fn(depth=DEPTH, weight_std=W_STD, bias_std=B_STD)


def matrices():
    kdd = theory.Kernels(jnp.asarray(REF["kdd_nngp"]), jnp.asarray(REF["kdd_ntk"]))
    ktd = theory.Kernels(jnp.asarray(REF["ktd_nngp"]), jnp.asarray(REF["ktd_ntk"]))
    return kdd, ktd, jnp.asarray(REF["ktt_nngp"])


def test_kernel_fn_reproduces_the_reference_kernels(x64):
    xtr, xte = jnp.asarray(REF["x_train"]), jnp.asarray(REF["x_test"])
    k = kernel_fn()(xtr)
    np.testing.assert_allclose(k.nngp, REF["kdd_nngp"], rtol=1e-10)
    # NT's diagonal NTK entries carry its rounded angle between a point and itself (arccos of a
    # cosine 1 - O(eps) is O(sqrt(eps)) = 1.5e-8, times the ReLU derivative kernel's slope 1/2pi);
    # lazyrich sets the angle to 0 exactly there. Off the diagonal the two agree to 1e-10.
    np.testing.assert_allclose(k.ntk, REF["kdd_ntk"], rtol=3e-8)
    off = ~np.eye(40, dtype=bool)
    np.testing.assert_allclose(np.asarray(k.ntk)[off], REF["kdd_ntk"][off], rtol=1e-10)
    k = kernel_fn()(xte, xtr, get="ntk")
    assert k.nngp is None
    np.testing.assert_allclose(k.ntk, REF["ktd_ntk"], rtol=1e-10)


@pytest.mark.parametrize("diag_reg", [0.0, 1e-3, 0.1])
@pytest.mark.parametrize("solver", ["eigh", "cholesky", "cg"])
def test_gp_inference_matches_neural_tangents(diag_reg, solver, x64):
    kdd, ktd, ktt = matrices()
    y = jnp.asarray(REF["y_train"])
    out = theory.gp_inference(kdd, y, ktd, ktt, diag_reg=diag_reg, solver=solver, tol=1e-12)
    for g in ("nngp", "ntk"):
        got = getattr(out, g)
        np.testing.assert_allclose(got.mean, REF[f"gp/reg{diag_reg}/{g}/mean"], **TOL)
        np.testing.assert_allclose(got.covariance, REF[f"gp/reg{diag_reg}/{g}/cov"], **TOL)
        if solver != "eigh":
            assert int(out.info[g].status) == Status.OK
            assert float(jnp.max(out.info[g].residual)) <= 1e-12


@pytest.mark.parametrize("diag_reg", [0.0, 0.1])
def test_ensemble_from_kernel_fn_matches_neural_tangents(diag_reg, x64):
    xtr, xte, y = (jnp.asarray(REF[k]) for k in ("x_train", "x_test", "y_train"))
    times = jnp.asarray(REF["times"])
    for label, t in (("t", times), ("inf", None)):
        for x_test, prefix in ((xte, "ensemble"), (None, "ensemble_train")):
            out = theory.predict(
                y,
                kernel_fn=kernel_fn(),
                x_train=xtr,
                x_test=x_test,
                t=t,
                learning_rate=LR,
                diag_reg=diag_reg,
                compute_cov=True,
            )
            for g in ("nngp", "ntk"):
                ref = f"{prefix}/reg{diag_reg}/{label}/{g}"
                got = getattr(out, g)
                np.testing.assert_allclose(got.mean, REF[ref + "/mean"], **TOL, err_msg=ref)
                np.testing.assert_allclose(got.covariance, REF[ref + "/cov"], **TOL, err_msg=ref)


@pytest.mark.parametrize("matrix_free", [False, True])
def test_cg_from_kernel_fn_matches_neural_tangents(matrix_free, x64):
    xtr, xte, y = (jnp.asarray(REF[k]) for k in ("x_train", "x_test", "y_train"))
    out = theory.predict(
        y,
        kernel_fn=kernel_fn(),
        x_train=xtr,
        x_test=xte,
        diag_reg=1e-3,
        compute_cov=True,
        solver="cg",
        matrix_free=matrix_free,
        tile_size=16,  # 40 rows: three tiles, the last one padded
        tol=1e-12,
    )
    for g in ("nngp", "ntk"):
        got = getattr(out, g)
        assert int(out.info[g].status) == Status.OK
        np.testing.assert_allclose(got.mean, REF[f"gp/reg0.001/{g}/mean"], **TOL)
        np.testing.assert_allclose(got.covariance, REF[f"gp/reg0.001/{g}/cov"], **TOL)


def test_the_old_closed_forms_still_match_the_new_reference(x64):
    # mse_gradient_flow / gradient_descent_mse_ensemble keep their numbers (and match NT here too).
    kdd, ktd, ktt = matrices()
    y = jnp.asarray(REF["y_train"])
    for kernel in ("nngp", "ntk"):
        g = theory.gradient_descent_mse_ensemble(
            kdd,
            y,
            jnp.asarray(REF["times"]),
            k_test_train=ktd,
            nngp_test_test=ktt,
            kernel=kernel,
            learning_rate=LR,
            diag_reg=0.1,
        )
        np.testing.assert_allclose(g.mean, REF[f"ensemble/reg0.1/t/{kernel}/mean"], **TOL)
        np.testing.assert_allclose(g.covariance, REF[f"ensemble/reg0.1/t/{kernel}/cov"], **TOL)


def test_one_dimensional_targets_and_single_kernel(x64):
    kdd, ktd, ktt = matrices()
    y = jnp.asarray(REF["y_train"])
    for solver in ("eigh", "cholesky", "cg"):
        one = theory.predict(
            y[:, 0], k_train_train=kdd, k_test_train=ktd, get="ntk", solver=solver, diag_reg=0.1
        )
        assert one.nngp is None and one.ntk.covariance is None and one.ntk.mean.shape == (12,)
        np.testing.assert_allclose(one.ntk.mean, REF["gp/reg0.1/ntk/mean"][:, 0], **TOL)


@pytest.mark.parametrize(
    "dtype,x64_mode", [("float32", False), ("float32", True), ("float64", True)]
)
def test_dtypes_and_float64_accumulation(dtype, x64_mode):
    with jax.enable_x64(x64_mode):
        x = jnp.asarray(REF["x_train"], dtype)
        y = jnp.asarray(REF["y_train"], dtype)
        kw = dict(kernel_fn=kernel_fn(), x_train=x[:30], x_test=x[30:], diag_reg=1e-2)
        out, ref = (theory.predict(y[:30], solver=s, **kw) for s in ("cg", "eigh"))
        # With 64-bit mode on, CG accumulates in float64 whatever the kernel's dtype.
        acc = "float64" if x64_mode else "float32"
        assert out.ntk.mean.dtype == jnp.dtype(acc)
        if x64_mode:
            # The float32 kernel solved in float64: equal to the float64 eigen-solve of the same
            # (float32-rounded) kernel to the CG tolerance 1e-10 times cond(K_r) < 1e3.
            k = kernel_fn()(x[:30], get="ntk").ntk.astype(jnp.float64)
            ktd = kernel_fn()(x[30:], x[:30], get="ntk").ntk.astype(jnp.float64)
            kr = k + 1e-2 * jnp.trace(k) / 30 * jnp.eye(30)
            exact = ktd @ jnp.linalg.solve(kr, y[:30].astype(jnp.float64))
            np.testing.assert_allclose(out.ntk.mean, exact, rtol=1e-7, atol=1e-9)
        else:  # float32 throughout: float32 round-off times cond(K_r) < 1e3
            np.testing.assert_allclose(out.ntk.mean, ref.ntk.mean, rtol=1e-3, atol=1e-4)
            np.testing.assert_allclose(out.nngp.mean, ref.nngp.mean, rtol=1e-3, atol=1e-4)


# ------------------------------------------------------------------------------------------------
# Bad input: a clear error naming the argument, before any work.


def test_non_psd_and_non_symmetric_kernels_are_rejected(x64):
    bad = jnp.array([[1.0, 2.0], [2.0, 1.0]])  # eigenvalues 3 and -1
    y = jnp.array([1.0, -1.0])
    with pytest.raises(ValueError, match=r"`k_train_train` must be positive semi-definite.*-1"):
        theory.mse_gradient_flow(bad, y, None)
    with pytest.raises(ValueError, match=r"`k_train_train.ntk` must be positive semi-definite"):
        theory.gradient_descent_mse_ensemble(theory.Kernels(jnp.eye(2), bad), y)
    with pytest.raises(ValueError, match=r"`k_train_train.nngp` must be positive semi-definite"):
        theory.gradient_descent_mse_ensemble(theory.Kernels(bad, jnp.eye(2)), y)
    with pytest.raises(ValueError, match=r"`k_train_train.nngp` must be positive semi-definite"):
        theory.predict(y, k_train_train=theory.Kernels(bad, jnp.eye(2)))
    with pytest.raises(ValueError, match=r"`k` must be positive semi-definite"):
        theory.cg_solve(bad, y)
    asym = jnp.array([[2.0, 1.0], [0.5, 2.0]])
    with pytest.raises(ValueError, match=r"`k_train_train.ntk` must be symmetric.*0.5"):
        theory.predict(y, k_train_train=theory.Kernels(jnp.eye(2), asym), get="ntk")
    with pytest.raises(ValueError, match=r"`k_train_train` must be symmetric"):
        theory.mse_gradient_flow(asym, y, 1.0)
    # The opt-out: the same indefinite kernel goes through (eigenvalues clipped at 0).
    f, _ = theory.mse_gradient_flow(bad, y, 1.0, validate=False)
    assert f.shape == (2,)
    # Round-off below the tolerance (relative to the largest eigenvalue) is accepted.
    x = jax.random.normal(jax.random.key(0), (20, 3))
    k = theory.mlp_kernels(x, depth=2).ntk
    evals, evecs = jnp.linalg.eigh(k)
    near = (evecs * evals.at[0].set(-1e-9 * evals[-1])) @ evecs.T
    theory.mse_gradient_flow((near + near.T) / 2, jnp.ones(20), None)
    far = (evecs * evals.at[0].set(-1e-4 * evals[-1])) @ evecs.T
    with pytest.raises(ValueError, match="positive semi-definite"):
        theory.mse_gradient_flow((far + far.T) / 2, jnp.ones(20), None)


def test_psd_check_above_the_eigenvalue_limit(monkeypatch, x64):
    from lazyrich.theory import _predict_checks

    monkeypatch.setattr(_predict_checks, "PSD_EIGH_LIMIT", 2)
    k = jnp.array([[1.0, 2.0, 0.0], [2.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    with pytest.raises(ValueError, match=r"\|k\[0, 1\]\| = 2 > sqrt"):
        theory.check_kernel_matrix("k", k)
    with pytest.raises(ValueError, match=r"negative diagonal entry k\[1, 1\]"):
        theory.check_kernel_matrix("k", jnp.diag(jnp.array([1.0, -1.0, 1.0])))
    theory.check_kernel_matrix("k", jnp.eye(3))


def test_bad_inputs_name_the_argument(x64):
    kdd, ktd, ktt = matrices()
    y = jnp.asarray(REF["y_train"])
    xtr, xte = jnp.asarray(REF["x_train"]), jnp.asarray(REF["x_test"])
    kf = kernel_fn()
    cases = [
        (dict(k_train_train=kdd, diag_reg=-1.0), "`diag_reg` must be >= 0"),
        (dict(k_train_train=kdd, t=-1.0), "`t` must be >= 0"),
        (dict(k_train_train=kdd, get="ntkgp"), "`get` must be one of"),
        (dict(k_train_train=kdd, solver="lu"), "`solver` must be one of"),
        (dict(k_train_train=kdd, t=1.0, solver="cg"), "finite `t` needs"),
        (dict(k_train_train=kdd, k_test_train=ktd, compute_cov=True), "needs `k_test_test`"),
        (
            dict(k_train_train=kdd, k_test_train=ktd, k_test_test=ktt[:3, :3], compute_cov=True),
            r"`k_test_test` must be \(12, 12\)",
        ),
        (
            dict(k_train_train=theory.Kernels(kdd.nngp[:5, :5], kdd.ntk)),
            r"`k_train_train.nngp` must be \(40, 40\)",
        ),
        (
            dict(k_train_train=kdd, k_test_train=theory.Kernels(ktd.nngp[:, :3], ktd.ntk)),
            r"`k_test_train.nngp` must have shape \(Q, 40\), got \(12, 3\)",
        ),
        (
            dict(k_train_train=theory.Kernels(kdd.nngp.at[0, 0].set(jnp.nan), kdd.ntk)),
            "`k_train_train.nngp` must be finite",
        ),
        (dict(k_train_train=theory.Kernels(None, kdd.ntk)), r"`k_train_train.nngp` is required"),
        (dict(k_train_train=kdd.nngp), "`k_train_train` must have `.nngp` and `.ntk`"),
        (dict(), "give `k_train_train`"),
        (dict(k_train_train=kdd, kernel_fn=kf, x_train=xtr), "not both"),
        (dict(kernel_fn=kf), "`x_train` is required"),
        (dict(kernel_fn=kf, x_train=xtr[:10]), r"`x_train` must have 40 rows"),
        (
            dict(kernel_fn=kf, x_train=xtr, x_test=xte[:, :2]),
            r"`x_test` must have feature shape \(5,\)",
        ),
        (dict(kernel_fn=kf, x_train=xtr.at[3, 1].set(jnp.inf)), "`x_train` must be finite"),
        (dict(kernel_fn=kf, x_train=xtr, matrix_free=True, solver="eigh"), "need `solver='cg'`"),
        (dict(kernel_fn=lambda a, b=None, *, get: 1 / 0, x_train=xtr), "`kernel_fn` failed"),
        (
            dict(kernel_fn=lambda a, b=None, *, get: theory.Kernels(a, a), x_train=xtr),
            r"`kernel_fn` must return `nngp` of shape \(n1, n2\)",
        ),
        (dict(k_train_train=kdd, tol=0.0, solver="cg"), "`tol` must be > 0"),
    ]
    for kwargs, message in cases:
        with pytest.raises((ValueError, TypeError), match=message):
            theory.predict(y, **kwargs)
    with pytest.raises(ValueError, match=r"`y_train` must be finite"):
        theory.predict(y.at[0, 0].set(jnp.nan), k_train_train=kdd)
    with pytest.raises(ValueError, match=r"`y_train` must be a 1 or 2-D"):
        theory.predict(y[None], k_train_train=kdd)
