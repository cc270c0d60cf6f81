"""Row-wise softmax family on 2-D C-contiguous arrays (the reduced axis is the last one).

Every row is shifted by its maximum before ``exp``, so no logit overflows. Rows with no finite
maximum follow scipy and PyTorch: an all -inf row is left unshifted (logsumexp -inf, softmax
NaN), a row holding +inf has logsumexp +inf and a NaN softmax and log-softmax (the limit is not
taken), and a NaN anywhere in a row makes all its results NaN.
Logarithms are taken as log1p of the sum without the maximum's term (exactly 1), which keeps
the digits of losses and log-probabilities near 0. The caller moves the axis last and
reshapes. The public functions check their arrays' kind, shape, dtype and layout, and the
targets' range, before a loop runs: no kernel reads or writes past an array.

Each row is a few separate loops (max, exp, sum) rather than one: the exp loop vectorises, and
the sums get ``reassoc`` so LLVM may reorder (and vectorise) them. That flag stays off the exp
loops, where reordering would undo the range reduction. Measured on (1000, 1000) float32, the
fused one-loop version was 4x slower than numpy; this one matches it, and beats it 1.7x on
(256, 10).
"""
import numpy as np
from . import njit  # numba.njit with a cache that degrades safely

from .._validation import check_kernel_arrays, check_kernel_indices
from .vecmath import exp

_JIT = dict(cache=True, error_model="numpy", fastmath={"contract"})
_SUM = dict(cache=True, error_model="numpy", fastmath={"contract", "reassoc"})


@njit(**_JIT)
def _row_max(row):
    """The row's maximum; NaN if the row holds a NaN."""
    m = row.dtype.type(-np.inf)
    for v in row:
        m = v if v > m or v != v else m  # once NaN, m stays NaN (no v compares above it)
    return m


@njit(**_JIT)
def _exp_shifted(row, shift, out):
    for j in range(row.size):
        out[j] = exp(row[j] - shift)


@njit(**_SUM)
def _sum_rest(row, top, e):
    """sum(e) - 1, adding e[j] only where row[j] != top (those terms are exactly 1)."""
    T = e.dtype.type
    s, ties = T(0), 0
    for j in range(row.size):
        hit = row[j] == top
        s += T(0) if hit else e[j]
        ties += hit
    return s + T(ties - 1)


@njit(**_SUM)
def _sum(a):
    s = a.dtype.type(0)
    for v in a:
        s += v
    return s


@njit(**_SUM)
def _dot(a, b):
    s = a.dtype.type(0)
    for j in range(a.size):
        s += a[j] * b[j]
    return s


@njit(**_JIT)
def _exp_row(row, out):
    """out = exp(row - shift); returns (shift, sum(out) - 1, the row's maximum). The shift is
    the maximum when finite, 0 for an all -inf row, NaN otherwise (+inf or NaN in the row)."""
    T = row.dtype.type
    m = _row_max(row)
    finite = np.isfinite(m)
    shift = m if finite else (T(0) if m < 0 else T(np.nan))
    _exp_shifted(row, shift, out)
    return shift, _sum_rest(row, m if finite else T(np.nan), out), m


@njit(**_JIT)
def _softmax_forward(x):
    """exp(x) / sum(exp(x)) along each row."""
    out = np.empty_like(x)
    one = x.dtype.type(1)
    for i in range(x.shape[0]):
        _, rest, _ = _exp_row(x[i], out[i])
        out[i] *= one / (one + rest)
    return out


@njit(**_JIT)
def _softmax_backward(y, grad):
    """dL/dx = y * (grad - sum(grad * y)) per row."""
    out = np.empty_like(y)
    for i in range(y.shape[0]):
        yi, gi, oi = y[i], grad[i], out[i]
        dot = _dot(gi, yi)
        for j in range(yi.size):
            oi[j] = yi[j] * (gi[j] - dot)
    return out


@njit(**_JIT)
def _log_softmax_forward(x):
    """x - logsumexp(x) along each row."""
    out = np.empty_like(x)
    for i in range(x.shape[0]):
        xi, oi = x[i], out[i]
        shift, rest, _ = _exp_row(xi, oi)
        log_sum = np.log1p(rest)
        for j in range(xi.size):
            oi[j] = (xi[j] - shift) - log_sum  # not x - (shift + log_sum): keeps digits
    return out


@njit(**_JIT)
def _log_softmax_backward(y, grad):
    """dL/dx = grad - exp(y) * sum(grad) per row."""
    out = np.empty_like(y)
    for i in range(y.shape[0]):
        yi, gi, oi = y[i], grad[i], out[i]
        total = _sum(gi)
        for j in range(yi.size):
            oi[j] = gi[j] - exp(yi[j]) * total
    return out


@njit(**_JIT)
def _logsumexp_forward(x):
    """log(sum(exp(x))) of each row, shape (n,)."""
    out = np.empty(x.shape[0], dtype=x.dtype)
    scratch = np.empty(x.shape[1], dtype=x.dtype)
    for i in range(x.shape[0]):
        shift, rest, top = _exp_row(x[i], scratch)
        out[i] = top if top == np.inf else shift + np.log1p(rest)
    return out


@njit(**_JIT)
def _cross_entropy_forward(logits, target):
    """Per-row loss -log softmax(logits)[target], and the softmax itself (kept for backward)."""
    n = logits.shape[0]
    loss = np.empty(n, dtype=logits.dtype)
    probs = np.empty_like(logits)
    one = logits.dtype.type(1)
    for i in range(n):
        shift, rest, _ = _exp_row(logits[i], probs[i])
        probs[i] *= one / (one + rest)
        loss[i] = np.log1p(rest) - (logits[i, target[i]] - shift)
    return loss, probs


@njit(**_JIT)
def _cross_entropy_backward(probs, target, grad):
    """dL/dlogits = (probs - onehot(target)) * grad[row]."""
    out = np.empty_like(probs)
    for i in range(probs.shape[0]):
        pi, oi, g = probs[i], out[i], grad[i]
        for j in range(pi.size):
            oi[j] = pi[j] * g
        oi[target[i]] -= g
    return out


# ---------------------------------------------------------------- checked entry points
def _rowwise(kernel, name, doc, *arg_names):
    """``kernel`` behind the entry check: every argument 2-D, of the first one's shape and dtype."""

    def entry(*arrays):
        check_kernel_arrays(name, ndim=2, **dict(zip(arg_names, arrays)))
        return kernel(*arrays)

    entry.__name__ = entry.__qualname__ = name
    entry.__doc__ = doc
    return entry


softmax_forward = _rowwise(_softmax_forward, "softmax_forward",
                           "exp(x) / sum(exp(x)) along each row of a 2-D array.", "x")
softmax_backward = _rowwise(_softmax_backward, "softmax_backward",
                            "dL/dx = y * (grad - sum(grad * y)) per row, from the softmax y.",
                            "y", "grad")
log_softmax_forward = _rowwise(_log_softmax_forward, "log_softmax_forward",
                               "x - logsumexp(x) along each row of a 2-D array.", "x")
log_softmax_backward = _rowwise(_log_softmax_backward, "log_softmax_backward",
                                "dL/dx = grad - exp(y) * sum(grad) per row, from the log-softmax y.",
                                "y", "grad")
logsumexp_forward = _rowwise(_logsumexp_forward, "logsumexp_forward",
                             "log(sum(exp(x))) of each row of a 2-D array, shape (n,).", "x")


def cross_entropy_forward(logits, target):
    """Per-row loss -log softmax(logits)[target] and the softmax; ``target`` int64 in [0, k)."""
    check_kernel_arrays("cross_entropy_forward", ndim=2, logits=logits)
    check_kernel_indices("cross_entropy_forward", "target", target, *logits.shape)
    return _cross_entropy_forward(logits, target)


def cross_entropy_backward(probs, target, grad):
    """dL/dlogits = (probs - onehot(target)) * grad[row]."""
    check_kernel_arrays("cross_entropy_backward", ndim=2, probs=probs)
    check_kernel_indices("cross_entropy_backward", "target", target, *probs.shape)
    check_kernel_arrays("cross_entropy_backward", shape=probs.shape[:1], dtype=probs.dtype,
                        grad=grad)
    return _cross_entropy_backward(probs, target, grad)
