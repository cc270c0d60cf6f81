"""Reductions and normalisations along an axis: sum/mean, max, logsumexp, softmax, log_softmax."""
import numpy as np

from ..autograd import Function
from ..kernels import softmax as K


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


def _expand(grad, shape, axes, keepdims):
    """Broadcast a reduced gradient back to the input's shape."""
    if not keepdims:
        grad = np.expand_dims(grad, axes) if axes else grad
    return np.broadcast_to(grad, shape)


class Sum(Function):
    """Sum (or mean, with ``mean=True``) over ``axis``."""

    saves_inputs = False

    def forward(self, a, axis=None, keepdims=False, mean=False):
        self.shape, self.keepdims = a.shape, keepdims
        self.axes = _axes(axis, a.ndim) if a.ndim else ()
        out = a.sum(axis=self.axes, keepdims=keepdims)
        self.scale = None
        if mean:
            count = int(np.prod([a.shape[i] for i in self.axes]))
            self.scale = 1.0 / count if count else np.nan
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
        if a.size == 0:
            raise ValueError(f"max: cannot reduce an empty tensor of shape {a.shape}")
        self.shape, self.keepdims = a.shape, keepdims
        self.axes = _axes(axis, a.ndim) if a.ndim else ()
        full = a.max(axis=self.axes, keepdims=True)
        self.mask = a == full
        self.count = self.mask.sum(axis=self.axes, keepdims=True)
        return full if keepdims else np.squeeze(full, axis=self.axes)

    def backward(self, grad):
        g = _expand(grad, self.shape, self.axes, self.keepdims)
        return g * self.mask / self.count.astype(g.dtype)


def _rows(a, axis):
    """View ``a`` as 2-D rows with ``axis`` last (contiguous, as the kernels want)."""
    moved = np.moveaxis(a, axis, -1)
    return np.ascontiguousarray(moved).reshape(-1, a.shape[axis] if a.ndim else 1), moved.shape


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
        g_rows, _ = _rows(g, self.axis)
        out = _unrows(type(self).backward_kernel(self.out_rows, g_rows), self.moved_shape, self.axis)
        return out.reshape(()) if self.scalar else out


class Softmax(_AlongAxis):
    forward_kernel = staticmethod(K.softmax_forward)
    backward_kernel = staticmethod(K.softmax_backward)


class LogSoftmax(_AlongAxis):
    forward_kernel = staticmethod(K.log_softmax_forward)
    backward_kernel = staticmethod(K.log_softmax_backward)


class LogSumExp(Function):
    """log(sum(exp(a))) over one axis (or all, with ``axis=None``), without overflow."""

    def forward(self, a, axis=None, keepdims=False):
        self.shape, self.keepdims = a.shape, keepdims
        if axis is None:
            self.axes = tuple(range(a.ndim))
            rows = np.ascontiguousarray(a).reshape(1, -1)
            out = K.logsumexp_forward(rows).reshape(())
            full = out.reshape((1,) * a.ndim)
        else:
            self.axes = _axes(axis, a.ndim)
            if len(self.axes) != 1:
                raise ValueError(f"logsumexp: axis must be None or one axis, got {axis}")
            ax = self.axes[0]
            rows, moved = _rows(a, ax)
            out = K.logsumexp_forward(rows).reshape(moved[:-1])
            full = np.expand_dims(out, ax)
        self.a, self.full = a, full
        return full if keepdims else out

    def backward(self, grad):
        g = _expand(grad, self.shape, self.axes, self.keepdims)
        return g * np.exp(self.a - self.full)
