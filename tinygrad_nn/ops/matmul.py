"""Matrix products through BLAS (numpy): ``MatMul`` and the fused ``Linear`` (x @ w + b).

2-D products go through ``threads.matmul``: they follow ``tn.set_num_threads``, small ones stay
on one thread without waking BLAS's idle threads, large ones are split over the worker pool.
The two gradients of a 2-D product are independent, and go through ``threads.matmul_pair``
(each whole on its own thread when both are large). Results never depend on the thread count.
"""
import numpy as np

from ..autograd import Function, unbroadcast
from ..threads import matmul as _mm, matmul_pair as _mm_pair


def _product(a, b):
    return _mm(a, b) if a.ndim == 2 and b.ndim == 2 else a @ b


def _mismatch(name, a, b):
    return ValueError(f"{name}: shapes {a.shape} and {b.shape} are not aligned for a matrix product")


class MatMul(Function):
    """numpy ``matmul`` semantics: 1-D operands promoted, batch dimensions broadcast."""

    def forward(self, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise _mismatch("matmul", a, b)
        try:
            out = _product(a, b)
        except ValueError:
            raise _mismatch("matmul", a, b) from None
        self.a, self.b = a, b
        return out

    def backward(self, grad):
        a, b = self.a, self.b
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        batch = np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2])
        g = grad.reshape(batch + (a2.shape[-2], b2.shape[-1]))  # restore dims that 1-D operands dropped
        need_a, need_b = self.needs_input_grad
        if need_a and need_b and g.ndim == 2 and a2.ndim == 2 and b2.ndim == 2:
            ga, gb = _mm_pair(g, b2.T, a2.T, g)
            return ga.reshape(a.shape), gb.reshape(b.shape)
        ga = gb = None
        if need_a:
            ga = unbroadcast(_product(g, np.swapaxes(b2, -1, -2)), a2.shape).reshape(a.shape)
        if need_b:
            gb = unbroadcast(_product(np.swapaxes(a2, -1, -2), g), b2.shape).reshape(b.shape)
        return ga, gb


class Linear(Function):
    """``x @ w + b`` as one node: w is (in, out); x is (..., in); b, when given, is (out,)."""

    def forward(self, x, w, b=None):
        if x.ndim == 0 or w.ndim != 2 or x.shape[-1] != w.shape[0]:
            raise ValueError(
                f"linear: input shape {x.shape} does not match weight shape {w.shape} "
                "(expected input (..., in) and weight (in, out))"
            )
        if b is not None and b.shape != (w.shape[1],):
            raise ValueError(f"linear: bias shape {b.shape} does not match weight shape {w.shape}")
        out = _mm(x, w) if x.ndim == 2 else x @ w
        if b is not None:
            out += b
        self.x, self.w, self.has_bias = x, w, b is not None
        return out

    def backward(self, grad):
        x, w = self.x, self.w
        g2 = grad.reshape(-1, w.shape[1])
        need = self.needs_input_grad
        x2 = x.reshape(-1, w.shape[0])
        if need[0] and need[1] and grad.ndim == 2:  # independent: at once, on two threads
            gx, gw = _mm_pair(grad, w.T, x2.T, g2)
        else:
            gx = _product(grad, w.T) if need[0] else None
            gw = _mm(x2.T, g2) if need[1] else None
        if not self.has_bias:
            return gx, gw
        gb = g2.sum(axis=0) if need[2] else None
        return gx, gw, gb
