"""Tensor: an ndarray with a gradient and a link to the op that made it."""
from __future__ import annotations

import numpy as np

import warnings

from . import autograd
from ._validation import accept_torch_names
from .autograd import is_grad_enabled
from .ops import elementwise as E
from .ops import matmul as M
from .ops import movement as V
from .ops import reduce as R
from ._validation import as_generator

_FLOATS = (np.float32, np.float64)


def as_array(data, dtype=None) -> np.ndarray:
    """Coerce ``data`` to a Tensor's ndarray: float32/float64 arrays kept, bool kept (a mask),
    everything else numeric float32."""
    if isinstance(data, Tensor):
        data = data.data
    if dtype is not None:
        dtype = np.dtype(dtype)
        if dtype.type not in _FLOATS and dtype != np.bool_:
            raise TypeError(f"Tensor dtype must be float32, float64 or bool, got {dtype}")
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
        if arr.dtype == np.bool_:
            dtype = np.bool_
        elif arr.dtype.type in _FLOATS and isinstance(data, np.ndarray):
            dtype = arr.dtype
        else:
            dtype = np.float32
    return arr.astype(dtype, copy=False)


def _rng(rng):
    """``rng`` as a Generator: the library default (``manual_seed``) when None."""
    return as_generator(rng)


def _shape(shape):
    return tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape


class Tensor:
    """An n-dimensional float array that records the ops applied to it for ``backward()``.

    Parameters
    ----------
    data : array_like
        float32/float64 ndarrays keep their dtype, bool data stays bool (a mask, never
        differentiable), anything else numeric becomes float32.
    requires_grad : bool
        Record operations on this tensor so ``backward()`` fills its ``.grad``.
    dtype : dtype, optional
        float32, float64 or bool, to cast ``data`` to.

    Attributes
    ----------
    data : np.ndarray
        The values. Assigning to it (``t.data = a``, ``t.data -= 1``) counts as a change, as do
        optimizer steps and ``load_state_dict``: a ``backward()`` through a graph that saved the
        old values then raises ``RuntimeError`` instead of giving a wrong gradient. Writes into
        the array itself (``t.data[...] = v``) are not tracked, as with PyTorch's ``.data``.
    grad : np.ndarray or None
        The accumulated gradient (same shape and dtype as ``data``) after ``backward()``.
    requires_grad : bool
        Whether operations on this tensor are recorded for ``backward()``.
    """

    __slots__ = ("_data", "grad", "requires_grad", "_ctx", "_version", "__weakref__")
    __array_ufunc__ = None  # make ndarray <op> Tensor defer to Tensor's reflected operators

    def __init__(self, data, requires_grad=False, dtype=None):
        self._data = as_array(data, dtype)
        self.grad = None
        self.requires_grad = False
        self._ctx = None
        self._version = 0
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _wrap(cls, data, requires_grad):
        """Build a Tensor around an ndarray produced by an op, skipping validation."""
        t = object.__new__(cls)
        t._data = data
        t.grad = None
        t.requires_grad = requires_grad
        t._ctx = None
        t._version = 0
        return t

    @property
    def data(self):
        """The values as an ndarray; assigning to it counts as a change (see the class doc)."""
        return self._data

    @data.setter
    def data(self, value):
        self._data = value if type(value) is np.ndarray else as_array(value)
        autograd.bump_version(self)

    def _bump_version(self):
        """Record an in-place change of ``data`` (optimizers and ``load_state_dict`` call it)."""
        autograd.bump_version(self)

    # ---------------------------------------------------------------- constructors
    @classmethod
    def zeros(cls, *shape, dtype=np.float32, requires_grad=False):
        """A tensor of zeros; ``shape`` as separate ints or one tuple."""
        return cls(np.zeros(_shape(shape), dtype=dtype), requires_grad=requires_grad)

    @classmethod
    def ones(cls, *shape, dtype=np.float32, requires_grad=False):
        """A tensor of ones; ``shape`` as separate ints or one tuple."""
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
    @accept_torch_names
    def concatenate(tensors, axis=0):
        """Join tensors (or arrays) along an existing ``axis``; the gradient splits back.

        PyTorch's name ``Tensor.cat`` and ``dim=`` work too.
        """
        tensors = [t if isinstance(t, Tensor) else Tensor(t) for t in tensors]
        if not tensors:
            raise ValueError("concatenate needs at least one tensor")
        return V.Concatenate.apply(*tensors, axis=axis)

    @staticmethod
    @accept_torch_names
    def stack(tensors, axis=0):
        """Join same-shaped tensors (or arrays) along a new ``axis``."""
        tensors = [t if isinstance(t, Tensor) else Tensor(t) for t in tensors]
        if not tensors:
            raise ValueError("stack needs at least one tensor")
        return V.Stack.apply(*tensors, axis=axis)

    # ---------------------------------------------------------------- constructors (PyTorch's set)
    cat = concatenate

    @classmethod
    def arange(cls, start, stop=None, step=1, dtype=np.float32, requires_grad=False):
        """Evenly spaced values in [start, stop) as ``np.arange``; one argument means [0, start)."""
        if stop is None:
            start, stop = 0, start
        if step == 0:
            raise ValueError("arange: step must be non-zero, got 0")
        return cls(np.arange(start, stop, step).astype(dtype), requires_grad=requires_grad)

    @classmethod
    def eye(cls, n, m=None, dtype=np.float32, requires_grad=False):
        """The (n, m) identity matrix (m defaults to n)."""
        return cls(np.eye(n, m, dtype=dtype), requires_grad=requires_grad)

    @classmethod
    def full(cls, shape, fill_value, dtype=np.float32, requires_grad=False):
        """A tensor of ``shape`` (an int or a tuple) filled with ``fill_value``."""
        return cls(np.full(shape, fill_value, dtype=dtype), requires_grad=requires_grad)

    @classmethod
    def zeros_like(cls, other, dtype=None, requires_grad=False):
        """Zeros with the shape (and, unless given, the dtype) of a Tensor or array."""
        ref = other.data if isinstance(other, Tensor) else np.asarray(other)
        return cls(np.zeros(ref.shape, dtype=dtype or _float_dtype(ref)), requires_grad=requires_grad)

    @classmethod
    def ones_like(cls, other, dtype=None, requires_grad=False):
        """Ones with the shape (and, unless given, the dtype) of a Tensor or array."""
        ref = other.data if isinstance(other, Tensor) else np.asarray(other)
        return cls(np.ones(ref.shape, dtype=dtype or _float_dtype(ref)), requires_grad=requires_grad)

    @classmethod
    def rand(cls, *shape, rng=None, dtype=np.float32, requires_grad=False):
        """Uniform samples in [0, 1); ``rng`` is a seed or a ``np.random.Generator``."""
        data = _rng(rng).random(_shape(shape)).astype(dtype)
        return cls(data, requires_grad=requires_grad)

    # ---------------------------------------------------------------- basics
    @property
    def shape(self):
        """The data's shape (a tuple of ints)."""
        return self.data.shape

    @property
    def dtype(self):
        """The data's numpy dtype: float32, float64, or bool for masks."""
        return self.data.dtype

    @property
    def ndim(self):
        """The number of axes."""
        return self.data.ndim

    @property
    def size(self):
        """The number of elements."""
        return self.data.size

    def __len__(self):
        """The length of the first axis."""
        return len(self.data)

    def numpy(self):
        """The underlying ndarray (shared, not copied)."""
        return self.data

    def item(self):
        """The value of a one-element tensor as a Python number."""
        if self.data.size != 1:
            raise ValueError(f"item() needs a tensor with one element, got shape {self.shape}")
        return self.data.item()

    def detach(self):
        """The same data, cut from the graph."""
        return Tensor._wrap(self.data, False)

    def requires_grad_(self, flag=True):
        """Set ``requires_grad`` in place and return self; only float tensors can require grad."""
        if flag and self.data.dtype.kind != "f":
            raise TypeError(f"only float tensors can require grad, this one has dtype {self.dtype} "
                            "(bool masks and integer indices are not differentiable)")
        self.requires_grad = bool(flag)
        return self

    def zero_grad(self):
        """Clear ``.grad`` (set it to None)."""
        self.grad = None

    def __repr__(self):
        body = np.array2string(self.data, precision=4, threshold=20, prefix="Tensor(")
        extra = ", requires_grad=True" if self.requires_grad else ""
        return f"Tensor({body}, dtype={self.dtype}{extra})"

    # ---------------------------------------------------------------- autodiff
    def backward(self, grad=None, retain_graph=False):
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad``, then free the graph.

        Parameters
        ----------
        grad : array, optional
            The gradient of the final result with respect to this tensor, of its shape;
            omitted for a one-element tensor (seed 1).
        retain_graph : bool
            Keep the graph, to call ``backward()`` through it again (e.g. a second loss
            sharing intermediates); a freed graph raises ``RuntimeError`` when reached.
        """
        seed = autograd.seed_grad(self, grad)
        autograd.backprop([self], [seed], retain_graph=bool(retain_graph))

    # ---------------------------------------------------------------- arithmetic
    def _lift(self, other):
        if isinstance(other, Tensor):
            return other
        dtype = self._data.dtype
        if dtype.kind != "f":  # a mask or index tensor: constants join as float32
            dtype = np.float32
        if isinstance(other, (int, float)):
            return Tensor._wrap(np.asarray(other, dtype=dtype), False)
        return Tensor._wrap(as_array(other, dtype), False)

    def __add__(self, other):
        """``self + other``, broadcasting as numpy."""
        return E.Add.apply(self, self._lift(other))

    def __radd__(self, other):
        """``other + self``."""
        return E.Add.apply(self._lift(other), self)

    def __sub__(self, other):
        """``self - other``, broadcasting as numpy."""
        return E.Sub.apply(self, self._lift(other))

    def __rsub__(self, other):
        """``other - self``."""
        return E.Sub.apply(self._lift(other), self)

    def __mul__(self, other):
        """``self * other``, broadcasting as numpy."""
        return E.Mul.apply(self, self._lift(other))

    def __rmul__(self, other):
        """``other * self``."""
        return E.Mul.apply(self._lift(other), self)

    def __truediv__(self, other):
        """``self / other``, broadcasting as numpy."""
        return E.Div.apply(self, self._lift(other))

    def __rtruediv__(self, other):
        """``other / self``."""
        return E.Div.apply(self._lift(other), self)

    def __pow__(self, other):
        """``self ** other``, broadcasting as numpy."""
        return E.Pow.apply(self, self._lift(other))

    def __rpow__(self, other):
        """``other ** self``."""
        return E.Pow.apply(self._lift(other), self)

    def __matmul__(self, other):
        """Matrix product ``self @ other`` (numpy's ``matmul`` rules, BLAS)."""
        return M.MatMul.apply(self, self._lift(other))

    def __rmatmul__(self, other):
        """``other @ self``."""
        return M.MatMul.apply(self._lift(other), self)

    def __neg__(self):
        """``-self``."""
        return E.Neg.apply(self._as_float())

    # ---------------------------------------------------------------- unary math
    def exp(self):
        """Elementwise ``e ** x``."""
        return E.Exp.apply(self._as_float())

    def log(self):
        """Elementwise natural logarithm."""
        return E.Log.apply(self._as_float())

    def sqrt(self):
        """Elementwise square root."""
        return E.Sqrt.apply(self._as_float())

    def abs(self):
        """Elementwise absolute value (gradient sign(x), 0 at 0)."""
        return E.Abs.apply(self._as_float())

    def clip(self, lo=None, hi=None):
        """Clamp to [lo, hi] (either may be None); the gradient flows only inside the bounds."""
        return E.Clip.apply(self._as_float(), lo=lo, hi=hi)

    def maximum(self, other):
        """Elementwise maximum with a Tensor, array or number; ties split the gradient."""
        return E.Maximum.apply(self, self._lift(other))

    # ---------------------------------------------------------------- activations (Numba kernels)
    def sigmoid(self):
        """Elementwise logistic function ``1 / (1 + exp(-x))``."""
        return E.Activation.apply(self, name="sigmoid")

    def tanh(self):
        """Elementwise hyperbolic tangent."""
        return E.Activation.apply(self, name="tanh")

    def relu(self):
        """Elementwise ``max(x, 0)``."""
        return E.Activation.apply(self, name="relu")

    def leaky_relu(self, slope=0.01):
        """``x`` where positive, ``slope * x`` elsewhere."""
        return E.Activation.apply(self, name="leaky_relu", param=slope)

    def elu(self, alpha=1.0):
        """``x`` where positive, ``alpha * (exp(x) - 1)`` elsewhere."""
        return E.Activation.apply(self, name="elu", param=alpha)

    def softplus(self):
        """Elementwise ``log(1 + exp(x))``, stable for any x."""
        return E.Activation.apply(self, name="softplus")

    @accept_torch_names
    def softmax(self, axis=-1):
        """exp(x) / sum(exp(x)) along ``axis`` (``dim=`` too), computed stably."""
        return R.Softmax.apply(self, axis=axis)

    @accept_torch_names
    def log_softmax(self, axis=-1):
        """x - logsumexp(x) along ``axis`` (``dim=`` too), computed stably."""
        return R.LogSoftmax.apply(self, axis=axis)

    # ---------------------------------------------------------------- reductions
    @accept_torch_names
    def sum(self, axis=None, keepdims=False):
        """Sum over ``axis`` (None: all; an int or a tuple); ``keepdims`` keeps reduced axes as 1.

        A bool mask sums as float32 (a count). PyTorch's ``dim=``/``keepdim=`` work too.
        """
        return R.Sum.apply(self._as_float(), axis=axis, keepdims=keepdims)

    @accept_torch_names
    def mean(self, axis=None, keepdims=False):
        """Mean over ``axis`` (None: all; an int or a tuple); a bool mask gives a float fraction."""
        return R.Sum.apply(self._as_float(), axis=axis, keepdims=keepdims, mean=True)

    @accept_torch_names
    def max(self, axis=None, keepdims=False):
        """Maximum over ``axis``; tied maxima share the gradient evenly (as PyTorch)."""
        return R.Max.apply(self, axis=axis, keepdims=keepdims)

    @accept_torch_names
    def logsumexp(self, axis=None, keepdims=False):
        """log(sum(exp(x))) over ``axis`` (None or one axis), without overflow."""
        return R.LogSumExp.apply(self, axis=axis, keepdims=keepdims)

    # ---------------------------------------------------------------- movement
    def reshape(self, *shape):
        """The same data in a new shape (ints or one tuple; one -1 is inferred)."""
        return V.Reshape.apply(self, shape=_shape(shape))

    def transpose(self, *axes):
        """Permute axes: no argument reverses them; a full permutation reorders them (numpy);
        exactly two axes swap those two (PyTorch's ``transpose(dim0, dim1)``, on any n-d tensor)."""
        axes = _shape(axes)
        if len(axes) == 2:
            a, b = (_axis(ax, self.ndim, "transpose") for ax in axes)
            perm = list(range(self.ndim))
            perm[a], perm[b] = perm[b], perm[a]
            axes = tuple(perm)
        return V.Transpose.apply(self, axes=axes or None)

    @property
    def T(self):
        """All axes reversed (the matrix transpose for 2-D)."""
        return V.Transpose.apply(self, axes=None)

    @accept_torch_names
    def flatten(self, start_axis=1):
        """Merge the axes from ``start_axis`` on into one (``start_dim=`` too)."""
        shape = self.shape
        start_axis = min(start_axis, max(self.ndim - 1, 0))
        merged = int(np.prod(shape[start_axis:], dtype=np.int64))  # not -1: (0, 0) is ambiguous
        return V.Reshape.apply(self, shape=tuple(shape[:start_axis]) + (merged,))

    def __getitem__(self, index):
        """numpy indexing. A Tensor index follows numpy on its values: bool values select
        (a mask), integer values gather, other floats raise ``TypeError``."""
        if isinstance(index, Tensor):
            index = V.tensor_index(index._data)
        elif type(index) is tuple and any(isinstance(i, Tensor) for i in index):
            index = tuple(V.tensor_index(i._data) if isinstance(i, Tensor) else i for i in index)
        return V.GetItem.apply(self, index=index)

    def pad(self, pad_width):
        """Zero padding, ``pad_width`` as in ``np.pad``; the gradient crops back."""
        return V.Pad.apply(self, pad_width=pad_width)


    # ---------------------------------------------------------------- comparisons (never differentiable)
    __hash__ = object.__hash__  # identity, so Tensors stay usable as dict keys and in sets

    def _compare(self, other, fn, symbol):
        if isinstance(other, Tensor):
            b = other.data
        elif isinstance(other, (int, float, np.ndarray, np.number, np.bool_, list, tuple)):
            b = other
        else:
            return NotImplemented
        try:
            out = fn(self.data, b)
        except ValueError:
            raise ValueError(f"{symbol}: shapes {self.shape} and {np.shape(b)} cannot be "
                             "broadcast together") from None
        return Tensor._wrap(np.asarray(out), False)

    def __lt__(self, other):
        """Elementwise ``self < other`` as a bool Tensor (no gradient)."""
        return self._compare(other, np.less, "<")

    def __le__(self, other):
        """Elementwise ``self <= other`` as a bool Tensor (no gradient)."""
        return self._compare(other, np.less_equal, "<=")

    def __gt__(self, other):
        """Elementwise ``self > other`` as a bool Tensor (no gradient)."""
        return self._compare(other, np.greater, ">")

    def __ge__(self, other):
        """Elementwise ``self >= other`` as a bool Tensor (no gradient)."""
        return self._compare(other, np.greater_equal, ">=")

    def __eq__(self, other):
        """Elementwise ``self == other`` as a bool Tensor (no gradient); use ``is`` for identity."""
        return self._compare(other, np.equal, "==")

    def __ne__(self, other):
        """Elementwise ``self != other`` as a bool Tensor (no gradient)."""
        return self._compare(other, np.not_equal, "!=")

    def __invert__(self):
        """Logical not of a bool mask (``~mask``)."""
        if self.data.dtype != np.bool_:
            raise TypeError(f"~ needs a bool tensor, got dtype {self.dtype}")
        return Tensor._wrap(~self.data, False)

    def __and__(self, other):
        """Elementwise logical and of bool masks (``a & b``)."""
        return self._compare(other, np.logical_and, "&")

    def __or__(self, other):
        """Elementwise logical or of bool masks (``a | b``)."""
        return self._compare(other, np.logical_or, "|")

    # ---------------------------------------------------------------- conversions
    def __bool__(self):
        """Truth value of a one-element tensor; any other size is ambiguous and raises."""
        if self.data.size != 1:
            raise ValueError(f"the truth value of a tensor with {self.data.size} elements (shape "
                             f"{self.shape}) is ambiguous; use .any(), .all() or compare an item()")
        return bool(self.data.reshape(()))

    def __float__(self):
        """``float(t)`` for a one-element tensor."""
        return float(self.item())

    def __int__(self):
        """``int(t)`` for a one-element tensor (truncates toward zero, as ``int()`` does)."""
        return int(self.item())

    def tolist(self):
        """The data as nested Python lists (a Python number for a 0-d tensor)."""
        return self.data.tolist()

    def astype(self, dtype):
        """A copy in another float dtype (float32/float64), in the graph; bool masks may be cast
        to float and back (PyTorch: ``t.float()``, ``t.double()``)."""
        dtype = np.dtype(dtype)
        if dtype.kind != "f" and dtype != np.bool_:
            raise TypeError(f"astype: Tensor dtype must be float32, float64 or bool, got {dtype}")
        if dtype == self.data.dtype:
            return self
        if dtype.kind == "f" and self.data.dtype.kind == "f":
            return E.Cast.apply(self, dtype=dtype)
        return Tensor._wrap(self.data.astype(dtype), False)

    def any(self):
        """Whether any element is non-zero, as a 0-d bool Tensor (``if t.any():`` works)."""
        return Tensor._wrap(np.asarray(self.data.any()), False)

    def all(self):
        """Whether every element is non-zero, as a 0-d bool Tensor (``if t.all():`` works)."""
        return Tensor._wrap(np.asarray(self.data.all()), False)

    def _as_float(self):
        """Self, or a float32 copy of a bool/int tensor (reductions and math need floats)."""
        if self.data.dtype.kind == "f":
            return self
        return Tensor._wrap(self.data.astype(np.float32), False)

    # ---------------------------------------------------------------- reductions (PyTorch's set)
    @accept_torch_names
    def min(self, axis=None, keepdims=False):
        """Minimum over ``axis``; tied minima share the gradient evenly (as ``max``)."""
        if self.data.dtype.kind != "f":  # masks and indices: no gradient, dtype kept (as max)
            if self.data.size == 0:
                raise ValueError(f"min: cannot reduce an empty tensor of shape {self.shape}")
            axis = tuple(axis) if isinstance(axis, list) else axis
            return Tensor._wrap(np.asarray(self.data.min(axis=axis, keepdims=keepdims)), False)
        return -((-self).max(axis=axis, keepdims=keepdims))

    @accept_torch_names
    def argmax(self, axis=None, keepdims=False):
        """Index of the largest value over ``axis`` (None: into the flattened tensor), as an int64
        Tensor without gradient; the first index wins a tie (numpy and PyTorch agree)."""
        return self._arg(np.argmax, axis, keepdims, "argmax")

    @accept_torch_names
    def argmin(self, axis=None, keepdims=False):
        """Index of the smallest value over ``axis`` (see ``argmax``)."""
        return self._arg(np.argmin, axis, keepdims, "argmin")

    def _arg(self, fn, axis, keepdims, name):
        if self.data.size == 0:
            raise ValueError(f"{name}: cannot reduce an empty tensor of shape {self.shape}")
        if axis is not None:
            axis = _axis(axis, self.ndim, name)
        out = fn(self.data, axis=axis, keepdims=bool(keepdims))
        return Tensor._wrap(np.asarray(out, dtype=np.int64), False)

    @accept_torch_names
    def var(self, axis=None, correction=1, keepdims=False):
        """Variance over ``axis``, dividing by ``n - correction`` (1 by default: unbiased, as
        PyTorch; numpy's default is 0). With ``n - correction <= 0`` the result is inf or nan,
        with a RuntimeWarning, as PyTorch."""
        x = self._as_float()
        d = x - x.mean(axis=axis, keepdims=True)
        squares = (d * d).sum(axis=axis, keepdims=keepdims)
        n = x.size // max(squares.size, 1) if x.size else 0
        dof = max(n - correction, 0)
        if dof == 0:
            # stacklevel 3: past accept_torch_names's wrapper, to the line that called var()
            warnings.warn(f"var: degrees of freedom n - correction = {n} - {correction} <= 0",
                          RuntimeWarning, stacklevel=3)
            with np.errstate(divide="ignore", invalid="ignore"):
                return squares * Tensor._wrap(np.asarray(np.inf, squares.dtype), False)
        return squares * (1.0 / dof)

    @accept_torch_names
    def std(self, axis=None, correction=1, keepdims=False):
        """Standard deviation: ``var(axis, correction, keepdims).sqrt()``."""
        return self.var(axis=axis, correction=correction, keepdims=keepdims).sqrt()

    # ---------------------------------------------------------------- shape (PyTorch's set)
    view = reshape

    @accept_torch_names
    def unsqueeze(self, axis):
        """Insert a size-1 axis at ``axis`` (negative counts from the end of the result)."""
        axis = _axis(axis, self.ndim + 1, "unsqueeze")
        shape = self.shape
        return V.Reshape.apply(self, shape=shape[:axis] + (1,) + shape[axis:])

    @accept_torch_names
    def squeeze(self, axis=None):
        """Drop size-1 axes: all of them, or those in ``axis`` (an int or a tuple). As PyTorch, a
        named axis whose size is not 1 is left alone."""
        if axis is None:
            drop = {i for i, n in enumerate(self.shape) if n == 1}
        else:
            axes = axis if isinstance(axis, (tuple, list)) else (axis,)
            drop = {a for a in (_axis(ax, self.ndim, "squeeze") for ax in axes) if self.shape[a] == 1}
        shape = tuple(n for i, n in enumerate(self.shape) if i not in drop)
        return self if shape == self.shape else V.Reshape.apply(self, shape=shape)

    def expand(self, *shape):
        """Broadcast to ``shape`` without copying (-1 keeps an axis); the gradient sums back."""
        shape = _shape(shape)
        lead = len(shape) - self.ndim
        if lead < 0:
            raise ValueError(f"expand: shape {shape} has fewer axes than the tensor's {self.shape}")
        full = tuple(self.shape[i - lead] if n == -1 and i >= lead else n for i, n in enumerate(shape))
        return V.Expand.apply(self, shape=full)

    def permute(self, *axes):
        """Reorder the axes by a full permutation (``permute(0, 2, 1)``)."""
        axes = _shape(axes)
        if len(axes) != self.ndim:
            raise ValueError(f"permute: {len(axes)} axes given for a {self.ndim}-d tensor")
        return V.Transpose.apply(self, axes=axes)

    def clone(self):
        """A copy of the data that stays in the graph (gradients flow through)."""
        return V.Clone.apply(self)

    # ---------------------------------------------------------------- more activations
    def gelu(self, approximate="none"):
        """Gaussian error linear unit ``x * Phi(x)`` (exact, with erf), or its ``"tanh"``
        approximation, both as PyTorch."""
        return E.GELU.apply(self._as_float(), approximate=approximate)

    def silu(self):
        """``x * sigmoid(x)`` (a.k.a. swish)."""
        return self * self.sigmoid()

def _axis(axis, ndim, name):
    """One axis as a non-negative int, or a ValueError naming the op."""
    if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"{name}: axis must be an int, got {axis!r}")
    if not -max(ndim, 1) <= axis < max(ndim, 1):
        raise ValueError(f"{name}: axis {axis} is out of range for {ndim} axes")
    return int(axis) % max(ndim, 1)


def _float_dtype(arr):
    return arr.dtype if arr.dtype.kind == "f" else np.float32


def where(cond, a, b):
    """``a`` where ``cond`` is true, else ``b``; all three broadcast as ``np.where``.

    Parameters
    ----------
    cond : Tensor, array or bool
        The mask (non-bool values count as ``!= 0``).
    a, b : Tensor, array or number
        The choices; the result is differentiable in both.
    """
    c = cond.data if isinstance(cond, Tensor) else np.asarray(cond)
    if c.dtype != np.bool_:
        c = c != 0
    like = a if isinstance(a, Tensor) else b if isinstance(b, Tensor) else None
    dtype = like.dtype if like is not None and like.dtype.kind == "f" else np.float32
    a = a if isinstance(a, Tensor) else Tensor._wrap(as_array(a, dtype), False)
    b = b if isinstance(b, Tensor) else Tensor._wrap(as_array(b, dtype), False)
    return E.Where.apply(Tensor._wrap(c, False), a, b)


autograd._Tensor = Tensor
__all__ = ["Tensor", "as_array", "is_grad_enabled", "where"]
