"""2-D max pooling of NCHW input: ``MaxPool2d`` (the graph node) and ``max_pool2d``."""
import numpy as np

from ..autograd import Function
from ..kernels import pool as K
from .conv import check_tensors, pair


class MaxPool2d(Function):
    """Max over (kh, kw) windows every (sh, sw) pixels, no padding; the gradient goes to the
    (first) maximum of each window."""

    def forward(self, x, kernel_size=(2, 2), stride=(2, 2)):
        self.shape, self.dtype = x.shape, x.dtype
        out, self.argmax = K.max_pool2d_forward(np.ascontiguousarray(x), kernel_size, stride)
        return out

    def backward(self, grad):
        return K.max_pool2d_backward(grad.astype(self.dtype, copy=False), self.argmax, self.shape)


def max_pool2d(x, kernel_size, stride=None):
    """Max-pool NCHW ``x`` over ``kernel_size`` windows (int or (h, w)); ``stride`` defaults to
    the kernel size. Output (N, C, (H - kh) // sh + 1, (W - kw) // sw + 1)."""
    check_tensors("max_pool2d", x=x)
    kernel_size = pair(kernel_size, "kernel_size", "max_pool2d")
    stride = kernel_size if stride is None else pair(stride, "stride", "max_pool2d")
    if len(x.shape) != 4:
        raise ValueError(f"max_pool2d: input must be 4-D (N, C, H, W), got shape {x.shape}")
    if x.shape[2] < kernel_size[0] or x.shape[3] < kernel_size[1]:
        raise ValueError(f"max_pool2d: input {x.shape} is smaller than the pooling window "
                         f"{kernel_size}")
    return MaxPool2d.apply(x, kernel_size=kernel_size, stride=stride)
