"""Fused optimizer updates: one pass over a parameter instead of a dozen numpy passes.

Each kernel has a readable numpy reference beside it (``*_reference``) doing the same arithmetic
in the same order; the tests check that the two agree bit for bit. Every scalar arrives already
cast to the parameter's dtype (as numpy does with Python floats), by keyword from `optim`.
The arrays are 1-D, C-contiguous and of one size; the caller checks that, and the kernel checks
the sizes again so it can never read or write past an array.
"""
import numpy as np
from . import njit  # numba.njit with a cache that degrades safely


@njit(cache=True, error_model="numpy")  # numpy semantics: no zero-division checks blocking SIMD
def adam_step(p, g, m, v, beta1, one_minus_beta1, beta2, one_minus_beta2, bias2_sqrt, eps,
              step_size, weight_decay, decay_factor, lerp_small):
    """In-place Adam/AdamW on 1-D arrays: ``m``, ``v`` and ``p`` updated, ``g`` read only.

    ``weight_decay``: L2 added to the gradient (Adam); ``decay_factor``: ``1 - lr * wd`` that
    multiplies the parameter first (AdamW; 1 for none). ``lerp_small``: ``1 - beta1 < 0.5``,
    choosing torch.lerp's formula for the first moment. ``one_minus_beta1`` and ``beta1`` are
    the lerp weight and ``1 - weight``.
    """
    n = p.size
    if g.size != n or m.size != n or v.size != n:
        raise ValueError("adam_step: p, g, m and v must have the same size")
    for i in range(n):
        gi = g[i]
        pi = p[i]
        if decay_factor != 1:
            pi = pi * decay_factor
        if weight_decay != 0:
            gi = gi + pi * weight_decay
        if lerp_small:
            m[i] = m[i] + one_minus_beta1 * (gi - m[i])
        else:
            m[i] = gi - (gi - m[i]) * beta1
        v[i] = v[i] * beta2 + (one_minus_beta2 * gi) * gi
        denom = np.sqrt(v[i]) / bias2_sqrt + eps
        p[i] = pi + (-step_size * m[i]) / denom


def adam_step_reference(p, g, m, v, beta1, one_minus_beta1, beta2, one_minus_beta2, bias2_sqrt,
                        eps, step_size, weight_decay, decay_factor, lerp_small):
    """`adam_step` in numpy, operation for operation: the readable statement of the rule."""
    if decay_factor != 1:
        p *= decay_factor                                  # AdamW: p = p (1 - lr wd)
    if weight_decay != 0:
        g = g + p * weight_decay                           # Adam: L2 in the gradient
    if lerp_small:                                         # m = lerp(m, g, 1 - beta1)
        m += one_minus_beta1 * (g - m)
    else:
        m[...] = g - (g - m) * beta1
    v[...] = v * beta2 + (one_minus_beta2 * g) * g         # v = beta2 v + (1 - beta2) g^2
    denom = np.sqrt(v) / bias2_sqrt + eps                  # sqrt(v / (1 - beta2^t)) + eps
    p[...] = p + (-step_size * m) / denom                  # step_size = lr / (1 - beta1^t)
