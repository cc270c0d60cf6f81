"""2-D convolution of NCHW input: ``Conv2d`` (the graph node) and ``conv2d`` (validating entry).

Like every deep-learning framework this is cross-correlation (the kernel is not flipped).
The maths is in ``kernels.conv`` (im2col + BLAS per image); this module checks shapes,
agrees on a dtype and skips the input gradient when nothing upstream needs it.
"""
import numpy as np

from ..autograd import Function
from ..kernels import conv as K


def pair(value, name, op, minimum=1):
    """``value`` as a pair of ints >= minimum (an int means the same for both axes)."""
    items = (value, value) if isinstance(value, (int, np.integer)) else value
    try:
        items = tuple(items)
    except TypeError:
        items = ()
    if (len(items) != 2 or not all(isinstance(v, (int, np.integer)) for v in items)
            or min(items) < minimum):
        raise ValueError(f"{op}: {name} must be an int >= {minimum} or a pair of them, got {value!r}")
    return int(items[0]), int(items[1])


def check_tensors(op, **args):
    """TypeError unless each argument is a Tensor: ``backward`` pairs gradients with them."""
    for name, value in args.items():
        if not hasattr(value, "requires_grad"):
            raise TypeError(f"{op}: {name} must be a Tensor, got {type(value).__name__} "
                            "(wrap arrays with tinygrad_nn.Tensor)")


class Conv2d(Function):
    """x (N, C, H, W) with w (O, C, kh, kw) and optional bias b (O,) -> (N, O, Ho, Wo)."""

    def forward(self, x, w, b, stride=(1, 1), padding=(0, 0)):
        dtype = np.result_type(x, w) if b is None else np.result_type(x, w, b)
        self.x = np.ascontiguousarray(x, dtype=dtype)
        self.w = np.ascontiguousarray(w, dtype=dtype)
        self.dtypes = (x.dtype, w.dtype) + (() if b is None else (b.dtype,))
        self.stride, self.padding = stride, padding
        bias = np.zeros(w.shape[0], dtype) if b is None else np.ascontiguousarray(b, dtype=dtype)
        return K.conv2d_forward(self.x, self.w, bias, stride, padding)

    def backward(self, grad):
        need = self.needs_input_grad
        dx, dw, db = K.conv2d_backward(self.x, self.w, grad.astype(self.x.dtype, copy=False),
                                       self.stride, self.padding, need_dx=need[0])
        grads = (dx, dw, db)[:len(self.dtypes)]
        return tuple(None if g is None or not wanted else g.astype(dt, copy=False)
                     for g, wanted, dt in zip(grads, need, self.dtypes))


def conv2d(x, w, b=None, stride=1, padding=0):
    """Convolve NCHW ``x`` with ``w`` (out_channels, in_channels, kh, kw), plus bias ``b``.

    ``stride`` and ``padding`` (zeros on both sides) are ints or (h, w) pairs; the output is
    (N, out_channels, (H + 2*ph - kh) // sh + 1, (W + 2*pw - kw) // sw + 1).
    """
    check_tensors("conv2d", x=x, w=w, **({} if b is None else {"b": b}))
    stride = pair(stride, "stride", "conv2d")
    padding = pair(padding, "padding", "conv2d", minimum=0)
    xs, ws = x.shape, w.shape
    if len(xs) != 4 or len(ws) != 4:
        raise ValueError(f"conv2d: input must be 4-D (N, C, H, W) and weight 4-D (O, C, kh, kw), "
                         f"got input {xs} and weight {ws}")
    if xs[1] != ws[1]:
        raise ValueError(f"conv2d: input {xs} has {xs[1]} channels but weight {ws} expects {ws[1]}")
    if xs[2] + 2 * padding[0] < ws[2] or xs[3] + 2 * padding[1] < ws[3]:
        raise ValueError(f"conv2d: input {xs} with padding {padding} is smaller than the "
                         f"kernel of weight {ws}")
    if b is not None and tuple(b.shape) != (ws[0],):
        raise ValueError(f"conv2d: bias shape {tuple(b.shape)} does not match weight {ws} "
                         f"(expected ({ws[0]},))")
    return Conv2d.apply(x, w, b, stride=stride, padding=padding)
