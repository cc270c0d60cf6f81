"""Normalisation layers: ``BatchNorm1D``, ``BatchNorm2D`` and ``LayerNorm``, with PyTorch's
parameters, buffers, defaults and train/eval semantics."""
from __future__ import annotations

import numpy as np

from .. import functional as F
from .._validation import check_bool, check_float_dtype, check_int, check_real
from ..tensor import Tensor
from .module import Module

__all__ = ["BatchNorm1D", "BatchNorm2D", "LayerNorm"]


class _BatchNorm(Module):
    """Shared by the 1-D and 2-D forms, which differ only in the input ranks they accept."""

    ranks = ()
    layout = ""

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, dtype=np.float32):
        name = type(self).__name__
        self.num_features = check_int("num_features", num_features, low=1, owner=name)
        self.eps = check_real("eps", eps, low=0.0, closed="neither", owner=name)
        self.momentum = None if momentum is None else check_real("momentum", momentum, 0.0, 1.0,
                                                                 owner=name)
        self.affine = check_bool("affine", affine, owner=name)
        self.track_running_stats = check_bool("track_running_stats", track_running_stats, owner=name)
        dtype = check_float_dtype("dtype", dtype, owner=name)
        n = self.num_features
        self.weight = Tensor(np.ones(n, dtype), requires_grad=True) if self.affine else None
        self.bias = Tensor(np.zeros(n, dtype), requires_grad=True) if self.affine else None
        if self.track_running_stats:
            self.register_buffer("running_mean", np.zeros(n, dtype))
            self.register_buffer("running_var", np.ones(n, dtype))
            self.register_buffer("num_batches_tracked", np.array(0, dtype=np.int64))
        else:
            self.running_mean = self.running_var = self.num_batches_tracked = None

    def reset_running_stats(self):
        """Running mean 0, running variance 1, no batches tracked."""
        if self.track_running_stats:
            self.running_mean.data[...] = 0
            self.running_var.data[...] = 1
            self.num_batches_tracked.data[...] = 0

    def forward(self, x):
        shape = x.shape
        if len(shape) not in self.ranks or shape[1] != self.num_features:
            raise ValueError(f"{self!r}: expected input {self.layout} with C={self.num_features}, "
                             f"got shape {shape}")
        use_batch = self.training or not self.track_running_stats
        momentum = 0.0
        if self.training and self.track_running_stats:
            self.num_batches_tracked.data += 1
            count = int(self.num_batches_tracked.data)
            momentum = 1.0 / count if self.momentum is None else self.momentum
        running = self.track_running_stats
        return F.batch_norm(x, self.running_mean.data if running else None,
                            self.running_var.data if running else None, self.weight, self.bias,
                            training=use_batch, momentum=momentum, eps=self.eps)

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, track_running_stats={self.track_running_stats}")


class BatchNorm1D(_BatchNorm):
    """Batch normalisation of (N, C) or (N, C, L) input over N (and L), per feature C.

    Training normalises with the batch mean and biased variance and moves ``running_mean`` and
    ``running_var`` (buffers) toward the batch mean and the *unbiased* variance by ``momentum``
    (``momentum=None``: a cumulative average over ``num_batches_tracked`` batches). Evaluation
    normalises with the running estimates (or, with ``track_running_stats=False``, with the
    batch's own). ``weight`` (ones) and ``bias`` (zeros) are trained when ``affine``.
    PyTorch's ``BatchNorm1d``.
    """

    ranks = (2, 3)
    layout = "(N, C) or (N, C, L)"


class BatchNorm2D(_BatchNorm):
    """Batch normalisation of NCHW input over N, H and W, per channel C (see ``BatchNorm1D``).
    PyTorch's ``BatchNorm2d``."""

    ranks = (4,)
    layout = "(N, C, H, W)"


class LayerNorm(Module):
    """Normalise each sample over its trailing ``normalized_shape`` axes (mean 0, biased
    variance 1), then apply ``weight`` (ones) and ``bias`` (zeros) of that shape when
    ``elementwise_affine``. The same in training and evaluation."""

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True,
                 dtype=np.float32):
        shape = (normalized_shape,) if isinstance(normalized_shape, (int, np.integer)) \
            else tuple(normalized_shape)
        if not shape:
            raise ValueError("LayerNorm: normalized_shape must name at least one axis, got ()")
        self.normalized_shape = tuple(check_int("normalized_shape", n, low=1, owner="LayerNorm")
                                      for n in shape)
        self.eps = check_real("eps", eps, low=0.0, closed="neither", owner="LayerNorm")
        self.elementwise_affine = check_bool("elementwise_affine", elementwise_affine,
                                             owner="LayerNorm")
        dtype = check_float_dtype("dtype", dtype, owner="LayerNorm")
        affine = self.elementwise_affine
        self.weight = Tensor(np.ones(self.normalized_shape, dtype), requires_grad=True) \
            if affine else None
        self.bias = Tensor(np.zeros(self.normalized_shape, dtype), requires_grad=True) \
            if affine and check_bool("bias", bias, owner="LayerNorm") else None

    def forward(self, x):
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        affine = "" if self.elementwise_affine else ", elementwise_affine=False"
        return f"{self.normalized_shape}, eps={self.eps}{affine}"
