"""Embedding lookup's gradient: a scatter-add of output rows into the weight's rows.

Repeated indices accumulate (the gradient of a row used k times is the sum of k output
gradients). The caller checks every index against the table size before calling.
"""
import numpy as np
from numba import njit


@njit(cache=True, error_model="numpy")
def embedding_backward(indices, grad, num_embeddings, skip):
    """dW (num_embeddings, D) with dW[indices[i]] += grad[i]; rows equal to ``skip`` (the
    padding index, or -1 for none) get no gradient."""
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
