"""Gradient clipping by the global norm."""
from __future__ import annotations

import math

import numpy as np

from .._validation import check_bool, check_real
from ..tensor import Tensor

__all__ = ["clip_grad_norm_"]


def clip_grad_norm_(params, max_norm, norm_type=2.0, error_if_nonfinite=False):
    """Scale the gradients in place so that their global norm is at most ``max_norm``.

    The global norm is the ``norm_type``-norm of the per-parameter gradient norms (that is,
    of all gradients concatenated). Gradients are multiplied by
    ``min(1, max_norm / (total_norm + 1e-6))``, as ``torch.nn.utils.clip_grad_norm_`` does.
    Parameters without a gradient are skipped.

    Parameters
    ----------
    params : Tensor or iterable of Tensor
        Parameters whose ``.grad`` to clip.
    max_norm : float
        Largest allowed norm (>= 0).
    norm_type : float
        Order of the norm (> 0, or ``math.inf`` for the largest absolute value).
    error_if_nonfinite : bool
        Raise RuntimeError when the total norm is NaN or infinite (the gradients are left alone).

    Returns
    -------
    Tensor
        The total norm before clipping (0-d, not differentiable; ``.item()`` gives a float).
    """
    params = [params] if isinstance(params, Tensor) else list(params)
    for j, p in enumerate(params):
        if not isinstance(p, Tensor):
            raise TypeError(f"clip_grad_norm_: params[{j}] must be a Tensor, got {type(p).__name__}")
    max_norm = check_real("max_norm", max_norm, low=0.0, owner="clip_grad_norm_")
    if isinstance(norm_type, (bool, np.bool_)) or not isinstance(norm_type, (int, float, np.number)) \
            or not (norm_type > 0) or math.isnan(norm_type):
        raise ValueError(f"clip_grad_norm_: norm_type must be a number > 0 or math.inf, got "
                         f"{norm_type!r}")
    error_if_nonfinite = check_bool("error_if_nonfinite", error_if_nonfinite, "clip_grad_norm_")
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return Tensor(np.zeros((), np.float32))
    dtype = np.result_type(*grads)
    norms = np.array([_norm(g.ravel(), norm_type) for g in grads], dtype=dtype)
    total = dtype.type(_norm(norms, norm_type))
    if error_if_nonfinite and not np.isfinite(total):
        raise RuntimeError(f"clip_grad_norm_: the total norm of order {norm_type} of the "
                           f"gradients is {float(total)}; pass error_if_nonfinite=False to clip "
                           "anyway")
    coef = min(max_norm / (float(total) + 1e-6), 1.0)
    for g in grads:
        g *= coef
    return Tensor(np.asarray(total))


def _norm(x, p):
    if p == math.inf:
        return np.max(np.abs(x)) if x.size else 0.0
    if p == 2:
        return np.linalg.norm(x)
    return np.sum(np.abs(x) ** p) ** (1.0 / p)
