"""Module: the base of every layer and model, which finds its parameters from its attributes."""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..tensor import Tensor

__all__ = ["Module"]


class Module:
    """Base class for layers and models: subclass it and define ``forward``.

    Every public attribute holding a ``Tensor`` is state and every one holding a ``Module`` a
    sub-module; lists, tuples and dicts of them count too (named ``blocks.0``, ``heads.a``, ...).
    A Tensor with ``requires_grad=True`` is a *parameter* (``parameters()``, trained by the
    optimizers); one with ``requires_grad=False`` is not trained. Non-trained state that must be
    saved (running statistics, counters) is declared with ``register_buffer``; ``state_dict``
    holds every Tensor: parameters, frozen parameters and buffers.
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
            elif isinstance(value, Mapping):
                for key, item in value.items():
                    if isinstance(item, (Tensor, Module)):
                        yield f"{name}.{key}", item

    def _walk(self, prefix, seen):
        """Depth-first (dotted name, member) over everything below; shared objects appear once."""
        for name, value in self._members():
            if id(value) in seen:
                continue
            seen.add(id(value))
            yield prefix + name, value
            if isinstance(value, Module):
                yield from value._walk(prefix + name + ".", seen)

    def _named_tensors(self):
        """[(dotted name, Tensor)] for every Tensor below: parameters, frozen ones and buffers."""
        return [(n, v) for n, v in self._walk("", {id(self)}) if isinstance(v, Tensor)]

    def named_parameters(self):
        """[(dotted name, Tensor)] of the Tensors with ``requires_grad=True``, in registration
        order; a shared Tensor is listed once."""
        return [(n, v) for n, v in self._named_tensors() if v.requires_grad]

    def parameters(self):
        """All parameter Tensors, in registration order (what optimizers take)."""
        return [v for _, v in self.named_parameters()]

    def _buffer_ids(self):
        return {id(getattr(m, name)) for m in self.modules()
                for name in m.__dict__.get("_buffer_names", ()) if name in m.__dict__}

    def register_buffer(self, name, value):
        """Hold ``value`` (an array or a Tensor, dtype kept: float, int or bool) as the attribute
        ``name``: saved in ``state_dict`` and loaded back, moved by nothing, never trained.

        Returns the buffer Tensor. Assigning a new Tensor to the attribute later keeps it a
        buffer.
        """
        if not isinstance(name, str) or not name.isidentifier() or name[0] == "_":
            raise ValueError(f"register_buffer: name must be a public identifier, got {name!r}")
        if name in self.__dict__ and name not in self.__dict__.get("_buffer_names", ()):
            raise KeyError(f"register_buffer: attribute {name!r} already exists on "
                           f"{type(self).__name__}")
        if isinstance(value, Tensor):
            if value.requires_grad:
                raise ValueError(f"register_buffer: {name!r} requires grad; a buffer is not "
                                 "trained (assign it as an attribute to make a parameter)")
            tensor = value
        else:
            arr = np.array(value)
            if arr.dtype.kind not in "biuf":
                raise TypeError(f"register_buffer: {name!r} must be numeric, got dtype {arr.dtype}")
            tensor = Tensor._wrap(arr, False)
        self.__dict__.setdefault("_buffer_names", [])
        if name not in self._buffer_names:
            self._buffer_names.append(name)
        self.__dict__[name] = tensor
        return tensor

    def named_buffers(self):
        """[(dotted name, Tensor)] of the buffers below (see ``register_buffer``)."""
        ids = self._buffer_ids()
        return [(n, v) for n, v in self._named_tensors() if id(v) in ids]

    def buffers(self):
        """The buffer Tensors below, in registration order."""
        return [v for _, v in self.named_buffers()]

    def named_children(self):
        """[(name, Module)] held directly by this module."""
        return [(n, v) for n, v in self._members() if isinstance(v, Module)]

    def children(self):
        """The modules held directly by this module."""
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

    def requires_grad_(self, flag=True):
        """Freeze (``False``) or unfreeze every float Tensor below except buffers; returns self.

        Frozen Tensors leave ``parameters()`` (optimizers built afterwards skip them) but stay in
        ``state_dict``.
        """
        buffers = self._buffer_ids()
        for _, t in self._named_tensors():
            if id(t) not in buffers and t.dtype.kind == "f":
                t.requires_grad_(bool(flag))
        return self

    def apply(self, fn):
        """Call ``fn(module)`` on every module below, each once, children before their parent
        (PyTorch's order), then on self, e.g. to re-initialise weights; returns self."""
        if not callable(fn):
            raise TypeError(f"apply needs a callable Module -> None, got {type(fn).__name__}")
        seen = {id(self)}

        def visit(module):
            for child in module.children():
                if id(child) not in seen:
                    seen.add(id(child))
                    visit(child)
            fn(module)

        visit(self)
        return self

    # ---------------------------------------------------------------- state
    def state_dict(self):
        """{dotted name: copy of the ndarray} for every Tensor below (parameters, frozen
        parameters, buffers), in registration order."""
        return {name: p.data.copy() for name, p in self._named_tensors()}

    def load_state_dict(self, state_dict, strict=True):
        """Copy arrays into this module's Tensors in place (the Tensor objects, and optimizers
        holding them, stay valid). Atomic: every entry is validated and cast first, and any
        missing, unexpected, mis-shaped or un-castable entry raises one error listing all of
        them with nothing changed. ``strict=False`` ignores missing and unexpected keys.
        Returns self."""
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"load_state_dict expects a mapping name -> array, got "
                            f"{type(state_dict).__name__}")
        own = dict(self._named_tensors())
        given, problems, bad = {}, [], []
        for k, v in state_dict.items():
            try:
                given[k] = np.asarray(v.data if isinstance(v, Tensor) else v)
            except (ValueError, TypeError) as exc:
                bad.append(f"{k!r} is not an array ({exc})")
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        mismatched = [f"{k!r} expected {own[k].shape}, got {given[k].shape}"
                      for k in own if k in given and given[k].shape != own[k].shape]
        bad += [f"{k!r} has dtype {given[k].dtype}, which cannot become {own[k].dtype}"
                for k in own if k in given and given[k].shape == own[k].shape
                and not np.can_cast(given[k].dtype, own[k].dtype, "same_kind")]
        if missing and strict:
            problems.append(f"missing keys {missing}")
        if unexpected and strict:
            problems.append(f"unexpected keys {unexpected}")
        if mismatched:
            problems.append("shape mismatch: " + ", ".join(mismatched))
        if bad:
            problems.append("bad values: " + ", ".join(bad))
        if problems:
            raise ValueError(f"load_state_dict into {type(self).__name__}: " + "; ".join(problems))
        cast = {k: given[k].astype(p.dtype, copy=False) for k, p in own.items() if k in given}
        for name, arr in cast.items():  # nothing below can fail: shapes and dtypes checked
            t = own[name]
            np.copyto(t.data, arr)
            t._bump_version()  # graphs that saved the old values must not backpropagate
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
