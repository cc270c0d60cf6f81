"""Losses, each with ``reduction="mean"|"sum"|"none"`` as PyTorch.

Softmax cross-entropy with integer class targets is fused and stable: log-softmax and the
negative log-likelihood are one Numba pass (``kernels.softmax``), which also keeps the
probabilities, so the gradient is just (softmax - onehot) scaled by the incoming gradient.
The binary cross-entropies are one node each, with PyTorch's clamping; the regression losses
are compositions of Tensor ops. The public functions are re-exported by ``functional``.
"""
import numpy as np

from .._validation import check_choice, check_indices, check_real, check_tensors
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
            per_row = np.ascontiguousarray(grad, dtype=dtype)  # a broadcast view from sum()
        else:
            scale = grad / n if self.reduction == "mean" else grad
            per_row = np.full(n, scale, dtype=dtype)
        return K.cross_entropy_backward(self.probs, self.target, per_row), None  # no target grad


def _class_indices(target, n, k, name="cross_entropy", rows_of="logits"):
    """``target`` as int64 class indices of shape (n,), or a ValueError saying what is wrong."""
    shape = tuple(np.shape(target.data if hasattr(target, "requires_grad") else target))
    if shape != (n,):
        raise ValueError(f"{name}: target shape {shape} does not match {n} rows of {rows_of} "
                         f"(expected ({n},))")
    return check_indices("target", target, k, owner=name, kind="class indices", unit="classes")


def _check_reduction(reduction, name):
    check_choice("reduction", reduction, REDUCTIONS, owner=name)


def _reduce(loss, reduction, name):
    """Apply ``reduction`` to the per-element losses (a Tensor); the mean of nothing is an error."""
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    if loss.size == 0:
        raise ValueError(f"{name}: the mean over an empty input is undefined; use "
                         "reduction='sum' or 'none'")
    return loss.mean()


def _check_input(x, name, arg="input"):
    check_tensors(name, **{arg: x})
    if x.dtype.kind != "f":
        raise TypeError(f"{name}: {arg} must be a float Tensor, got dtype {x.dtype}")


def _target_like(target, x, name):
    """The target as a Tensor of ``x``'s shape: a Tensor stays (and may carry a gradient, as in
    PyTorch), anything else becomes a constant array of ``x``'s dtype."""
    if hasattr(target, "requires_grad"):
        t = target
    else:
        try:
            t = np.asarray(target, dtype=x.dtype)
        except (TypeError, ValueError):
            raise TypeError(f"{name}: target must be numeric, got {type(target).__name__}") from None
    if tuple(t.shape) != tuple(x.shape):
        raise ValueError(f"{name}: target shape {tuple(t.shape)} does not match input shape "
                         f"{tuple(x.shape)}")
    return t


def cross_entropy(logits, target, reduction="mean", label_smoothing=0.0):
    """Softmax cross-entropy of ``logits`` (n, k) against class indices ``target`` (n,).

    Parameters
    ----------
    logits : Tensor (n, k)
        Unnormalised scores.
    target : array_like (n,)
        Class indices: an integer array, a list or a Tensor holding whole numbers.
    reduction : {"mean", "sum", "none"}
        Mean or sum over the rows, or the (n,) losses.
    label_smoothing : float in [0, 1]
        As PyTorch: the target distribution is ``(1 - s) * onehot + s / k``, so the loss is
        ``(1 - s) * nll + s * mean_k(-log_softmax)``.
    """
    _check_reduction(reduction, "cross_entropy")
    eps = check_real("label_smoothing", label_smoothing, 0.0, 1.0, owner="cross_entropy")
    if not hasattr(logits, "requires_grad"):
        raise TypeError(f"cross_entropy: logits must be a Tensor, got {type(logits).__name__} "
                        "(wrap arrays with tinygrad_nn.Tensor)")
    if len(logits.shape) != 2 or logits.shape[1] == 0:
        raise ValueError(f"cross_entropy: logits must be 2-D (n, k) with k >= 1, got shape {logits.shape}")
    n, k = logits.shape
    if n == 0 and reduction == "mean":
        raise ValueError("cross_entropy: the mean over an empty batch (0 rows) is undefined; "
                         "use reduction='sum' or 'none'")
    t = _class_indices(target, n, k)
    if eps == 0.0:
        return CrossEntropy.apply(logits, t, reduction=reduction)
    logp = logits.log_softmax(axis=1)
    loss = -(logp[np.arange(n), t] * (1.0 - eps) + logp.mean(axis=1) * eps)
    return _reduce(loss, reduction, "cross_entropy")


def nll_loss(input, target, reduction="mean"):
    """Negative log-likelihood: ``-input[i, target[i]]`` for log-probabilities ``input`` (n, k)
    (e.g. from ``log_softmax``) and class indices ``target`` (n,), then reduced."""
    _check_reduction(reduction, "nll_loss")
    _check_input(input, "nll_loss")
    if len(input.shape) != 2:
        raise ValueError(f"nll_loss: input must be 2-D (n, k), got shape {input.shape}")
    n, k = input.shape
    t = _class_indices(target, n, k, "nll_loss", "the input")
    return _reduce(-input[np.arange(n), t], reduction, "nll_loss")


def mse_loss(input, target, reduction="mean"):
    """Squared error ``(input - target) ** 2`` per element, then reduced."""
    _check_reduction(reduction, "mse_loss")
    _check_input(input, "mse_loss")
    diff = input - _target_like(target, input, "mse_loss")
    return _reduce(diff * diff, reduction, "mse_loss")


def l1_loss(input, target, reduction="mean"):
    """Absolute error ``|input - target|`` per element (gradient 0 where they are equal), then
    reduced."""
    _check_reduction(reduction, "l1_loss")
    _check_input(input, "l1_loss")
    return _reduce((input - _target_like(target, input, "l1_loss")).abs(), reduction, "l1_loss")


def smooth_l1_loss(input, target, reduction="mean", beta=1.0):
    """Huber-like loss as PyTorch: ``0.5 d**2 / beta`` where ``|d| < beta``, else
    ``|d| - 0.5 beta`` (d = input - target); ``beta=0`` is the L1 loss."""
    _check_reduction(reduction, "smooth_l1_loss")
    beta = check_real("beta", beta, low=0.0, owner="smooth_l1_loss")
    _check_input(input, "smooth_l1_loss")
    a = (input - _target_like(target, input, "smooth_l1_loss")).abs()
    if beta == 0.0:
        return _reduce(a, reduction, "smooth_l1_loss")
    m = a.clip(hi=beta)  # |d| below beta; the rest of |d| is linear
    return _reduce(m * m * (0.5 / beta) + (a - m), reduction, "smooth_l1_loss")


_BCE_EPS = float(np.float32(1e-12))  # PyTorch's floor on p (1 - p), a float32 constant


class BinaryCrossEntropy(Function):
    """Per-element ``-(t log p + (1 - t) log(1 - p))`` with both logs clamped at -100 and the
    gradient ``(p - t) / max(p (1 - p), 1e-12)`` (1e-12 rounded to float32), exactly PyTorch's."""

    def forward(self, p, t):
        with np.errstate(divide="ignore"):
            log_p = np.maximum(np.log(p), -100.0)
            log_q = np.maximum(np.log1p(-p), -100.0)
        self.p, self.t = p, t
        return (-(t * log_p + (1 - t) * log_q)).astype(p.dtype, copy=False)

    def backward(self, grad):
        p, t = self.p, self.t
        gp = grad * (p - t) / np.maximum(p * (1 - p), _BCE_EPS)
        gt = None
        if self.needs_input_grad[1]:  # unclamped, as PyTorch: +-inf where p is exactly 0 or 1
            with np.errstate(divide="ignore"):
                gt = grad * (np.log1p(-p) - np.log(p))
        return gp.astype(p.dtype, copy=False), gt


def binary_cross_entropy(input, target, reduction="mean"):
    """Binary cross-entropy of probabilities ``input`` in [0, 1] against ``target`` (same
    shape), with PyTorch's clamping of the logs at -100 (so p = 0 or 1 gives a finite loss)."""
    _check_reduction(reduction, "binary_cross_entropy")
    _check_input(input, "binary_cross_entropy")
    p = input.data
    if p.size and not ((p >= 0) & (p <= 1)).all():
        bad = p[~((p >= 0) & (p <= 1))]
        raise ValueError(f"binary_cross_entropy: input must hold probabilities in [0, 1], got "
                         f"values such as {bad[:3].tolist()} (pass logits to "
                         "binary_cross_entropy_with_logits)")
    t = _target_like(target, input, "binary_cross_entropy")
    return _reduce(BinaryCrossEntropy.apply(input, t), reduction, "binary_cross_entropy")


class BCEWithLogits(Function):
    """Per-element ``max(x, 0) - x t + log(1 + exp(-|x|))``: stable for any logit."""

    def forward(self, x, t):
        self.x, self.t = x, t
        return (np.maximum(x, 0) - x * t + np.log1p(np.exp(-np.abs(x)))).astype(x.dtype, copy=False)

    def backward(self, grad):
        x = self.x
        sig = np.exp(-np.logaddexp(0, -x)).astype(x.dtype)
        gt = -grad * x if self.needs_input_grad[1] else None
        return grad * (sig - self.t), gt


def binary_cross_entropy_with_logits(logits, target, reduction="mean"):
    """Binary cross-entropy of ``sigmoid(logits)`` against targets in [0, 1], computed from the
    logits without overflow."""
    _check_reduction(reduction, "binary_cross_entropy_with_logits")
    _check_input(logits, "binary_cross_entropy_with_logits", "logits")
    t = _target_like(target, logits, "binary_cross_entropy_with_logits")
    return _reduce(BCEWithLogits.apply(logits, t), reduction, "binary_cross_entropy_with_logits")
