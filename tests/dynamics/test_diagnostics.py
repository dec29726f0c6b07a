"""Kernel diagnostics (lazyrich._linalg, re-exported by lazyrich.dynamics) against closed forms."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lazyrich import dynamics
from tests.conftest import TOLERANCE


def _psd(key, n, rank=None, dtype=jnp.float32):
    a = jax.random.normal(key, (n, rank or n), dtype)
    return a @ a.T


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_alignments_closed_forms(dtype, getkey):
    with jax.enable_x64(dtype == "float64"):
        tol = TOLERANCE[dtype]
        k = _psd(getkey(), 6, dtype=jnp.dtype(dtype))
        a = dynamics.diagnostics.kernel_alignment(k, 3.0 * k)
        assert a.dtype == jnp.dtype(dtype)
        np.testing.assert_allclose(a, 1.0, **tol)
        np.testing.assert_allclose(dynamics.diagnostics.kernel_alignment(k, -k), -1.0, **tol)
        # alignment of two orthogonal (disjoint-support) kernels is 0
        e1, e2 = jnp.zeros((4, 4)).at[0, 0].set(1.0), jnp.zeros((4, 4)).at[1, 1].set(1.0)
        np.testing.assert_allclose(dynamics.diagnostics.kernel_alignment(e1, e2), 0.0, atol=1e-7)
        # CKA ignores a constant added to every entry (a constant feature)
        np.testing.assert_allclose(
            dynamics.diagnostics.centered_kernel_alignment(k, k + 5.0), 1.0, **tol
        )
        # K = y y^T is perfectly aligned with y; identity alignment is 1/sqrt(n)
        y = jax.random.normal(getkey(), (6,), jnp.dtype(dtype))
        np.testing.assert_allclose(
            dynamics.diagnostics.kernel_target_alignment(jnp.outer(y, y), y), 1.0, **tol
        )
        kta_eye = dynamics.diagnostics.kernel_target_alignment(
            jnp.eye(6, dtype=jnp.dtype(dtype)), y
        )
        np.testing.assert_allclose(kta_eye, 1 / np.sqrt(6), **tol)
        yc = y - y.mean()
        kta_c = dynamics.diagnostics.kernel_target_alignment(
            jnp.outer(yc, yc) + 2.0, y, centered=True
        )
        np.testing.assert_allclose(kta_c, 1.0, **tol)
        ys = jnp.stack([y, 2 * y], axis=1)  # several outputs: alignment with Y Y^T
        np.testing.assert_allclose(
            dynamics.diagnostics.kernel_target_alignment(ys @ ys.T, ys), 1.0, **tol
        )
        np.testing.assert_allclose(
            dynamics.diagnostics.relative_kernel_change(1.5 * k, k), 0.5, **tol
        )


def test_spectra_and_ranks(getkey):
    n = 7
    eye = jnp.eye(n)
    np.testing.assert_allclose(dynamics.diagnostics.effective_rank(eye), n, rtol=1e-5)
    np.testing.assert_allclose(dynamics.diagnostics.participation_ratio(eye), n, rtol=1e-5)
    v = jax.random.normal(getkey(), (n,))
    rank1 = jnp.outer(v, v)
    np.testing.assert_allclose(dynamics.diagnostics.effective_rank(rank1), 1.0, rtol=1e-4)
    np.testing.assert_allclose(dynamics.diagnostics.participation_ratio(rank1), 1.0, rtol=1e-4)
    # diag(1, 1, 0, ...) has effective rank 2; PR of eigenvalues (3, 1) is 16/10
    np.testing.assert_allclose(
        dynamics.diagnostics.effective_rank(jnp.diag(jnp.array([1.0, 1, 0, 0]))), 2.0
    )
    np.testing.assert_allclose(
        dynamics.diagnostics.participation_ratio(jnp.diag(jnp.array([3.0, 1]))), 1.6
    )
    # weight matrix: lambda = sigma^2, singular values (3, 1) -> (9 + 1)^2 / (81 + 1)
    w = jnp.array([[3.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    np.testing.assert_allclose(
        dynamics.diagnostics.participation_ratio(w, kind="matrix"), 100 / 82, rtol=1e-6
    )
    k = _psd(getkey(), 12)
    evals, evecs = dynamics.diagnostics.kernel_spectrum(k)
    # A backward-stable eigensolver errs by ~ eps * lambda_max on every eigenvalue (Weyl), so the smallest
    # ones get an absolute, not relative, tolerance: 10 * eps(float32) * lambda_max.
    reference = np.linalg.eigvalsh(np.asarray(k, np.float64))[::-1]
    atol = 10 * np.finfo(np.float32).eps * reference[0]
    np.testing.assert_allclose(evals, reference, rtol=1e-5, atol=atol)
    np.testing.assert_allclose(k @ evecs[:, 0], evals[0] * evecs[:, 0], rtol=1e-3, atol=1e-3)


def test_kernel_pca_subspace_matches_eigh(x64, getkey):
    # spectrum 2^-i: the subspace error after t iterations is ~ (lambda_{m+1}/lambda_k)^t, tiny here
    q, _ = jnp.linalg.qr(jax.random.normal(getkey(), (40, 40), jnp.float64))
    lam = 2.0 ** -jnp.arange(40.0)
    k = (q * lam) @ q.T
    evals, evecs = dynamics.diagnostics.kernel_pca(k, 3)
    np.testing.assert_allclose(evals, lam[:3], rtol=1e-10)
    for kk in (k, lambda m: k @ m):
        ev, vec = dynamics.diagnostics.kernel_pca(kk, 3, method="subspace", size=40, key=getkey())
        np.testing.assert_allclose(ev, lam[:3], rtol=1e-8)
        np.testing.assert_allclose(jnp.abs(jnp.sum(vec * evecs, 0)), 1.0, rtol=1e-8)


def test_diagnostics_vmap_and_jit(getkey):
    ks = jnp.stack([_psd(getkey(), 5) for _ in range(3)])
    aligned = jax.jit(jax.vmap(dynamics.diagnostics.kernel_alignment))(ks, 2 * ks)
    np.testing.assert_allclose(aligned, 1.0, rtol=1e-5)
    ranks = jax.vmap(dynamics.diagnostics.effective_rank)(ks)
    assert ranks.shape == (3,) and bool(jnp.all((ranks >= 1) & (ranks <= 5)))
    cka = jax.vmap(dynamics.diagnostics.centered_kernel_alignment)(ks, ks)
    np.testing.assert_allclose(cka, 1.0, rtol=1e-5)


def test_diagnostics_bad_input():
    with pytest.raises(ValueError, match="`k1` and `k2`"):
        dynamics.diagnostics.kernel_alignment(jnp.eye(3), jnp.eye(4))
    with pytest.raises(ValueError, match="`k`"):
        dynamics.diagnostics.kernel_target_alignment(jnp.ones((3, 4)), jnp.ones(3))
    with pytest.raises(ValueError, match="`y`"):
        dynamics.diagnostics.kernel_target_alignment(jnp.eye(3), jnp.ones(4))
    with pytest.raises(ValueError, match="`kind`"):
        dynamics.diagnostics.participation_ratio(jnp.eye(3), kind="weights")
    with pytest.raises(ValueError, match="`num_components`"):
        dynamics.diagnostics.kernel_pca(jnp.eye(3), 4)
