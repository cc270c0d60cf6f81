"""Kill tests for the Tensor, the autograd engine and the ops (tensor.py, autograd.py, ops/):
behaviour that mutants showed the rest of the suite left loose (see docs/mutation.md).

Exact error messages are matched whole (anchored), values against numpy.
"""
import numpy as np
import pytest

import tinygrad_nn as tn
import tinygrad_nn.functional as F


# ---------------------------------------------------------------- ops/matmul.py
def test_linear_backward_computes_only_the_gradients_needed(monkeypatch):
    """With only the weight requiring grad, 2-D linear's backward does one GEMM (the weight's),
    not the pair that also forms the input's gradient."""
    import tinygrad_nn.ops.matmul as M
    calls = []
    real, real_pair = M._mm, M._mm_pair
    monkeypatch.setattr(M, "_mm", lambda a, b: calls.append(("mm", a.shape, b.shape)) or real(a, b))
    monkeypatch.setattr(M, "_mm_pair", lambda *ab: calls.append(("pair",)) or real_pair(*ab))
    rng = np.random.default_rng(3)
    x, w = rng.normal(size=(4, 3)), rng.normal(size=(3, 2))
    wt = tn.Tensor(w, requires_grad=True)
    F.linear(tn.Tensor(x), wt).sum().backward()
    assert calls == [("mm", (4, 3), (3, 2)), ("mm", (3, 4), (4, 2))]
    np.testing.assert_allclose(wt.grad, x.T @ np.ones((4, 2)), rtol=1e-12)


# ---------------------------------------------------------------- ops/movement.py
def test_expand_keeps_no_input_so_changing_it_does_not_block_backward():
    a = tn.Tensor(np.ones((1, 3)), requires_grad=True)
    loss = a.expand(2, 3).sum()
    a.data = a.data * 5  # expand's backward only needs the shape
    loss.backward()
    np.testing.assert_array_equal(a.grad, [[2.0, 2.0, 2.0]])


# ---------------------------------------------------------------- ops/elementwise.py
@pytest.mark.parametrize("name, op", [
    ("add", lambda a, b: a + b), ("sub", lambda a, b: a - b), ("mul", lambda a, b: a * b),
    ("div", lambda a, b: a / b), ("pow", lambda a, b: a ** b), ("maximum", lambda a, b: a.maximum(b)),
])
def test_binary_op_broadcast_errors_name_the_op(name, op):
    with pytest.raises(ValueError, match=rf"^{name}: operand shapes \(2,\) and \(3,\) cannot be "
                                         r"broadcast together$"):
        op(tn.Tensor(np.ones(2)), tn.Tensor(np.ones(3)))


@pytest.mark.parametrize("name, op", [("Div", lambda a, b: a / b), ("Pow", lambda a, b: a ** b)])
def test_div_and_pow_refuse_backward_after_their_output_changed(name, op):
    """Both backward passes read the saved output (d(a/b)/db = -out/b, d(a**b)/db = out log a)."""
    a = tn.Tensor(np.array([2.0, 3.0]), requires_grad=True)
    b = tn.Tensor(np.array([1.5, 0.5]), requires_grad=True)
    out = op(a, b)
    loss = out.sum()
    out.data = out.data * 2
    with pytest.raises(RuntimeError, match=rf"^the output \(shape \(2,\)\) of {name} was modified after "
                                           r"the forward pass, and its backward needs it; recompute "
                                           r"the forward pass after the change$"):
        loss.backward()


# ---------------------------------------------------------------- ops/loss.py
def test_cross_entropy_of_an_array_says_to_wrap_it():
    with pytest.raises(TypeError, match=r"^cross_entropy: logits must be a Tensor, got ndarray \(wrap "
                                        r"arrays with tinygrad_nn\.Tensor\)$"):
        F.cross_entropy(np.ones((2, 3)), np.array([0, 1]))


@pytest.mark.parametrize("name, call", [
    ("nll_loss", lambda x: F.nll_loss(x.reshape(0, 3), np.zeros(0, dtype=np.int64))),
    ("smooth_l1_loss", lambda x: F.smooth_l1_loss(x, np.zeros(0), beta=0.0)),
    ("smooth_l1_loss", lambda x: F.smooth_l1_loss(x, np.zeros(0), beta=1.0)),
])
def test_the_mean_of_an_empty_loss_names_the_loss(name, call):
    with pytest.raises(ValueError, match=rf"^{name}: the mean over an empty input is undefined; use "
                                         r"reduction='sum' or 'none'$"):
        call(tn.Tensor(np.zeros(0)))


def test_smooth_l1_loss_rejects_a_negative_beta_by_name():
    with pytest.raises(ValueError, match=r"^smooth_l1_loss: beta must be a finite number >= 0, got -1\.0$"):
        F.smooth_l1_loss(tn.Tensor(np.ones(3)), np.ones(3), beta=-1.0)


def test_binary_cross_entropy_lists_the_first_three_values_outside_0_1():
    p = tn.Tensor(np.array([0.0, 1.0, 1.5, -0.2, 2.0, 3.0, 0.5]))  # 0 and 1 themselves are fine
    with pytest.raises(ValueError, match=r"^binary_cross_entropy: input must hold probabilities in "
                                         r"\[0, 1\], got values such as \[1\.5, -0\.2, 2\.0\] \(pass "
                                         r"logits to binary_cross_entropy_with_logits\)$"):
        F.binary_cross_entropy(p, np.zeros(7))
    ok = F.binary_cross_entropy(tn.Tensor(np.array([0.0, 1.0, 0.5])), np.array([0.0, 1.0, 1.0]),
                                reduction="none")
    np.testing.assert_allclose(ok.data, [0.0, 0.0, np.log(2)], rtol=1e-12)
