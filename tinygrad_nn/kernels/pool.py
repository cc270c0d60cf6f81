"""2-D max and average pooling of NCHW input: (kh, kw) windows every (sh, sw) pixels, with
(ph, pw) pixels of padding on each side; output size floor((H + 2*ph - kh) / sh) + 1 (likewise
for W). Padding never wins a max (it is -inf, as in PyTorch) and counts as zeros in an average
(the divisor is always kh*kw: PyTorch's ``count_include_pad=True``).

Max pooling records, per output, the flat offset r*W + c of the winning input pixel in its
(H, W) plane; the backward pass adds each output gradient there (so overlapping windows that
share a winner add up). Ties go to the first maximum in row-major order and a NaN wins (the last
one in the window), exactly as PyTorch's CPU kernel. Windows are read only over their in-image
rows and columns, so a strided pooling touches only the pixels its windows cover.

Work is split over ``tinygrad_nn.threads`` in runs of (image, channel) planes; every plane is
written by one thread, so results do not depend on the thread count.
"""
import numpy as np
from . import njit  # numba.njit with a cache that degrades safely

from .. import threads as T
from .._validation import check_kernel_arrays, check_same_shape

_JIT = dict(cache=True, nogil=True, error_model="numpy")

MAX_TASKS = 16
SERIAL_SIZE = 1 << 18   # below this many input elements a call stays on the calling thread


@njit(**_JIT)
def _max_plane(plane, kh, kw, sh, sw, ph, pw, exact, best_of, where_of):
    """One plane's window maxima and their offsets. The fast pass (``exact`` False) compares
    with a plain ``>``, which compiles to conditional moves; it returns a non-zero check sum when
    the plane holds a NaN or an infinity, and the caller then runs the exact pass, whose NaN
    test defeats that (3x slower on random data, from mispredicted branches)."""
    H, W = plane.shape
    Ho, Wo = best_of.shape
    check = plane.dtype.type(0)
    for i in range(Ho):
        r0 = i * sh - ph
        rlo, rhi = max(r0, 0), min(r0 + kh, H)
        bo, wo = best_of[i], where_of[i]
        for j in range(Wo):
            c0 = j * sw - pw
            clo, chi = max(c0, 0), min(c0 + kw, W)
            best, where = plane[rlo, clo], rlo * W + clo
            for r in range(rlo, rhi):
                row = plane[r]
                for c in range(clo, chi):
                    v = row[c]
                    if exact:
                        if v > best or v != v:
                            best, where = v, r * W + c
                    else:
                        check += v * 0  # NaN for a NaN or an infinity
                        if v > best:
                            best, where = v, r * W + c
            bo[j] = best
            wo[j] = where
    return check


@njit(**_JIT)
def _max_plane_2x2(plane, sh, sw, best_of, where_of):
    """``_max_plane``'s fast pass for 2x2 windows without padding (the usual CNN pooling):
    straight-line code over four flat offsets, which LLVM turns into selects (4x faster)."""
    W = plane.shape[1]
    Ho, Wo = best_of.shape
    flat = plane.reshape(-1)
    check = plane.dtype.type(0)
    for i in range(Ho):
        bo, wo, top = best_of[i], where_of[i], i * sh * W
        for j in range(Wo):
            s = top + j * sw
            a, b, c, d = flat[s], flat[s + 1], flat[s + W], flat[s + W + 1]
            check += (a + b + c + d) * 0
            where = s
            if b > a:
                a, where = b, s + 1
            if c > a:
                a, where = c, s + W
            if d > a:
                a, where = d, s + W + 1
            bo[j] = a
            wo[j] = where
    return check


@njit(**_JIT)
def _max_forward(x, kh, kw, sh, sw, ph, pw, p0, p1, out, arg):
    C = x.shape[1]
    small = kh == 2 and kw == 2 and ph == 0 and pw == 0
    for p in range(p0, p1):
        n, c = p // C, p % C
        if small:
            check = _max_plane_2x2(x[n, c], sh, sw, out[n, c], arg[n, c])
        else:
            check = _max_plane(x[n, c], kh, kw, sh, sw, ph, pw, False, out[n, c], arg[n, c])
        if check != 0:  # a NaN or an infinity: redo the plane with the exact comparison
            _max_plane(x[n, c], kh, kw, sh, sw, ph, pw, True, out[n, c], arg[n, c])


@njit(**_JIT)
def _max_backward(grad, arg, p0, p1, dx):
    C, HW, L = grad.shape[1], dx.shape[2] * dx.shape[3], grad.shape[2] * grad.shape[3]
    for p in range(p0, p1):
        g = grad[p // C, p % C].reshape(L)
        a = arg[p // C, p % C].reshape(L)
        plane = dx[p // C, p % C].reshape(HW)
        for q in range(HW):
            plane[q] = 0
        for k in range(L):
            plane[a[k]] += g[k]


@njit(**_JIT)
def _avg_forward(x, kh, kw, sh, sw, ph, pw, p0, p1, out):
    C, H, W = x.shape[1], x.shape[2], x.shape[3]
    Ho, Wo = out.shape[2], out.shape[3]
    scale = x.dtype.type(1) / (kh * kw)
    for p in range(p0, p1):
        plane, dst = x[p // C, p % C], out[p // C, p % C]
        for i in range(Ho):
            r0 = i * sh - ph
            rlo, rhi = max(r0, 0), min(r0 + kh, H)
            for j in range(Wo):
                c0 = j * sw - pw
                clo, chi = max(c0, 0), min(c0 + kw, W)
                total = x.dtype.type(0)
                for r in range(rlo, rhi):
                    row = plane[r]
                    for c in range(clo, chi):
                        total += row[c]
                dst[i, j] = total * scale


@njit(**_JIT)
def _avg_backward(grad, kh, kw, sh, sw, ph, pw, p0, p1, dx):
    C, H, W = dx.shape[1], dx.shape[2], dx.shape[3]
    Ho, Wo = grad.shape[2], grad.shape[3]
    scale = dx.dtype.type(1) / (kh * kw)
    for p in range(p0, p1):
        g, plane = grad[p // C, p % C], dx[p // C, p % C]
        flat = plane.reshape(H * W)
        for q in range(H * W):
            flat[q] = 0
        for i in range(Ho):
            r0 = i * sh - ph
            rlo, rhi = max(r0, 0), min(r0 + kh, H)
            for j in range(Wo):
                c0 = j * sw - pw
                clo, chi = max(c0, 0), min(c0 + kw, W)
                share = g[i, j] * scale
                for r in range(rlo, rhi):
                    row = plane[r]
                    for c in range(clo, chi):
                        row[c] += share


def output_shape(x_shape, kernel_size, stride, padding):
    """(N, C, Ho, Wo) of a pooling of ``x_shape``."""
    (N, C, H, W), (kh, kw), (sh, sw), (ph, pw) = x_shape, kernel_size, stride, padding
    return N, C, (H + 2 * ph - kh) // sh + 1, (W + 2 * pw - kw) // sw + 1


def _check(owner, x_shape, kernel_size, stride, padding):
    """The pooling geometry is one the kernels can run without leaving the arrays."""
    (kh, kw), (sh, sw), (ph, pw) = kernel_size, stride, padding
    if (len(x_shape) != 4 or min(kh, kw, sh, sw) < 1 or min(ph, pw) < 0
            or 2 * ph > kh or 2 * pw > kw or x_shape[2] + 2 * ph < kh or x_shape[3] + 2 * pw < kw):
        raise ValueError(f"{owner}: cannot pool x {tuple(x_shape)} with kernel {kernel_size}, "
                         f"stride {stride}, padding {padding} (padding at most half the kernel)")
    return output_shape(x_shape, kernel_size, stride, padding)


def _run(kernel, planes, size, *args):
    """``kernel(*args, p0, p1, ...)`` over runs of planes, on the pool's threads when big."""
    ntasks = max(1, min(planes, MAX_TASKS))
    edges = [planes * t // ntasks for t in range(ntasks + 1)]
    width = 1 if size < SERIAL_SIZE else T.get_num_threads()
    T.parallel_for(lambda t, slot: kernel(edges[t], edges[t + 1]), ntasks, width)


def max_pool2d_forward(x, kernel_size, stride, padding=(0, 0)):
    """(out, argmax) for C-contiguous x (N, C, H, W); argmax holds int32 offsets into (H, W)."""
    check_kernel_arrays("max_pool2d_forward", ndim=4, x=x)
    shape = _check("max_pool2d_forward", x.shape, kernel_size, stride, padding)
    if x.shape[2] * x.shape[3] >= 2 ** 31:
        raise ValueError("max_pool2d_forward: planes must hold under 2**31 pixels")
    out, arg = np.empty(shape, dtype=x.dtype), np.empty(shape, dtype=np.int32)
    args = kernel_size + stride + padding
    _run(lambda p0, p1: _max_forward(x, *args, p0, p1, out, arg), shape[0] * shape[1], x.size)
    return out, arg


def max_pool2d_backward(grad, argmax, x_shape):
    """dL/dx of shape ``x_shape`` from the output gradient and the forward pass's argmax."""
    check_kernel_arrays("max_pool2d_backward", ndim=4, grad=grad)
    check_same_shape("max_pool2d_backward", "argmax", argmax.shape, grad.shape)
    if len(x_shape) != 4 or tuple(grad.shape[:2]) != tuple(x_shape[:2]):
        raise ValueError(f"max_pool2d_backward: grad {grad.shape} does not pool x {x_shape}")
    if argmax.size and not 0 <= argmax.min() <= argmax.max() < x_shape[2] * x_shape[3]:
        raise ValueError("max_pool2d_backward: argmax offsets fall outside the input planes")
    if argmax.dtype != np.int32 or not argmax.flags.c_contiguous:
        raise TypeError("max_pool2d_backward: argmax must be a C-contiguous int32 array")
    dx = np.empty(x_shape, dtype=grad.dtype)
    _run(lambda p0, p1: _max_backward(grad, argmax, p0, p1, dx), x_shape[0] * x_shape[1],
         dx.size)
    return dx


def avg_pool2d_forward(x, kernel_size, stride, padding=(0, 0)):
    """Window means (padding counted as zeros, divisor kh*kw) of C-contiguous x (N, C, H, W)."""
    check_kernel_arrays("avg_pool2d_forward", ndim=4, x=x)
    shape = _check("avg_pool2d_forward", x.shape, kernel_size, stride, padding)
    out = np.empty(shape, dtype=x.dtype)
    args = kernel_size + stride + padding
    _run(lambda p0, p1: _avg_forward(x, *args, p0, p1, out), shape[0] * shape[1], x.size)
    return out


def avg_pool2d_backward(grad, x_shape, kernel_size, stride, padding=(0, 0)):
    """dL/dx of shape ``x_shape`` from the gradient of ``avg_pool2d_forward``'s output."""
    shape = _check("avg_pool2d_backward", x_shape, kernel_size, stride, padding)
    check_kernel_arrays("avg_pool2d_backward", shape=shape, grad=grad)
    dx = np.empty(x_shape, dtype=grad.dtype)
    args = kernel_size + stride + padding
    _run(lambda p0, p1: _avg_backward(grad, *args, p0, p1, dx), x_shape[0] * x_shape[1],
         dx.size)
    return dx
