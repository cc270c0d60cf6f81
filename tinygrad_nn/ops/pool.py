"""2-D pooling of NCHW input as graph nodes: ``_MaxPool2D`` and ``_AvgPool2D``.

The maths is in ``kernels.pool``; arguments are checked once, by
``tinygrad_nn.functional.max_pool2d`` / ``avg_pool2d``, so ``forward`` takes them as valid
(kernel_size, stride and padding as (h, w) pairs).
"""
import numpy as np

from ..autograd import Function
from ..kernels import pool as K


class _MaxPool2D(Function):
    """Max over (kh, kw) windows every (sh, sw) pixels, -inf padding; the gradient goes to the
    (first) maximum of each window."""

    def forward(self, x, kernel_size=(2, 2), stride=(2, 2), padding=(0, 0)):
        self.shape, self.dtype = x.shape, x.dtype
        out, self.argmax = K.max_pool2d_forward(np.ascontiguousarray(x), kernel_size, stride,
                                                padding)
        return out

    def backward(self, grad):
        return K.max_pool2d_backward(np.ascontiguousarray(grad, dtype=self.dtype), self.argmax,
                                     self.shape)


class _AvgPool2D(Function):
    """Mean over (kh, kw) windows every (sh, sw) pixels, zero padding counted (divisor kh*kw)."""

    def forward(self, x, kernel_size=(2, 2), stride=(2, 2), padding=(0, 0)):
        self.shape, self.dtype = x.shape, x.dtype
        self.geometry = (kernel_size, stride, padding)
        return K.avg_pool2d_forward(np.ascontiguousarray(x), *self.geometry)

    def backward(self, grad):
        return K.avg_pool2d_backward(np.ascontiguousarray(grad, dtype=self.dtype), self.shape,
                                     *self.geometry)
