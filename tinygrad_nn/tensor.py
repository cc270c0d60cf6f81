"""Tensor: an ndarray with a gradient and a link to the op that made it."""
from __future__ import annotations

import numpy as np

from . import autograd
from .autograd import is_grad_enabled
from .ops import elementwise as E
from .ops import matmul as M
from .ops import movement as V
from .ops import reduce as R

_FLOATS = (np.float32, np.float64)


def as_array(data, dtype=None) -> np.ndarray:
    """Coerce ``data`` to a float ndarray: float32/float64 arrays kept, everything numeric else float32."""
    if isinstance(data, Tensor):
        data = data.data
    if dtype is not None:
        dtype = np.dtype(dtype)
        if dtype.type not in _FLOATS:
            raise TypeError(f"Tensor dtype must be float32 or float64, got {dtype}")
    if isinstance(data, np.ndarray) and data.dtype.type in _FLOATS:
        return data if dtype is None or data.dtype == dtype else data.astype(dtype)
    try:
        arr = np.asarray(data)
    except (ValueError, TypeError) as exc:  # ragged lists and the like
        raise TypeError(f"cannot build a Tensor from {type(data).__name__}: {exc}") from None
    if arr.dtype.kind not in "biuf":
        raise TypeError(
            f"Tensor data must be numeric (bool, int or float), got dtype {arr.dtype} "
            f"from {type(data).__name__}"
        )
    if dtype is None:
        dtype = arr.dtype if arr.dtype.type in _FLOATS and isinstance(data, np.ndarray) else np.float32
    return arr.astype(dtype, copy=False)


def _rng(rng):
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def _shape(shape):
    return tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape


class Tensor:
    """An n-dimensional float array that records the ops applied to it for ``backward()``."""

    __slots__ = ("data", "grad", "requires_grad", "_ctx", "__weakref__")
    __array_ufunc__ = None  # make ndarray <op> Tensor defer to Tensor's reflected operators

    def __init__(self, data, requires_grad=False, dtype=None):
        self.data = as_array(data, dtype)
        self.grad = None
        self.requires_grad = bool(requires_grad)
        self._ctx = None

    @classmethod
    def _wrap(cls, data, requires_grad):
        """Build a Tensor around an ndarray produced by an op, skipping validation."""
        t = object.__new__(cls)
        t.data = data
        t.grad = None
        t.requires_grad = requires_grad
        t._ctx = None
        return t

    # ---------------------------------------------------------------- constructors
    @classmethod
    def zeros(cls, *shape, dtype=np.float32, requires_grad=False):
        return cls(np.zeros(_shape(shape), dtype=dtype), requires_grad=requires_grad)

    @classmethod
    def ones(cls, *shape, dtype=np.float32, requires_grad=False):
        return cls(np.ones(_shape(shape), dtype=dtype), requires_grad=requires_grad)

    @classmethod
    def randn(cls, *shape, rng=None, dtype=np.float32, requires_grad=False):
        """Standard normal samples; ``rng`` is a seed or a ``np.random.Generator``."""
        data = _rng(rng).standard_normal(_shape(shape)).astype(dtype)
        return cls(data, requires_grad=requires_grad)

    @classmethod
    def uniform(cls, *shape, low=0.0, high=1.0, rng=None, dtype=np.float32, requires_grad=False):
        """Uniform samples in [low, high); ``rng`` is a seed or a ``np.random.Generator``."""
        data = _rng(rng).uniform(low, high, _shape(shape)).astype(dtype)
        return cls(data, requires_grad=requires_grad)

    @staticmethod
    def concatenate(tensors, axis=0):
        tensors = [t if isinstance(t, Tensor) else Tensor(t) for t in tensors]
        if not tensors:
            raise ValueError("concatenate needs at least one tensor")
        return V.Concatenate.apply(*tensors, axis=axis)

    @staticmethod
    def stack(tensors, axis=0):
        tensors = [t if isinstance(t, Tensor) else Tensor(t) for t in tensors]
        if not tensors:
            raise ValueError("stack needs at least one tensor")
        return V.Stack.apply(*tensors, axis=axis)

    # ---------------------------------------------------------------- basics
    @property
    def shape(self):
        return self.data.shape

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def ndim(self):
        return self.data.ndim

    @property
    def size(self):
        return self.data.size

    def __len__(self):
        return len(self.data)

    def numpy(self):
        return self.data

    def item(self):
        if self.data.size != 1:
            raise ValueError(f"item() needs a tensor with one element, got shape {self.shape}")
        return self.data.item()

    def detach(self):
        """The same data, cut from the graph."""
        return Tensor._wrap(self.data, False)

    def requires_grad_(self, flag=True):
        self.requires_grad = bool(flag)
        return self

    def zero_grad(self):
        self.grad = None

    def __repr__(self):
        body = np.array2string(self.data, precision=4, threshold=20, prefix="Tensor(")
        extra = ", requires_grad=True" if self.requires_grad else ""
        return f"Tensor({body}, dtype={self.dtype}{extra})"

    # ---------------------------------------------------------------- autodiff
    def backward(self, grad=None):
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad``, then free the graph."""
        if not self.requires_grad:
            raise RuntimeError(
                "backward() called on a tensor that does not require grad: no input of the "
                "computation had requires_grad=True (or it ran under no_grad())"
            )
        if grad is None:
            if self.data.size != 1:
                raise RuntimeError(
                    f"backward() without a gradient needs a scalar output, got shape {self.shape}; "
                    "pass grad= with the output's shape"
                )
            grad = np.ones_like(self.data)
        else:
            grad = as_array(grad, self.dtype)
            if grad.shape != self.shape:
                raise ValueError(
                    f"backward() grad has shape {grad.shape}, the tensor has shape {self.shape}"
                )
        grads = {id(self): grad}
        owned = {id(grad)}  # arrays someone else holds: a leaf must get its own copy
        for node in reversed(_toposort(self)):
            g = grads.pop(id(node), None)
            ctx = node._ctx
            if ctx is None:  # a leaf: accumulate, never alias another tensor's array
                if g is not None:
                    if g.base is not None or id(g) in owned or g.dtype != node.data.dtype:
                        g = g.astype(node.data.dtype, copy=True)  # views, shared or cast arrays
                    owned.add(id(g))
                    node.grad = g if node.grad is None else node.grad + g
                continue
            node._ctx = None  # free the graph as we go
            if g is None:
                continue
            parent_grads = ctx.backward(g)
            parents = ctx.parents
            if not isinstance(parent_grads, tuple):
                parent_grads = (parent_grads,)
            for parent, pg, needed in zip(parents, parent_grads, ctx.needs_input_grad):
                if needed and pg is not None:
                    key = id(parent)
                    prev = grads.get(key)
                    grads[key] = pg if prev is None else prev + pg

    # ---------------------------------------------------------------- arithmetic
    def _lift(self, other):
        if isinstance(other, Tensor):
            return other
        if isinstance(other, (int, float)):
            return Tensor._wrap(np.asarray(other, dtype=self.data.dtype), False)
        return Tensor._wrap(as_array(other, self.data.dtype), False)

    def __add__(self, other):
        return E.Add.apply(self, self._lift(other))

    def __radd__(self, other):
        return E.Add.apply(self._lift(other), self)

    def __sub__(self, other):
        return E.Sub.apply(self, self._lift(other))

    def __rsub__(self, other):
        return E.Sub.apply(self._lift(other), self)

    def __mul__(self, other):
        return E.Mul.apply(self, self._lift(other))

    def __rmul__(self, other):
        return E.Mul.apply(self._lift(other), self)

    def __truediv__(self, other):
        return E.Div.apply(self, self._lift(other))

    def __rtruediv__(self, other):
        return E.Div.apply(self._lift(other), self)

    def __pow__(self, other):
        return E.Pow.apply(self, self._lift(other))

    def __rpow__(self, other):
        return E.Pow.apply(self._lift(other), self)

    def __matmul__(self, other):
        return M.MatMul.apply(self, self._lift(other))

    def __rmatmul__(self, other):
        return M.MatMul.apply(self._lift(other), self)

    def __neg__(self):
        return E.Neg.apply(self)

    # ---------------------------------------------------------------- unary math
    def exp(self):
        return E.Exp.apply(self)

    def log(self):
        return E.Log.apply(self)

    def sqrt(self):
        return E.Sqrt.apply(self)

    def abs(self):
        return E.Abs.apply(self)

    def clip(self, lo=None, hi=None):
        return E.Clip.apply(self, lo=lo, hi=hi)

    def maximum(self, other):
        return E.Maximum.apply(self, self._lift(other))

    # ---------------------------------------------------------------- activations (Numba kernels)
    def sigmoid(self):
        return E.Activation.apply(self, name="sigmoid")

    def tanh(self):
        return E.Activation.apply(self, name="tanh")

    def relu(self):
        return E.Activation.apply(self, name="relu")

    def leaky_relu(self, slope=0.01):
        return E.Activation.apply(self, name="leaky_relu", param=slope)

    def elu(self, alpha=1.0):
        return E.Activation.apply(self, name="elu", param=alpha)

    def softplus(self):
        return E.Activation.apply(self, name="softplus")

    def softmax(self, axis=-1):
        return R.Softmax.apply(self, axis=axis)

    def log_softmax(self, axis=-1):
        return R.LogSoftmax.apply(self, axis=axis)

    # ---------------------------------------------------------------- reductions
    def sum(self, axis=None, keepdims=False):
        return R.Sum.apply(self, axis=axis, keepdims=keepdims)

    def mean(self, axis=None, keepdims=False):
        return R.Sum.apply(self, axis=axis, keepdims=keepdims, mean=True)

    def max(self, axis=None, keepdims=False):
        return R.Max.apply(self, axis=axis, keepdims=keepdims)

    def logsumexp(self, axis=None, keepdims=False):
        return R.LogSumExp.apply(self, axis=axis, keepdims=keepdims)

    # ---------------------------------------------------------------- movement
    def reshape(self, *shape):
        return V.Reshape.apply(self, shape=_shape(shape))

    def transpose(self, *axes):
        return V.Transpose.apply(self, axes=_shape(axes) or None)

    @property
    def T(self):
        return V.Transpose.apply(self, axes=None)

    def flatten(self, start_axis=1):
        shape = self.shape
        start_axis = min(start_axis, max(self.ndim - 1, 0))
        return V.Reshape.apply(self, shape=tuple(shape[:start_axis]) + (-1,))

    def __getitem__(self, index):
        if isinstance(index, Tensor):
            index = index.data.astype(np.intp)
        return V.GetItem.apply(self, index=index)

    def pad(self, pad_width):
        return V.Pad.apply(self, pad_width=pad_width)


def _toposort(root):
    """Nodes reachable from ``root`` that require grad, parents before children (iterative)."""
    order, seen, stack = [], set(), [(root, False)]
    while stack:
        node, done = stack.pop()
        if done:
            order.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))
        ctx = node._ctx
        if ctx is not None:
            for parent in ctx.parents:
                if parent.requires_grad and id(parent) not in seen:
                    stack.append((parent, False))
    return order


autograd._Tensor = Tensor
__all__ = ["Tensor", "as_array", "is_grad_enabled"]
