"""Autodiff semantics: accumulation, reuse, graph freeing, deep graphs, grad mode, dtypes, errors."""
import re

import numpy as np
import pytest
from hypothesis import given

from tinygrad_nn import Tensor, no_grad
from tinygrad_nn.autograd import FREED, unbroadcast
from tinygrad_nn.testing import (GradcheckError, broadcastable_shapes, gradcheck,
                                 numerical_jacobian, tensors)


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
    assert y._ctx is FREED  # the Function and everything it saved are dropped


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


# ---------------------------------------------------------------- freed graphs, retain_graph
def test_second_backward_through_a_freed_graph_raises():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match=r"graph was already freed.*retain_graph=True"):
        y.backward()
    np.testing.assert_array_equal(x.grad, [2.0, 4.0])  # nothing added by the failed call


def test_second_loss_sharing_a_freed_intermediate_raises_before_any_gradient():
    x = Tensor([0.5, -1.0], requires_grad=True)
    w = Tensor([2.0, 3.0], requires_grad=True)
    h = (x * w).tanh()
    first, second = h.sum(), (h * w).sum()
    first.backward()
    grads = x.grad.copy(), w.grad.copy()
    with pytest.raises(RuntimeError, match=r"freed.*retain_graph=True"):
        second.backward()
    np.testing.assert_array_equal(x.grad, grads[0])  # w gets nothing either: checked up front
    np.testing.assert_array_equal(w.grad, grads[1])


@given(x=tensors(shape=(2, 3)), w=tensors(shape=(3,)))
def test_retain_graph_sums_the_gradients_of_two_losses(x, w):
    def losses(x, w):
        h = (x * w).tanh()
        return h.sum(), (h * h * w).mean()

    x1, w1 = (Tensor(t.data.copy(), requires_grad=True) for t in (x, w))
    a, b = losses(x1, w1)
    a.backward(retain_graph=True)
    b.backward()
    gradcheck(lambda x, w: sum(losses(x, w)), x, w)  # the summed loss is differentiated right
    x2, w2 = (Tensor(t.data.copy(), requires_grad=True) for t in (x, w))
    total = losses(x2, w2)
    (total[0] + total[1]).backward()
    np.testing.assert_allclose(x1.grad, x2.grad, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(w1.grad, w2.grad, rtol=1e-12, atol=1e-15)


def test_retain_graph_twice_on_one_loss_doubles_the_gradient():
    x = Tensor([1.0, 3.0], requires_grad=True)
    y = (x * x).exp().sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad, 2 * 2 * x.data * np.exp(x.data ** 2), rtol=1e-6)


# ---------------------------------------------------------------- mutation between forward and backward
def test_data_assignment_after_forward_raises_naming_op_and_input():
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    w = Tensor([0.5, 0.5, 0.5], requires_grad=True)
    y = (x * w).sum()
    w.data -= 1.0  # an assignment to .data: counted
    with pytest.raises(RuntimeError, match=r"input 1 \(shape \(3,\)\) of Mul was modified"):
        y.backward()
    assert x.grad is None and w.grad is None


def test_replacing_data_after_forward_raises():
    x = Tensor(np.array([[1.0, 2.0]]), requires_grad=True)
    w = Tensor(np.ones((2, 2)), requires_grad=True)
    y = (x @ w).sum()
    x.data = np.zeros((1, 2))
    with pytest.raises(RuntimeError, match=r"input 0 \(shape \(1, 2\)\) of MatMul was modified"):
        y.backward()


def test_mutating_a_saved_output_raises():
    x = Tensor([0.1, 0.2], requires_grad=True)
    y = x.exp()  # Exp's backward reuses its output
    loss = y.sum()
    y.data *= 2.0
    with pytest.raises(RuntimeError, match=r"output \(shape \(2,\)\) of Exp was modified"):
        loss.backward()


def test_mutating_what_no_function_saved_is_allowed():
    x = Tensor([1.0, 2.0], requires_grad=True)
    w = Tensor([3.0, 4.0], requires_grad=True)
    y = (x + w).sum()  # Add keeps no input values
    w.data -= 1.0
    y.backward()
    np.testing.assert_array_equal(x.grad, [1.0, 1.0])


@pytest.mark.parametrize("make", [
    lambda ps: __import__("tinygrad_nn").optim.SGD(ps, lr=0.1),
    lambda ps: __import__("tinygrad_nn").optim.SGD(ps, lr=0.1, momentum=0.9),
    lambda ps: __import__("tinygrad_nn").optim.Adam(ps, lr=0.1),
])
def test_optimizer_step_between_forward_and_backward_raises(make):
    x = Tensor(np.ones((4, 3), np.float32))
    w = Tensor(np.full((3, 2), 0.5, np.float32), requires_grad=True)
    loss = (x @ w).tanh().sum()
    loss.backward(retain_graph=True)
    make([w]).step()
    with pytest.raises(RuntimeError, match=r"input 1 \(shape \(3, 2\)\) of MatMul was modified"):
        loss.backward()


def test_load_state_dict_between_forward_and_backward_raises():
    from tinygrad_nn import nn

    layer = nn.Dense(3, 2, rng=0)
    loss = layer(Tensor(np.ones((1, 3), np.float32))).sum()
    layer.load_state_dict({k: v.data * 2 for k, v in layer.named_parameters()})
    with pytest.raises(RuntimeError, match=r"input 1 \(shape \(3, 2\)\) of Linear was modified"):
        loss.backward()


# ---------------------------------------------------------------- Functions returning wrong gradients
def test_backward_returning_too_many_gradients_raises():
    from tinygrad_nn.autograd import Function

    class TwoGrads(Function):
        def forward(self, a):
            return a * 2

        def backward(self, grad):
            return grad * 2, grad

    x = Tensor(np.ones(3), requires_grad=True)
    with pytest.raises(RuntimeError, match=r"TwoGrads.backward returned 2 gradient\(s\) for 1 input"):
        TwoGrads.apply(x).sum().backward()
    assert x.grad is None


def test_backward_returning_too_few_gradients_raises():
    from tinygrad_nn.autograd import Function

    class OneGrad(Function):
        def forward(self, a, b):
            return a * b

        def backward(self, grad):
            return grad

    a, b = Tensor(np.ones(2), requires_grad=True), Tensor(np.ones(2), requires_grad=True)
    with pytest.raises(RuntimeError, match=r"OneGrad.backward returned 1 gradient\(s\) for 2 input"):
        OneGrad.apply(a, b).sum().backward()


def test_backward_returning_a_wrong_shape_raises_naming_input_and_shapes():
    from tinygrad_nn.autograd import Function

    class BadShape(Function):
        def forward(self, a, b):
            return a + b

        def backward(self, grad):
            return grad, grad  # b was broadcast: its gradient should be summed to (1,)

    a, b = Tensor(np.ones(2), requires_grad=True), Tensor(np.ones(1), requires_grad=True)
    with pytest.raises(RuntimeError, match=r"BadShape.backward returned a gradient of shape "
                                           r"\(2,\) for input 1, whose shape is \(1,\)"):
        BadShape.apply(a, b).sum().backward()


# ---------------------------------------------------------------- tn.grad
@given(x=tensors(shape=(3, 2)), w=tensors(shape=(2,)))
def test_grad_matches_backward_without_touching_dot_grad(x, w):
    import tinygrad_nn as tn

    def f(x, w):
        return ((x * w).tanh() * x).sum()

    gx, gw = tn.grad(f(x, w), [x, w])
    assert x.grad is None and w.grad is None
    jx, jw = numerical_jacobian(f, [x, w])  # against central differences
    np.testing.assert_allclose(gx.reshape(-1), jx[0], rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(gw.reshape(-1), jw[0], rtol=1e-6, atol=1e-8)
    f(x, w).backward()
    np.testing.assert_array_equal(gx, x.grad)
    np.testing.assert_array_equal(gw, w.grad)
    assert gx.dtype == x.dtype and gx.flags.writeable


def test_grad_of_an_intermediate_with_grad_outputs():
    import tinygrad_nn as tn

    x = Tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    y = h * h
    (gh,) = tn.grad(y, h, grad_outputs=np.array([1.0, 10.0]))
    np.testing.assert_allclose(gh, 2 * h.data * [1.0, 10.0])
    assert x.grad is None and h.grad is None


def test_grad_of_two_outputs_and_retain_graph():
    import tinygrad_nn as tn

    x = Tensor([1.0, 2.0], requires_grad=True)
    h = x.exp()
    a, b = h.sum(), (h * 2).sum()
    (g,) = tn.grad([a, b], [x], retain_graph=True)
    np.testing.assert_allclose(g, 3 * np.exp(x.data))
    (g2,) = tn.grad(a, x)
    np.testing.assert_allclose(g2, np.exp(x.data))
    with pytest.raises(RuntimeError, match="freed"):
        tn.grad(b, x)


def test_grad_errors():
    import tinygrad_nn as tn

    x, z = Tensor([1.0], requires_grad=True), Tensor([2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"do not depend on inputs\[1\].*allow_unused=True"):
        tn.grad((x * 2).sum(), [x, z])
    gx, gz = tn.grad((x * 2).sum(), [x, z], allow_unused=True)
    assert gz is None and gx[0] == 2.0
    with pytest.raises(RuntimeError, match=r"inputs\[0\] does not require grad"):
        tn.grad((x * 2).sum(), [Tensor([1.0])])
    with pytest.raises(TypeError, match=r"inputs\[0\] must be a Tensor"):
        tn.grad((x * 2).sum(), [np.ones(1)])
    with pytest.raises(ValueError, match="2 grad_outputs for 1 outputs"):
        tn.grad(x * 2, [x], grad_outputs=[np.ones(1), np.ones(1)])
    with pytest.raises(RuntimeError, match="scalar output"):
        tn.grad(Tensor([1.0, 2.0], requires_grad=True) * 2, [x])


# ---------------------------------------------------------------- grad mode
def test_set_grad_enabled_is_a_setter_and_a_context_manager():
    import tinygrad_nn as tn

    x = Tensor([1.0], requires_grad=True)
    try:
        tn.set_grad_enabled(False)
        assert not tn.is_grad_enabled() and (x * 2)._ctx is None
        with tn.set_grad_enabled(True):
            assert (x * 2).requires_grad
        assert not tn.is_grad_enabled()
    finally:
        tn.set_grad_enabled(True)
    with tn.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert tn.is_grad_enabled()
    with pytest.raises(TypeError, match="set_grad_enabled: mode must be a bool"):
        tn.set_grad_enabled("no")


def test_enable_grad_inside_no_grad_and_as_decorators():
    import tinygrad_nn as tn

    x = Tensor([1.0], requires_grad=True)
    with tn.no_grad():
        with tn.enable_grad():
            assert (x * 2).requires_grad
        assert not (x * 2).requires_grad
    assert tn.is_grad_enabled()

    @tn.no_grad()
    def infer(t):
        return t * 2

    @tn.set_grad_enabled(False)
    def infer2(t):
        return t * 2

    assert tn.is_grad_enabled()  # decorating does not switch the mode
    assert not infer(x).requires_grad and not infer2(x).requires_grad
    assert (x * 2).requires_grad


# ---------------------------------------------------------------- manual_seed
def test_manual_seed_repeats_every_unseeded_draw():
    import tinygrad_nn as tn
    import tinygrad_nn.functional as F
    from tinygrad_nn import nn

    def draws():
        layer, drop = nn.Dense(3, 4), nn.Dropout(0.5)
        x = Tensor.randn(2, 3)
        u = Tensor.uniform(5)
        return [layer.weight.data, layer.bias.data, x.data, u.data,
                drop(Tensor(np.ones((4, 4)))).data, F.dropout(Tensor(np.ones(8)), 0.5).data]

    tn.manual_seed(123)
    first = draws()
    tn.manual_seed(123)
    second = draws()
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    tn.manual_seed(124)
    assert not np.array_equal(draws()[2], first[2])
    with pytest.raises(ValueError, match="manual_seed: seed must be an integer >= 0"):
        tn.manual_seed(-1)


def test_manual_seed_reaches_a_dropout_layer_built_before_it():
    import tinygrad_nn as tn
    from tinygrad_nn import nn

    drop = nn.Dropout(0.5)
    tn.manual_seed(7)
    a = drop(Tensor(np.ones(16))).data
    tn.manual_seed(7)
    np.testing.assert_array_equal(drop(Tensor(np.ones(16))).data, a)


def test_an_explicit_rng_is_used_bit_for_bit_and_leaves_the_default_alone():
    import tinygrad_nn as tn
    from tinygrad_nn import nn

    tn.manual_seed(0)
    t = Tensor.randn(3, 2, rng=5)
    np.testing.assert_array_equal(t.data, np.random.default_rng(5).standard_normal((3, 2))
                                  .astype(np.float32))
    layer = nn.Dense(3, 2, rng=9)
    rng = np.random.default_rng(9)
    bound = np.sqrt(6.0 / 5)
    np.testing.assert_array_equal(layer.weight.data, rng.uniform(-bound, bound, (3, 2))
                                  .astype(np.float32))
    after = Tensor.randn(4).data
    tn.manual_seed(0)
    np.testing.assert_array_equal(Tensor.randn(4).data, after)  # the default was not advanced


# ---------------------------------------------------------------- pinned by make mutation
# (docs/mutation.md): exact messages, the grad-mode booleans and edges of the backward engine.
def test_grad_modes_set_exact_booleans_and_let_exceptions_through():
    import tinygrad_nn as tn

    with tn.no_grad():
        assert tn.is_grad_enabled() is False
        with tn.enable_grad():
            assert tn.is_grad_enabled() is True
    with pytest.raises(ZeroDivisionError):
        with tn.no_grad():
            1 / 0
    assert tn.is_grad_enabled() is True


def test_grad_mode_decorators_wrap_the_function_and_set_exact_booleans():
    import tinygrad_nn as tn

    @tn.enable_grad()
    def train_step(t):
        """One step."""
        assert tn.is_grad_enabled() is True
        return t * 2

    @tn.no_grad()
    def infer(t):
        assert tn.is_grad_enabled() is False
        return t * 2

    x = Tensor([1.0], requires_grad=True)
    with tn.no_grad():
        assert train_step(x).requires_grad
    assert not infer(x).requires_grad
    assert (train_step.__name__, train_step.__doc__, infer.__name__) == ("train_step", "One step.", "infer")


def test_a_new_thread_records_the_graph():
    import threading

    x, seen = Tensor([1.0], requires_grad=True), []
    thread = threading.Thread(target=lambda: seen.append((x * 2).requires_grad))
    thread.start()
    thread.join()
    assert seen == [True]


def test_raw_arrays_are_constants_of_the_node():
    from tinygrad_nn.autograd import Function

    class Scale(Function):
        def forward(self, a, b):
            return a * b

        def backward(self, grad):
            return grad * self.b_value, grad * self.a_value

    class Keep(Scale):
        def forward(self, a, b):
            self.a_value, self.b_value = a, b
            return a * b

    assert Keep.apply(np.ones(2), np.full(2, 3.0)).requires_grad is False
    w = Tensor([2.0, 4.0], requires_grad=True)
    out = Keep.apply(np.full(2, 3.0), w)
    assert out._ctx.needs_input_grad == (False, True)
    out.sum().backward()
    np.testing.assert_array_equal(w.grad, [3.0, 3.0])


def test_a_backward_returning_none_gives_that_input_no_gradient():
    from tinygrad_nn.autograd import Function

    class FirstOnly(Function):
        def forward(self, a, b):
            return a + b

        def backward(self, grad):
            return grad, None

    a, b = Tensor([1.0, 2.0], requires_grad=True), Tensor([3.0, 4.0], requires_grad=True)
    FirstOnly.apply(a, b).sum().backward()
    np.testing.assert_array_equal(a.grad, [1.0, 1.0])
    assert b.grad is None


def test_changing_an_output_its_op_did_not_keep_is_allowed():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = x * 3  # Mul keeps its inputs, not its output
    loss = y.sum()
    y.data = y.data + 1
    loss.backward()
    np.testing.assert_array_equal(x.grad, [3.0, 3.0])


def test_grad_sums_the_seeds_of_a_repeated_output():
    import tinygrad_nn as tn

    x = Tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    (gx,) = tn.grad([y, y], [x], grad_outputs=[np.ones(2), np.full(2, 2.0)])
    np.testing.assert_array_equal(gx, [9.0, 9.0])


def test_changes_made_before_the_forward_pass_are_not_flagged(monkeypatch):
    from tinygrad_nn import autograd

    x = Tensor([1.0, 2.0], requires_grad=True)
    x.data = np.array([2.0, 3.0])  # before the forward pass: x's version is the epoch
    loss = (x * x).sum()
    Tensor([0.0]).data = np.ones(1)  # the clock moves on: backward looks closer
    loss.backward()
    np.testing.assert_array_equal(x.grad, [4.0, 6.0])
    # a process whose first tracked change comes after the forward pass: epoch 0, and an
    # output's version is 0 until the output itself changes
    monkeypatch.setattr(autograd, "_clock", [0])
    z = Tensor([0.5], requires_grad=True)  # a new tensor's version is 0 too
    loss = z.exp().sum() + (z * z).sum()  # Exp keeps its output, Mul its inputs
    Tensor([0.0]).data = np.ones(1)
    loss.backward()
    np.testing.assert_allclose(z.grad, np.exp(np.float32([0.5])) + 1.0, rtol=1e-6)


def test_backward_engine_messages_are_exact():
    x = Tensor([1.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match=r"^backward\(\) reached a tensor of shape \(\) whose graph "
                       r"was already freed by an earlier backward\(\) \(a second backward\(\), or a "
                       r"second loss sharing an intermediate\); call the first "
                       r"backward\(retain_graph=True\) to keep the graph$"):
        y.backward()
    w = Tensor([0.5], requires_grad=True)
    y = (x * w).sum()
    w.data = w.data - 1
    with pytest.raises(RuntimeError, match=r"^input 1 \(shape \(1,\)\) of Mul was modified after the "
                       r"forward pass \(by an assignment to \.data, an optimizer step or "
                       r"load_state_dict\), and its backward needs the old values; recompute the "
                       r"forward pass after the change$"):
        y.backward()
    e = x.exp()
    loss = e.sum()
    e.data = e.data * 2
    with pytest.raises(RuntimeError, match=r"^the output \(shape \(1,\)\) of Exp was modified after the "
                       r"forward pass, and its backward needs it; recompute the forward pass after "
                       r"the change$"):
        loss.backward()


@pytest.mark.parametrize("owner, run", [
    ("backward()", lambda t, **kw: t.backward(**kw)),
    ("grad", lambda t, **kw: __import__("tinygrad_nn").grad(t, [Tensor([1.0], requires_grad=True)],
                                                             grad_outputs=kw.get("grad"), allow_unused=True)),
])
def test_seed_messages_name_their_caller(owner, run):
    o = re.escape(owner)
    with pytest.raises(RuntimeError, match=rf"^{o} without a gradient needs a scalar output, got "
                       r"shape \(2,\); pass grad= with the output's shape$"):
        run(Tensor([1.0, 2.0], requires_grad=True) * 2)
    with pytest.raises(RuntimeError, match=rf"^{o} called on a tensor that does not require grad: no "
                       r"input of the computation had requires_grad=True \(or it ran under "
                       r"no_grad\(\)\)$"):
        run(Tensor([1.0]).sum())
    with pytest.raises(ValueError, match=rf"^{o} grad has shape \(3,\), the tensor has shape \(2,\)$"):
        run(Tensor([1.0, 2.0], requires_grad=True) * 2, grad=np.ones(3))
    with pytest.raises(TypeError, match=rf"^{o}: grad must be numeric, got dtype <U1$"):
        run(Tensor([1.0, 2.0], requires_grad=True) * 2, grad=np.array(["a", "b"]))
    t = Tensor([1.0, 2.0], requires_grad=True)
    run(t * 2, grad=Tensor([1.0, 1.0]))  # a Tensor as the seed


def test_grad_messages_are_exact():
    import tinygrad_nn as tn

    x, z = Tensor([1.0], requires_grad=True), Tensor([2.0, 3.0], requires_grad=True)
    with pytest.raises(TypeError, match=r"^grad: inputs\[0\] must be a Tensor, got ndarray \(wrap "
                       r"arrays with tinygrad_nn\.Tensor\)$"):
        tn.grad((x * 2).sum(), [np.ones(1)])
    with pytest.raises(TypeError, match=r"^grad: outputs\[0\] must be a Tensor, got float64"):
        tn.grad(np.ones(1), [x])
    with pytest.raises(ValueError, match=r"^grad: 2 grad_outputs for 1 outputs$"):
        tn.grad(x * 2, [x], grad_outputs=[np.ones(1), np.ones(1)])
    with pytest.raises(RuntimeError, match=r"^grad: inputs\[0\] does not require grad$"):
        tn.grad((x * 2).sum(), [Tensor([1.0])])
    with pytest.raises(RuntimeError, match=r"^grad: the outputs do not depend on inputs\[1\] \(shape "
                       r"\(2,\)\); pass allow_unused=True to get None for it$"):
        tn.grad((x * 2).sum(), [x, z])


def _interrupted_in_numba():
    """The SystemError CPython raises when a Numba kernel returns with a KeyboardInterrupt set."""
    exc = SystemError("<numba function> returned a result with an exception set")
    exc.__cause__ = KeyboardInterrupt()
    return exc


@pytest.mark.parametrize("where", ["forward", "backward"])
def test_ctrl_c_inside_a_kernel_surfaces_as_keyboard_interrupt(where):
    from tinygrad_nn.autograd import Function

    class Interrupted(Function):
        def forward(self, a):
            if where == "forward":
                raise _interrupted_in_numba()
            return a * 1.0

        def backward(self, grad):
            raise _interrupted_in_numba()

    x = Tensor([1.0], requires_grad=True)
    with pytest.raises(KeyboardInterrupt):
        Interrupted.apply(x).sum().backward()


def test_nodes_and_the_freed_graph_have_short_reprs():
    from tinygrad_nn.autograd import FREED

    y = Tensor([1.0], requires_grad=True) * 2
    assert repr(y._ctx) == "<Mul>"
    assert repr(FREED) == "<freed graph>"


def test_a_node_no_gradient_reaches_does_not_stop_the_others():
    from tinygrad_nn.autograd import Function

    class FirstOnly(Function):
        def forward(self, a, b):
            return a + b

        def backward(self, grad):
            return grad, None

    a, b, c = (Tensor([v], requires_grad=True) for v in (1.0, 2.0, 3.0))
    loss = FirstOnly.apply(a, b * 2).sum() + (c * 3).sum() + (b * 5).sum()
    loss.backward()
    assert (a.grad[0], b.grad[0], c.grad[0]) == (1.0, 5.0, 3.0)
