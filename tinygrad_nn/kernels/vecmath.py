"""exp, expm1, log1p and tanh that Numba loops can SIMD-vectorise.

LLVM vectorises a loop only if every call in it has a vector form. Without Intel's SVML,
``math.exp`` and friends stay scalar libm calls: a Numba sigmoid loop measured 4x slower than
numpy's own SIMD ``np.exp``, a tanh loop 40x slower. The versions here use only ``+ - * /``,
``floor``, compares and an integer-to-float bit cast, so loops calling them vectorise (jit those
loops with ``error_model="numpy"``: Python's ZeroDivisionError check blocks vectorisation).

Each function is plain numpy in Python (what runs under NUMBA_DISABLE_JIT) plus a jitted
overload specialised for float32 or float64. exp/expm1: Cody-Waite reduction x = n*ln2 + r,
|r| <= ln2/2, then a Taylor polynomial of a degree chosen for the precision, scaled by 2**n built
from its bits. Accuracy is a few ulp; results below the smallest normal number flush to zero.

Numba's cache does not track this module: after editing it, delete ``kernels/__pycache__``.
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


def tanh(x):
    """tanh of a float scalar."""
    return np.tanh(x)


class _Precision:
    """Constants for one float type, frozen into the code when Numba compiles for it."""

    def __init__(self, ftype, itype, mantissa_bits, bias, exp_degree, log_terms, ln2_hi, ln2_lo):
        self.ftype, self.itype = ftype, itype
        self.shift, self.bias = mantissa_bits, bias
        # keep 2**n a normal number: exp flushes to 0 below xmin and overflows above xmax
        # (float32: -87.3 and 88.0, a little short of the true 88.7)
        self.xmin, self.xmax = (1 - bias) * math.log(2), bias * math.log(2)
        # e**r - 1 = r*(1 + r*(1/2 + r*(1/6 + ...))): Horner coefficients, highest degree first
        self.exp_coeffs = tuple(1 / math.factorial(k) for k in range(exp_degree, 0, -1))
        # log1p(u) = 2*atanh(s) = 2*s*(1 + s**2/3 + s**4/5 + ...) with s = u/(2+u)
        self.log_coeffs = tuple(1 / (2 * k + 1) for k in range(log_terms - 1, -1, -1))
        self.ln2_hi, self.ln2_lo = ln2_hi, ln2_lo  # ln2 = hi + lo; n*hi is exact


_PRECISIONS = {
    32: _Precision(np.float32, np.int32, 23, 127, exp_degree=7, log_terms=6,
                   ln2_hi=0.693359375, ln2_lo=-2.12194440e-4),
    64: _Precision(np.float64, np.int64, 52, 1023, exp_degree=13, log_terms=12,
                   ln2_hi=6.93147180369123816490e-01, ln2_lo=1.90821492927058770002e-10),
}

# float32 tanh(x) = x*P(x*x)/Q(x*x) on |x| <= 9 (beyond, tanh rounds to +-1): a rational fit
# made for this module (relative error 7e-9, below float32 rounding); cheaper than expm1 + divide.
_TANH32_CLAMP = 9.0
_TANH32_P = (0.9999999933979361, 0.1308401538708796, 0.0031039620917183842,
             1.1154369006532045e-05, -2.022546796445904e-08, 5.27806289771644e-11,
             -8.488999394570335e-14)
_TANH32_Q = (1.0, 0.4641734249187954, 0.024495201877020485, 0.00025461537351257956)


def _horner(coeffs, ftype):
    """Jitted polynomial evaluation, coefficients highest degree first."""
    first, rest = ftype(coeffs[0]), tuple(ftype(c) for c in coeffs[1:])

    @register_jitable
    def poly(z):
        p = first
        for c in rest:
            p = p * z + c
        return p

    return poly


def _exp_parts(c):
    """Jitted ``(s, q)`` with e**x = s*(1 + q), s = 2**n; x is clamped to where 2**n is normal."""
    ftype, itype = c.ftype, c.itype
    lo, hi = ftype(c.xmin), ftype(c.xmax)
    log2e, ln2_hi, ln2_lo, half = ftype(1 / math.log(2)), ftype(c.ln2_hi), ftype(c.ln2_lo), ftype(0.5)
    shift, bias = itype(c.shift), itype(c.bias)
    poly = _horner(c.exp_coeffs, ftype)

    @register_jitable
    def parts(x):
        x = x if x > lo else lo  # NaN becomes lo here; callers put it back
        x = x if x < hi else hi
        n = np.floor(x * log2e + half)
        r = (x - n * ln2_hi) - n * ln2_lo
        s = itype((itype(n) + bias) << shift).view(ftype)
        return s, poly(r) * r

    return parts


def _float_overload(build):
    """Overload builder: skip non-float arguments, pass the precision's constants to ``build``."""

    def typer(x):
        if isinstance(x, types.Float):
            return build(_PRECISIONS[x.bitwidth])
        return None

    return typer


@overload(exp)
@_float_overload
def _exp_jit(c):
    parts = _exp_parts(c)
    lo, hi, zero, inf = c.ftype(c.xmin), c.ftype(c.xmax), c.ftype(0), c.ftype(np.inf)

    def impl(x):
        s, q = parts(x)
        y = s + s * q
        y = zero if x < lo else y
        y = inf if x > hi else y
        return y if x == x else x

    return impl


@overload(expm1)
@_float_overload
def _expm1_jit(c):
    parts = _exp_parts(c)
    lo, hi, one, inf = c.ftype(c.xmin), c.ftype(c.xmax), c.ftype(1), c.ftype(np.inf)

    def impl(x):
        s, q = parts(x)
        y = s * q + (s - one)  # s == 1 near x = 0, so no cancellation there
        y = -one if x < lo else y
        y = inf if x > hi else y
        return y if x == x else x

    return impl


@overload(log1p_unit)
@_float_overload
def _log1p_unit_jit(c):
    ftype = c.ftype
    poly = _horner(c.log_coeffs, ftype)
    one, two, half = ftype(1), ftype(2), ftype(0.5)
    split, ln2 = ftype(math.sqrt(2) - 1), ftype(math.log(2))

    def impl(x):
        # above sqrt(2)-1 use log1p(x) = ln2 + log1p((x-1)/2), so that |s| <= 0.172
        big = x > split
        u = (x - one) * half if big else x
        s = u / (two + u)
        y = two * s * poly(s * s)
        return y + ln2 if big else y

    return impl


@overload(tanh)
@_float_overload
def _tanh_jit(c):
    ftype = c.ftype
    if ftype is np.float32:
        p, q = _horner(_TANH32_P[::-1], ftype), _horner(_TANH32_Q[::-1], ftype)
        lim, one = ftype(_TANH32_CLAMP), ftype(1)

        def impl32(x):
            x = lim if x > lim else x  # NaN passes through both
            x = -lim if x < -lim else x
            z = x * x
            t = x * p(z) / q(z)  # rounds to 1 + eps for some x in (8, 9): never past +-1
            t = one if t > one else t
            return -one if t < -one else t

        return impl32

    two = ftype(2)

    def impl64(x):
        e = expm1(-two * abs(x))  # tanh|x| = -expm1(-2|x|) / (2 + expm1(-2|x|))
        return math.copysign(-e / (two + e), x)

    return impl64
