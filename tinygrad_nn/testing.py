"""Gradient checking and hypothesis strategies, public for users' own property tests.

    from hypothesis import given
    from tinygrad_nn.testing import gradcheck, tensors

    @given(tensors(shape=(3, 4)))
    def test_my_op(x):
        gradcheck(lambda t: (t * t).tanh().sum(axis=0), x)
"""
from __future__ import annotations

import numpy as np

from .tensor import Tensor

__all__ = ["GradcheckError", "gradcheck", "numerical_jacobian", "shapes", "tensors",
           "broadcastable_shapes"]


class GradcheckError(AssertionError):
    """Analytic and numerical gradients disagree; the message names the input and element."""


_MAX_SPAN = 1 << 20  # elements a layout-keeping copy may span before falling back to compact


def same_layout_copy(data, dtype=np.float64):
    """A writable copy of ``data`` in ``dtype`` whose strides follow ``data``'s.

    Transposed, strided (``x[::2]``) and reversed (``x[::-1]``) views stay so, as far as the
    element sizes allow, so an op under test sees the caller's layout in ``forward`` and
    ``backward``. Broadcast (stride-0) or self-overlapping views, and views spread over more
    than a million elements, come back as compact copies in the same axis order.
    """
    data = np.asarray(data)
    itemsize = data.itemsize
    out_item = np.dtype(dtype).itemsize
    if data.ndim == 0 or data.size == 0 or any(s % itemsize for s in data.strides):
        return np.array(data, dtype=dtype, order="K")
    steps = [s // itemsize for s in data.strides]
    lo = sum((n - 1) * st for n, st in zip(data.shape, steps) if st < 0)
    hi = sum((n - 1) * st for n, st in zip(data.shape, steps) if st > 0)
    span = hi - lo + 1
    if span > max(_MAX_SPAN, data.size) or any(st == 0 and n > 1 for n, st in zip(data.shape, steps)):
        return np.array(data, dtype=dtype, order="K")
    offsets = np.lib.stride_tricks.as_strided(np.arange(lo, hi + 1)[-lo:], data.shape,
                                              [st * 8 for st in steps])
    if np.unique(offsets).size != data.size:  # overlapping view: writes would alias
        return np.array(data, dtype=dtype, order="K")
    buffer = np.zeros(span, dtype=dtype)
    out = np.lib.stride_tricks.as_strided(buffer[-lo:], data.shape, [st * out_item for st in steps])
    out[...] = data
    return out


def _as_float64_leaf(x):
    data = x.data if isinstance(x, Tensor) else np.asarray(x)
    return Tensor(same_layout_copy(data), requires_grad=True)


def _outputs(fn, inputs):
    out = fn(*inputs)
    if not isinstance(out, Tensor):
        raise TypeError(f"gradcheck: fn must return a Tensor, got {type(out).__name__}")
    return out


def numerical_jacobian(fn, inputs, eps=1e-6):
    """Central-difference Jacobians d out / d input, one (out.size, input.size) array per input."""
    jacobians = []
    for x in inputs:
        data = x.data
        n_out = _outputs(fn, inputs).data.size
        jac = np.zeros((n_out, data.size))
        for i in range(data.size):
            idx = np.unravel_index(i, data.shape) if data.ndim else ()
            orig = data[idx]
            data[idx] = orig + eps
            plus = _outputs(fn, inputs).data.reshape(-1).astype(np.float64)
            data[idx] = orig - eps
            minus = _outputs(fn, inputs).data.reshape(-1).astype(np.float64)
            data[idx] = orig
            jac[:, i] = (plus - minus) / (2 * eps)
        jacobians.append(jac)
    return jacobians


def _analytic_jacobian(fn, inputs):
    n_out = _outputs(fn, inputs).data.size
    jacobians = [np.zeros((n_out, x.data.size)) for x in inputs]
    for j in range(n_out):
        for x in inputs:
            x.grad = None
        out = _outputs(fn, inputs)
        if not out.requires_grad:
            break
        seed = np.zeros(out.data.size)
        seed[j] = 1.0
        out.backward(seed.reshape(out.shape))
        for jac, x in zip(jacobians, inputs):
            if x.grad is not None:
                if x.grad.shape != x.shape:
                    raise GradcheckError(
                        f"gradient of input {inputs.index(x)} has shape {x.grad.shape}, "
                        f"the input has shape {x.shape}"
                    )
                jac[j] = x.grad.reshape(-1)
    for x in inputs:
        x.grad = None
    return jacobians


def gradcheck(fn, *inputs, eps=1e-6, atol=1e-5, rtol=1e-3):
    """Compare ``fn``'s backward pass with float64 central differences over the full Jacobian.

    ``inputs`` are Tensors or arrays; they are copied to float64 leaves that keep each input's
    memory layout (a transposed or strided view reaches ``fn``, and so the op's ``forward`` and
    ``backward``, as such); the caller's tensors are never modified. Returns True, or raises
    ``GradcheckError`` naming the input and the worst element.
    """
    leaves = [_as_float64_leaf(x) for x in inputs]
    analytic = _analytic_jacobian(fn, leaves)
    numeric = numerical_jacobian(fn, leaves, eps=eps)
    out_shape = _outputs(fn, leaves).shape
    for k, (a, n) in enumerate(zip(analytic, numeric)):
        if not np.all(np.isfinite(n)) and not np.array_equal(np.isfinite(a), np.isfinite(n)):
            raise GradcheckError(f"input {k}: numerical gradient is not finite; is fn smooth here?")
        excess = np.abs(a - n) - (atol + rtol * np.abs(n))
        if excess.size and excess.max() > 0:
            j, i = np.unravel_index(np.argmax(excess), excess.shape)
            out_idx = [int(v) for v in np.unravel_index(j, out_shape)] if out_shape else []
            in_idx = [int(v) for v in np.unravel_index(i, leaves[k].shape)] if leaves[k].shape else []
            raise GradcheckError(
                f"gradcheck failed for input {k} (shape {leaves[k].shape}): worst element "
                f"d out{out_idx} / d input{k}{in_idx}: analytic {a[j, i]:.6g}, "
                f"numerical {n[j, i]:.6g} (|diff| {abs(a[j, i] - n[j, i]):.3g}, "
                f"allowed {atol + rtol * abs(n[j, i]):.3g})"
            )
    return True


# ---------------------------------------------------------------- hypothesis strategies
def shapes(min_dims=0, max_dims=3, min_side=0, max_side=4):
    """Array shapes, including 0-d, size-1 and (with the default ``min_side=0``) empty axes.

    Pass ``min_side=1`` for ops that reject empty input, such as ``max``.
    """
    from hypothesis.extra import numpy as hnp

    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side,
                            max_side=max_side)


def broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, min_side=0, max_side=4):
    """Tuples of ``num_shapes`` shapes that broadcast together under numpy rules, including
    0-d, size-1 and (unless ``min_side=1``) empty axes."""
    from hypothesis.extra import numpy as hnp

    return hnp.mutually_broadcastable_shapes(
        num_shapes=num_shapes, min_dims=min_dims, max_dims=max_dims, min_side=min_side,
        max_side=max_side,
    ).map(lambda b: b.input_shapes)


def tensors(shape=None, dtype=np.float64, min_value=-3.0, max_value=3.0, requires_grad=True,
            allow_noncontiguous=True, unique=False):
    """Tensors with finite values in [min_value, max_value]; ``shape`` is a tuple, a strategy or
    None (any small shape). Some draws are non-contiguous views (transposed or strided);
    ``unique=True`` gives distinct values (no ties for max/maximum)."""
    from hypothesis import strategies as st
    from hypothesis.extra import numpy as hnp

    shape_st = shapes() if shape is None else (shape if isinstance(shape, st.SearchStrategy)
                                               else st.just(tuple(shape)))
    elements = st.floats(min_value, max_value, allow_nan=False, allow_infinity=False, width=64)

    @st.composite
    def build(draw):
        shp = draw(shape_st)
        layout = draw(st.sampled_from(["c", "t", "s"])) if allow_noncontiguous and shp else "c"
        if layout == "t":  # a transposed view of the reversed shape
            arr = draw(hnp.arrays(np.float64, shp[::-1], elements=elements, unique=unique)).T
        elif layout == "s":  # every other element along the first axis
            big = (shp[0] * 2,) + tuple(shp[1:])
            arr = draw(hnp.arrays(np.float64, big, elements=elements, unique=unique))[::2]
        else:
            arr = draw(hnp.arrays(np.float64, shp, elements=elements, unique=unique))
        return Tensor(arr.astype(dtype, copy=False), requires_grad=requires_grad)

    return build()
