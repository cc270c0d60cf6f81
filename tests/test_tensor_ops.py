"""Every Tensor op: forward values against numpy, gradients against finite differences."""
import numpy as np
import pytest
import scipy.special as sp
from hypothesis import assume, given
from hypothesis import strategies as st

from tinygrad_nn import Tensor
from tinygrad_nn.testing import broadcastable_shapes, gradcheck, shapes, tensors


def away_from_kinks(x, points=(0.0,), margin=1e-3):
    for p in points:
        assume(np.all(np.abs(x.data - p) > margin))


def without_near_ties(*ts, gap=1e-3):
    """Finite differences cannot see a max switch between values closer than ``gap``."""
    values = np.sort(np.concatenate([t.data.reshape(-1) for t in ts]))
    assume(values.size < 2 or np.diff(values).min() > gap)


# ---------------------------------------------------------------- broadcasting binary ops
BINARY = {
    "add": (lambda a, b: a + b, np.add),
    "sub": (lambda a, b: a - b, np.subtract),
    "mul": (lambda a, b: a * b, np.multiply),
    "div": (lambda a, b: a / b, np.divide),
    "pow": (lambda a, b: a ** b, np.power),
    "maximum": (lambda a, b: a.maximum(b), np.maximum),
}


@pytest.mark.parametrize("name", sorted(BINARY))
@given(data=st.data(), pair=broadcastable_shapes())
def test_binary_ops_broadcast(name, data, pair):
    ours, ref = BINARY[name]
    lo = 0.5 if name in ("pow", "div") else -3.0
    a = data.draw(tensors(shape=pair[0], min_value=lo, unique=True))
    b = data.draw(tensors(shape=pair[1], min_value=lo, unique=True))
    if name == "maximum":
        assume(np.all(np.abs(np.subtract(a.data, b.data)) > 1e-3))
    if name == "pow":
        assume(np.all(np.abs(b.data) < 2.5) or np.all(a.data < 2))  # keep a**b moderate
    np.testing.assert_allclose(ours(a, b).data, ref(a.data, b.data), rtol=1e-12)
    gradcheck(ours, a, b)


@given(x=tensors(shape=shapes(max_dims=2), min_value=0.5))
def test_reflected_operators_with_scalars_and_arrays(x):
    arr = np.full(x.shape, 2.0)
    for expr, ref in [
        (lambda t: 2 + t, lambda v: 2 + v), (lambda t: 2 - t, lambda v: 2 - v),
        (lambda t: 3 * t, lambda v: 3 * v), (lambda t: 1 / t, lambda v: 1 / v),
        (lambda t: 2 ** t, lambda v: 2 ** v), (lambda t: arr - t, lambda v: arr - v),
        (lambda t: arr / t, lambda v: arr / v), (lambda t: -t, lambda v: -v),
        (lambda t: t ** 2, lambda v: v ** 2),
    ]:
        out = expr(x)
        assert isinstance(out, Tensor)
        np.testing.assert_allclose(out.data, ref(x.data), rtol=1e-12)
        gradcheck(expr, x)


# ---------------------------------------------------------------- unary and activations
UNARY = {
    "exp": (lambda t: t.exp(), np.exp, None),
    "log": (lambda t: t.log(), np.log, "positive"),
    "sqrt": (lambda t: t.sqrt(), np.sqrt, "positive"),
    "abs": (lambda t: t.abs(), np.abs, (0.0,)),
    "tanh": (lambda t: t.tanh(), np.tanh, None),
    "sigmoid": (lambda t: t.sigmoid(), sp.expit, None),
    "relu": (lambda t: t.relu(), lambda v: np.maximum(v, 0), (0.0,)),
    "leaky_relu": (lambda t: t.leaky_relu(0.1), lambda v: np.where(v > 0, v, 0.1 * v), (0.0,)),
    "elu": (lambda t: t.elu(0.7), lambda v: np.where(v > 0, v, 0.7 * np.expm1(v)), (0.0,)),
    "softplus": (lambda t: t.softplus(), lambda v: np.logaddexp(0, v), None),
    "clip": (lambda t: t.clip(-1.0, 0.5), lambda v: np.clip(v, -1.0, 0.5), (-1.0, 0.5)),
}


@pytest.mark.parametrize("name", sorted(UNARY))
@given(data=st.data())
def test_unary_ops(name, data):
    ours, ref, domain = UNARY[name]
    x = data.draw(tensors(min_value=0.1 if domain == "positive" else -3.0))
    if isinstance(domain, tuple):
        away_from_kinks(x, domain)
    np.testing.assert_allclose(ours(x).data, ref(x.data), rtol=1e-10, atol=1e-12)
    gradcheck(ours, x)


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "relu", "leaky_relu", "elu", "softplus"])
def test_activations_keep_float32_and_survive_extremes(name):
    ours, ref, _ = UNARY[name]
    x = Tensor(np.array([-1e4, -30.0, -1.0, 0.5, 30.0, 1e4], dtype=np.float32), requires_grad=True)
    with np.errstate(all="raise"):
        y = ours(x)
        y.sum().backward()
    assert y.dtype == np.float32 and x.grad.dtype == np.float32
    assert np.all(np.isfinite(y.data)) and np.all(np.isfinite(x.grad))
    with np.errstate(over="ignore"):
        np.testing.assert_allclose(y.data, ref(x.data.astype(np.float64)), rtol=1e-5)


# ---------------------------------------------------------------- reductions
def _axis_for(shape):
    if not shape:
        return st.just(None)
    return st.one_of(st.none(), st.integers(-len(shape), len(shape) - 1))


@pytest.mark.parametrize("name", ["sum", "mean", "max"])
@given(data=st.data(), keepdims=st.booleans())
def test_reductions(name, data, keepdims):
    x = data.draw(tensors(unique=name == "max"))
    if name == "max":  # finite differences cannot see a switch between near ties
        without_near_ties(x)
    axis = data.draw(_axis_for(x.shape))
    if name in ("mean", "max"):  # over nothing they are undefined (test_empty_reductions_raise)
        assume(np.prod([x.shape[a] for a in ([axis] if axis is not None else range(x.ndim))]) > 0)
    fn = lambda t: getattr(t, name)(axis=axis, keepdims=keepdims)  # noqa: E731
    ref = getattr(np, name)(x.data, axis=axis, keepdims=keepdims)
    np.testing.assert_allclose(fn(x).data, ref, rtol=1e-12)
    gradcheck(fn, x)


def test_sum_over_an_axis_tuple():
    x = Tensor(np.arange(24.0).reshape(2, 3, 4))
    np.testing.assert_allclose(x.sum(axis=(0, 2)).data, x.data.sum(axis=(0, 2)))
    gradcheck(lambda t: t.mean(axis=(0, 2), keepdims=True), x)


@given(data=st.data(), keepdims=st.booleans())
def test_logsumexp(data, keepdims):
    x = data.draw(tensors(min_value=-20, max_value=20))  # empty axes give -inf, as scipy
    axis = data.draw(_axis_for(x.shape))
    fn = lambda t: t.logsumexp(axis=axis, keepdims=keepdims)  # noqa: E731
    with np.errstate(divide="ignore"):  # scipy fails on some empty inputs: exact there anyway
        want = (np.log(np.exp(x.data).sum(axis=axis, keepdims=keepdims)) if x.size == 0 else
                sp.logsumexp(x.data, axis=axis, keepdims=keepdims))
    np.testing.assert_allclose(fn(x).data, want,
                               rtol=1e-12)
    gradcheck(fn, x)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@given(data=st.data())
def test_softmax_family(name, data):
    x = data.draw(tensors(shape=shapes(min_dims=1), min_value=-20, max_value=20))
    axis = data.draw(st.integers(-x.ndim, x.ndim - 1))
    fn = lambda t: getattr(t, name)(axis=axis)  # noqa: E731
    want = x.data if x.size == 0 else getattr(sp, name)(x.data, axis=axis)  # scipy fails on empty
    np.testing.assert_allclose(fn(x).data, want, rtol=1e-10,
                               atol=1e-12)
    gradcheck(fn, x)


def test_softmax_family_is_stable_for_huge_logits():
    x = Tensor(np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4]], dtype=np.float32))
    with np.errstate(all="raise"):
        s, ls, lse = x.softmax(), x.log_softmax(), x.logsumexp(axis=1)
    np.testing.assert_allclose(s.data, sp.softmax(x.data.astype(float), axis=1), atol=1e-7)
    np.testing.assert_allclose(ls.data, sp.log_softmax(x.data.astype(float), axis=1), rtol=1e-6)
    np.testing.assert_allclose(lse.data, sp.logsumexp(x.data.astype(float), axis=1), rtol=1e-6)


# ---------------------------------------------------------------- matmul
@given(data=st.data())
def test_matmul_shapes(data):
    kind = data.draw(st.sampled_from(["mm", "mv", "vm", "vv", "batched"]))
    n, k, m = data.draw(st.tuples(*[st.integers(1, 4)] * 3))
    shape_a, shape_b = {
        "mm": ((n, k), (k, m)), "mv": ((n, k), (k,)), "vm": ((k,), (k, m)), "vv": ((k,), (k,)),
        "batched": ((2, 1, n, k), (3, k, m)),
    }[kind]
    a = data.draw(tensors(shape=shape_a))
    b = data.draw(tensors(shape=shape_b))
    np.testing.assert_allclose((a @ b).data, a.data @ b.data, rtol=1e-12)
    gradcheck(lambda u, v: u @ v, a, b)


# ---------------------------------------------------------------- movement
@given(x=tensors(shape=shapes(min_dims=1)))
def test_reshape_flatten_transpose(x):
    gradcheck(lambda t: t.reshape(-1), x)
    gradcheck(lambda t: t.flatten(), x)
    gradcheck(lambda t: t.T, x)
    axes = tuple(reversed(range(x.ndim)))
    np.testing.assert_array_equal(x.transpose(*axes).data, np.transpose(x.data, axes))
    np.testing.assert_array_equal(x.flatten(0).data, x.data.reshape(-1))


@given(x=tensors(shape=shapes(min_dims=1, min_side=2)), data=st.data())
def test_getitem_slices_and_integer_arrays(x, data):
    idx = data.draw(st.lists(st.integers(0, x.shape[0] - 1), min_size=1, max_size=5))
    for index in [slice(None, None, 2), (slice(1, None), Ellipsis), np.array(idx), 0, -1]:
        np.testing.assert_array_equal(x[index].data, x.data[index])
        gradcheck(lambda t, i=index: t[i], x)


def test_getitem_repeated_indices_accumulate():
    x = Tensor(np.arange(3.0), requires_grad=True)
    x[[0, 0, 2]].sum().backward()
    np.testing.assert_array_equal(x.grad, [2.0, 0.0, 1.0])


@given(data=st.data(), n=st.integers(1, 3))
def test_concatenate_and_stack(data, n):
    shape = data.draw(shapes(min_dims=1, max_dims=3))
    ts = [data.draw(tensors(shape=shape)) for _ in range(n)]
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    np.testing.assert_array_equal(Tensor.concatenate(ts, axis=axis).data,
                                  np.concatenate([t.data for t in ts], axis=axis))
    gradcheck(lambda *a: Tensor.concatenate(list(a), axis=axis), *ts)
    np.testing.assert_array_equal(Tensor.stack(ts, axis=axis).data,
                                  np.stack([t.data for t in ts], axis=axis))
    gradcheck(lambda *a: Tensor.stack(list(a), axis=axis), *ts)


@given(x=tensors(shape=shapes(min_dims=1)), width=st.integers(0, 2))
def test_pad(x, width):
    np.testing.assert_array_equal(x.pad(width).data, np.pad(x.data, width))
    gradcheck(lambda t: t.pad(width), x)
    pairs = tuple((i % 2, (i + 1) % 3) for i in range(x.ndim))
    np.testing.assert_array_equal(x.pad(pairs).data, np.pad(x.data, pairs))
    gradcheck(lambda t: t.pad(pairs), x)


# ---------------------------------------------------------------- composite
@given(x=tensors(shape=(3, 4)), w=tensors(shape=(4, 2)), b=tensors(shape=(2,)))
def test_composite_expression(x, w, b):
    fn = lambda x, w, b: ((x @ w + b).tanh() * 2 - x.sum(axis=1, keepdims=True)).log_softmax().mean()  # noqa
    gradcheck(fn, x, w, b)


# ---------------------------------------------------------------- 0-d, size-1 and empty shapes
EDGE_SHAPES = [(), (1,), (1, 1), (0,), (3, 0), (0, 2)]
EDGE_OPS = {  # every op, on any shape (axis -1 where there is one)
    **{name: fn for name, (fn, _, _) in UNARY.items()},
    "add": lambda t: t + t * 2, "sub": lambda t: 1 - t, "mul": lambda t: t * t,
    "div": lambda t: t / (t * t + 1), "pow": lambda t: (t * t + 1) ** 1.5,
    "maximum": lambda t: t.maximum(t * 0.5),
    "sum": lambda t: t.sum(), "sum_keep": lambda t: t.sum(axis=-1, keepdims=True),
    "mean_axis": lambda t: t.mean() if t.ndim == 0 else t.mean(axis=-1 if t.shape[-1] else 0),
    "max_axis": lambda t: t.max(axis=-1) if t.ndim == 0 or t.shape[-1] else t.max(axis=0),
    "logsumexp": lambda t: t.logsumexp(), "logsumexp_axis": lambda t: t.logsumexp(axis=-1),
    "softmax": lambda t: t.softmax(), "log_softmax": lambda t: t.log_softmax(),
    "reshape": lambda t: t.reshape(-1), "flatten": lambda t: t.flatten(0),
    "transpose": lambda t: t.T, "getitem": lambda t: t[...],
    "concatenate": lambda t: Tensor.concatenate([t.reshape(-1), t.reshape(-1)]),
    "stack": lambda t: Tensor.stack([t, t]), "pad": lambda t: t.pad(1),
    "matmul": lambda t: t.reshape(-1, 1) @ Tensor(np.ones((1, 2))),
}


@pytest.mark.parametrize("shape", EDGE_SHAPES, ids=str)
@pytest.mark.parametrize("name", sorted(EDGE_OPS))
def test_every_op_takes_0d_size1_and_empty_shapes(name, shape):
    if name == "max_axis" and 0 in shape and len(shape) == 1:
        pytest.skip("the maximum of nothing: test_empty_reductions_raise")
    if name == "mean_axis" and shape == (0,):
        pytest.skip("the mean of nothing: test_empty_reductions_raise")
    values = np.linspace(0.2, 1.7, int(np.prod(shape))).reshape(shape)  # positive: log and sqrt
    x = Tensor(values, requires_grad=True)
    out = EDGE_OPS[name](x)
    assert np.all(np.isfinite(out.data) | (name.startswith("logsumexp") and out.data == -np.inf))
    gradcheck(EDGE_OPS[name], x)


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "relu", "leaky_relu", "elu", "softplus"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_activation_backward_on_0d_tensors(name, dtype):
    """A 0-d product hands numpy scalars around: the kernels must still get arrays."""
    ours, ref, _ = UNARY[name]
    x = Tensor(np.array(0.7, dtype), requires_grad=True)
    y = x * ours(x * 1.0)
    y.backward()
    assert x.grad.shape == () and x.grad.dtype == dtype
    gradcheck(lambda t: t * ours(t * 1.0), x)


def test_empty_reductions_raise():
    empty = Tensor(np.zeros((0, 3)), requires_grad=True)
    with pytest.raises(ValueError, match=r"mean: the mean over 0 elements is undefined .*\(0, 3\)"):
        empty.mean()
    with pytest.raises(ValueError, match=r"mean: the mean over 0 elements"):
        empty.mean(axis=0)
    assert empty.mean(axis=1).shape == (0,)  # a mean over 3 elements, for each of 0 rows
    with pytest.raises(ValueError, match=r"max: cannot reduce over an empty axis .*\(0, 3\)"):
        empty.max()
    assert empty.max(axis=1).shape == (0,)
    import tinygrad_nn.functional as F

    with pytest.raises(ValueError, match=r"mse_loss: the mean over an empty input is undefined"):
        F.mse_loss(empty, np.zeros((0, 3)))


@pytest.mark.parametrize("name", ["softmax", "log_softmax", "logsumexp"])
@pytest.mark.parametrize("shape, axis", [((3, 0), 1), ((3, 0), -1), ((0, 4), 1), ((2, 0, 3), 1)])
def test_softmax_family_over_an_empty_axis(name, shape, axis):
    x = Tensor(np.zeros(shape, np.float32), requires_grad=True)
    y = getattr(x, name)(axis=axis)
    if name == "logsumexp":  # the log of an empty sum, as scipy and PyTorch
        with np.errstate(divide="ignore"):
            np.testing.assert_array_equal(y.data, np.log(np.exp(x.data).sum(axis=axis)))
    else:
        assert y.shape == shape and y.dtype == np.float32
    y.backward(np.ones(y.shape, np.float32))
    assert x.grad.shape == shape


# ---------------------------------------------------------------- logsumexp at any magnitude
@pytest.mark.parametrize("dtype, scale", [(np.float32, 1e8), (np.float32, 3e38),
                                          (np.float64, 1e17), (np.float64, 1e300)])
@pytest.mark.parametrize("axis", [None, 0, 1])
def test_logsumexp_gradient_is_exact_at_any_magnitude(dtype, scale, axis):
    x = Tensor(np.full((3, 3), scale, dtype), requires_grad=True)
    y = x.logsumexp(axis=axis)
    y.backward(np.ones(y.shape, dtype))  # not .sum(): 3 * 3e38 overflows float32
    want = 1 / 9 if axis is None else 1 / 3
    np.testing.assert_allclose(x.grad, np.full((3, 3), want), rtol=4 * np.finfo(dtype).eps)


@given(x=tensors(shape=shapes(min_dims=1, min_side=1), min_value=-5, max_value=5),
       offset=st.sampled_from([0.0, 1e6, -1e9, 1e15]))
def test_logsumexp_gradient_is_softmax_after_any_shift(x, offset):
    shifted = Tensor(x.data + offset, requires_grad=True)
    shifted.logsumexp(axis=-1).sum().backward()
    np.testing.assert_allclose(shifted.grad, sp.softmax(shifted.data, axis=-1), rtol=1e-9,
                               atol=1e-12)


# ---------------------------------------------------------------- indexing with a Tensor
@given(x=tensors(shape=shapes(min_dims=1)), data=st.data())
def test_bool_tensor_index_selects_like_numpy(x, data):
    from hypothesis.extra import numpy as hnp

    mask = data.draw(hnp.arrays(np.bool_, x.shape))
    m = Tensor(mask)
    assert m.dtype == np.bool_
    np.testing.assert_array_equal(x[m].data, x.data[mask])
    gradcheck(lambda t: t[m], x)
    first = data.draw(hnp.arrays(np.bool_, x.shape[:1]))
    np.testing.assert_array_equal(x[Tensor(first)].data, x.data[first])  # a mask on axis 0
    gradcheck(lambda t: t[Tensor(first)], x)


@given(x=tensors(shape=shapes(min_dims=1, min_side=1)), data=st.data())
def test_integer_valued_tensor_index_gathers(x, data):
    idx = data.draw(st.lists(st.integers(-x.shape[0], x.shape[0] - 1), max_size=6))
    for index in [Tensor(idx), Tensor(np.array(idx, np.int64)),
                  (Tensor(idx), Ellipsis), (slice(None), Tensor(np.zeros(2)))[:1 + (x.ndim > 1)]]:
        want = x.data[tuple(np.asarray(i.data, np.intp) if isinstance(i, Tensor) else i
                            for i in (index if isinstance(index, tuple) else (index,)))]
        np.testing.assert_array_equal(x[index].data, want)
        gradcheck(lambda t, i=index: t[i], x)  # repeated positions accumulate


@pytest.mark.parametrize("bad", [[0.5], [1.0, 2.5], [np.nan], [np.inf]])
def test_float_tensor_index_raises_type_error(bad):
    x = Tensor(np.arange(4.0), requires_grad=True)
    with pytest.raises(TypeError, match=r"index: a Tensor used as an index must hold bool or "
                                        r"integer values"):
        x[Tensor(bad)]
    with pytest.raises(TypeError, match="index: a Tensor used as an index"):
        x[(Tensor(bad),)]


# ---------------------------------------------------------------- kernel entry checks
def _kernel_calls():
    from tinygrad_nn.kernels import softmax as K
    from tinygrad_nn.kernels.activations import ACTIVATIONS

    f32, f64 = np.ones((2, 3), np.float32), np.ones((2, 3))
    fwd, bwd = ACTIVATIONS["tanh"]
    target = np.array([0, 2], np.int64)
    return [
        (lambda: fwd(np.float64(1.0), 0.0), TypeError, r"tanh forward: x must be an ndarray"),
        (lambda: fwd(np.ones(3, np.int64), 0.0), TypeError, r"x must be float32 or float64"),
        (lambda: fwd(f64.T, 0.0), ValueError, r"tanh forward: x must be C-contiguous"),
        (lambda: bwd(f32, f32, np.ones((3, 2), np.float32), 0.0), ValueError,
         r"tanh backward: grad has shape \(3, 2\), x has shape \(2, 3\)"),
        (lambda: bwd(f32, f32, f64, 0.0), TypeError, r"grad has dtype float64, expected float32"),
        (lambda: K.softmax_forward(np.ones(3)), ValueError, r"softmax_forward: x must be 2-D"),
        (lambda: K.softmax_backward(f64, np.ones((2, 4))), ValueError,
         r"softmax_backward: grad has shape \(2, 4\), y has shape \(2, 3\)"),
        (lambda: K.log_softmax_backward(f64, f32), TypeError, r"grad has dtype float32"),
        (lambda: K.logsumexp_forward(f64[:, ::2]), ValueError, r"must be C-contiguous"),
        (lambda: K.cross_entropy_forward(f64, np.array([0, 3], np.int64)), ValueError,
         r"cross_entropy_forward: target values \[3\] are out of range \[0, 3\)"),
        (lambda: K.cross_entropy_forward(f64, np.array([-1, 0], np.int64)), ValueError,
         r"target values \[-1\] are out of range"),
        (lambda: K.cross_entropy_forward(f64, np.array([0, 1, 2], np.int64)), ValueError,
         r"target has shape \(3,\), expected \(2,\)"),
        (lambda: K.cross_entropy_forward(f64, target.astype(np.int32)), TypeError,
         r"target must be an int64 ndarray, got int32"),
        (lambda: K.cross_entropy_backward(f64, target, np.ones(3)), ValueError,
         r"cross_entropy_backward: grad has shape \(3,\), expected \(2,\)"),
    ]


@pytest.mark.parametrize("case", range(14))
def test_kernels_check_shapes_before_running(case):
    call, error, match = _kernel_calls()[case]
    with pytest.raises(error, match=match):
        call()


def test_mixed_precision_gradients_reach_the_kernels_in_their_dtype():
    x = Tensor(np.array([[0.3, -0.2]], np.float32), requires_grad=True)
    w = Tensor(np.array([[2.0, 3.0]]), requires_grad=True)  # float64: promotes the product
    ((x.tanh() * w).sum() + (x.softmax() * w).sum() + (x.logsumexp(axis=1) * w).sum()).backward()
    assert x.grad.dtype == np.float32
    t = np.tanh(x.data.astype(float))
    s = sp.softmax(x.data.astype(float), axis=1)
    want = w.data * (1 - t * t) + s * (w.data - (w.data * s).sum()) + s * w.data.sum()
    np.testing.assert_allclose(x.grad, want, rtol=1e-5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_large_whole_sum_is_the_float64_total(monkeypatch, dtype):
    """From TOTAL_MIN_SIZE elements a whole-array sum (and mean) of a contiguous float array is
    accumulated in float64 (kernels.total): closer to the exact sum than numpy's float32
    pairwise sum, in the input's dtype, with keepdims and the gradient of any sum."""
    import math
    from tinygrad_nn.ops import reduce as R
    monkeypatch.setattr(R, "TOTAL_MIN_SIZE", 100)
    a = (np.random.default_rng(0).standard_normal((10, 11)) * 1e3 + 1e4).astype(dtype)
    exact = math.fsum(a.astype(np.float64).ravel())
    t = Tensor(a, requires_grad=True)
    s = t.sum()
    assert s.dtype == dtype and s.shape == ()
    assert s.item() == np.asarray(exact, dtype).item()  # the exact sum, rounded once
    assert t.sum(keepdims=True).shape == (1, 1)
    assert t.mean().item() == pytest.approx(exact / a.size, rel=1e-6)
    s.backward()
    np.testing.assert_array_equal(t.grad, np.ones_like(a))
    assert R._whole_float(a, (0, 1)) and not R._whole_float(a, (0,))
    assert not R._whole_float(a[:, ::2], (0, 1)) and not R._whole_float(a[:5, :5], (0, 1))
