"""Embedding lookup: rows of a weight table picked by integer indices, scatter-add backward
(``kernels.embedding``). Indices are checked against the table before the kernel runs."""
import numpy as np

from .._validation import check_indices
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


def embedding(indices, weight, padding_idx=None):
    """Rows of ``weight`` (num_embeddings, embedding_dim) at ``indices`` (integers of any
    shape; a Tensor, array or list), shape ``(*indices.shape, embedding_dim)``. The gradient
    of a row is the sum over its uses; ``padding_idx`` rows get none."""
    if len(weight.shape) != 2:
        raise ValueError(f"embedding: weight must be 2-D (num_embeddings, embedding_dim), got "
                         f"shape {weight.shape}")
    v = weight.shape[0]
    idx = check_indices("index", indices, v, owner="embedding", kind="values")
    skip = -1 if padding_idx is None else int(padding_idx) % v
    return Embedding.apply(weight, padding_idx=skip, indices=idx)
