"""Type aliases used in signatures across lazyrich."""

from collections.abc import Callable
from typing import Any, TypeAlias

import jax

Array: TypeAlias = jax.Array
Params: TypeAlias = Any  # any pytree of arrays
ApplyFn: TypeAlias = Callable[[Params, Array], Array]
KeyArray: TypeAlias = jax.Array  # a typed key from jax.random.key
