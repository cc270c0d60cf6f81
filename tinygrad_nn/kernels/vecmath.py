"""exp, expm1 and log1p that Numba loops can SIMD-vectorise.

LLVM vectorises a loop only if every call in it has a vector form. Without Intel's SVML,
``math.exp`` and friends stay scalar libm calls: a Numba sigmoid loop measured 4x slower than
numpy's own SIMD ``np.exp``, and a tanh loop 40x slower. The versions here use only ``+ * /``,
``floor`` and an integer-to-float bit cast, so loops calling them vectorise.

Each function is the numpy function in plain Python (what runs under NUMBA_DISABLE_JIT) plus a
jitted overload specialised for float32 or float64: Taylor polynomial on |r| <= ln2/2 after
Cody-Waite range reduction, degree chosen for the precision. Accuracy is a few ulp; results
below the smallest normal number flush to zero.

Numba's cache does not track this module: after editing it, delete the kernels' ``__pycache__``.
"""
import math

import numpy as np
from numba import types
from numba.extending import overload, register_jitable


def exp(x):
    """e**x of a float scalar."""
    return np.exp(x)


def expm1(x):
    """e**x - 1 of a float scalar, accurate near 0."""
    return np.expm1(x)


def log1p_unit(x):
    """log(1 + x) of a float scalar in [0, 1] (the range softplus needs)."""
    return np.log1p(x)


class _Precision:
    """Constants for one float type, fixed when Numba compiles a specialisation."""

    def __init__(self, ftype, itype, mantissa_bits, bias, exp_degree, log_terms, ln2_hi, ln2_lo):
        self.ftype, self.itype = ftype, itype
        self.shift, self.bias = mantissa_bits, bias
        self.nmin, self.nmax = 1 - bias, bias  # 2**n stays a normal number
        self.xmin, self.xmax = self.nmin * math.log(2), self.nmax * math.log(2)
        # e**r - 1 = r*(1 + r*(1/2 + r*(1/6 + ...))): Horner coefficients, highest first
        self.exp_coeffs = tuple(1 / math.factorial(k) for k in range(exp_degree, 0, -1))
        # log1p(u) = 2*atanh(s) = 2*(s + s**3/3 + s**5/5 + ...), s = u/(2+u)
        self.log_coeffs = tuple(1 / (2 * k + 1) for k in range(log_terms - 1, -1, -1))
        self.ln2_hi, self.ln2_lo = ln2_hi, ln2_lo  # ln2 = hi + lo; hi has few bits: n*hi is exact


_PRECISIONS = {
    32: _Precision(np.float32, np.int32, 23, 127, exp_degree=7, log_terms=6,
                   ln2_hi=0.693359375, ln2_lo=-2.12194440e-4),
    64: _Precision(np.float64, np.int64, 52, 1023, exp_degree=13, log_terms=12,
                   ln2_hi=6.93147180369123816490e-01, ln2_lo=1.90821492927058770002e-10),
}


def _expm1_parts(c):
    """Jitted ``(s, q)`` with e**x = s*(1 + q), s = 2**n, for x already clamped to [xmin, xmax]."""
    ftype, itype = c.ftype, c.itype
    log2e, ln2_hi, ln2_lo = ftype(1 / math.log(2)), ftype(c.ln2_hi), ftype(c.ln2_lo)
    half, coeffs = ftype(0.5), tuple(ftype(k) for k in c.exp_coeffs)
    shift, bias = itype(c.shift), itype(c.bias)

    @register_jitable
    def parts(x):
        n = np.floor(x * log2e + half)
        r = (x - n * ln2_hi) - n * ln2_lo
        q = coeffs[0]
        for k in coeffs[1:]:
            q = q * r + k
        q = q * r
        s = itype((itype(n) + bias) << shift).view(ftype)
        return s, q

    return parts


def _clamp(c):
    ftype = c.ftype
    lo, hi = ftype(c.xmin), ftype(c.xmax)

    @register_jitable
    def clamp(x):
        x = x if x > lo else lo  # also maps NaN to lo; callers restore it
        return x if x < hi else hi

    return clamp


@overload(exp)
def _exp_jit(x):
    if not isinstance(x, types.Float):
        return None
    c = _PRECISIONS[x.bitwidth]
    parts, clamp = _expm1_parts(c), _clamp(c)
    lo, hi, zero, inf = c.ftype(c.xmin), c.ftype(c.xmax), c.ftype(0), c.ftype(np.inf)

    def impl(x):
        s, q = parts(clamp(x))
        y = s + s * q
        y = zero if x < lo else y
        y = inf if x > hi else y
        return y if x == x else x

    return impl


@overload(expm1)
def _expm1_jit(x):
    if not isinstance(x, types.Float):
        return None
    c = _PRECISIONS[x.bitwidth]
    parts, clamp = _expm1_parts(c), _clamp(c)
    lo, hi, one, inf = c.ftype(c.xmin), c.ftype(c.xmax), c.ftype(1), c.ftype(np.inf)

    def impl(x):
        s, q = parts(clamp(x))
        y = s * q + (s - one)  # exact when n == 0, so no cancellation near x = 0
        y = -one if x < lo else y
        y = inf if x > hi else y
        return y if x == x else x

    return impl


@overload(log1p_unit)
def _log1p_unit_jit(x):
    if not isinstance(x, types.Float):
        return None
    c = _PRECISIONS[x.bitwidth]
    ftype = c.ftype
    coeffs = tuple(ftype(k) for k in c.log_coeffs)
    one, two, half = ftype(1), ftype(2), ftype(0.5)
    split, ln2 = ftype(math.sqrt(2) - 1), ftype(math.log(2))

    def impl(x):
        # above sqrt(2)-1 use log1p(x) = ln2 + log1p((x-1)/2), keeping |s| <= 0.172
        big = x > split
        u = (x - one) * half if big else x
        s = u / (two + u)
        z = s * s
        p = coeffs[0]
        for k in coeffs[1:]:
            p = p * z + k
        y = two * s * p
        return y + ln2 if big else y

    return impl
