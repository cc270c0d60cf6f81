"""Embedding lookup's gradient: a scatter-add of output rows into the weight's rows.

Repeated indices accumulate (the gradient of a row used k times is the sum of k output
gradients). The caller checks every index against the table size before calling.
"""
import numpy as np
from . import njit  # numba.njit with a cache that degrades safely

from .._validation import check_kernel_arrays, check_kernel_indices


def embedding_backward(indices, grad, num_embeddings, skip):
    """dW (num_embeddings, D) with dW[indices[i]] += grad[i]; rows equal to ``skip`` (the
    padding index, or -1 for none) get no gradient. ``indices`` int64 (n,), ``grad`` (n, D)."""
    check_kernel_arrays("embedding_backward", ndim=2, grad=grad)
    check_kernel_indices("embedding_backward", "indices", indices, grad.shape[0], num_embeddings)
    return _embedding_backward(indices, grad, num_embeddings, skip)


@njit(cache=True, error_model="numpy")
def _embedding_backward(indices, grad, num_embeddings, skip):
    n, d = grad.shape
    out = np.zeros((num_embeddings, d), dtype=grad.dtype)
    for i in range(n):
        row = indices[i]
        if row == skip:
            continue
        dst, src = out[row], grad[i]
        for j in range(d):
            dst[j] += src[j]
    return out
