"""Fused optimizer updates: one pass over a parameter instead of a dozen numpy passes.

``adam_step`` is the whole of ``optim.Adam``'s update (there is no separate numpy path). It
follows PyTorch's operation order (``m = lerp(m, g, 1 - b1)``; ``v = b2 v + ((1 - b2) g) g``;
``p -= step_size m / (sqrt(v) / bias2_sqrt + eps)``), and the caller casts every scalar to the
parameter's dtype first, so float32 parameters are updated in float32 arithmetic.
"""
import numpy as np
from . import njit  # numba.njit with a cache that degrades safely


@njit(cache=True, error_model="numpy")  # numpy semantics: no zero-division checks blocking SIMD
def adam_step(p, g, m, v, one_minus_b1, b1, b2, one_minus_b2, bias2_sqrt, eps, step_size,
              weight_decay, lerp_small):
    """In-place Adam on 1-D arrays: ``m``, ``v`` and ``p`` updated, ``g`` read only."""
    for i in range(p.size):
        gi = g[i]
        if weight_decay != 0:
            gi = gi + p[i] * weight_decay
        if lerp_small:
            m[i] = m[i] + (gi - m[i]) * one_minus_b1
        else:
            m[i] = gi - (gi - m[i]) * b1
        v[i] = v[i] * b2 + (gi * one_minus_b2) * gi
        denom = np.sqrt(v[i]) / bias2_sqrt + eps
        p[i] = p[i] - (m[i] * step_size) / denom
