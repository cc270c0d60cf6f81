"""Reductions and normalisations along an axis: sum/mean, max, logsumexp, softmax, log_softmax."""
import math

import numpy as np

from ..autograd import Function
from ..kernels import softmax as K
from ..kernels import total as T


def _axes(axis, ndim):
    """Normalise ``axis`` (None, int or tuple) to a sorted tuple of non-negative axes."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for ax in axes:
        if not -ndim <= ax < max(ndim, 1):
            raise ValueError(f"axis {ax} is out of bounds for a tensor with {ndim} dimensions")
        out.append(int(ax) % max(ndim, 1))
    return tuple(sorted(set(out)))


def _count(shape, axes):
    """How many elements each output of a reduction over ``axes`` combines."""
    return math.prod(shape[i] for i in axes)


def _expand(grad, shape, axes, keepdims):
    """Broadcast a reduced gradient back to the input's shape."""
    if not keepdims:
        grad = np.expand_dims(grad, axes) if axes else grad
    return np.broadcast_to(grad, shape)


TOTAL_MIN_SIZE = 1 << 16  # a whole-array float sum of this many elements goes to kernels.total


def _whole_float(a, axes):
    """Whether a sum over ``axes`` is a large contiguous float array's total."""
    return (a.size >= TOTAL_MIN_SIZE and len(axes) == a.ndim and a.flags.c_contiguous
            and a.dtype.type in (np.float32, np.float64))


class Sum(Function):
    """Sum (or mean, with ``mean=True``) over ``axis``."""

    saves_inputs = False

    def forward(self, a, axis=None, keepdims=False, mean=False):
        self.shape, self.keepdims = a.shape, keepdims
        self.axes = _axes(axis, a.ndim) if a.ndim else ()
        if _whole_float(a, self.axes):  # float64 accumulation, twice numpy's speed
            out = np.full((1,) * a.ndim if keepdims else (), T.total(a), dtype=a.dtype)
        else:
            out = a.sum(axis=self.axes, keepdims=keepdims)
        self.scale = None
        if mean:
            count = _count(a.shape, self.axes)
            if count == 0:
                raise ValueError(f"mean: the mean over 0 elements is undefined (tensor of shape "
                                 f"{a.shape}, reduced axes {self.axes})")
            self.scale = 1.0 / count
            out = out * out.dtype.type(self.scale)
        return np.asarray(out, dtype=a.dtype)

    def backward(self, grad):
        if self.scale is not None:
            grad = grad * grad.dtype.type(self.scale)
        return _expand(grad, self.shape, self.axes, self.keepdims)


class Max(Function):
    """Maximum over ``axis``; tied maxima share the gradient evenly."""

    saves_inputs = False

    def forward(self, a, axis=None, keepdims=False):
        self.shape, self.keepdims = a.shape, keepdims
        self.axes = _axes(axis, a.ndim) if a.ndim else ()
        if _count(a.shape, self.axes) == 0:
            raise ValueError(f"max: cannot reduce over an empty axis (tensor of shape {a.shape}, "
                             f"reduced axes {self.axes}): the maximum of nothing is undefined")
        full = a.max(axis=self.axes, keepdims=True)
        self.mask = a == full
        self.count = self.mask.sum(axis=self.axes, keepdims=True)
        return full if keepdims else np.squeeze(full, axis=self.axes)

    def backward(self, grad):
        g = _expand(grad, self.shape, self.axes, self.keepdims)
        return g * self.mask / self.count.astype(g.dtype)


def _rows(a, axis):
    """View ``a`` as 2-D rows with ``axis`` last (contiguous, as the kernels want); empty
    shapes give empty rows (n, 0) or (0, k)."""
    moved = np.moveaxis(a, axis, -1)
    rows = np.ascontiguousarray(moved).reshape(math.prod(moved.shape[:-1]), moved.shape[-1])
    return rows, moved.shape


def _unrows(rows, moved_shape, axis):
    return np.moveaxis(rows.reshape(moved_shape), -1, axis)


class _AlongAxis(Function):
    """Shared plumbing for ops computed row-wise by a softmax-family kernel."""

    saves_inputs = False
    saves_output = True

    forward_kernel = backward_kernel = None

    def forward(self, a, axis=-1):
        if a.ndim == 0:
            a = a.reshape(1)
            self.scalar = True
        else:
            self.scalar = False
        self.axis = _axes(axis, a.ndim)[0]
        rows, self.moved_shape = _rows(a, self.axis)
        self.out_rows = type(self).forward_kernel(rows)
        out = _unrows(self.out_rows, self.moved_shape, self.axis)
        return out.reshape(()) if self.scalar else out

    def backward(self, grad):
        g = grad.reshape(1) if self.scalar else grad
        g_rows, _ = _rows(g.astype(self.out_rows.dtype, copy=False), self.axis)
        out = _unrows(type(self).backward_kernel(self.out_rows, g_rows), self.moved_shape, self.axis)
        return out.reshape(()) if self.scalar else out


class Softmax(_AlongAxis):
    forward_kernel = staticmethod(K.softmax_forward)
    backward_kernel = staticmethod(K.softmax_backward)


class LogSoftmax(_AlongAxis):
    forward_kernel = staticmethod(K.log_softmax_forward)
    backward_kernel = staticmethod(K.log_softmax_backward)


class LogSumExp(Function):
    """log(sum(exp(a))) over one axis (or all, with ``axis=None``), without overflow.

    The gradient is softmax(a), computed from the rows by the stable kernel: exact at any
    magnitude (``exp(a - logsumexp(a))`` loses everything once the log's digits round away).
    An empty axis gives -inf (the log of an empty sum), with a zero-size gradient.
    """

    def forward(self, a, axis=None, keepdims=False):
        self.shape, self.keepdims = a.shape, keepdims
        if axis is None or a.ndim == 0:
            if axis is not None:
                _axes(axis, 1)  # a 0-d tensor has one implicit axis: 0 or -1, as softmax
            self.axes, self.axis = tuple(range(a.ndim)), None
            self.rows = np.ascontiguousarray(a).reshape(1, a.size)
            out = K.logsumexp_forward(self.rows).reshape(())
            full = out.reshape((1,) * a.ndim)
        else:
            self.axes = _axes(axis, a.ndim)
            if len(self.axes) != 1:
                raise ValueError(f"logsumexp: axis must be None or one axis, got {axis}")
            self.axis = self.axes[0]
            self.rows, self.moved = _rows(a, self.axis)
            out = K.logsumexp_forward(self.rows).reshape(self.moved[:-1])
            full = np.expand_dims(out, self.axis)
        return full if keepdims else out

    def backward(self, grad):
        g = _expand(grad, self.shape, self.axes, self.keepdims)
        soft = K.softmax_forward(self.rows)
        if self.axis is None:
            return g * soft.reshape(self.shape)
        return g * _unrows(soft, self.moved, self.axis)
