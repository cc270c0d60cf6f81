"""Module: the base of every layer and model, which finds its parameters from its attributes."""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..tensor import Tensor

__all__ = ["Module"]


class Module:
    """Base class for layers and models: subclass it and define ``forward``.

    Every public attribute holding a ``Tensor`` is a parameter, every one holding a ``Module`` a
    sub-module, and lists or tuples of them count too (named ``blocks.0``, ``blocks.1``, ...).
    Nothing is recorded when attributes are set: the attributes are walked, in assignment order,
    only when parameters are asked for, so building a module and calling ``forward`` cost
    nothing beyond the ops. Attributes whose name starts with ``_`` are private, never registered.
    Calling ``super().__init__()`` is allowed but not required.
    """

    training = True  # class default; train()/eval() set it per instance

    def __init_subclass__(cls, **kwargs):
        """Make ``module(x)`` *be* the class's ``forward`` (no wrapper frame per layer call),
        unless this class or a base defines its own ``__call__``."""
        super().__init_subclass__(**kwargs)
        base = super(cls, cls)
        if "forward" in cls.__dict__ and "__call__" not in cls.__dict__ \
                and base.__call__ is base.forward:
            cls.__call__ = cls.__dict__["forward"]

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    __call__ = forward

    # ---------------------------------------------------------------- discovery
    def _members(self):
        """(name, Tensor or Module) pairs this module holds directly, in registration order."""
        for name, value in self.__dict__.items():
            if name[0] == "_":
                continue
            if isinstance(value, (Tensor, Module)):
                yield name, value
            elif isinstance(value, (list, tuple)):
                for i, item in enumerate(value):
                    if isinstance(item, (Tensor, Module)):
                        yield f"{name}.{i}", item

    def _walk(self, prefix, seen):
        """Depth-first (dotted name, member) over everything below; shared objects appear once."""
        for name, value in self._members():
            if id(value) in seen:
                continue
            seen.add(id(value))
            yield prefix + name, value
            if isinstance(value, Module):
                yield from value._walk(prefix + name + ".", seen)

    def named_parameters(self):
        """[(dotted name, Tensor)] in registration order; a shared Tensor is listed once."""
        return [(n, v) for n, v in self._walk("", {id(self)}) if isinstance(v, Tensor)]

    def parameters(self):
        """All parameter Tensors, in registration order (what optimizers take)."""
        return [v for _, v in self.named_parameters()]

    def named_children(self):
        """[(name, Module)] held directly by this module."""
        return [(n, v) for n, v in self._members() if isinstance(v, Module)]

    def children(self):
        return [v for _, v in self.named_children()]

    def modules(self):
        """This module and every module below it, each once, parents first."""
        return [self] + [v for _, v in self._walk("", {id(self)}) if isinstance(v, Module)]

    # ---------------------------------------------------------------- modes and gradients
    def train(self, mode=True):
        """Set training mode (Dropout active) on this module and all below; returns self."""
        for m in self.modules():
            m.training = bool(mode)
        return self

    def eval(self):
        """Inference mode: ``train(False)``."""
        return self.train(False)

    def zero_grad(self):
        """Clear every parameter's ``.grad``."""
        for p in self.parameters():
            p.grad = None

    # ---------------------------------------------------------------- state
    def state_dict(self):
        """{dotted name: copy of the parameter's ndarray}, in registration order."""
        return {name: p.data.copy() for name, p in self.named_parameters()}

    def load_state_dict(self, state_dict):
        """Copy arrays into the parameters in place (the Tensor objects, and optimizers holding
        them, stay valid). Missing, unexpected or mis-shaped entries raise one ValueError listing
        all of them, before anything is changed. Returns self."""
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"load_state_dict expects a mapping name -> array, got "
                            f"{type(state_dict).__name__}")
        own = dict(self.named_parameters())
        given = {k: np.asarray(v.data if isinstance(v, Tensor) else v) for k, v in state_dict.items()}
        problems = []
        missing = [k for k in own if k not in given]
        unexpected = [k for k in given if k not in own]
        mismatched = [f"{k!r} expected {own[k].shape}, got {given[k].shape}"
                      for k in own if k in given and given[k].shape != own[k].shape]
        if missing:
            problems.append(f"missing keys {missing}")
        if unexpected:
            problems.append(f"unexpected keys {unexpected}")
        if mismatched:
            problems.append("shape mismatch: " + ", ".join(mismatched))
        if problems:
            raise ValueError(f"load_state_dict into {type(self).__name__}: " + "; ".join(problems))
        for name, p in own.items():
            np.copyto(p.data, given[name], casting="same_kind")
            p._bump_version()  # graphs that saved the old values must not backpropagate
        return self

    # ---------------------------------------------------------------- repr
    def extra_repr(self):
        """The configuration shown between the parentheses of ``repr``; layers override it."""
        return ""

    def __repr__(self):
        extra = self.extra_repr()
        lines = []
        for name, value in self._members():
            if isinstance(value, Module):
                lines.append(f"({name}): " + repr(value).replace("\n", "\n  "))
            elif not extra:  # a layer's extra_repr already describes its own tensors
                lines.append(f"({name}): Tensor(shape={value.shape}, dtype={value.dtype})")
        if not lines:
            return f"{type(self).__name__}({extra})"
        if extra:
            lines.insert(0, extra)
        return f"{type(self).__name__}(\n  " + "\n  ".join(lines) + "\n)"
