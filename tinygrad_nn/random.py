"""The library-wide default random generator, and ``manual_seed`` to make it reproducible.

Layers, dropout and the random Tensor constructors draw from it when given no ``rng``; an
explicit ``rng`` (a seed or a Generator) is used as given and leaves this one untouched.
"""
from __future__ import annotations

import numpy as np

from ._validation import check_int

__all__ = ["manual_seed", "default_generator"]

_default = None


def default_generator() -> np.random.Generator:
    """The Generator used wherever no ``rng`` is given (seeded from OS entropy until
    ``manual_seed`` is called)."""
    global _default
    if _default is None:
        _default = np.random.default_rng()
    return _default


def manual_seed(seed) -> np.random.Generator:
    """Reseed the default generator, so unseeded layers, dropout masks and ``Tensor.randn``
    repeat run for run.

    Parameters
    ----------
    seed : int
        A non-negative integer.

    Returns
    -------
    np.random.Generator
        The default generator, reseeded in place (holders of it follow the new seed).
    """
    fresh = np.random.default_rng(check_int("seed", seed, low=0, owner="manual_seed"))
    # reseed in place: layers that already hold the default generator follow the new seed
    default_generator().bit_generator.state = fresh.bit_generator.state
    return _default
