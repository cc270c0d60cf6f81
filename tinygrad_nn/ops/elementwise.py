"""Elementwise ops: arithmetic with numpy broadcasting, unary math, and the fused activations."""
import numpy as np

from ..autograd import Function, unbroadcast
from ..kernels.activations import ACTIVATIONS


class BinaryOp(Function):
    """A broadcasting binary op; subclasses give ``compute`` and ``grads``."""

    name = "binary op"

    def forward(self, a, b):
        try:
            out = self.compute(a, b)
        except ValueError:
            raise ValueError(
                f"{self.name}: operand shapes {a.shape} and {b.shape} cannot be broadcast together"
            ) from None
        self.a, self.b, self.out = a, b, out
        return out

    def backward(self, grad):
        need_a, need_b = self.needs_input_grad
        ga, gb = self.grads(grad, need_a, need_b)
        return (unbroadcast(ga, self.a.shape) if need_a else None,
                unbroadcast(gb, self.b.shape) if need_b else None)


class Add(BinaryOp):
    name = "add"
    compute = staticmethod(np.add)

    def grads(self, g, need_a, need_b):
        return g, g


class Sub(BinaryOp):
    name = "sub"
    compute = staticmethod(np.subtract)

    def grads(self, g, need_a, need_b):
        return g, (-g if need_b else None)


class Mul(BinaryOp):
    name = "mul"
    compute = staticmethod(np.multiply)

    def grads(self, g, need_a, need_b):
        return (g * self.b if need_a else None), (g * self.a if need_b else None)


class Div(BinaryOp):
    name = "div"
    compute = staticmethod(np.divide)

    def grads(self, g, need_a, need_b):
        ga = g / self.b
        return ga, (-ga * self.out if need_b else None)


class Pow(BinaryOp):
    name = "pow"
    compute = staticmethod(np.power)

    def grads(self, g, need_a, need_b):
        a, b = self.a, self.b
        ga = g * b * np.power(a, b - 1) if need_a else None
        gb = None
        if need_b:
            with np.errstate(divide="ignore", invalid="ignore"):
                log_a = np.where(a > 0, np.log(np.where(a > 0, a, 1)), 0).astype(a.dtype)
            gb = g * self.out * log_a
        return ga, gb


class Maximum(BinaryOp):
    """Elementwise maximum; on ties the gradient is split evenly, as PyTorch does."""

    name = "maximum"
    compute = staticmethod(np.maximum)

    def grads(self, g, need_a, need_b):
        a, b = self.a, self.b
        share = (a > b) + 0.5 * (a == b)
        ga = g * share.astype(g.dtype) if need_a else None
        gb = g * (1 - share).astype(g.dtype) if need_b else None
        return ga, gb


class Neg(Function):
    def forward(self, a):
        return -a

    def backward(self, grad):
        return -grad


class Exp(Function):
    def forward(self, a):
        self.out = np.exp(a)
        return self.out

    def backward(self, grad):
        return grad * self.out


class Log(Function):
    def forward(self, a):
        self.a = a
        return np.log(a)

    def backward(self, grad):
        return grad / self.a


class Sqrt(Function):
    def forward(self, a):
        self.out = np.sqrt(a)
        return self.out

    def backward(self, grad):
        return grad / (2 * self.out)


class Abs(Function):
    def forward(self, a):
        self.a = a
        return np.abs(a)

    def backward(self, grad):
        return grad * np.sign(self.a)


class Clip(Function):
    """Clamp to [lo, hi]; the gradient flows where the input lies inside the bounds."""

    def forward(self, a, lo=None, hi=None):
        if lo is None and hi is None:
            raise ValueError("clip: give at least one of lo and hi")
        self.mask = np.ones(a.shape, dtype=bool)
        if lo is not None:
            self.mask &= a >= lo
        if hi is not None:
            self.mask &= a <= hi
        return np.clip(a, lo, hi).astype(a.dtype, copy=False)

    def backward(self, grad):
        return grad * self.mask


def contiguous(a):
    """C-contiguous ``a`` (0-d stays 0-d, unlike ``np.ascontiguousarray``)."""
    return a if a.flags.c_contiguous else np.array(a, order="C")


class Activation(Function):
    """A fused Numba activation from ``kernels.activations`` (sigmoid, tanh, relu, ...)."""

    def forward(self, a, name, param=0.0):
        fwd, self.bwd = ACTIVATIONS[name]
        self.a = contiguous(a)
        self.param = float(param)
        self.out = fwd(self.a, self.param)
        return self.out

    def backward(self, grad):
        return self.bwd(self.a, self.out, contiguous(grad), self.param)
