"""Autodiff semantics: accumulation, reuse, graph freeing, deep graphs, grad mode, dtypes, errors."""
import numpy as np
import pytest
from hypothesis import given

from tinygrad_nn import Tensor, no_grad
from tinygrad_nn.autograd import unbroadcast
from tinygrad_nn.testing import GradcheckError, broadcastable_shapes, gradcheck, tensors


def test_contract_example():
    x = Tensor(np.random.default_rng(0).standard_normal((4, 3)), requires_grad=True)
    w = Tensor.randn(3, 2, rng=1, requires_grad=True)
    loss = (x @ w).relu().sum()
    loss.backward()
    assert x.grad.shape == (4, 3) and x.grad.dtype == np.float64
    assert w.grad.shape == (3, 2) and w.grad.dtype == np.float32
    expected_w = x.data.T @ ((x.data @ w.data) > 0).astype(float)
    np.testing.assert_allclose(w.grad, expected_w, rtol=1e-5)


def test_gradients_accumulate_until_cleared():
    x = Tensor([1.0, 2.0], requires_grad=True)
    (x * 3).sum().backward()
    (x * 3).sum().backward()
    np.testing.assert_array_equal(x.grad, [6.0, 6.0])
    x.zero_grad()
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad, [2.0, 4.0])


def test_reused_node_receives_sum_of_gradients():
    x = Tensor([3.0], requires_grad=True)
    y = x * x
    z = y + y * y  # dz/dx = 2x + 4x^3
    z.sum().backward()
    np.testing.assert_allclose(x.grad, [2 * 3 + 4 * 27])


def test_graph_is_freed_after_backward():
    x = Tensor([1.0], requires_grad=True)
    y = (x * 2).exp()
    assert y._ctx is not None
    y.sum().backward()
    assert y._ctx is None


def test_deep_chain_has_no_recursion_limit():
    x = Tensor(np.ones(10, dtype=np.float32), requires_grad=True)
    c = x
    for _ in range(20_000):
        c = c * 1.0 + 0.0
    c.sum().backward()
    np.testing.assert_array_equal(x.grad, np.ones(10))


def test_no_grad_records_nothing_and_detach_cuts():
    x = Tensor([1.0, 2.0], requires_grad=True)
    with no_grad():
        y = x * 2
    assert not y.requires_grad and y._ctx is None
    z = (x.detach() * x).sum()
    z.backward()
    np.testing.assert_array_equal(x.grad, [1.0, 2.0])


def test_no_graph_when_nothing_requires_grad():
    y = Tensor([1.0]) * 2 + 1
    assert not y.requires_grad and y._ctx is None


def test_grad_does_not_alias_between_leaves():
    a = Tensor([1.0], requires_grad=True)
    b = Tensor([2.0], requires_grad=True)
    (a + b).sum().backward()
    a.grad += 10
    np.testing.assert_array_equal(b.grad, [1.0])


@pytest.mark.parametrize("data, dtype", [
    ([1, 2], np.float32), (3, np.float32), (np.arange(3), np.float32),
    (np.zeros(2, np.float64), np.float64),
    (np.zeros(2, np.float32), np.float32), ([1.5], np.float32),
])
def test_dtype_rules(data, dtype):
    t = Tensor(data)
    assert t.dtype == dtype
    assert (t * 2.5).dtype == dtype and (2.5 - t).dtype == dtype


def test_constructors_are_seeded():
    a, b = Tensor.randn(2, 3, rng=5), Tensor.randn((2, 3), rng=5)
    np.testing.assert_array_equal(a.data, b.data)
    u = Tensor.uniform(100, low=-1, high=2, rng=np.random.default_rng(1))
    assert u.dtype == np.float32 and u.data.min() >= -1 and u.data.max() < 2
    assert Tensor.zeros(2, 2).data.sum() == 0 and Tensor.ones(3).data.sum() == 3
    assert Tensor.zeros(2, dtype=np.float64).dtype == np.float64


def test_item_numpy_shape_repr():
    t = Tensor([[1.0, 2.0]], requires_grad=True)
    assert t.shape == (1, 2) and t.numpy() is t.data and t.sum().item() == 3.0
    assert "requires_grad=True" in repr(t)
    with pytest.raises(ValueError, match="one element"):
        t.item()


def test_incompatible_shapes_name_the_op_and_shapes():
    a, b = Tensor(np.ones((2, 3))), Tensor(np.ones((4, 5)))
    with pytest.raises(ValueError, match=r"add: .*\(2, 3\).*\(4, 5\)"):
        a + b
    with pytest.raises(ValueError, match=r"mul: .*\(2, 3\).*\(4, 5\)"):
        a * b
    with pytest.raises(ValueError, match=r"matmul: .*\(2, 3\).*\(4, 5\)"):
        a @ b
    with pytest.raises(ValueError, match=r"reshape: .*\(2, 3\).*\(4,\)"):
        a.reshape(4)
    with pytest.raises(ValueError, match=r"concatenate: .*\(2, 3\), \(4, 5\)"):
        Tensor.concatenate([a, b])


def test_backward_errors():
    x = Tensor(np.ones(3), requires_grad=True)
    with pytest.raises(RuntimeError, match="scalar output"):
        (x * 2).backward()
    with pytest.raises(RuntimeError, match="does not require grad"):
        Tensor([1.0]).sum().backward()
    with pytest.raises(ValueError, match=r"grad has shape \(2,\)"):
        (x * 2).backward(np.ones(2))
    y = x * 2
    y.backward(np.arange(3.0))
    np.testing.assert_array_equal(x.grad, [0.0, 2.0, 4.0])


@pytest.mark.parametrize("bad", ["abc", ["a", "b"], {"a": 1}, object(), [1, [2, 3]],
                                 np.array(["x"]), np.array([1 + 2j])])
def test_non_numeric_data_raises_type_error(bad):
    with pytest.raises(TypeError, match="Tensor"):
        Tensor(bad)


@given(pair=broadcastable_shapes())
def test_unbroadcast_reduces_to_each_shape(pair):
    out_shape = np.broadcast_shapes(*pair)
    g = np.ones(out_shape)
    for shape in pair:
        reduced = unbroadcast(g, shape)
        assert reduced.shape == shape
        assert reduced.sum() == g.sum()


def test_gradcheck_names_input_and_worst_element():
    from tinygrad_nn.autograd import Function

    class WrongSquare(Function):
        def forward(self, a):
            self.a = a
            return a * a

        def backward(self, grad):
            return grad * self.a  # should be 2 * a

    x = Tensor(np.array([1.0, 3.0]))
    with pytest.raises(GradcheckError, match=r"input 0 .*worst element.*input0\[1\]"):
        gradcheck(lambda t: WrongSquare.apply(t), x)
    assert gradcheck(lambda t: t * t, x)


@given(x=tensors(shape=(2, 3), dtype=np.float32))
def test_tensors_strategy_honours_dtype_and_shape(x):
    assert x.dtype == np.float32 and x.shape == (2, 3) and x.requires_grad


def test_raw_array_beside_a_tensor_gets_no_gradient_slot():
    import tinygrad_nn.functional as F

    x = np.arange(6.0).reshape(2, 3)
    w = Tensor(np.ones((3, 2)), requires_grad=True)
    F.linear(x, w).sum().backward()
    np.testing.assert_array_equal(w.grad, x.T @ np.ones((2, 2)))


def test_leaf_grads_are_writable_and_independent_of_user_arrays():
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    seed = np.ones(3)
    y = x.sum(axis=0)  # its backward hands out a read-only broadcast view
    y.backward(seed)
    x.grad += 1  # must be writable
    np.testing.assert_array_equal(x.grad, np.full((2, 3), 2.0))
    z = Tensor(np.ones(3), requires_grad=True)
    (z + 0).backward(seed)
    z.grad *= 5
    np.testing.assert_array_equal(seed, np.ones(3))
