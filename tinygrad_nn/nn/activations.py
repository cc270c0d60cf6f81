"""Activation layers, ``Lambda`` for any Tensor -> Tensor function, and lookup by name."""
from __future__ import annotations

from .._validation import accept_torch_names, check_choice, check_real
from ..tensor import Tensor, where
from .module import Module

__all__ = ["ReLU", "Tanh", "Sigmoid", "LeakyReLU", "ELU", "GELU", "SiLU", "Softplus", "Softmax",
           "LogSoftmax", "Identity", "Lambda", "get_activation", "ACTIVATIONS"]


class ReLU(Module):
    """``max(x, 0)``."""

    def forward(self, x):
        return x.relu()


class Tanh(Module):
    """Hyperbolic tangent."""

    def forward(self, x):
        return x.tanh()


class Sigmoid(Module):
    """Logistic function ``1 / (1 + exp(-x))``."""

    def forward(self, x):
        return x.sigmoid()


class Identity(Module):
    """Returns its input; takes (and ignores) any arguments, as PyTorch's."""

    def __init__(self, *args, **kwargs):
        pass

    def forward(self, x):
        return x


class GELU(Module):
    """Gaussian error linear unit ``x * Phi(x)``: exact (erf) by default, or PyTorch's tanh
    approximation with ``approximate="tanh"``."""

    def __init__(self, approximate="none"):
        self.approximate = check_choice("approximate", approximate, ("none", "tanh"), owner="GELU")

    def forward(self, x):
        return x.gelu(self.approximate)

    def extra_repr(self):
        return "" if self.approximate == "none" else f"approximate={self.approximate!r}"


class SiLU(Module):
    """``x * sigmoid(x)`` (swish)."""

    def forward(self, x):
        return x.silu()


class Softplus(Module):
    """``log(1 + exp(beta * x)) / beta``, and ``x`` itself where ``beta * x > threshold`` (as
    PyTorch, which switches to the identity there for stability)."""

    def __init__(self, beta=1.0, threshold=20.0):
        self.beta = check_real("beta", beta, low=0.0, closed="neither", owner="Softplus")
        self.threshold = check_real("threshold", threshold, owner="Softplus")

    def forward(self, x):
        bx = x if self.beta == 1.0 else x * self.beta
        soft = bx.softplus() if self.beta == 1.0 else bx.softplus() * (1.0 / self.beta)
        return where(bx.data > self.threshold, x, soft)

    def extra_repr(self):
        return f"beta={self.beta}, threshold={self.threshold}"


class LeakyReLU(Module):
    """``x`` where positive, ``slope * x`` elsewhere."""

    def __init__(self, slope=0.01):
        self.slope = float(slope)

    def forward(self, x):
        return x.leaky_relu(self.slope)

    def extra_repr(self):
        return f"slope={self.slope}"


class ELU(Module):
    """``x`` where positive, ``alpha * (exp(x) - 1)`` elsewhere."""

    def __init__(self, alpha=1.0):
        self.alpha = float(alpha)

    def forward(self, x):
        return x.elu(self.alpha)

    def extra_repr(self):
        return f"alpha={self.alpha}"


class Softmax(Module):
    """``exp(x) / sum(exp(x))`` along ``axis`` (``dim=`` too)."""

    @accept_torch_names
    def __init__(self, axis=-1):
        self.axis = int(axis)

    def forward(self, x):
        return x.softmax(self.axis)

    def extra_repr(self):
        return f"axis={self.axis}"


class LogSoftmax(Softmax):
    """``x - logsumexp(x)`` along ``axis`` (``dim=`` too)."""

    def forward(self, x):
        return x.log_softmax(self.axis)


class Lambda(Module):
    """A layer made of any callable Tensor -> Tensor, e.g. a custom activation:
    ``Lambda(lambda x: x * x.sigmoid(), name="swish")``. Pickles when ``fn`` does."""

    def __init__(self, fn, name=None):
        if not callable(fn):
            raise TypeError(f"Lambda needs a callable Tensor -> Tensor, got {type(fn).__name__}")
        self.fn = fn
        self.name = name or getattr(fn, "__name__", type(fn).__name__)

    def forward(self, x):
        out = self.fn(x)
        if not isinstance(out, Tensor):
            raise TypeError(f"{self!r}: the function must return a Tensor, got {type(out).__name__}")
        return out

    def extra_repr(self):
        return self.name


# scikit-learn's names first ("logistic", "identity"), then the framework's own.
ACTIVATIONS = {"identity": Identity, "logistic": Sigmoid, "tanh": Tanh, "relu": ReLU,
               "sigmoid": Sigmoid, "leaky_relu": LeakyReLU, "elu": ELU, "softmax": Softmax,
               "gelu": GELU, "silu": SiLU, "softplus": Softplus}


def get_activation(spec):
    """An activation layer from a name in ``ACTIVATIONS``, a Module (returned as is) or a
    callable Tensor -> Tensor (wrapped in ``Lambda``)."""
    if isinstance(spec, Module):
        return spec
    if isinstance(spec, str):
        try:
            return ACTIVATIONS[spec.lower()]()
        except KeyError:
            raise ValueError(f"unknown activation {spec!r}; known: {sorted(ACTIVATIONS)}, "
                             "or pass a callable Tensor -> Tensor") from None
    if callable(spec):
        return Lambda(spec)
    raise TypeError(f"activation must be a name, a Module or a callable, got {type(spec).__name__}")
