"""The autodiff machinery: ``Function`` nodes, the grad-mode switch, and broadcast reduction.

An op is one ``Function`` subclass with ``forward`` and ``backward`` on raw ndarrays; the
instance itself is the context that carries whatever ``forward`` saves for ``backward``.
``Function.apply`` wraps the result in a Tensor and records the node only when some input
requires a gradient and grad mode is on.
"""
from __future__ import annotations

import contextlib
import threading

import numpy as np

_state = threading.local()


def is_grad_enabled() -> bool:
    """True unless inside ``no_grad()``."""
    return getattr(_state, "enabled", True)


@contextlib.contextmanager
def no_grad():
    """Context in which operations record no graph (inference, optimizer steps)."""
    previous = is_grad_enabled()
    _state.enabled = False
    try:
        yield
    finally:
        _state.enabled = previous


def enable_grad(mode: bool = True):
    """Set grad mode globally (``no_grad`` is the scoped form)."""
    _state.enabled = bool(mode)


def unbroadcast(grad: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum ``grad`` down to ``shape``, undoing numpy broadcasting."""
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra:
        grad = grad.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    return grad.reshape(shape)


_Tensor = None  # set by tensor.py, which imports this module


class Function:
    """One differentiable op. Subclasses define ``forward(*arrays, **kw)`` and ``backward(grad)``.

    ``forward`` receives the ``.data`` of the Tensor inputs (ndarrays count as constant Tensors;
    other arguments, such as a ``None`` bias, pass through unchanged) and returns an ndarray. ``backward`` returns one gradient per Tensor input, in
    order (a bare array when there is one input); ``None`` where ``needs_input_grad`` is False.
    """

    __slots__ = ("parents", "needs_input_grad", "__dict__")

    def forward(self, *args, **kwargs):  # pragma: no cover - abstract
        raise NotImplementedError

    def backward(self, grad):  # pragma: no cover - abstract
        raise NotImplementedError

    @classmethod
    def apply(cls, *args, **kwargs):
        Tensor = _Tensor
        ctx = cls()
        if any(type(a) is np.ndarray for a in args):  # raw arrays become constants, keeping slots
            args = tuple(Tensor._wrap(a, False) if type(a) is np.ndarray else a for a in args)
        raw = [a.data if isinstance(a, Tensor) else a for a in args]
        out = ctx.forward(*raw, **kwargs)
        if not is_grad_enabled():
            return Tensor._wrap(out, False)
        parents = tuple(a for a in args if isinstance(a, Tensor))
        needs = tuple(p.requires_grad for p in parents)
        if not any(needs):
            return Tensor._wrap(out, False)
        ctx.parents = parents
        ctx.needs_input_grad = needs
        result = Tensor._wrap(out, True)
        result._ctx = ctx
        return result

    def __repr__(self):
        return f"<{type(self).__name__}>"
