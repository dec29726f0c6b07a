# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # A tour of lazyrich
#
# 1. The **neural tangent kernel** of a finite network (`lazyrich.dynamics`) approaches the
#    infinite-width kernel (`lazyrich.theory`) as the width grows.
# 2. An **(alpha, T) phase diagram** of SGD from a small declarative sweep (`lazyrich.sims.Sweep`):
#    every grid point is vmapped, sharded over the local devices and stored chunk by chunk.
# 3. The stored sweep loaded back as an **xarray** dataset, with one labelled dimension per axis.
# 4. A **DMFT** learning curve: the infinite-width mean-field network trained at several richness values
#    `gamma0`.
#
# The whole tour runs in a minute or two on a 2-core laptop and stays under 1 GB of memory (the test suite
# executes it as it is; the last cell prints the peak memory).

# %%
import pathlib
import tempfile

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

from lazyrich import dynamics, sims, theory

print(f"jax {jax.__version__} on {jax.device_count()} {jax.default_backend()} device(s)")

# %% [markdown]
# ## 1. Empirical and infinite-width NTK
#
# Inputs on the unit circle, $x(\gamma) = (\cos\gamma, \sin\gamma)$; a ReLU MLP with `depth` hidden layers
# in the NTK parameterization. The empirical kernel $\Theta(x_0, x(\gamma))$ of a random network
# fluctuates around the infinite-width kernel, and the fluctuations shrink like $\text{width}^{-1/2}$
# (Jacot et al. 2018, Fig. 1).
#
# Ten networks per width are vmapped into one program. `method="structured"` contracts each dense layer
# through its two factors (the layer input and the back-propagated output gradient), so ten networks of
# width 1,024 (two million parameters each) need a few hundred MB; per-example Jacobians
# (`method="jacobian"`) would store 66 x 2 million numbers per network.

# %%
depth = 3
num_angles = 65
widths = (64, 256, 1024)
num_seeds = 10

gamma = jnp.linspace(-jnp.pi, jnp.pi, num_angles)
x = jnp.stack([jnp.cos(gamma), jnp.sin(gamma)], axis=1)
x0 = jnp.array([[1.0, 0.0]])
infinite = theory.mlp_kernels(x0, x, depth=depth, bias_std=0.1)


def ntk_row(key, width):
    apply_fn, params = dynamics.mlp(key, input_dim=2, width=width, depth=depth, bias_std=0.1)
    return dynamics.empirical_ntk(apply_fn, params, x0, x, method="structured")[0]


keys = jax.random.split(jax.random.key(0), num_seeds)
empirical = {w: np.asarray(jax.jit(jax.vmap(lambda k, w=w: ntk_row(k, w)))(keys)) for w in widths}

fig, axes = plt.subplots(1, len(widths), figsize=(4 * len(widths), 3), sharey=True)
for ax, width in zip(axes, widths):
    ax.plot(gamma, empirical[width].T, color="C0", alpha=0.4, lw=0.8)
    ax.plot(gamma, infinite.ntk[0], color="k", lw=2, label="infinite width")
    ax.set(title=f"width {width}", xlabel=r"$\gamma$")
axes[0].set_ylabel(r"$\Theta(x_0, x(\gamma))$")
axes[0].legend()
spread = {w: float(np.mean(np.std(empirical[w], axis=0))) for w in widths}
print("mean seed-to-seed spread of the NTK:", {w: round(s, 4) for w, s in spread.items()})
print(f"spread ratio, width {widths[0]} / width {widths[-1]}: {spread[widths[0]] / spread[widths[-1]]:.2f}")
print(f"(width^-1/2 predicts {np.sqrt(widths[-1] / widths[0]):.1f})")

# %% [markdown]
# ## 2. An (alpha, T) phase diagram from a small sweep
#
# `sclocchi2023_phase_diagram` trains a fully connected network with SGD on the parity of the bundled
# digits, with the output scale `alpha` (lazy for large alpha, rich for small) and the SGD temperature
# `T = learning_rate / batch_size`. Both are *traced* fields of the experiment, so the whole grid is one
# compiled program, vmapped over the points. The same object can be written as a TOML file and run from
# the command line: `lazyrich sweep run examples/sweeps/sgd_phase_diagram.toml --out DIR`.

# %%
alphas = [2.0**-4, 2.0**-1, 2.0**2, 2.0**5, 2.0**8, 2.0**11]
temperatures = [2.0**-10, 2.0**-8.5, 2.0**-7, 2.0**-5.5, 2.0**-4]
seeds = [0, 1]

sweep = sims.Sweep(
    experiment="sclocchi2023_phase_diagram",
    quick=True,
    axes={"alpha": alphas, "temperature": temperatures, "seed": seeds},
)
out = pathlib.Path(tempfile.mkdtemp()) / "phase-diagram"
ds = sims.run_sweep(sweep, out)
print(sims.sweep_status(out))

# %% [markdown]
# ## 3. The stored sweep as an xarray dataset
#
# `out` now holds `manifest.json` and one atomically written `.npz` + `.json` pair per chunk. Running the
# same sweep again into the same folder skips every finished chunk (that is how a pre-empted batch job
# resumes), and `sims.load_results` reads the folder, possibly while the sweep is still running. Points not
# computed yet have `status == -1`; a diverged point is kept with `status == 2`.

# %%
ds = sims.load_results(out)
print(ds)
codes, counts = np.unique(ds.status.values, return_counts=True)
print("status counts:", {int(c): int(n) for c, n in zip(codes, counts, strict=True)})

fitted = ds.where(ds.status == 0)
mean = fitted.mean("seed")
fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
for ax, name in zip(axes, ["test_error", "weight_change"]):
    image = ax.pcolormesh(
        np.log2(mean.temperature), np.log2(mean.alpha), mean[name].values, shading="nearest"
    )
    fig.colorbar(image, ax=ax)
    ax.set(xlabel=r"$\log_2 T$", ylabel=r"$\log_2 \alpha$", title=name.replace("_", " "))

# %% [markdown]
# Rerunning the same sweep into the same folder computes nothing:

# %%
again = sims.run_sweep(sweep, out, progress=False)
assert again.attrs["points_done"] == ds.attrs["points_done"] == ds.attrs["num_points"]

# %% [markdown]
# ## 4. A DMFT learning curve
#
# The dynamical mean-field theory of Bordelon & Pehlevan (2022) describes an infinitely wide mean-field
# network. `gamma0 = 0` is the lazy (static-NTK) limit, and a larger `gamma0` means richer feature learning.
# For a deep *linear* network the equations close on kernels (no sampling), so a curve takes a moment.

# %%
with jax.enable_x64(True):
    num_train, input_dim = 16, 24
    kx_key, beta_key = jax.random.split(jax.random.key(1))
    xs = jax.random.normal(kx_key, (num_train, input_dim), jnp.float64)
    xs = xs / jnp.linalg.norm(xs, axis=1, keepdims=True) * jnp.sqrt(float(input_dim))
    ys = jnp.sign(xs @ jax.random.normal(beta_key, (input_dim,), jnp.float64))
    kx = xs @ xs.T / input_dim
    times = jnp.linspace(0.0, 5.0, 41)
    curves = {}
    for gamma0 in (0.0, 1.0, 2.0):
        result = theory.solve_dmft(
            kx, ys, times, gamma0=gamma0, depth=2, activation="linear", method="linear"
        )
        curves[gamma0] = 0.5 * np.mean(np.asarray(result.delta_train) ** 2, axis=-1)

fig, ax = plt.subplots(figsize=(4.5, 3.2))
for gamma0, loss in curves.items():
    ax.semilogy(times, loss, label=rf"$\gamma_0 = {gamma0:g}$")
ax.set(xlabel="time", ylabel="training loss", title="deep linear DMFT (depth 2)")
ax.legend()
print("final training loss by gamma0:", {g: float(c[-1]) for g, c in curves.items()})

# %% [markdown]
# ## Resources
#
# The peak memory of this notebook's kernel so far (Linux and macOS):

# %%
import resource
import sys

peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * (1 if sys.platform == "darwin" else 1024)
print(f"peak memory of this kernel: {peak / 2**30:.2f} GiB")
