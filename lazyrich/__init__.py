"""lazyrich: training-dynamics theory in JAX (NTK, lazy vs rich, SGD noise, DMFT, low-rank RNNs).

Subpackages:

* :mod:`lazyrich.theory` -- infinite-width kernels, closed-form predictions, DMFT, toy-model theory;
* :mod:`lazyrich.dynamics` -- finite-width networks: empirical NTK, scaled models, training loops;
* :mod:`lazyrich.sims` -- data sets, tasks, experiments, sweeps and result storage;
* :mod:`lazyrich.figures` -- one module per paper figure (imported explicitly; it uses matplotlib).

:class:`Status` names the integer status codes that every training loop, solver and sweep reports.
"""

from lazyrich import dynamics as dynamics
from lazyrich import sims as sims
from lazyrich import theory as theory
from lazyrich._status import Status as Status
from lazyrich._status import status_name as status_name
from lazyrich._version import __version__ as __version__

__all__ = ["dynamics", "sims", "Status", "status_name", "theory", "__version__"]
