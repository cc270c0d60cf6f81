"""Embedding lookup: rows of a weight table picked by integer indices, scatter-add backward
(``kernels.embedding``)."""
import numpy as np

from ..autograd import Function
from ..kernels.embedding import embedding_backward


class Embedding(Function):
    """weight (V, D) and int64 indices of any shape -> (*indices.shape, D)."""

    def forward(self, weight, indices, padding_idx=-1):
        self.indices, self.v, self.skip = indices.reshape(-1), weight.shape[0], padding_idx
        return weight[indices]

    def backward(self, grad):
        d = grad.shape[-1]
        g = np.ascontiguousarray(grad).reshape(-1, d)
        return embedding_backward(self.indices, g, self.v, self.skip)


def _indices(indices, num_embeddings):
    """``indices`` as an int64 array, or a clear error (floats must be whole, all in range)."""
    raw = indices.data if hasattr(indices, "requires_grad") else indices
    try:
        idx = np.asarray(raw)
    except (ValueError, TypeError):
        raise TypeError(f"embedding: indices must be an integer array, got {type(raw).__name__}") \
            from None
    if idx.dtype.kind == "f":
        if not np.all(np.isfinite(idx) & (idx == np.round(idx))):
            raise TypeError("embedding: indices must be whole numbers, got non-integer values")
    elif idx.dtype.kind not in "iu":
        raise TypeError(f"embedding: indices must be integers, got dtype {idx.dtype}")
    idx = idx.astype(np.int64)
    bad = idx[(idx < 0) | (idx >= num_embeddings)]
    if bad.size:
        raise IndexError(f"embedding: indices {np.unique(bad)[:5].tolist()} are out of range for "
                         f"a table of {num_embeddings} rows (valid: 0 to {num_embeddings - 1})")
    return idx


def embedding(indices, weight, padding_idx=None):
    """Rows of ``weight`` (num_embeddings, embedding_dim) at ``indices`` (integers of any
    shape; a Tensor, array or list), shape ``(*indices.shape, embedding_dim)``. The gradient
    of a row is the sum over its uses; ``padding_idx`` rows get none."""
    if len(weight.shape) != 2:
        raise ValueError(f"embedding: weight must be 2-D (num_embeddings, embedding_dim), got "
                         f"shape {weight.shape}")
    v = weight.shape[0]
    idx = _indices(indices, v)
    skip = -1 if padding_idx is None else int(padding_idx) % v
    return Embedding.apply(weight, padding_idx=skip, indices=idx)
