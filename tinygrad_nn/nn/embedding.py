"""``Embedding``: a trainable lookup table of vectors indexed by integers."""
from __future__ import annotations

import numpy as np

from .. import functional as F
from .._validation import check_float_dtype, check_int
from ..tensor import Tensor
from . import init as I
from .module import Module

__all__ = ["Embedding"]


class Embedding(Module):
    """A table ``weight`` (num_embeddings, embedding_dim) drawn from N(0, 1) as PyTorch; calling
    it on integer indices of any shape returns ``(*indices.shape, embedding_dim)``.

    Non-integer or out-of-range indices raise ``ValueError`` before anything runs. The backward pass is a
    Numba scatter-add (repeated indices accumulate). ``padding_idx``: a row kept at zero that
    receives no gradient. ``rng``: seed or Generator for the initial table.
    """

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None, rng=None,
                 dtype=np.float32):
        self.num_embeddings = check_int("num_embeddings", num_embeddings, low=1, owner="Embedding")
        self.embedding_dim = check_int("embedding_dim", embedding_dim, low=1, owner="Embedding")
        if padding_idx is not None:
            padding_idx = check_int("padding_idx", padding_idx, low=-self.num_embeddings,
                                    high=self.num_embeddings - 1, owner="Embedding")
            padding_idx %= self.num_embeddings
        self.padding_idx = padding_idx
        dtype = check_float_dtype("dtype", dtype, owner="Embedding")
        w = I.normal((self.num_embeddings, self.embedding_dim), rng=rng, dtype=dtype)
        if padding_idx is not None:
            w[padding_idx] = 0
        self.weight = Tensor(w, requires_grad=True)

    def forward(self, indices):
        return F.embedding(indices, self.weight, self.padding_idx)

    def extra_repr(self):
        pad = "" if self.padding_idx is None else f", padding_idx={self.padding_idx}"
        return f"{self.num_embeddings}, {self.embedding_dim}{pad}"
