"""Softmax cross-entropy with integer class targets: ``CrossEntropy`` and ``cross_entropy``.

Fused and stable: log-softmax and the negative log-likelihood are one Numba pass
(``kernels.softmax``), which also keeps the probabilities, so the gradient is just
(softmax - onehot) scaled by the incoming gradient.
"""
import numpy as np

from ..autograd import Function
from ..kernels import softmax as K

REDUCTIONS = ("mean", "sum", "none")


class CrossEntropy(Function):
    """logits (n, k) and int64 targets (n,) -> per-row loss reduced by "mean", "sum" or "none"."""

    saves_inputs = False

    def forward(self, logits, target, reduction="mean"):
        logits = np.ascontiguousarray(logits)
        loss, self.probs = K.cross_entropy_forward(logits, target)
        self.target, self.reduction = target, reduction
        if reduction == "none":
            return loss
        total = loss.sum()
        return np.asarray(total / len(loss) if reduction == "mean" else total, dtype=logits.dtype)

    def backward(self, grad):
        n, dtype = len(self.target), self.probs.dtype
        if self.reduction == "none":
            per_row = grad.astype(dtype, copy=False)
        else:
            scale = grad / n if self.reduction == "mean" else grad
            per_row = np.full(n, scale, dtype=dtype)
        return K.cross_entropy_backward(self.probs, self.target, per_row), None  # no target grad


def _class_indices(target, n, k):
    """``target`` as int64 class indices of shape (n,), or a ValueError saying what is wrong."""
    t = np.asarray(target.data if hasattr(target, "requires_grad") else target)
    if t.shape != (n,):
        raise ValueError(f"cross_entropy: target shape {t.shape} does not match {n} rows of logits "
                         f"(expected ({n},))")
    if t.dtype.kind == "f":
        bad = t[~np.isfinite(t) | (t != np.round(t))]
        if bad.size:
            raise ValueError(f"cross_entropy: targets must be integer class indices, got "
                             f"non-integer values {np.unique(bad)[:5].tolist()}")
    elif t.dtype.kind not in "biu":
        raise ValueError(f"cross_entropy: targets must be integer class indices, got dtype {t.dtype}")
    t = t.astype(np.int64)
    bad = t[(t < 0) | (t >= k)]
    if bad.size:
        raise ValueError(f"cross_entropy: target values {np.unique(bad)[:5].tolist()} are out of "
                         f"range for {k} classes (valid: 0 to {k - 1})")
    return t


def cross_entropy(logits, target, reduction="mean"):
    """Softmax cross-entropy of ``logits`` (n, k) against class indices ``target`` (n,).

    ``target`` may be an integer array, a list or a Tensor holding whole numbers.
    ``reduction``: "mean" (default) or "sum" over the rows, or "none" for the (n,) losses.
    """
    if reduction not in REDUCTIONS:
        raise ValueError(f"cross_entropy: reduction must be one of {', '.join(map(repr, REDUCTIONS))}, "
                         f"got {reduction!r}")
    if not hasattr(logits, "requires_grad"):
        raise TypeError(f"cross_entropy: logits must be a Tensor, got {type(logits).__name__} "
                        "(wrap arrays with tinygrad_nn.Tensor)")
    if len(logits.shape) != 2 or logits.shape[1] == 0:
        raise ValueError(f"cross_entropy: logits must be 2-D (n, k) with k >= 1, got shape {logits.shape}")
    n, k = logits.shape
    if n == 0 and reduction == "mean":
        raise ValueError("cross_entropy: the mean over an empty batch (0 rows) is undefined; "
                         "use reduction='sum' or 'none'")
    return CrossEntropy.apply(logits, _class_indices(target, n, k), reduction=reduction)
