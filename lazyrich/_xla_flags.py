"""Process-level XLA settings that the command line and the test suite apply before JAX starts."""

from __future__ import annotations

import os
from collections.abc import MutableMapping

#: Opt-out: set to ``1`` to keep XLA's concurrency-optimised CPU scheduler.
OPT_OUT = "LAZYRICH_CPU_CONCURRENT_SCHEDULER"
_NAME = "xla_cpu_enable_concurrency_optimized_scheduler"
FLAG = f"--{_NAME}=false"


def serial_cpu_scheduler(environ: MutableMapping[str, str] | None = None) -> bool:
    """Add ``--xla_cpu_enable_concurrency_optimized_scheduler=false`` to ``XLA_FLAGS``.

    With jax 0.10.2 on a 2-core machine, XLA's CPU runtime can wedge under the default
    concurrency-optimised scheduler: the executable waits for its completion event while every
    worker of the intra-op pool idles (native stacks: ``CpuPjRtRawLoadedExecutable::Execute`` in
    ``tsl::BlockUntilReady``, all Eigen workers in ``WaitForWork``), and the call never returns.
    Measured here on the vmapped program of ``examples/sweeps/dmft_richness.toml`` (a deep-linear
    DMFT solve and network training in one program): about half of the fresh processes wedged, and a
    variant with the solves chained by optimisation barriers wedged in 5 of 5; with this flag 0 of 7
    (20 executions each). ``--xla_cpu_multi_thread_eigen=false`` and
    ``jax_cpu_enable_async_dispatch=False`` did not help; one core (``taskset -c 0``) did. The flag
    only changes the order in which the CPU backend schedules independent operations. It has no
    effect once JAX's CPU backend exists, so the command line calls it first thing.

    Args:
      environ: the environment to edit (default ``os.environ``).

    Returns:
      Whether the flag was added (not when ``XLA_FLAGS`` already sets the scheduler option, or
      :data:`OPT_OUT` is ``1``).
    """
    environ = os.environ if environ is None else environ
    flags = environ.get("XLA_FLAGS", "")
    if environ.get(OPT_OUT, "0") == "1" or _NAME in flags:
        return False
    environ["XLA_FLAGS"] = f"{flags} {FLAG}".strip()
    return True
