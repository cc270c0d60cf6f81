"""Matrix products called from inside Numba kernels, on numpy's own BLAS.

Numba's ``np.dot`` calls the BLAS that scipy bundles; numpy bundles a newer OpenBLAS that
measured 35-50% faster on a convolution's small GEMMs here (a 16x144 @ 144x784 sgemm: 54 us
against 83 us), and calling numpy's ``matmul`` from Python between kernels costs the GIL and a
few microseconds per call. So ``gemm_function(dtype)`` finds numpy's CBLAS ``?gemm`` symbol and
hands it to kernels as a ctypes function (a Numba first-class function argument: its address is
read at each call, so kernels still cache on disk), and ``matmul_into`` calls it on 2-D views
with any leading dimension or transposition, accumulating when asked (``beta=1``), so no
operand is ever copied. Where numpy's BLAS exports no usable symbol (another numpy build), a
Numba ``cfunc`` with the same signature wraps Numba's own ``np.dot`` instead.

Pointers are passed as integers (``arr.ctypes.data``): the same machine word in the C ABI.
"""
import ctypes

import numpy as np

from . import njit
from .. import threads as T

__all__ = ["gemm_function", "matmul_into"]

_JIT = dict(cache=True, nogil=True)
ROW_MAJOR, NO_TRANS, TRANS = 101, 111, 112  # CBLAS enum values

# (symbol prefix, suffix, integer type) of CBLAS gemm in numpy's bundled BLAS, newest first
_SYMBOLS = [("scipy_cblas_", "gemm64_", ctypes.c_int64), ("cblas_", "gemm64_", ctypes.c_int64),
            ("cblas_", "gemm", ctypes.c_int)]
_cache = {}


def _signature(real, index):
    P = ctypes.c_size_t
    return ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.c_int, ctypes.c_int, index, index, index,
                            real, P, index, P, index, real, P, index)


def gemm_function(dtype, use_numpy_blas=True):
    """The CBLAS ``gemm`` for float32 or float64 as a ctypes function kernels can call."""
    key = (np.dtype(dtype).char, use_numpy_blas)
    if key not in _cache:
        letter, real = ("s", ctypes.c_float) if key[0] == "f" else ("d", ctypes.c_double)
        _cache[key] = (_numpy_gemm(letter, real) if use_numpy_blas else None) \
            or _fallback_gemm(letter)
    return _cache[key]


def _numpy_gemm(letter, real):
    for path in T.blas_paths("numpy"):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix, suffix, index in _SYMBOLS:
            symbol = getattr(lib, prefix + letter + suffix, None)
            if symbol is not None:
                return _signature(real, index)(ctypes.cast(symbol, ctypes.c_void_p).value)
    return None


def _fallback_gemm(letter):
    """A cfunc with the CBLAS signature computing the product with Numba's ``np.dot`` (a
    Python callback under ``NUMBA_DISABLE_JIT``, where kernels are Python too)."""
    from numba import carray, cfunc, config, types

    if config.DISABLE_JIT:
        return _python_gemm(letter)

    real = types.float32 if letter == "s" else types.float64
    ptr = types.CPointer(real)
    sig = types.void(types.int32, types.int32, types.int32, types.int64, types.int64,
                     types.int64, real, ptr, types.int64, ptr, types.int64, real, ptr, types.int64)

    @cfunc(sig, cache=True)
    def gemm(order, trans_a, trans_b, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc):
        if trans_a == NO_TRANS:
            a = np.ascontiguousarray(carray(pa, (m, lda))[:, :k])
        else:
            a = np.ascontiguousarray(carray(pa, (k, lda))[:, :m].T)
        if trans_b == NO_TRANS:
            b = np.ascontiguousarray(carray(pb, (k, ldb))[:, :n])
        else:
            b = np.ascontiguousarray(carray(pb, (n, ldb))[:, :k].T)
        c = carray(pc, (m, ldc))
        prod = np.dot(a, b)
        for i in range(m):
            for j in range(n):
                c[i, j] = alpha * prod[i, j] + (beta * c[i, j] if beta != 0 else 0)

    _callbacks.append(gemm)  # the compiled code lives as long as the cfunc object
    return _signature(ctypes.c_float if letter == "s" else ctypes.c_double, ctypes.c_int64)(
        gemm.address)


def _python_gemm(letter):
    """The CBLAS ``gemm`` signature as a ctypes callback computing with numpy."""
    dtype, real = (np.float32, ctypes.c_float) if letter == "s" else (np.float64, ctypes.c_double)

    def view(ptr, rows, ld, cols):
        flat = np.ctypeslib.as_array((real * (rows * ld)).from_address(ptr))
        return flat.reshape(rows, ld)[:, :cols]

    def gemm(order, trans_a, trans_b, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc):
        a = view(pa, m, lda, k) if trans_a == NO_TRANS else view(pa, k, lda, m).T
        b = view(pb, k, ldb, n) if trans_b == NO_TRANS else view(pb, n, ldb, k).T
        c = view(pc, m, ldc, n)
        c[...] = (alpha * (a.astype(dtype) @ b) + (beta * c if beta != 0 else 0)).astype(dtype)

    function = _signature(real, ctypes.c_int64)(gemm)
    _callbacks.append(function)  # ctypes callbacks must outlive every call
    return function


_callbacks = []


@njit(**_JIT)
def _layout(a):
    """(transpose flag, leading dimension) describing the 2-D view ``a`` to BLAS."""
    rows, cols = a.shape
    item = a.itemsize
    if a.strides[1] == item or cols <= 1:
        return NO_TRANS, max(a.strides[0] // item if rows > 1 else cols, cols, 1)
    if a.strides[0] == item or rows <= 1:
        return TRANS, max(a.strides[1] // item if cols > 1 else rows, rows, 1)
    raise ValueError("matmul_into: an operand is strided in both axes")


@njit(**_JIT)
def matmul_into(gemm, a, b, out, beta):
    """out = a @ b + beta * out for 2-D views of one float dtype; ``out`` has unit column
    stride, ``a`` and ``b`` any BLAS-compatible layout (row blocks, column blocks, ``.T``)."""
    m, k = a.shape
    n = b.shape[1]
    if out.shape[0] != m or out.shape[1] != n or b.shape[0] != k:
        raise ValueError("matmul_into: shapes do not match")
    if m == 0 or n == 0:
        return
    ta, lda = _layout(a)
    tb, ldb = _layout(b)
    tc, ldc = _layout(out)
    if tc != NO_TRANS:
        raise ValueError("matmul_into: out must have unit column stride")
    one = out.dtype.type(1)
    gemm(ROW_MAJOR, ta, tb, m, n, k, one, a.ctypes.data, lda, b.ctypes.data, ldb,
         out.dtype.type(beta), out.ctypes.data, ldc)
