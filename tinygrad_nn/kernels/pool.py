"""2-D max pooling of NCHW input: (kh, kw) windows every (sh, sw) pixels, no padding, output
size floor((H - kh) / sh) + 1 (likewise for W).

The forward pass records, per output, the flat offset i*W + j of the winning input pixel in its
(H, W) plane; the backward pass adds each output gradient there (so overlapping windows that
share a winner add up). Ties go to the first maximum in row-major order, as in PyTorch, and a
NaN in a window wins (it propagates).
"""
import numpy as np
from . import njit  # numba.njit with a cache that degrades safely

_JIT = dict(cache=True, error_model="numpy")


@njit(**_JIT)
def _forward(x, kh, kw, sh, sw, out, arg):
    """Tap by tap: tap (di, dj) of every window of a plane is the strided view
    plane[di::sh, dj::sw], folded into the running max with a branch-free compare (random
    data mispredicts a branch half the time: that version was 2x slower)."""
    N, C, H, W = x.shape
    Ho, Wo = out.shape[2], out.shape[3]
    for n in range(N):
        for c in range(C):
            best, where = out[n, c], arg[n, c]
            for di in range(kh):
                for dj in range(kw):
                    taps = x[n, c, di::sh, dj::sw]
                    first = di == 0 and dj == 0
                    for i in range(Ho):
                        for j in range(Wo):
                            v, b = taps[i, j], best[i, j]
                            win = first | (v > b) | ((v != v) & (b == b))
                            best[i, j] = v if win else b
                            where[i, j] = (i * sh + di) * W + dj + j * sw if win else where[i, j]


@njit(**_JIT)
def _backward(grad, arg, dx):
    N, C, Ho, Wo = grad.shape
    gs, args = grad.reshape(N * C, Ho * Wo), arg.reshape(N * C, Ho * Wo)
    planes = dx.reshape(N * C, dx.shape[2] * dx.shape[3])
    for p in range(N * C):
        g, a, plane = gs[p], args[p], planes[p]
        for k in range(Ho * Wo):
            plane[a[k]] += g[k]


def max_pool2d_forward(x, kernel_size, stride):
    """(out, argmax) for C-contiguous x (N, C, H, W); argmax is int32 offsets into (H, W)."""
    (kh, kw), (sh, sw) = kernel_size, stride
    N, C, H, W = x.shape
    shape = (N, C, (H - kh) // sh + 1, (W - kw) // sw + 1)
    out, arg = np.empty(shape, dtype=x.dtype), np.empty(shape, dtype=np.int32)
    _forward(x, kh, kw, sh, sw, out, arg)
    return out, arg


def max_pool2d_backward(grad, argmax, x_shape):
    """dL/dx of shape ``x_shape`` from the output gradient and the forward pass's argmax."""
    dx = np.zeros(x_shape, dtype=grad.dtype)
    _backward(np.ascontiguousarray(grad), argmax, dx)
    return dx
