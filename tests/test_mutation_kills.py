"""Tests written to kill mutants that survived ``make mutation`` (see docs/mutation.md).

Each pins behaviour the rest of the suite left loose: the exact wording of an error (anchored, so
an edited message fails), an edge case of an input check, or a value a mutated branch would change.
"""
import numpy as np
import pytest

import tinygrad_nn as tn
import tinygrad_nn.functional as F
from tinygrad_nn.testing import gradcheck


# ---------------------------------------------------------------- ops/matmul.py
def test_matmul_mismatch_message_is_exact():
    a, b = tn.Tensor(np.ones((2, 3))), tn.Tensor(np.ones((4, 5)))
    with pytest.raises(ValueError, match=r"^matmul: shapes \(2, 3\) and \(4, 5\) are not aligned "
                                         r"for a matrix product$"):
        a @ b
    with pytest.raises(ValueError, match=r"^matmul: shapes \(\) and \(3,\) are not aligned"):
        tn.Tensor(np.float64(2.0)) @ tn.Tensor(np.ones(3))


def test_linear_messages_are_exact():
    x, w = np.ones((4, 3)), np.ones((3, 2))
    with pytest.raises(ValueError, match=r"^linear: input shape \(4, 2\) does not match weight shape "
                                         r"\(3, 2\) \(expected input \(\.\.\., in\) and weight "
                                         r"\(in, out\)\)$"):
        F.linear(tn.Tensor(np.ones((4, 2))), tn.Tensor(w))
    with pytest.raises(ValueError, match=r"^linear: bias shape \(3,\) does not match weight shape "
                                         r"\(3, 2\)$"):
        F.linear(tn.Tensor(x), tn.Tensor(w), tn.Tensor(np.ones(3)))
    with pytest.raises(ValueError, match=r"^linear: input shape \(\) does not match"):
        F.linear(tn.Tensor(np.float64(1.0)), tn.Tensor(w))
    with pytest.raises(ValueError, match=r"^linear: input shape \(4, 3\) does not match weight shape "
                                         r"\(3, 2, 1\)"):
        F.linear(tn.Tensor(x), tn.Tensor(np.ones((3, 2, 1))))


@pytest.mark.parametrize("bias", [False, True])
def test_linear_on_a_single_vector_matches_numpy_and_gradchecks(bias):
    rng = np.random.default_rng(0)
    x, w, b = rng.normal(size=3), rng.normal(size=(3, 2)), rng.normal(size=2)
    args = (x, w, b) if bias else (x, w)
    out = F.linear(*(tn.Tensor(a) for a in args))
    np.testing.assert_allclose(out.data, x @ w + (b if bias else 0), rtol=1e-12)
    assert gradcheck(lambda *t: F.linear(*t), *args)


def test_2d_products_go_through_threads_matmul(monkeypatch):
    """2-D operands use threads.matmul (forward) and threads.matmul_pair (both gradients),
    which follow tn.set_num_threads; batched ones use numpy's @."""
    import tinygrad_nn.ops.matmul as M
    calls = []
    real, real_pair = M._mm, M._mm_pair

    def spy(a, b):
        calls.append((a.shape, b.shape))
        return real(a, b)

    def spy_pair(a1, b1, a2, b2):
        calls.append(((a1.shape, b1.shape), (a2.shape, b2.shape)))
        return real_pair(a1, b1, a2, b2)

    monkeypatch.setattr(M, "_mm", spy)
    monkeypatch.setattr(M, "_mm_pair", spy_pair)
    rng = np.random.default_rng(1)
    a, b = tn.Tensor(rng.normal(size=(2, 3)), requires_grad=True), tn.Tensor(rng.normal(size=(3, 4)),
                                                                           requires_grad=True)
    (a @ b).sum().backward()
    assert calls == [((2, 3), (3, 4)), (((2, 4), (4, 3)), ((3, 2), (2, 4)))]
    np.testing.assert_allclose(a.grad, np.ones((2, 4)) @ b.data.T)
    np.testing.assert_allclose(b.grad, a.data.T @ np.ones((2, 4)))
    calls.clear()
    tn.Tensor(rng.normal(size=(5, 2, 3))) @ tn.Tensor(rng.normal(size=(3, 4)))
    assert calls == []


# ---------------------------------------------------------------- ops/conv.py
def _correlate(x, w, b):
    """Direct float64 cross-correlation, stride 1, no padding: the reference."""
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    out = np.zeros((n, o, h - kh + 1, wd - kw + 1))
    for i in range(out.shape[2]):
        for j in range(out.shape[3]):
            out[:, :, i, j] = np.einsum("nchw,ochw->no", x[:, :, i:i + kh, j:j + kw], w)
    return out + (0 if b is None else b[None, :, None, None])


def test_conv2d_float32_without_bias_stays_float32_and_matches_the_reference():
    rng = np.random.default_rng(4)
    x, w = rng.standard_normal((2, 3, 5, 4)), rng.standard_normal((2, 3, 2, 3))
    xt, wt = tn.Tensor(x.astype(np.float32), requires_grad=True), tn.Tensor(w.astype(np.float32),
                                                                           requires_grad=True)
    out = F.conv2d(xt, wt)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.data, _correlate(x, w, None), rtol=1e-5, atol=1e-5)
    out.sum().backward()
    assert xt.grad.dtype == wt.grad.dtype == np.float32
    assert gradcheck(lambda a, b: F.conv2d(a, b), x, w)


def test_conv2d_mixed_dtypes_compute_in_the_wider_and_return_each_inputs_dtype():
    rng = np.random.default_rng(5)
    x, w, b = rng.standard_normal((1, 2, 4, 4)), rng.standard_normal((3, 2, 2, 2)), rng.standard_normal(3)
    xt = tn.Tensor(x.astype(np.float32), requires_grad=True)
    wt, bt = tn.Tensor(w, requires_grad=True), tn.Tensor(b.astype(np.float32), requires_grad=True)
    out = F.conv2d(xt, wt, bt)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out.data, _correlate(x.astype(np.float32).astype(np.float64), w,
                                                    b.astype(np.float32)), rtol=1e-12)
    out.sum().backward()
    assert (xt.grad.dtype, wt.grad.dtype, bt.grad.dtype) == (np.float32, np.float64, np.float32)
    np.testing.assert_allclose(bt.grad, np.full(3, 9.0))


@pytest.mark.parametrize("which", [0, 1])
def test_conv2d_only_the_wanted_gradient_is_computed(which):
    rng = np.random.default_rng(6)
    x, w = rng.standard_normal((1, 2, 4, 4)), rng.standard_normal((3, 2, 2, 2))
    xt, wt = tn.Tensor(x, requires_grad=which == 0), tn.Tensor(w, requires_grad=which == 1)
    F.conv2d(xt, wt).sum().backward()
    wanted, other = (xt, wt) if which == 0 else (wt, xt)
    assert other.grad is None
    full = tn.Tensor(x, requires_grad=True), tn.Tensor(w, requires_grad=True)
    F.conv2d(*full).sum().backward()
    np.testing.assert_allclose(wanted.grad, full[which].grad, rtol=1e-12)


def test_conv2d_node_defaults_are_stride_1_no_padding_no_dilation_one_group():
    from tinygrad_nn.ops.conv import _Conv2D
    rng = np.random.default_rng(7)
    x, w = rng.standard_normal((2, 2, 6, 5)), rng.standard_normal((3, 2, 3, 2))
    out = _Conv2D.apply(tn.Tensor(x), tn.Tensor(w), None)
    np.testing.assert_allclose(out.data, _correlate(x, w, None), rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------- ops/pool.py
def _pool_reference(x, k, s, reduce):
    n, c, h, w = x.shape
    ho, wo = (h - k[0]) // s[0] + 1, (w - k[1]) // s[1] + 1
    out = np.empty((n, c, ho, wo))
    for i in range(ho):
        for j in range(wo):
            out[:, :, i, j] = reduce(x[:, :, i * s[0]:i * s[0] + k[0], j * s[1]:j * s[1] + k[1]],
                                     axis=(2, 3))
    return out


@pytest.mark.parametrize("node, reduce", [("_MaxPool2D", np.max), ("_AvgPool2D", np.mean)])
def test_pool_node_defaults_are_2x2_windows_stride_2_no_padding(node, reduce):
    from tinygrad_nn.ops import pool as P
    x = np.random.default_rng(8).standard_normal((2, 3, 6, 7))
    out = getattr(P, node).apply(tn.Tensor(x))
    np.testing.assert_allclose(out.data, _pool_reference(x, (2, 2), (2, 2), reduce), rtol=1e-12)
    assert gradcheck(lambda t: getattr(P, node).apply(t), x)


# ---------------------------------------------------------------- ops/movement.py
SHAPE_OPS = {
    "reshape": lambda x: x.reshape(3, 2), "transpose": lambda x: x.transpose(),
    "getitem": lambda x: x[:, 1:], "concatenate": lambda x: tn.Tensor.concatenate([x, x]),
    "stack": lambda x: tn.Tensor.stack([x, x]), "pad": lambda x: x.pad(1),
    "expand": lambda x: x.reshape(1, 2, 3).expand(2, 2, 3), "clone": lambda x: x.clone(),
}


@pytest.mark.parametrize("name", SHAPE_OPS)
def test_shape_ops_keep_no_input_values_so_changing_the_input_is_allowed(name):
    x = tn.Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    out = SHAPE_OPS[name](x)
    weights = np.random.default_rng(0).normal(size=out.shape)
    (out * tn.Tensor(weights)).sum().backward()
    expected = x.grad.copy()
    x.grad = None
    out = SHAPE_OPS[name](x)
    loss = (out * tn.Tensor(weights)).sum()
    x.data = x.data + 1.0  # after the forward pass: a shape op's backward does not need it
    loss.backward()
    np.testing.assert_array_equal(x.grad, expected)


def test_transpose_with_negative_axes_and_its_gradient():
    x = tn.Tensor(np.arange(24.0).reshape(2, 3, 4), requires_grad=True)
    y = x.transpose(-1, 0, 1)
    np.testing.assert_array_equal(y.data, np.transpose(x.data, (2, 0, 1)))
    g = np.arange(24.0).reshape(4, 2, 3)
    y.backward(g)
    np.testing.assert_array_equal(x.grad, np.transpose(g, (1, 2, 0)))
    v = tn.Tensor(np.arange(3.0))
    np.testing.assert_array_equal(v.transpose(-1).data, [0.0, 1.0, 2.0])


def test_basic_indexing_gradient_lands_on_the_selected_positions():
    x = tn.Tensor(np.arange(5.0), requires_grad=True)
    x[1:3].sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 1.0, 1.0, 0.0, 0.0])


def test_tensor_index_values():
    from tinygrad_nn.ops.movement import tensor_index
    assert tensor_index(np.array([2, 0], np.uint8)).dtype == np.intp
    np.testing.assert_array_equal(tensor_index(np.array([2.0, 0.0])), [2, 0])
    x = tn.Tensor(np.array([5.0, 7.0, 9.0]))
    np.testing.assert_array_equal(x[x.argmax(keepdims=True)].data, [9.0])  # an int64 tensor gathers
    with pytest.raises(TypeError, match=r"^index: a Tensor used as an index must hold bool or integer "
                       r"values \(a mask or positions\), got float64 values such as "
                       r"\[0\.5, 1\.5, 2\.5, 3\.5, 4\.5\]$"):
        tn.Tensor(np.ones(3))[tn.Tensor(np.array([0.5, 1.5, 2.5, 3.5, 4.5, 5.5, 1.0]))]
    with pytest.raises(TypeError, match=r"^index: a Tensor of dtype complex128 cannot be used as an index$"):
        tensor_index(np.array([1 + 2j]))


def test_join_nodes_default_to_axis_0():
    from tinygrad_nn.ops import movement as V
    a, b = np.ones((2, 3)), np.zeros((2, 3))
    assert V.Concatenate.apply(tn.Tensor(a), tn.Tensor(b)).shape == (4, 3)
    assert V.Stack.apply(tn.Tensor(a), tn.Tensor(b)).shape == (2, 2, 3)


def test_shape_op_messages_are_exact():
    cases = [
        (r"reshape: cannot reshape a tensor of shape \(2, 3\) into \(4,\)", lambda x: x.reshape(4)),
        (r"transpose: axes \(0, 0, 1\) are not a permutation of a 3-d tensor's axes",
         lambda x: x.reshape(2, 3, 1).transpose(0, 0, 1)),
        (r"concatenate: shapes \(2, 3\), \(2, 2\) do not match along axis 0",
         lambda x: tn.Tensor.concatenate([x, np.ones((2, 2))])),
        (r"stack: shapes \(2, 3\), \(2, 2\) must all be equal", lambda x: tn.Tensor.stack([x, np.ones((2, 2))])),
        (r"pad: pad_width \(\(1, 1\), \(1, 1\), \(1, 1\)\) does not fit a tensor of shape \(2, 3\)",
         lambda x: x.pad(((1, 1), (1, 1), (1, 1)))),
        (r"pad: pad_width must be non-negative, got -1", lambda x: x.pad(-1)),
        (r"expand: a tensor of shape \(2, 3\) cannot be expanded to \(4, 3\) \(only size-1 axes grow; "
         r"new axes go in front\)", lambda x: x.expand(4, 3)),
    ]
    for message, call in cases:
        with pytest.raises(ValueError, match=rf"^{message}$"):
            call(tn.Tensor(np.ones((2, 3))))


# ---------------------------------------------------------------- ops/embedding.py
def test_embedding_node_defaults_to_no_padding_row():
    from tinygrad_nn.ops.embedding import Embedding
    w = tn.Tensor(np.arange(8.0).reshape(4, 2), requires_grad=True)
    out = Embedding.apply(w, indices=np.array([1, 3, 1]))
    np.testing.assert_array_equal(out.data, [[2.0, 3.0], [6.0, 7.0], [2.0, 3.0]])
    out.sum().backward()
    np.testing.assert_array_equal(w.grad, [[0.0, 0.0], [2.0, 2.0], [0.0, 0.0], [1.0, 1.0]])


def test_embedding_needs_a_2d_weight():
    from tinygrad_nn.ops.embedding import embedding
    with pytest.raises(ValueError, match=r"^embedding: weight must be 2-D \(num_embeddings, "
                                         r"embedding_dim\), got shape \(3,\)$"):
        embedding(np.array([0]), tn.Tensor(np.ones(3)))


# ---------------------------------------------------------------- ops/reduce.py
def test_reduction_axes_out_of_range_raise():
    for shape, axis, ndim in [((2, 3), 2, 2), ((2, 3), -3, 2), ((3,), 1, 1)]:
        with pytest.raises(ValueError, match=rf"^axis {axis} is out of bounds for a tensor with {ndim} "
                                             r"dimensions$"):
            tn.Tensor(np.ones(shape)).sum(axis=axis)
    with pytest.raises(ValueError, match=r"^axis 1 is out of bounds for a tensor with 1 dimensions$"):
        tn.Tensor(np.float32(1.0)).logsumexp(axis=1)  # a 0-d tensor has one implicit axis
    assert tn.Tensor(np.float32(1.0)).logsumexp(axis=-1).item() == 1.0
    with pytest.raises(ValueError, match=r"^logsumexp: axis must be None or one axis, got \(0, 1\)$"):
        tn.Tensor(np.ones((2, 3))).logsumexp(axis=(0, 1))


def test_reduction_messages_are_exact():
    with pytest.raises(ValueError, match=r"^mean: the mean over 0 elements is undefined \(tensor of shape "
                                         r"\(0, 3\), reduced axes \(0,\)\)$"):
        tn.Tensor(np.zeros((0, 3))).mean(axis=0)
    with pytest.raises(ValueError, match=r"^max: cannot reduce over an empty axis \(tensor of shape \(0, 3\), "
                                         r"reduced axes \(0,\)\): the maximum of nothing is undefined$"):
        tn.Tensor(np.zeros((0, 3))).max(axis=0)


def test_reduction_node_defaults():
    from tinygrad_nn.ops import reduce as R
    x = np.random.default_rng(3).normal(size=(2, 3, 4))
    t = tn.Tensor(x)
    assert R.Sum.apply(t).shape == R.Max.apply(t).shape == R.LogSumExp.apply(t).shape == ()
    np.testing.assert_allclose(R.Softmax.apply(t).data.sum(axis=-1), np.ones((2, 3)), rtol=1e-12)
    np.testing.assert_allclose(np.exp(R.LogSoftmax.apply(t).data).sum(axis=-1), np.ones((2, 3)), rtol=1e-12)


@pytest.mark.parametrize("reduce", [lambda x: x.sum(axis=0), lambda x: x.mean(), lambda x: x.max(axis=1)],
                         ids=["sum", "mean", "max"])
def test_reductions_keep_no_input_values(reduce):
    x = tn.Tensor(np.array([[1.0, 5.0], [3.0, 2.0]]), requires_grad=True)
    loss = reduce(x).sum()
    x.data = x.data * 10  # after the forward pass: the reduction's backward does not need it
    loss.backward()
    assert x.grad.shape == (2, 2) and np.isfinite(x.grad).all()


@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
def test_softmax_outputs_are_kept_so_changing_them_raises(op):
    x = tn.Tensor(np.array([[1.0, 2.0, 3.0]]), requires_grad=True)
    y = getattr(x, op)(axis=-1)
    loss = y[0, 0] + y[0, 2]  # indexing keeps nothing either
    x.data = x.data + 1  # the input is not kept: no error for it
    y.data *= 2.0
    with pytest.raises(RuntimeError, match=rf"^the output \(shape \(1, 3\)\) of {'Softmax' if op == 'softmax' else 'LogSoftmax'} "
                                           r"was modified"):
        loss.backward()


# ---------------------------------------------------------------- ops/elementwise.py
def test_integer_and_bool_operands_take_the_float_partners_dtype():
    from tinygrad_nn.ops.elementwise import as_float
    big = np.array([2 ** 25 + 1])  # not a float32
    wide = as_float(big, np.float64)
    assert wide.dtype == np.float64 and wide.item() == 2 ** 25 + 1 and as_float(big).dtype == np.float32
    assert as_float(np.array([True]), np.int64).dtype == np.float32
    idx = tn.Tensor(np.array([[1.0, 5.0, 2.0]])).argmax(axis=1)  # an int64 tensor
    f32 = tn.Tensor(np.array([2.0], np.float32))
    for out in (idx * f32, f32 * idx, idx + f32, f32 - idx):
        assert out.dtype == np.float32
    mask = tn.Tensor(np.array([True, False]))
    assert (mask * tn.Tensor(np.array([2.0, 3.0]))).dtype == np.float64


def test_elementwise_messages_are_exact():
    with pytest.raises(ValueError, match=r"^add: operand shapes \(2,\) and \(3,\) cannot be broadcast together$"):
        tn.Tensor(np.ones(2)) + tn.Tensor(np.ones(3))
    with pytest.raises(ValueError, match=r"^clip: give at least one of lo and hi$"):
        tn.Tensor(np.ones(2)).clip()
    with pytest.raises(ValueError, match=r"^gelu: approximate must be 'none' or 'tanh', got 'x'$"):
        tn.Tensor(np.ones(2)).gelu(approximate="x")


# which values each op's backward keeps: changing a kept value after the forward pass raises,
# changing anything else is allowed (name: op, keeps its input, keeps its output)
KEEPS = {
    "add": (lambda x: x + 1.0, False, False), "sub": (lambda x: x - 1.0, False, False),
    "mul": (lambda x: x * 2.0, True, False), "div": (lambda x: x / 2.0, True, True),
    "pow": (lambda x: x ** 2.0, True, True), "maximum": (lambda x: x.maximum(0.5), True, False),
    "neg": (lambda x: -x, False, False), "exp": (lambda x: x.exp(), False, True),
    "log": (lambda x: x.log(), True, False), "sqrt": (lambda x: x.sqrt(), False, True),
    "abs": (lambda x: x.abs(), True, False), "clip": (lambda x: x.clip(0.0, 1.0), False, False),
    "relu": (lambda x: x.relu(), True, True), "cast": (lambda x: x.astype(np.float32), False, False),
    "gelu": (lambda x: x.gelu(), True, False),
}


@pytest.mark.parametrize("changed", ["input", "output"])
@pytest.mark.parametrize("name", KEEPS)
def test_changing_what_an_elementwise_op_keeps_raises_and_nothing_else(name, changed):
    op, keeps_input, keeps_output = KEEPS[name]
    x = tn.Tensor(np.array([0.25, 2.0]), requires_grad=True)
    y = op(x)
    loss = y[0] + y[1]  # indexing keeps nothing
    if changed == "input":
        x.data = x.data + 0.0
    else:
        y.data = y.data + 0.0
    if (keeps_input if changed == "input" else keeps_output):
        with pytest.raises(RuntimeError, match=r"was modified after the forward pass"):
            loss.backward()
    else:
        loss.backward()
        assert x.grad.shape == (2,)


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_values_and_gradients_match_the_formulas(approximate):
    from scipy.special import erf
    x = np.array([-3.0, -0.5, 0.0, 0.7, 2.5])
    if approximate == "none":
        expected = 0.5 * x * (1 + erf(x / np.sqrt(2)))
    else:
        expected = 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))
    t = tn.Tensor(x, requires_grad=True)
    out = t.gelu(approximate=approximate)
    np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-15)
    assert gradcheck(lambda a: a.gelu(approximate=approximate), x)


def test_maximum_splits_the_gradient_of_ties():
    a, b = tn.Tensor([1.0, 2.0, 3.0], requires_grad=True), tn.Tensor([2.0, 2.0, 2.0], requires_grad=True)
    a.maximum(b).sum().backward()
    np.testing.assert_array_equal(a.grad, [0.0, 0.5, 1.0])
    np.testing.assert_array_equal(b.grad, [1.0, 0.5, 0.0])


def test_pow_exponent_gradient_is_zero_where_the_base_has_no_log():
    base, exponent = tn.Tensor([-2.0, 0.0, 3.0]), tn.Tensor([2.0, 2.0, 2.0], requires_grad=True)
    (base ** exponent).sum().backward()
    np.testing.assert_allclose(exponent.grad, [0.0, 0.0, 9.0 * np.log(3.0)], rtol=1e-6)


def test_abs_and_clip_gradients_at_the_kinks():
    x = tn.Tensor([-2.0, 0.0, 3.0], requires_grad=True)
    x.abs().sum().backward()
    np.testing.assert_array_equal(x.grad, [-1.0, 0.0, 1.0])
    y = tn.Tensor([-1.0, 0.0, 1.0, 2.0, 3.0], requires_grad=True)
    y.clip(0.0, 2.0).sum().backward()  # the bounds are inside
    np.testing.assert_array_equal(y.grad, [0.0, 1.0, 1.0, 1.0, 0.0])


def test_activation_node_defaults_to_parameter_0():
    from tinygrad_nn.ops.elementwise import Activation
    out = Activation.apply(tn.Tensor(np.array([-2.0, 3.0])), name="leaky_relu")
    np.testing.assert_array_equal(out.data, [0.0, 3.0])


def test_binary_op_messages_name_the_op():
    for name, op in [("sub", lambda a, b: a - b), ("div", lambda a, b: a / b), ("pow", lambda a, b: a ** b),
                     ("maximum", lambda a, b: a.maximum(b)), ("mul", lambda a, b: a * b)]:
        with pytest.raises(ValueError, match=rf"^{name}: operand shapes \(2,\) and \(3,\) cannot be "
                                             r"broadcast together$"):
            op(tn.Tensor(np.ones(2)), tn.Tensor(np.ones(3)))
    from tinygrad_nn.tensor import where
    with pytest.raises(ValueError, match=r"^where: shapes \(2,\), \(3,\) and \(3,\) cannot be broadcast "
                                         r"together$"):
        where(np.array([True, False]), tn.Tensor(np.ones(3)), tn.Tensor(np.ones(3)))
