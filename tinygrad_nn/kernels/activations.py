"""Fused elementwise activations: one pass forward, one pass backward, dtype kept.

An activation is two scalar functions: ``f(x, p)`` and its derivative ``df(x, y, p)`` written
from the input x, the output y = f(x, p) and the parameter p (leaky_relu's slope, elu's alpha;
ignored by the others). ``_elementwise`` turns such a pair into the array kernels

    forward(x, param) -> y                      same shape and dtype as x, a new array
    backward(x, y, grad, param) -> grad * df    dL/dx, a new array of x's dtype

for C-contiguous float32/float64 arrays of any shape (0-d included), all of x's shape and
dtype: checked before the loop runs, so it never reads or writes past an array. Against numpy
expressions this saves the temporaries and passes (backward is one loop instead of three), and
``vecmath`` keeps the loops SIMD.

The scalar functions are ``register_jitable`` (plain module functions that Numba can call), not
``njit`` dispatchers: Numba keys a closure's cache entry on the pickled closure variables, and
a dispatcher pickles differently in every process, so closures over dispatchers never hit the
cache (each run recompiled and added files). Module functions pickle by name, so they do.
"""
import numpy as np
from . import njit  # numba.njit with a cache that degrades safely
from numba.extending import register_jitable

from .. import threads as T
from .._validation import check_kernel_arrays
from .vecmath import exp, expm1, log1p_unit, tanh

_JIT = dict(cache=True, nogil=True, error_model="numpy", fastmath={"contract"})
PARALLEL_SIZE = 1 << 18  # from this many elements the pass is split over tn.get_num_threads()
CHUNKS_PER_THREAD = 1    # ... into this many chunks per thread: every extra chunk is another
                         # trip through the GIL for a thread (the custom CNN's step ran 1.5%
                         # faster with 1 than with 4, norm's TASKS_PER_THREAD alike, five of six
                         # A/B rounds)


def _split(kernel, size, *arrays):
    """Run ``kernel(*flat arrays)`` over ``size`` elements: whole, or in ``CHUNKS_PER_THREAD``
    chunks per thread over the worker pool when large (elementwise, so the split never changes
    a result)."""
    threads = T.get_num_threads()
    if size < PARALLEL_SIZE or threads == 1:
        kernel(*arrays)
        return
    flats = [a.reshape(-1) if isinstance(a, np.ndarray) else a for a in arrays]
    chunks = CHUNKS_PER_THREAD * threads
    edges = [size * t // chunks for t in range(chunks + 1)]

    def chunk(t, slot):
        lo, hi = edges[t], edges[t + 1]
        kernel(*(a[lo:hi] if isinstance(a, np.ndarray) else a for a in flats))

    T.parallel_for(chunk, chunks)
_FLOATS = (np.float32, np.float64)


def _elementwise(f, df):
    """Array kernels ``(forward, backward)`` for the scalar activation ``f`` and derivative ``df``."""

    @njit(**_JIT)
    def forward_into(x, param, out):
        xs, ys = x.reshape(-1), out.reshape(-1)
        p = x.dtype.type(param)
        for i in range(xs.size):
            ys[i] = f(xs[i], p)

    @njit(**_JIT)
    def backward_into(x, y, grad, param, out):
        xs, ys, gs, ds = x.reshape(-1), y.reshape(-1), grad.reshape(-1), out.reshape(-1)
        p = x.dtype.type(param)
        for i in range(xs.size):
            ds[i] = gs[i] * df(xs[i], ys[i], p)

    # Outputs come from numpy, not from Numba's allocator: numpy asks for transparent huge
    # pages, and Numba's malloc'd megabyte-sized arrays measured up to 40x slower on this VM
    # (glibc handing the memory back and page-faulting it in again on every call).
    name = f.__name__.strip("_")

    def forward(x, param):
        if type(x) is not np.ndarray or x.dtype.type not in _FLOATS or not x.flags.c_contiguous:
            check_kernel_arrays(f"{name} forward", x=x)
        out = np.empty_like(x)
        _split(forward_into, x.size, x, param, out)
        return out

    def backward(x, y, grad, param):
        if (type(x) is not np.ndarray or type(y) is not np.ndarray or type(grad) is not np.ndarray
                or x.shape != y.shape or x.shape != grad.shape or x.dtype.type not in _FLOATS
                or x.dtype != y.dtype or x.dtype != grad.dtype or not x.flags.c_contiguous
                or not y.flags.c_contiguous or not grad.flags.c_contiguous):
            check_kernel_arrays(f"{name} backward", x=x, y=y, grad=grad)
        out = np.empty_like(x)
        _split(backward_into, x.size, x, y, grad, param, out)
        return out

    forward.kernel, backward.kernel = forward_into, backward_into  # the Numba dispatchers
    return forward, backward


# Scalar definitions. ``T = type(x)`` makes constants of x's precision: a bare 1.0 would
# promote float32 arithmetic to float64.

@register_jitable
def _sigmoid(x, p):
    T = type(x)
    e = exp(-abs(x))  # never overflows
    s = T(1) / (T(1) + e)
    return s if x >= 0 else e * s


@register_jitable
def _sigmoid_grad(x, y, p):
    return y * (type(y)(1) - y)


@register_jitable
def _tanh(x, p):
    return tanh(x)


@register_jitable
def _tanh_grad(x, y, p):
    return type(y)(1) - y * y


@register_jitable
def _relu(x, p):
    return type(x)(0) if x <= 0 else x  # NaN stays NaN


@register_jitable
def _relu_grad(x, y, p):
    T = type(x)
    return T(1) if x > 0 else T(0)


@register_jitable
def _leaky_relu(x, p):
    return x if x > 0 else p * x


@register_jitable
def _leaky_relu_grad(x, y, p):
    return type(x)(1) if x > 0 else p


@register_jitable
def _elu(x, p):
    return x if x > 0 else p * expm1(x)


@register_jitable
def _elu_grad(x, y, p):
    return type(x)(1) if x > 0 else y + p  # d/dx p*(e**x - 1) = p*e**x = y + p


@register_jitable
def _softplus(x, p):
    T = type(x)
    return (x if x > 0 else T(0)) + log1p_unit(exp(-abs(x)))  # log(1 + e**x), no overflow


@register_jitable
def _softplus_grad(x, y, p):
    return _sigmoid(x, p)


ACTIVATIONS = {
    "sigmoid": _elementwise(_sigmoid, _sigmoid_grad),
    "tanh": _elementwise(_tanh, _tanh_grad),
    "relu": _elementwise(_relu, _relu_grad),
    "leaky_relu": _elementwise(_leaky_relu, _leaky_relu_grad),
    "elu": _elementwise(_elu, _elu_grad),
    "softplus": _elementwise(_softplus, _softplus_grad),
}
