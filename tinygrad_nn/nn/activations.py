"""Activation layers, ``Lambda`` for any Tensor -> Tensor function, and lookup by name."""
from __future__ import annotations

from ..tensor import Tensor
from .module import Module

__all__ = ["ReLU", "Tanh", "Sigmoid", "LeakyReLU", "ELU", "Softmax", "Identity", "Lambda",
           "get_activation", "ACTIVATIONS"]


class ReLU(Module):
    def forward(self, x):
        return x.relu()


class Tanh(Module):
    def forward(self, x):
        return x.tanh()


class Sigmoid(Module):
    def forward(self, x):
        return x.sigmoid()


class Identity(Module):
    def forward(self, x):
        return x


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
    def __init__(self, axis=-1):
        self.axis = int(axis)

    def forward(self, x):
        return x.softmax(self.axis)

    def extra_repr(self):
        return f"axis={self.axis}"


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
               "sigmoid": Sigmoid, "leaky_relu": LeakyReLU, "elu": ELU, "softmax": Softmax}


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
