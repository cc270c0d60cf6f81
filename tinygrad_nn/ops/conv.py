"""2-D convolution of NCHW input as one graph node: ``_Conv2D``.

Like every deep-learning framework this is cross-correlation (the kernel is not flipped). The
maths is in ``kernels.direct`` (float32, ungrouped: summed in registers, see
``direct.applies``) or ``kernels.conv`` (every other case: im2col + BLAS), both threaded over
images; this node picks one, agrees on a dtype and skips the gradients nothing upstream needs.
Arguments are checked once, by ``tinygrad_nn.functional.conv2d``, so ``forward`` takes them as
valid and normalised.
"""
import numpy as np

from ..autograd import Function
from ..kernels import conv as K
from ..kernels import direct as D


class _Conv2D(Function):
    """x (N, C, H, W) with w (O, C/groups, kh, kw) and optional bias b (O,) -> (N, O, Ho, Wo).

    ``stride`` and ``dilation`` are (h, w) pairs, ``padding`` is (top, bottom, left, right).
    """

    def forward(self, x, w, b, stride=(1, 1), padding=(0, 0, 0, 0), dilation=(1, 1), groups=1):
        dtype = np.result_type(x, w) if b is None else np.result_type(x, w, b)
        self.x = np.ascontiguousarray(x, dtype=dtype)
        self.w = np.ascontiguousarray(w, dtype=dtype)
        self.dtypes = (x.dtype, w.dtype) + (() if b is None else (b.dtype,))
        self.geometry = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
        bias = np.zeros(w.shape[0], dtype) if b is None else np.ascontiguousarray(b, dtype=dtype)
        self.direct = D.applies(x.shape, w.shape, **self.geometry, dtype=dtype)
        if self.direct:
            return D.direct_forward(self.x, self.w, bias, padding, dilation, stride)
        return K.conv2d_forward(self.x, self.w, bias, **self.geometry)

    def backward(self, grad):
        need = self.needs_input_grad
        grad = np.ascontiguousarray(grad, self.x.dtype)
        if self.direct:
            dx, dw, db = D.direct_backward(self.x, self.w, grad, self.geometry["padding"],
                                           self.geometry["dilation"], need[0], need[1],
                                           self.geometry["stride"])
        else:
            dx, dw, db = K.conv2d_backward(self.x, self.w, grad, need_dx=need[0], need_dw=need[1],
                                           **self.geometry)
        grads = (dx, dw, db)[:len(self.dtypes)]
        return tuple(None if g is None or not wanted else g.astype(dt, copy=False)
                     for g, wanted, dt in zip(grads, need, self.dtypes))
