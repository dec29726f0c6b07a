"""One status type for every long computation in lazyrich (training, solvers, DMFT, sweeps).

A status is an integer code so that it can live inside jitted and vmapped programs (``jnp.int32``) and in
stored sweep results; :class:`Status` names the codes and :func:`status_name` turns a code (a Python int, a NumPy
or a JAX scalar) into its name.

=====  ==================  ==============================================================================
code   name                meaning
=====  ==================  ==============================================================================
-1     ``missing``         no result (a sweep point not computed yet, or lost to a damaged chunk)
0      ``ok``              finished as asked: converged, fitted, or ran to its horizon
1      ``step_cap``        stopped at the step / iteration cap before the stopping rule fired
2      ``diverged``        a non-finite or exploding quantity; the last finite state is kept
3      ``not_converged``   an iterative solver stopped at its tolerance floor without reaching the tolerance
=====  ==================  ==============================================================================
"""

from __future__ import annotations

import enum

import numpy as np


class Status(enum.IntEnum):
    """Status codes shared by the training driver, the solvers, the DMFT and the sweeps."""

    MISSING = -1
    OK = 0
    STEP_CAP = 1
    DIVERGED = 2
    NOT_CONVERGED = 3


STATUS_NAMES = {int(s): s.name.lower() for s in Status}


def status_name(status) -> str:
    """The name of a status code, e.g. ``status_name(2) == "diverged"``.

    Example:
      >>> status_name(Status.STEP_CAP)
      'step_cap'
    """
    code = int(np.asarray(status))
    if code not in STATUS_NAMES:
        raise ValueError(f"`status` must be one of {sorted(STATUS_NAMES)}, got {code}.")
    return STATUS_NAMES[code]
