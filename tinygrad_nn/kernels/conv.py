"""2-D convolution (cross-correlation, as in deep learning) of NCHW input with (O, C, kh, kw)
weights: im2col + one BLAS GEMM per image, col2im for the input gradient.

Layout. Each zero-padded image is flattened to rows of pitch ``Wp`` (the padded width):
output pixel (i, j) sits at ``q = i*Wp + j`` and tap (di, dj) reads input ``q + di*Wp + dj``.
So a row of the im2col matrix is one contiguous slice of the padded image, and its copy (and
col2im's add) is a straight vectorised loop, however narrow the image. The ``kw - 1`` columns
per row that fall off the right edge are computed and dropped (12% extra for 14-wide images).

Why per-image GEMMs (measured on the benchmark stack, 256 28x28 float32 images, 1->8->16
channels, 3x3, forward+backward of both convolutions, kernels alone):
  direct axpy loops in Numba, same layout, per image .. 17.0 ms
  im2col + GEMM over chunks of 4-32 images ............ 26-60 ms (OpenBLAS goes multi-threaded
                                                          and stalls on a busy 2-core machine)
  im2col + GEMM per image (this module) ............... 8.9 ms
One image's buffers stay in cache, the GEMMs are small enough for BLAS to stay single-threaded,
and BLAS's register blocking beats a Numba loop that loads and stores the accumulator per tap.

Strides are handled outside the loops: a stride-(sh, sw) convolution is the stride-1 one
sampled every (sh, sw) pixels, and its gradient is the stride-1 gradient of the output
gradient spread onto that grid. That costs sh*sw times the arithmetic, which is fine for the
rare strided layers here and keeps one code path.

Copies are explicit loops: Numba's slice assignment measured 6x slower than a plain loop.
Big outputs are allocated by numpy, which asks for transparent huge pages (fewer page faults).
"""
import numpy as np
from . import njit  # numba.njit with a cache that degrades safely

_JIT = dict(cache=True, error_model="numpy", fastmath={"contract"})
_controller = None


def _one_blas_thread():
    """Context pinning BLAS to one thread while the per-image GEMMs run.

    Multi-threaded OpenBLAS wakes its threads for every small GEMM: with the default two threads
    a CNNClassifier fit took 282 s instead of 10.5 s. Numba calls SciPy's OpenBLAS, which is
    loaded on first use, so it is imported before the controller looks for libraries.
    """
    global _controller
    if _controller is None:
        import scipy.linalg.cython_blas  # noqa: F401  (the BLAS Numba's np.dot calls)
        from threadpoolctl import ThreadpoolController

        _controller = ThreadpoolController()
    return _controller.limit(limits=1, user_api="blas")


@njit(**_JIT)
def _layout(H, W, KH, KW, ph, pw):
    """(Wp, Ho, Wo, span): padded pitch, stride-1 output size, flat length of the outputs."""
    Wp = W + 2 * pw
    Ho, Wo = H + 2 * ph - KH + 1, Wp - KW + 1
    return Wp, Ho, Wo, (Ho - 1) * Wp + Wo


@njit(**_JIT)
def _copy(src, dst):
    for q in range(src.size):
        dst[q] = src[q]


@njit(**_JIT)
def _add(src, dst):
    for q in range(src.size):
        dst[q] += src[q]


@njit(**_JIT)
def _pad(x, ph, pw, Wp, out):
    """x (C, H, W) into out (C, Hp*Wp) at offset (ph, pw); the border is 0."""
    C, H, W = x.shape
    out[:] = 0
    for c in range(C):
        for i in range(H):
            row = (i + ph) * Wp + pw
            _copy(x[c, i], out[c, row:row + W])


@njit(**_JIT)
def _unpad(xp, ph, pw, Wp, out):
    """The inverse of ``_pad``: out (C, H, W) from the interior of xp."""
    C, H, W = out.shape
    for c in range(C):
        for i in range(H):
            row = (i + ph) * Wp + pw
            _copy(xp[c, row:row + W], out[c, i])


@njit(**_JIT)
def _im2col(xp, KH, KW, Wp, cols):
    """cols[(c, di, dj), q] = xp[c, q + di*Wp + dj]."""
    span = cols.shape[1]
    for c in range(xp.shape[0]):
        for di in range(KH):
            for dj in range(KW):
                shift = di * Wp + dj
                _copy(xp[c, shift:shift + span], cols[(c * KH + di) * KW + dj])


@njit(**_JIT)
def _col2im(cols, KH, KW, Wp, xp):
    """The adjoint of ``_im2col``: xp[c, q + di*Wp + dj] += cols[(c, di, dj), q]."""
    span = cols.shape[1]
    xp[:] = 0
    for c in range(xp.shape[0]):
        for di in range(KH):
            for dj in range(KW):
                shift = di * Wp + dj
                _add(cols[(c * KH + di) * KW + dj], xp[c, shift:shift + span])


@njit(**_JIT)
def _forward_s1(x, w, b, ph, pw, out):
    """out = the stride-1 convolution with padding (ph, pw)."""
    N, C, H, W = x.shape
    O, _, KH, KW = w.shape
    Wp, Ho, Wo, span = _layout(H, W, KH, KW, ph, pw)
    xp = np.empty((C, (H + 2 * ph) * Wp), dtype=x.dtype)
    cols = np.empty((C * KH * KW, span), dtype=x.dtype)
    acc = np.empty((O, span), dtype=x.dtype)
    wm = np.ascontiguousarray(w).reshape(O, C * KH * KW)
    for n in range(N):
        _pad(x[n], ph, pw, Wp, xp)
        _im2col(xp, KH, KW, Wp, cols)
        np.dot(wm, cols, acc)
        for o in range(O):
            for i in range(Ho):
                src, dst = acc[o, i * Wp:i * Wp + Wo], out[n, o, i]
                for j in range(Wo):
                    dst[j] = src[j] + b[o]


@njit(**_JIT)
def _backward_s1(x, w, grad, ph, pw, need_dx, dx):
    """(dw, db) of the stride-1 convolution with padding (ph, pw); fills dx if need_dx."""
    N, C, H, W = x.shape
    O, _, KH, KW = w.shape
    K = C * KH * KW
    Wp, Ho, Wo, span = _layout(H, W, KH, KW, ph, pw)
    Hp = H + 2 * ph
    dw = np.zeros((O, K), dtype=x.dtype)
    dw_n = np.empty((O, K), dtype=x.dtype)
    db = np.zeros(O, dtype=x.dtype)
    xp = np.empty((C, Hp * Wp), dtype=x.dtype)
    cols = np.empty((K, span), dtype=x.dtype)
    g = np.zeros((O, span), dtype=x.dtype)  # grad in the flat layout; dropped columns stay 0
    wt = np.ascontiguousarray(np.ascontiguousarray(w).reshape(O, K).T)
    for n in range(N):
        _pad(x[n], ph, pw, Wp, xp)
        _im2col(xp, KH, KW, Wp, cols)
        for o in range(O):
            total = x.dtype.type(0)
            for i in range(Ho):
                src, dst = grad[n, o, i], g[o, i * Wp:i * Wp + Wo]
                for j in range(Wo):
                    dst[j] = src[j]
                    total += src[j]
            db[o] += total
        np.dot(g, cols.T, dw_n)
        _add(dw_n.reshape(-1), dw.reshape(-1))
        if need_dx:
            np.dot(wt, g, cols)  # cols now holds the gradient of the im2col matrix
            _col2im(cols, KH, KW, Wp, xp)
            _unpad(xp, ph, pw, Wp, dx[n])
    return dw.reshape(w.shape), db


def conv2d_forward(x, w, b, stride=(1, 1), padding=(0, 0)):
    """Output (N, O, Ho, Wo) of x (N, C, H, W) with w (O, C, kh, kw) and bias b (O,), all of
    one float dtype and C-contiguous; Ho = (H + 2*ph - kh) // sh + 1, likewise Wo."""
    (sh, sw), (ph, pw) = stride, padding
    (N, C, H, W), (O, _, kh, kw) = x.shape, w.shape
    out = np.empty((N, O, H + 2 * ph - kh + 1, W + 2 * pw - kw + 1), dtype=x.dtype)
    with _one_blas_thread():
        _forward_s1(x, w, b, ph, pw, out)
    if sh == sw == 1:
        return out
    return np.ascontiguousarray(out[:, :, ::sh, ::sw])


def conv2d_backward(x, w, grad, stride=(1, 1), padding=(0, 0), need_dx=True):
    """(dx, dw, db) for the gradient ``grad`` of ``conv2d_forward``'s output; dx is None when
    ``need_dx`` is False (a network's first layer: skips a third of the work)."""
    (sh, sw), (ph, pw) = stride, padding
    if sh != 1 or sw != 1:
        full = (x.shape[2] + 2 * ph - w.shape[2] + 1, x.shape[3] + 2 * pw - w.shape[3] + 1)
        spread = np.zeros(grad.shape[:2] + full, dtype=grad.dtype)
        spread[:, :, ::sh, ::sw] = grad
        grad = spread
    dx = np.empty(x.shape if need_dx else (0,) + x.shape[1:], dtype=x.dtype)
    with _one_blas_thread():
        dw, db = _backward_s1(x, w, np.ascontiguousarray(grad), ph, pw, need_dx, dx)
    return (dx if need_dx else None), dw, db
