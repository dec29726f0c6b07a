r"""Kernel functions, tiled and sharded kernel matrices, matrix-free operators, resumable tiles.

A *kernel function* is any callable ``kernel_fn(x1, x2=None, *, get=("nngp", "ntk")) -> Kernels``
(fields not requested may be ``None``); :func:`mlp_kernel_fn` adapts :func:`mlp_kernels` to it.

Rows of a kernel are computed in tiles of ``tile_size`` rows, ``kernel_fn(x1[rows], x2)``:

* :func:`kernel_matrix` assembles them into a matrix, optionally sharded by rows over ``devices``
  (``jax.sharding``; with ``jax.distributed`` the devices of every process, each process computing
  only its own rows), optionally stored tile by tile in a folder so that an interrupted computation
  resumes without recomputing finished tiles (same atomic-file protocol as the sweep storage: a
  tile's ``.npz`` is written to a temporary name and renamed, then its ``.json`` record; a tile is
  finished when its record exists);
* :func:`matrix_free_operator` never forms the matrix: each product :math:`K v` recomputes the tiles
  (memory :math:`O(n \cdot \text{tile})`, time :math:`O(n^2)` kernel evaluations per product), rows
  sharded over devices with ``shard_map``; the partial products are gathered with an all-gather, so
  every device and process holds the same iterate.
"""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
import time
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from lazyrich._checks import check_choice, check_int
from lazyrich._io import atomic_write
from lazyrich.theory._kernels import Kernels, mlp_kernels
from lazyrich.theory._solvers import Operator, blocked_matmul

KernelFn = Callable[..., Kernels]
GET = ("nngp", "ntk")
AXIS = "rows"


def mlp_kernel_fn(*, depth: int, **kwargs: Any) -> KernelFn:
    r"""The kernel function of a fully connected network: :func:`mlp_kernels` with fixed settings.

    Returns ``kernel_fn(x1, x2=None, *, get=("nngp", "ntk")) -> Kernels``, compiled once per input
    shape and traceable (it can be called inside ``jax.jit``, ``jax.lax.map`` and ``shard_map``).
    Fields not in ``get`` are ``None``. The settings (``depth`` and every keyword of
    :func:`mlp_kernels` except ``x1``, ``x2``, ``diagonal``) are validated here, once, and stored
    as the function's ``spec`` attribute (used to identify the kernel in a resumable store).

    Example:
      >>> import jax.numpy as jnp
      >>> kernel_fn = mlp_kernel_fn(depth=3, bias_std=0.1)
      >>> k = kernel_fn(jnp.array([[1.0, 0.0], [0.0, 1.0]]), get="ntk")
      >>> print(f"{float(k.ntk[0, 0]):.4f}", k.nngp)
      0.2825 None
    """
    if "diagonal" in kwargs:
        raise TypeError("`diagonal` is not a setting of a kernel function.")
    mlp_kernels(jnp.zeros((1, 1), jnp.float32), depth=depth, **kwargs)  # validates the settings
    spec = {"kind": "mlp", "depth": depth, **{k: repr(v) for k, v in sorted(kwargs.items())}}

    def kernel_fn(x1, x2=None, *, get=GET):
        want = normalize_get(get)
        k = mlp_kernels(x1, x2, depth=depth, **kwargs)
        return Kernels(*(getattr(k, g) if g in want else None for g in GET))

    kernel_fn.spec = spec
    return kernel_fn


def normalize_get(get: Any) -> tuple[str, ...]:
    """``get`` as a tuple of kernel names, validated."""
    names = (get,) if isinstance(get, str) else tuple(get)
    if not names:
        raise ValueError(f"`get` must name at least one of {GET}, got {get!r}.")
    for g in names:
        check_choice("get", g, GET)
    return names


def _part(k: Any, g: str, where: str) -> jax.Array:
    value = getattr(k, g, None)
    if value is None:
        raise ValueError(
            f"`kernel_fn` returned no `{g}` for get={(g,)!r} ({where}); it must return an object "
            f"with `.nngp` and `.ntk` (e.g. `Kernels`)."
        )
    return value


def make_mesh(devices: Sequence[jax.Device] | None) -> Mesh | None:
    """A 1-D mesh named ``"rows"`` over ``devices`` (``None`` or one device: no sharding)."""
    if devices is None:
        return None
    devices = list(devices)
    if len(devices) < 1:
        raise ValueError("`devices` must list at least one device, got an empty sequence.")
    return Mesh(np.array(devices), (AXIS,))


def replicate(x: Any, mesh: Mesh | None) -> jax.Array:
    """``x`` as a global array replicated over ``mesh`` (every process passes the same values)."""
    if mesh is None:
        return jnp.asarray(x)
    x = np.asarray(x)
    return jax.make_array_from_callback(x.shape, NamedSharding(mesh, P()), lambda idx: x[idx])


def padded_rows(n: int, mesh: Mesh | None, tile: int) -> int:
    """Rows padded to a multiple of (devices x tile)."""
    per = (1 if mesh is None else mesh.size) * tile
    return -(-n // per) * per


# --------------------------------------------------------------------------------------------------
# Products with kernel rows, tile by tile (traceable)


def rows_times(kernel_fn, g, x_rows, x_cols, v, tile, acc):
    """``K_g(x_rows, x_cols) @ v`` computed ``tile`` rows at a time; ``x_rows`` rows % tile == 0."""
    tiles = x_rows.reshape(-1, tile, *x_rows.shape[1:])

    def one(xt):
        k = _part(kernel_fn(xt, x_cols, get=(g,)), g, "a tile")
        return jnp.matmul(k.astype(acc), v.astype(acc))

    out = jax.lax.map(one, tiles)
    return out.reshape(-1, v.shape[1])


def _pad(x, rows):
    extra = rows - x.shape[0]
    if extra == 0:
        return x
    return jnp.concatenate([x, jnp.broadcast_to(x[:1], (extra, *x.shape[1:]))])


def tiled_product(kernel_fn, g, x_rows, x_cols, *, tile, acc, mesh=None):
    """``V -> K_g(x_rows, x_cols) @ V`` computed ``tile`` rows at a time (traceable).

    With a ``mesh`` the rows are split over its devices (``shard_map``) and the result is
    all-gathered, so every device holds the whole product.
    """
    n = x_rows.shape[0]
    xp = _pad(x_rows, padded_rows(n, mesh, tile))
    if mesh is None:
        return lambda v: rows_times(kernel_fn, g, xp, x_cols, v, tile, acc)[:n]
    local = jax.shard_map(
        lambda xr, xc, v: rows_times(kernel_fn, g, xr, xc, v, tile, acc),
        mesh=mesh,
        in_specs=(P(AXIS), P(), P()),
        out_specs=P(AXIS),
        check_vma=False,
    )
    replicated = NamedSharding(mesh, P())
    return lambda v: jax.lax.with_sharding_constraint(local(xp, x_cols, v)[:n], replicated)


def kernel_diagonal(kernel_fn, g, x, *, batch, acc):
    """``K_g(x_i, x_i)`` for every row, through the symmetric path of ``kernel_fn`` (traceable)."""

    def one(xi):
        return _part(kernel_fn(xi[None], None, get=(g,)), g, "the diagonal")[0, 0]

    return jax.lax.map(one, x, batch_size=min(batch, x.shape[0])).astype(acc)


def matrix_free_operator(kernel_fn, g, x, *, tile, acc, mesh=None) -> Operator:
    """Operator of ``K_g(x, x)`` that computes ``tile``-row tiles on the fly (traceable)."""

    def row(i):
        xi = jax.lax.dynamic_index_in_dim(x, i, 0, keepdims=True)
        return _part(kernel_fn(xi, x, get=(g,)), g, "a row")[0].astype(acc)

    return Operator(
        matvec=tiled_product(kernel_fn, g, x, x, tile=tile, acc=acc, mesh=mesh),
        diag=lambda: kernel_diagonal(kernel_fn, g, x, batch=tile, acc=acc),
        row=row,
        size=x.shape[0],
    )


def sharded_dense_operator(k, n, acc, mesh) -> Operator:
    """Operator of a stored kernel ``k`` of shape ``(rows >= n, n)`` (rows beyond ``n`` padding).

    With a ``mesh``, ``k`` is sharded by rows: each device multiplies its rows (``shard_map``) and
    the pieces are all-gathered.
    """
    if mesh is None:
        product = lambda v: blocked_matmul(k, v, acc)[:n]  # noqa: E731
    else:
        local = jax.shard_map(
            lambda kr, v: blocked_matmul(kr, v, acc),
            mesh=mesh,
            in_specs=(P(AXIS, None), P()),
            out_specs=P(AXIS),
            check_vma=False,
        )
        replicated = NamedSharding(mesh, P())
        product = lambda v: jax.lax.with_sharding_constraint(local(k, v)[:n], replicated)  # noqa: E731

    return Operator(
        matvec=product,
        diag=lambda: jnp.diagonal(k).astype(acc),
        row=lambda i: jax.lax.dynamic_index_in_dim(k, i, 0, keepdims=False).astype(acc),
        size=n,
    )


# --------------------------------------------------------------------------------------------------
# Stored (dense) kernel matrices: tiled, sharded, resumable


def _fingerprint(kernel_fn, x1, x2, get, tile) -> str:
    h = hashlib.sha256()
    spec = getattr(kernel_fn, "spec", None)
    ident = (
        spec if spec is not None else getattr(kernel_fn, "__qualname__", type(kernel_fn).__name__)
    )
    h.update(json.dumps({"kernel": ident, "get": list(get), "tile": tile}, sort_keys=True).encode())
    for x in (x1, x2):
        arr = np.ascontiguousarray(np.asarray(x))
        h.update(f"{arr.shape}{arr.dtype}".encode())
        h.update(arr.tobytes())
    return h.hexdigest()[:16]


class TileStore:
    """A folder of finished kernel row tiles: ``tile-IIIIII.npz`` + ``tile-IIIIII.json``.

    ``manifest.json`` holds the fingerprint of (kernel function, inputs, ``get``, tile size); a
    folder holding another computation is refused. Written with the sweep storage's atomic files.
    """

    def __init__(self, folder, fingerprint: str, num_tiles: int, *, fsync: bool = False):
        self.folder = pathlib.Path(folder)
        self.fsync = fsync
        self.fingerprint = fingerprint
        manifest = self.folder / "manifest.json"
        if manifest.exists():
            try:
                stored = json.loads(manifest.read_text())
            except ValueError as err:
                raise ValueError(
                    f"`store` manifest {str(manifest)!r} is unreadable: {err}"
                ) from None
            if stored.get("fingerprint") != fingerprint:
                raise ValueError(
                    f"`store` {str(self.folder)!r} holds another kernel computation (fingerprint "
                    f"{stored.get('fingerprint')!r}, this one {fingerprint!r}: a different kernel "
                    f"function, inputs, `get` or tile size); use a new folder."
                )
        else:
            if self.folder.exists() and any(self.folder.iterdir()):
                raise ValueError(
                    f"`store` {str(self.folder)!r} is not empty and holds no kernel tiles (no "
                    f"manifest.json); choose a new or empty folder."
                )
            self.folder.mkdir(parents=True, exist_ok=True)
            text = json.dumps({"fingerprint": fingerprint, "num_tiles": num_tiles}) + "\n"
            atomic_write(manifest, lambda h: h.write(text.encode()), tag=f"{os.getpid()}")

    def path(self, i: int, suffix: str) -> pathlib.Path:
        return self.folder / f"tile-{i:06d}{suffix}"

    def load(self, i: int) -> dict[str, np.ndarray] | None:
        record = self.path(i, ".json")
        if not record.exists():
            return None
        try:
            with np.load(self.path(i, ".npz")) as npz:
                return {k: npz[k] for k in npz.files}
        except (OSError, ValueError) as err:  # a damaged tile: recompute it
            print(f"lazyrich: recomputing damaged kernel tile {self.path(i, '.npz')}: {err}")
            return None

    def save(self, i: int, rows: tuple[int, int], arrays: dict[str, np.ndarray]) -> None:
        tag = f"{os.getpid()}"
        atomic_write(
            self.path(i, ".npz"), lambda h: np.savez(h, **arrays), tag=tag, fsync=self.fsync
        )
        record = {
            "tile": i,
            "rows": list(rows),
            "fingerprint": self.fingerprint,
            "pid": os.getpid(),
            "written": time.time(),
        }
        text = json.dumps(record) + "\n"
        atomic_write(
            self.path(i, ".json"), lambda h: h.write(text.encode()), tag=tag, fsync=self.fsync
        )


def kernel_matrix(
    kernel_fn: KernelFn,
    x1: Any,
    x2: Any = None,
    *,
    get: Sequence[str] | str = GET,
    tile_size: int = 1024,
    devices: Sequence[jax.Device] | None = None,
    store: str | os.PathLike | None = None,
    dtype: Any = None,
) -> Kernels:
    """Kernel matrices ``kernel_fn(x1, x2)`` computed ``tile_size`` rows at a time.

    Args:
      kernel_fn: ``kernel_fn(x1, x2=None, *, get) -> Kernels``.
      x1, x2: inputs (``x2=None`` is ``x1``: the symmetric kernel).
      get: kernels to compute.
      tile_size: rows per tile; memory besides the result is ``O(tile_size x n2)``.
      devices: shard the rows over these devices (a 1-D mesh); with ``jax.distributed``, pass
        ``jax.devices()`` and every process computes only the rows of its own devices. The result
        is then ``(rows, n2)`` with ``rows`` padded to a multiple of the device count (padding rows
        repeat the first input and are ignored by the solvers).
      store: a folder; each finished tile is stored there and a rerun with the same folder loads
        finished tiles instead of recomputing them (an interrupted job resumes). Not combined with
        ``devices``.
      dtype: store the kernel in this dtype (default: that of the kernel function's output).

    Returns:
      :class:`Kernels` with the requested fields (others ``None``).
    """
    get = normalize_get(get)
    check_int("tile_size", tile_size, minimum=1)
    symmetric = x2 is None
    x2v = x1 if symmetric else x2
    n1, n2 = np.shape(x1)[0], np.shape(x2v)[0]
    tile = min(tile_size, n1)
    mesh = make_mesh(devices)
    if store is not None and mesh is not None and mesh.size > 1:
        raise ValueError("`store` and `devices` cannot be combined; shard or store, not both.")

    def compute(a, b):
        xa = jnp.asarray(x1[a:b])
        if symmetric and a == 0 and b == n1:
            k = kernel_fn(xa, None, get=get)
        else:
            k = kernel_fn(xa, jnp.asarray(x2v), get=get)
        out = {g: _part(k, g, f"rows {a}:{b}") for g in get}
        if symmetric and not (a == 0 and b == n1):
            # Pairs (i, i) through the symmetric path: their angle is exactly 0 there.
            own = kernel_fn(xa, None, get=get)
            idx = jnp.arange(b - a)
            out = {
                g: v.at[idx, a + idx].set(jnp.diagonal(_part(own, g, "a tile")))
                for g, v in out.items()
            }
        return {g: v if dtype is None else v.astype(dtype) for g, v in out.items()}

    if mesh is not None and mesh.size > 1:
        rows = padded_rows(n1, mesh, 1)
        xpad = np.concatenate([np.asarray(x1), np.repeat(np.asarray(x1)[:1], rows - n1, 0)])
        sharding = NamedSharding(mesh, P(AXIS, None))
        cache: dict[tuple[int, int], dict[str, jax.Array]] = {}

        def block(idx, g):
            a, b, _ = idx[0].indices(rows)
            if (a, b) not in cache:
                parts = [
                    kernel_fn(jnp.asarray(xpad[s : min(s + tile, b)]), jnp.asarray(x2v), get=get)
                    for s in range(a, b, tile)
                ]
                cache[(a, b)] = {
                    h: jnp.concatenate([_part(p, h, "a tile") for p in parts]) for h in get
                }
            out = cache[(a, b)][g]
            return np.asarray(out if dtype is None else out.astype(dtype))

        result = {
            g: jax.make_array_from_callback((rows, n2), sharding, lambda idx, g=g: block(idx, g))
            for g in get
        }
        return Kernels(*(result.get(g) for g in GET))

    if tile >= n1 and store is None:
        out = compute(0, n1)
        return Kernels(*(out.get(g) for g in GET))

    num_tiles = -(-n1 // tile)
    tiles = None
    if store is not None:
        tiles = TileStore(store, _fingerprint(kernel_fn, x1, x2v, get, tile), num_tiles)
    buffers: dict[str, np.ndarray] = {}
    for i in range(num_tiles):
        a, b = i * tile, min((i + 1) * tile, n1)
        parts = tiles.load(i) if tiles is not None else None
        if parts is None:
            parts = {g: np.asarray(v) for g, v in compute(a, b).items()}
            if tiles is not None:
                tiles.save(i, (a, b), parts)
        for g in get:
            if g not in buffers:
                buffers[g] = np.empty((n1, n2), parts[g].dtype)
            buffers[g][a:b] = parts[g]
    return Kernels(*(jnp.asarray(buffers[g]) if g in buffers else None for g in GET))
