"""Weight initializers. Each takes an explicit ``rng``, so every model is reproducible.

``rng`` may be a ``np.random.Generator``, a legacy ``np.random.RandomState`` (what scikit-learn
draws from), an int seed or None (the library's default generator, seeded by
``tinygrad_nn.manual_seed``). A RandomState is used as is, so the same
draws as scikit-learn come out of it in the same order.
"""
from __future__ import annotations

import math

import numpy as np

from .._validation import check_real
from .._validation import as_generator as _as_generator, as_rng as _as_rng

__all__ = ["as_rng", "as_generator", "glorot_bound", "glorot_uniform", "he_normal", "uniform",
           "normal"]


def as_rng(rng=None):
    """A Generator or RandomState to draw from (the library's one seed rule, ``_validation.as_rng``)."""
    return _as_rng(rng)


def as_generator(rng=None):
    """Like ``as_rng`` but always a Generator (a RandomState seeds a new one from its stream)."""
    return _as_generator(rng)


def _shape(shape, fan_in, fan_out):
    return (fan_in, fan_out) if shape is None else tuple(shape)


def glorot_bound(fan_in, fan_out, gain=1.0):
    """``gain * sqrt(6 / (fan_in + fan_out))``, Glorot & Bengio's uniform bound.

    Computed as ``sqrt(factor / (fan_in + fan_out))`` with ``factor = 6 gain**2`` snapped to the
    nearest integer when within rounding error, so that gain 1 and gain ``sqrt(1/3)`` give
    scikit-learn's MLP bounds (factor 6, and 2 for the logistic activation) bit for bit.
    """
    if fan_in + fan_out <= 0:
        raise ValueError(f"glorot_bound: fan_in + fan_out must be positive, got {fan_in} + {fan_out}")
    gain = check_real("gain", gain, owner="glorot_bound")
    factor = 6.0 * gain * gain
    if abs(factor - round(factor)) <= 1e-12 * factor:
        factor = float(round(factor))
    return math.sqrt(factor / (fan_in + fan_out))


def uniform(shape, low=-1.0, high=1.0, rng=None, dtype=np.float32):
    """Samples from U(low, high) drawn in float64 then cast, as scikit-learn does."""
    return as_rng(rng).uniform(low, high, shape).astype(dtype)


def normal(shape, mean=0.0, std=1.0, rng=None, dtype=np.float32):
    """Samples from N(mean, std**2) drawn in float64 then cast."""
    return as_rng(rng).normal(mean, std, shape).astype(dtype)


def glorot_uniform(fan_in, fan_out, rng=None, gain=1.0, dtype=np.float32, shape=None):
    """U(-b, b) with b = ``glorot_bound(fan_in, fan_out, gain)``; shape (fan_in, fan_out) unless given."""
    bound = glorot_bound(fan_in, fan_out, gain)
    return uniform(_shape(shape, fan_in, fan_out), -bound, bound, rng, dtype)


def he_normal(fan_in, fan_out, rng=None, gain=1.0, dtype=np.float32, shape=None):
    """N(0, (gain * sqrt(2 / fan_in))**2), He et al.'s init for ReLU layers."""
    if fan_in <= 0:
        raise ValueError(f"he_normal: fan_in must be positive, got {fan_in}")
    gain = check_real("gain", gain, owner="he_normal")
    return normal(_shape(shape, fan_in, fan_out), 0.0, gain * math.sqrt(2.0 / fan_in), rng, dtype)
