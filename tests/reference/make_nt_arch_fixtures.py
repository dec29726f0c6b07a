"""Generate neural-tangents reference kernels for the architecture grid of `nt_arch_cases.py`.

Run in the pinned reference environment (jax 0.4.23, neural-tangents 0.6.5), from a directory where
`lazyrich` is not importable:

    cd /tmp && /work/ntvenv/bin/python /path/to/tests/reference/make_nt_arch_fixtures.py

For every case of `nt_arch_cases.CASES` it builds the `stax` network from the case's spec and evaluates
`kernel_fn(x1, None)` and `kernel_fn(x1, x2)` (NNGP and NTK, float64). Writes `nt_arch.npz`: the inputs
(`x/<input>/x1`, `x/<input>/x2`), the kernels (`<case>/sym/nngp`, `<case>/sym/ntk`, `<case>/cross/nngp`,
`<case>/cross/ntk`) and `meta`, a JSON string with the environment and the case table as it was when the
fixtures were made (the parity test checks that the table is unchanged) and the kernels in which
neural-tangents returned NaN or inf (`nonfinite`). The tests read only this file;
they never import neural-tangents.
"""

import json
import pathlib
import platform
import sys
import warnings

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import neural_tangents as nt  # noqa: E402
import numpy as np  # noqa: E402
from neural_tangents import stax  # noqa: E402

HERE = pathlib.Path(__file__).parent
sys.path.insert(0, str(HERE))
import nt_arch_cases  # noqa: E402

warnings.filterwarnings("ignore")
FUNCTIONS = {"tanh": jnp.tanh}


def build(spec):
    """A `stax` layer from a spec `[name, kwargs]`."""
    name, kw = spec
    kw = {k: tuple(v) if isinstance(v, list) else v for k, v in kw.items()}
    if name == "serial":
        return stax.serial(*map(build, kw["layers"]))
    if name == "parallel":
        return stax.parallel(*map(build, kw["layers"]))
    if name == "repeat":
        return stax.repeat(build(kw["layer"]), kw["n"])
    if name == "ElementwiseNumerical":
        return stax.ElementwiseNumerical(FUNCTIONS[kw["fn"]], deg=kw["deg"])
    if name == "Polynomial":
        return stax.Polynomial(list(kw["coef"]))
    return getattr(stax, name)(**kw)


def main():
    rng = np.random.default_rng(20261203)
    out, nonfinite = {}, []
    for key, shape in nt_arch_cases.INPUT_SHAPES.items():
        out[f"x/{key}/x1"] = rng.normal(size=(nt_arch_cases.N1, *shape))
        out[f"x/{key}/x2"] = rng.normal(size=(nt_arch_cases.N2, *shape))
    # Reuse the kernels of an existing fixture file for cases whose spec and inputs are unchanged.
    old, old_cases = {}, {}
    if (HERE / "nt_arch.npz").exists():
        with np.load(HERE / "nt_arch.npz") as f:
            old = dict(f)
        old_cases = json.loads(str(old["meta"]))["cases"]
    try:
        for case_id, case in nt_arch_cases.CASES.items():
            x1, x2 = out[f"x/{case['input']}/x1"], out[f"x/{case['input']}/x2"]
            keys = [f"{case_id}/{label}/{g}" for label in ("sym", "cross") for g in ("nngp", "ntk")]
            if (
                json.loads(json.dumps(case)) == old_cases.get(case_id)
                and all(
                    np.array_equal(old[f"x/{case['input']}/{x}"], out[f"x/{case['input']}/{x}"])
                    for x in ("x1", "x2")
                )
                and all(k in old for k in keys)
            ):
                out.update({k: old[k] for k in keys})
                nonfinite += [k for k in keys if not np.all(np.isfinite(old[k]))]
                continue
            _, _, kernel_fn = build(nt_arch_cases.serial(*case["net"]))
            for label, second in (("sym", None), ("cross", x2)):
                k = kernel_fn(x1, second, ("nngp", "ntk"))
                for g in ("nngp", "ntk"):
                    value = np.asarray(getattr(k, g), np.float64)
                    assert value.shape == (len(x1), len(x1 if second is None else second)), (
                        case_id,
                        value.shape,
                    )
                    if not np.all(np.isfinite(value)):
                        nonfinite.append(f"{case_id}/{label}/{g}")
                    out[f"{case_id}/{label}/{g}"] = value
            print(case_id, flush=True)
    finally:
        save(out, nonfinite)


def save(out, nonfinite):
    meta = dict(
        python=sys.version.split()[0],
        platform=platform.platform(),
        jax=jax.__version__,
        neural_tangents=getattr(nt, "__version__", "0.6.5"),
        numpy=np.__version__,
        x64=True,
        script="tests/reference/make_nt_arch_fixtures.py",
        cases=nt_arch_cases.CASES,
        input_shapes=nt_arch_cases.INPUT_SHAPES,
        n1=nt_arch_cases.N1,
        n2=nt_arch_cases.N2,
        nonfinite=nonfinite,
    )
    np.savez_compressed(HERE / "nt_arch.npz", meta=np.array(json.dumps(meta)), **out)
    print(f"wrote {len(out)} arrays, {len(nt_arch_cases.CASES)} cases; not finite: {nonfinite}")


if __name__ == "__main__":
    main()
