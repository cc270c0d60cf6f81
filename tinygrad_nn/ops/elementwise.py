"""Elementwise ops: arithmetic with numpy broadcasting, unary math, the fused activations,
GELU, casts and ``where``."""
import numpy as np
from scipy.special import erf

from ..autograd import Function, unbroadcast
from ..kernels.activations import ACTIVATIONS


def as_float(a, partner=np.float32):
    """``a`` unchanged if float, else cast to ``partner``'s float dtype (float32 by default).

    Bool masks and integer index arrays meet floats in arithmetic (``mask * x``); the result is
    float32, or float64 when the float operand is float64.
    """
    if a.dtype.kind == "f":
        return a
    partner = np.dtype(partner)
    return a.astype(partner if partner.kind == "f" else np.float32)


class BinaryOp(Function):
    """A broadcasting binary op; subclasses give ``compute`` and ``grads``."""

    name = "binary op"

    def forward(self, a, b):
        if a.dtype.kind != "f" or b.dtype.kind != "f":  # bool masks / int indices count as float
            a, b = as_float(a, b.dtype), as_float(b, a.dtype)
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
    saves_inputs = False
    compute = staticmethod(np.add)

    def grads(self, g, need_a, need_b):
        return g, g


class Sub(BinaryOp):
    name = "sub"
    saves_inputs = False
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
    saves_output = True
    compute = staticmethod(np.divide)

    def grads(self, g, need_a, need_b):
        ga = g / self.b
        return ga, (-ga * self.out if need_b else None)


class Pow(BinaryOp):
    name = "pow"
    saves_output = True
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
    saves_inputs = False

    def forward(self, a):
        return -a

    def backward(self, grad):
        return -grad


class Exp(Function):
    saves_inputs = False
    saves_output = True

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
    saves_inputs = False
    saves_output = True

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

    saves_inputs = False

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

    saves_output = True

    def forward(self, a, name, param=0.0):
        fwd, self.bwd = ACTIVATIONS[name]
        self.a = contiguous(as_float(a))
        self.param = float(param)
        self.out = fwd(self.a, self.param)
        return self.out

    def backward(self, grad):
        return self.bwd(self.a, self.out, contiguous(grad.astype(self.a.dtype, copy=False)),
                        self.param)


class Where(Function):
    """``a`` where ``cond`` is true, else ``b`` (all three broadcast); differentiable in a and b."""

    def forward(self, cond, a, b):
        a, b = as_float(a, b.dtype), as_float(b, a.dtype)
        try:
            out = np.where(cond, a, b)
        except ValueError:
            raise ValueError(f"where: shapes {cond.shape}, {a.shape} and {b.shape} cannot be "
                             "broadcast together") from None
        self.cond, self.a_shape, self.b_shape = cond, a.shape, b.shape
        return out

    def backward(self, grad):
        _, need_a, need_b = self.needs_input_grad
        zero = grad.dtype.type(0)
        ga = unbroadcast(np.where(self.cond, grad, zero), self.a_shape) if need_a else None
        gb = unbroadcast(np.where(self.cond, zero, grad), self.b_shape) if need_b else None
        return None, ga, gb


class Cast(Function):
    """A float-to-float dtype change; the gradient is cast back to the input's dtype."""

    saves_inputs = False

    def forward(self, a, dtype):
        self.dtype = a.dtype
        return a.astype(dtype)

    def backward(self, grad):
        return grad.astype(self.dtype)


_SQRT_2_OVER_PI = float(np.sqrt(2.0 / np.pi))
_INV_SQRT_2 = float(1.0 / np.sqrt(2.0))
_INV_SQRT_2PI = float(1.0 / np.sqrt(2.0 * np.pi))


class GELU(Function):
    """``x * Phi(x)`` with Phi the normal CDF (``approximate="none"``, via erf) or PyTorch's
    tanh form ``0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))`` (``approximate="tanh"``)."""

    def forward(self, a, approximate="none"):
        if approximate not in ("none", "tanh"):
            raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.a, self.approximate = a, approximate
        if approximate == "none":
            self.cdf = (0.5 * (1.0 + erf(a * _INV_SQRT_2))).astype(a.dtype, copy=False)
            return a * self.cdf
        self.t = np.tanh(_SQRT_2_OVER_PI * (a + 0.044715 * a ** 3)).astype(a.dtype, copy=False)
        return 0.5 * a * (1.0 + self.t)

    def backward(self, grad):
        a = self.a
        if self.approximate == "none":
            pdf = np.exp(-0.5 * a * a) * a.dtype.type(_INV_SQRT_2PI)
            return grad * (self.cdf + a * pdf)
        t = self.t
        inner = _SQRT_2_OVER_PI * (1.0 + 3 * 0.044715 * a * a)
        return grad * (0.5 * (1.0 + t) + 0.5 * a * (1.0 - t * t) * inner).astype(a.dtype, copy=False)
