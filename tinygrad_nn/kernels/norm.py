"""Per-channel normalisation of (N, C, L) C-contiguous arrays: batch norm, and layer norm as the
special case N = 1 with one "channel" per row.

Statistics are accumulated in float64 whatever the input dtype (two passes: mean, then squared
deviations, so a large mean costs no digits). The output pass is one fused ``x * scale + shift``
per channel. The backward pass needs two per-channel sums (of g and of g * (x - mean)) and then
one fused pass for dx; with ``training=False`` the statistics were constants (running
estimates) and dx is just ``g * scale``. The caller checks shapes and dtypes.

Channels are independent, so large arrays are split into channel blocks over
``tinygrad_nn.threads`` (the results do not depend on the thread count). Outputs are allocated
by numpy, which reuses freed memory (Numba's allocator measured far slower for megabyte arrays).
"""
import numpy as np
from . import njit  # numba.njit with a cache that degrades safely

from .. import threads as T
from .._validation import check_kernel_arrays

_JIT = dict(cache=True, nogil=True, error_model="numpy", fastmath={"contract"})
_SUM = dict(cache=True, nogil=True, error_model="numpy", fastmath={"contract", "reassoc"})


@njit(**_SUM)
def _channel_sum(x, c):
    s = 0.0
    for n in range(x.shape[0]):
        row = x[n, c]
        for j in range(row.size):
            s += row[j]
    return s


@njit(**_SUM)
def _channel_sq_dev(x, c, m):
    s = 0.0
    for n in range(x.shape[0]):
        row = x[n, c]
        for j in range(row.size):
            d = row[j] - m
            s += d * d
    return s


PARALLEL_SIZE = 1 << 17  # from this many elements the channels are split over the threads
TASKS_PER_THREAD = 1      # channel blocks per thread when split (results never depend on it;
                          # see activations.CHUNKS_PER_THREAD for why one)


def _over_channels(kernel, x, *args):
    """``kernel(x, *args, c0, c1)`` for every channel block: on the calling thread for small
    arrays, else ``TASKS_PER_THREAD`` blocks per thread over the worker pool (channels are
    independent, so the split never changes a result)."""
    C = x.shape[1]
    threads = T.get_num_threads()
    if x.size < PARALLEL_SIZE or C < 2 or threads == 1:
        kernel(x, *args, 0, C)
        return
    tasks = min(TASKS_PER_THREAD * threads, C)
    edges = [C * t // tasks for t in range(tasks + 1)]
    T.parallel_for(lambda t, slot: kernel(x, *args, edges[t], edges[t + 1]), tasks)


def channel_stats(x):
    """Per-channel mean and biased variance (float64) of x (N, C, L) over N and L."""
    check_kernel_arrays("channel_stats", ndim=3, x=x)
    mean, var = np.empty(x.shape[1]), np.empty(x.shape[1])
    _over_channels(_channel_stats, x, mean, var)
    return mean, var


@njit(**_JIT)
def _channel_stats(x, mean, var, c0, c1):
    N, C, L = x.shape
    count = N * L
    for c in range(c0, c1):
        m = _channel_sum(x, c) / count
        mean[c] = m
        var[c] = _channel_sq_dev(x, c, m) / count


def channel_affine(x, scale, shift):
    """out[n, c, :] = x[n, c, :] * scale[c] + shift[c] (scale, shift (C,) in x's dtype)."""
    check_kernel_arrays("channel_affine", ndim=3, x=x)
    check_kernel_arrays("channel_affine", shape=x.shape[1:2], dtype=x.dtype, scale=scale,
                        shift=shift)
    out = np.empty_like(x)
    _over_channels(_channel_affine, x, scale, shift, out)
    return out


@njit(**_JIT)
def _channel_affine(x, scale, shift, out, c0, c1):
    N, C, L = x.shape
    for n in range(N):
        for c in range(c0, c1):
            a, b = scale[c], shift[c]
            src, dst = x[n, c], out[n, c]
            for j in range(L):
                dst[j] = src[j] * a + b


def batch_norm_train(x, weight, bias, eps):
    """Training-mode batch norm of x (N, C, L): (out, mean, var) with the per-channel mean and
    biased variance (float64) and out = x * scale + shift, where scale = weight / sqrt(var +
    eps) and shift = bias - mean * scale are rounded to x's dtype. ``weight``, ``bias`` float64
    (C,). The statistics and the output of a block of channels come from one task: one split
    over the threads instead of two (handing a split to the worker costs 20-50 us, and the
    output pass alone takes 40-80 us on the custom CNN's maps)."""
    check_kernel_arrays("batch_norm_train", ndim=3, x=x)
    check_kernel_arrays("batch_norm_train", shape=x.shape[1:2], dtype=np.float64, weight=weight,
                        bias=bias)
    C = x.shape[1]
    mean, var = np.empty(C), np.empty(C)
    scale, shift, out = np.empty(C, x.dtype), np.empty(C, x.dtype), np.empty_like(x)
    _over_channels(_batch_norm_train, x, weight, bias, float(eps), mean, var, scale, shift, out)
    return out, mean, var


@njit(**_JIT)
def _batch_norm_train(x, weight, bias, eps, mean, var, scale, shift, out, c0, c1):
    _channel_stats(x, mean, var, c0, c1)
    for c in range(c0, c1):
        s = weight[c] * (1.0 / np.sqrt(var[c] + eps))
        scale[c] = s
        shift[c] = bias[c] - mean[c] * s
    _channel_affine(x, scale, shift, out, c0, c1)


@njit(**_SUM)
def _grad_sums(x, g, c, m):
    sg = 0.0
    sgx = 0.0
    for n in range(x.shape[0]):
        xs, gs = x[n, c], g[n, c]
        for j in range(xs.size):
            sg += gs[j]
            sgx += gs[j] * (xs[j] - m)
    return sg, sgx


def batch_norm_backward(x, g, mean, invstd, weight, training):
    """Gradients of ``(x - mean) * invstd * weight[c] + bias[c]`` per channel.

    ``x``, ``g`` (N, C, L) of one dtype; ``mean``, ``invstd``, ``weight`` float64 (C,).
    Returns dx (x's dtype), dweight and dbias (float64, per channel). With ``training`` the
    mean and invstd are the batch's own, so dx carries their dependence on x.
    """
    check_kernel_arrays("batch_norm_backward", ndim=3, x=x, g=g)
    check_kernel_arrays("batch_norm_backward", shape=x.shape[1:2], dtype=np.float64, mean=mean,
                        invstd=invstd, weight=weight)
    dx, dweight, dbias = np.empty_like(x), np.empty(x.shape[1]), np.empty(x.shape[1])
    _over_channels(_batch_norm_backward, x, g, mean, invstd, weight, bool(training), dx,
                   dweight, dbias)
    return dx, dweight, dbias


@njit(**_JIT)
def _batch_norm_backward(x, g, mean, invstd, weight, training, dx, dweight, dbias, c0, c1):
    N, C, L = x.shape
    count = N * L
    for c in range(c0, c1):
        m, inv = mean[c], invstd[c]
        sg, sgx = _grad_sums(x, g, c, m)
        dbias[c] = sg
        dweight[c] = sgx * inv
        k = weight[c] * inv
        if training:
            a = sg / count
            b = sgx * inv * inv / count
        else:
            a = 0.0
            b = 0.0
        kk = x.dtype.type(k)
        aa = x.dtype.type(a)
        bb = x.dtype.type(b)
        mm = x.dtype.type(m)
        for n in range(N):
            xs, gs, out = x[n, c], g[n, c], dx[n, c]
            for j in range(L):
                out[j] = kk * (gs[j] - aa - (xs[j] - mm) * bb)
