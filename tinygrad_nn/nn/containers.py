"""Sequential: layers applied one after another."""
from __future__ import annotations

from .activations import Lambda
from .module import Module

__all__ = ["Sequential"]


def _as_layer(layer, i):
    if isinstance(layer, Module):
        return layer
    if callable(layer):  # a plain Tensor -> Tensor function, e.g. F.relu
        return Lambda(layer)
    raise TypeError(f"Sequential: layer {i} is a {type(layer).__name__}, not a Module or a callable")


class Sequential(Module):
    """``Sequential(Dense(4, 8), ReLU(), Dense(8, 2))``: indexable (``seq[0]``, ``seq[1:]``),
    iterable, ``len()``-able; parameters are named ``"0.weight"``, ``"0.bias"``, ...
    Plain functions are wrapped in ``Lambda``."""

    def __init__(self, *layers):
        self._layers = [_as_layer(layer, i) for i, layer in enumerate(layers)]

    def _members(self):
        return ((str(i), layer) for i, layer in enumerate(self._layers))

    def forward(self, x):
        for layer in self._layers:
            x = layer(x)
        return x

    def append(self, layer):
        """Add a layer at the end; returns self."""
        self._layers.append(_as_layer(layer, len(self._layers)))
        return self

    def __getitem__(self, index):
        if isinstance(index, slice):
            return Sequential(*self._layers[index])
        return self._layers[index]

    def __len__(self):
        return len(self._layers)

    def __iter__(self):
        return iter(self._layers)
