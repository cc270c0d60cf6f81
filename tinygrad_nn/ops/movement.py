"""Shape ops: reshape, transpose, indexing, concatenate, stack, pad, expand, clone."""
import numpy as np

from ..autograd import Function, unbroadcast


class Reshape(Function):
    saves_inputs = False

    def forward(self, a, shape):
        self.shape = a.shape
        try:
            return a.reshape(shape)
        except ValueError:
            raise ValueError(f"reshape: cannot reshape a tensor of shape {a.shape} into {shape}") from None

    def backward(self, grad):
        return grad.reshape(self.shape)


class Transpose(Function):
    saves_inputs = False

    def forward(self, a, axes=None):
        if axes is not None and sorted(int(x) % max(a.ndim, 1) for x in axes) != list(range(a.ndim)):
            raise ValueError(f"transpose: axes {axes} are not a permutation of a {a.ndim}-d tensor's axes")
        self.axes = axes
        return np.transpose(a, axes)

    def backward(self, grad):
        if self.axes is None:
            return np.transpose(grad)
        return np.transpose(grad, np.argsort([int(x) % grad.ndim for x in self.axes]))


def tensor_index(values):
    """A Tensor's values as a numpy index: bool selects, integer(-valued) gathers as intp."""
    kind = values.dtype.kind
    if kind == "b":
        return values
    if kind == "f":
        whole = np.isfinite(values) & (values == np.trunc(values))
        if not whole.all():
            bad = np.unique(values[~whole])[:5].tolist()
            raise TypeError(f"index: a Tensor used as an index must hold bool or integer values "
                            f"(a mask or positions), got {values.dtype} values such as {bad}")
    elif kind not in "iu":
        raise TypeError(f"index: a Tensor of dtype {values.dtype} cannot be used as an index")
    return values.astype(np.intp)


def _is_advanced(index):
    parts = index if isinstance(index, tuple) else (index,)
    return any(isinstance(p, (list, np.ndarray)) for p in parts)


class GetItem(Function):
    """numpy indexing; repeated integer indices accumulate their gradients."""

    saves_inputs = False

    def forward(self, a, index):
        self.shape, self.dtype, self.index = a.shape, a.dtype, index
        return a[index]

    def backward(self, grad):
        out = np.zeros(self.shape, dtype=self.dtype)
        if _is_advanced(self.index):
            np.add.at(out, self.index, grad)
        else:
            out[self.index] = grad
        return out


class Concatenate(Function):
    saves_inputs = False

    def forward(self, *arrays, axis=0):
        try:
            out = np.concatenate(arrays, axis=axis)
        except ValueError:
            shapes = ", ".join(str(a.shape) for a in arrays)
            raise ValueError(f"concatenate: shapes {shapes} do not match along axis {axis}") from None
        self.axis = axis % out.ndim
        self.splits = np.cumsum([a.shape[self.axis] for a in arrays])[:-1]
        return out

    def backward(self, grad):
        return tuple(np.split(grad, self.splits, axis=self.axis))


class Stack(Function):
    saves_inputs = False

    def forward(self, *arrays, axis=0):
        try:
            out = np.stack(arrays, axis=axis)
        except ValueError:
            shapes = ", ".join(str(a.shape) for a in arrays)
            raise ValueError(f"stack: shapes {shapes} must all be equal") from None
        self.axis = axis % out.ndim
        return out

    def backward(self, grad):
        return tuple(np.moveaxis(grad, self.axis, 0))


class Pad(Function):
    """Zero padding, ``pad_width`` as in ``np.pad``."""

    saves_inputs = False

    def forward(self, a, pad_width):
        try:
            widths = np.broadcast_to(np.asarray(pad_width, dtype=int), (a.ndim, 2))
        except ValueError:
            raise ValueError(f"pad: pad_width {pad_width} does not fit a tensor of shape {a.shape}") from None
        if (widths < 0).any():
            raise ValueError(f"pad: pad_width must be non-negative, got {pad_width}")
        self.slices = tuple(slice(lo, lo + n) for (lo, _), n in zip(widths, a.shape))
        return np.pad(a, widths) if a.ndim else a.copy()  # a 0-d tensor has no side to pad

    def backward(self, grad):
        return grad[self.slices]


class Expand(Function):
    """Broadcast to a larger ``shape`` (a read-only view); the gradient sums back over the copies."""

    saves_inputs = False

    def forward(self, a, shape):
        self.shape = a.shape
        try:
            return np.broadcast_to(a, shape)
        except ValueError:
            raise ValueError(f"expand: a tensor of shape {a.shape} cannot be expanded to {shape} "
                             "(only size-1 axes grow; new axes go in front)") from None

    def backward(self, grad):
        return unbroadcast(grad, self.shape)


class Clone(Function):
    """A copy of the data that stays in the graph (the gradient passes through unchanged)."""

    saves_inputs = False

    def forward(self, a):
        return a.copy()

    def backward(self, grad):
        return grad
