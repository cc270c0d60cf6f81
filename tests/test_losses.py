"""Losses with reduction= (issue 11 item 14): values against numpy transcriptions of PyTorch's
formulas, gradients by finite differences under hypothesis, and against real PyTorch."""
import re

import numpy as np
import pytest
import scipy.special as sp
from hypothesis import assume, given
from hypothesis import strategies as st

import tinygrad_nn.functional as F
from tinygrad_nn import Tensor, nn
from tinygrad_nn.testing import gradcheck, tensors

REDUCE = {"mean": np.mean, "sum": np.sum, "none": lambda v: v}


def reference(name, x, t, **kw):
    """numpy transcriptions of the per-element losses."""
    if name == "mse_loss":
        return (x - t) ** 2
    if name == "l1_loss":
        return np.abs(x - t)
    if name == "smooth_l1_loss":
        beta, d = kw.get("beta", 1.0), np.abs(x - t)
        return d if beta == 0 else np.where(d < beta, 0.5 * d * d / beta, d - 0.5 * beta)
    if name == "binary_cross_entropy":
        with np.errstate(divide="ignore"):
            return -(t * np.maximum(np.log(x), -100) + (1 - t) * np.maximum(np.log(1 - x), -100))
    if name == "binary_cross_entropy_with_logits":
        return -(t * sp.log_expit(x) + (1 - t) * sp.log_expit(-x))
    logp = x if name == "nll_loss" else sp.log_softmax(x, axis=1)
    s = kw.get("label_smoothing", 0.0)
    return -((1 - s) * logp[np.arange(len(t)), t] + s * logp.mean(axis=1))


ELEMENTWISE = ["mse_loss", "l1_loss", "smooth_l1_loss", "binary_cross_entropy",
               "binary_cross_entropy_with_logits"]


@pytest.mark.parametrize("name", ELEMENTWISE)
@pytest.mark.parametrize("reduction", sorted(REDUCE))
@given(data=st.data(), shape=st.sampled_from([(3,), (2, 3), (4, 1, 2)]))
def test_elementwise_losses(name, reduction, data, shape):
    lo, hi = (0.05, 0.95) if name == "binary_cross_entropy" else (-3.0, 3.0)
    x = data.draw(tensors(shape=shape, min_value=lo, max_value=hi))
    t = np.asarray(data.draw(tensors(shape=shape, min_value=0.0, max_value=1.0)).data)
    kw = {"beta": data.draw(st.sampled_from([0.0, 0.5, 1.0]))} if name == "smooth_l1_loss" else {}
    fn = getattr(F, name)
    out = fn(x, t, reduction=reduction, **kw)
    np.testing.assert_allclose(out.data, REDUCE[reduction](reference(name, x.data, t, **kw)), rtol=1e-10, atol=1e-12)
    if name in ("l1_loss", "smooth_l1_loss"):  # kinks at d = 0 and |d| = beta
        d = np.abs(x.data - t)
        assume(np.all(d > 1e-3) and np.all(np.abs(d - kw.get("beta", 1.0)) > 1e-3))
    gradcheck(lambda a: fn(a, t, reduction=reduction, **kw), x)
    tt = Tensor(t.copy(), requires_grad=True)  # a Tensor target is differentiable, as in PyTorch
    gradcheck(lambda a, b: fn(a, b, reduction=reduction, **kw), x, tt)


@pytest.mark.parametrize("name", ["nll_loss", "cross_entropy"])
@pytest.mark.parametrize("reduction", sorted(REDUCE))
@given(data=st.data(), n=st.integers(1, 5), k=st.integers(1, 4))
def test_class_losses(name, reduction, data, n, k):
    x = data.draw(tensors(shape=(n, k)))
    t = np.array(data.draw(st.lists(st.integers(0, k - 1), min_size=n, max_size=n)))
    kw = {"label_smoothing": data.draw(st.sampled_from([0.0, 0.1, 1.0]))} if name == "cross_entropy" else {}
    fn = getattr(F, name)
    out = fn(x, t, reduction=reduction, **kw)
    np.testing.assert_allclose(out.data, REDUCE[reduction](reference(name, x.data, t, **kw)), rtol=1e-10, atol=1e-12)
    gradcheck(lambda a: fn(a, t, reduction=reduction, **kw), x)


def test_binary_cross_entropy_clamps_like_pytorch():
    p = Tensor(np.array([0.0, 1.0, 0.5]), requires_grad=True)
    loss = F.binary_cross_entropy(p, np.array([1.0, 0.0, 1.0]), reduction="none")
    np.testing.assert_allclose(loss.data, [100.0, 100.0, np.log(2)])
    loss.sum().backward()
    np.testing.assert_allclose(p.grad, [-1e12, 1e12, -2.0])
    with pytest.raises(ValueError, match=r"probabilities in \[0, 1\].*with_logits"):
        F.binary_cross_entropy(Tensor([1.5]), [1.0])


@pytest.mark.parametrize("call, error, pattern", [
    (lambda: F.mse_loss(Tensor([1.0]), [1.0], reduction="avg"), ValueError,
     "mse_loss: reduction must be one of 'mean', 'sum', 'none', got 'avg'"),
    (lambda: F.l1_loss(Tensor([1.0, 2.0]), [1.0]), ValueError, r"target shape \(1,\) does not match input shape \(2,\)"),
    (lambda: F.mse_loss(Tensor(np.zeros(0)), np.zeros(0)), ValueError, "mean over an empty input"),
    (lambda: F.smooth_l1_loss(Tensor([1.0]), [1.0], beta=-1), ValueError, "beta must be"),
    (lambda: F.nll_loss(Tensor(np.zeros((2, 3))), [0, 3]), ValueError, r"nll_loss: target values \[3\] are out of range"),
    (lambda: F.nll_loss(Tensor(np.zeros(3)), [0]), ValueError, "nll_loss: input must be 2-D"),
    (lambda: F.cross_entropy(Tensor(np.zeros((2, 3))), [0, 1], label_smoothing=1.5), ValueError, "label_smoothing must be in"),
    (lambda: F.l1_loss(np.zeros(2), np.zeros(2)), TypeError, "l1_loss: input must be a Tensor"),
    (lambda: nn.MSELoss(reduction="avg"), ValueError, "MSELoss: reduction must be one of"),
])
def test_loss_errors(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()


def test_loss_modules_forward_their_options():
    x = Tensor(np.random.default_rng(0).standard_normal((4, 3)), requires_grad=True)
    t = np.array([0, 2, 1, 2])
    assert nn.CrossEntropyLoss(label_smoothing=0.2)(x, t).item() == F.cross_entropy(x, t, label_smoothing=0.2).item()
    assert nn.NLLLoss(reduction="sum")(x, t).item() == F.nll_loss(x, t, reduction="sum").item()
    y = np.zeros((4, 3))
    assert nn.SmoothL1Loss(beta=0.5)(x, y).item() == F.smooth_l1_loss(x, y, beta=0.5).item()
    assert nn.MSELoss(reduction="none")(x, y).shape == (4, 3)
    assert nn.L1Loss()(x, y).item() == F.l1_loss(x, y).item()
    assert nn.BCEWithLogitsLoss()(x, y).item() == F.binary_cross_entropy_with_logits(x, y).item()
    p = x.sigmoid()
    assert nn.BCELoss()(p, y).item() == F.binary_cross_entropy(p, y).item()
    assert repr(nn.SmoothL1Loss(beta=0.5)) == "SmoothL1Loss(reduction='mean', beta=0.5)"


@pytest.mark.parametrize("reduction", sorted(REDUCE))
def test_losses_against_pytorch(reduction):
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((5, 4)), rng.uniform(0, 1, (5, 4))
    cls = rng.integers(0, 4, 5)
    p = sp.expit(x)
    p[0, 0], p[1, 1] = 0.0, 1.0  # PyTorch's clamp
    cases = [
        (F.mse_loss, tf.mse_loss, x, y, {}), (F.l1_loss, tf.l1_loss, x, y, {}),
        (F.smooth_l1_loss, tf.smooth_l1_loss, x, y, {"beta": 0.7}),
        (F.smooth_l1_loss, tf.smooth_l1_loss, x, y, {"beta": 0.0}),
        (F.binary_cross_entropy, tf.binary_cross_entropy, p, y, {}),
        (F.binary_cross_entropy_with_logits, tf.binary_cross_entropy_with_logits, x * 30, y, {}),
        (F.nll_loss, tf.nll_loss, sp.log_softmax(x, axis=1), cls, {}),
        (F.cross_entropy, tf.cross_entropy, x, cls, {}),
        (F.cross_entropy, tf.cross_entropy, x, cls, {"label_smoothing": 0.3}),
    ]
    for ours, theirs, a, b, kw in cases:
        A, TA = Tensor(a.copy(), requires_grad=True), torch.tensor(a, requires_grad=True)
        float_target = b.dtype.kind == "f"
        B = Tensor(b.copy(), requires_grad=True) if float_target else b
        TB = torch.tensor(b, requires_grad=float_target)
        out, tout = ours(A, B, reduction=reduction, **kw), theirs(TA, TB, reduction=reduction, **kw)
        g = rng.standard_normal(tout.shape)
        out.backward(g if reduction == "none" else None)
        tout.backward(torch.tensor(g) if reduction == "none" else None)
        msg = f"{ours.__name__} {kw}"
        np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-12, atol=1e-12, err_msg=msg)
        np.testing.assert_allclose(A.grad, TA.grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=msg)
        if float_target:
            np.testing.assert_allclose(B.grad, TB.grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=msg)


# ---------------------------------------------------------------- pinned by make mutation
# (docs/mutation.md): every loss names itself in its messages; defaults and reductions.
ELEMENTWISE_LOSSES = ["mse_loss", "l1_loss", "smooth_l1_loss", "binary_cross_entropy",
                      "binary_cross_entropy_with_logits"]


@pytest.mark.parametrize("name", ELEMENTWISE_LOSSES)
def test_elementwise_loss_messages_name_the_loss(name):
    loss = getattr(F, name)
    arg = "logits" if name.endswith("logits") else "input"
    x = Tensor(np.array([0.2, 0.7]))
    cases = [
        (ValueError, rf"{name}: reduction must be one of 'mean', 'sum', 'none', got 'avg'",
         lambda: loss(x, np.zeros(2), reduction="avg")),
        (TypeError, rf"{name}: {arg} must be a float Tensor, got dtype bool",
         lambda: loss(Tensor(np.array([True, False])), np.zeros(2))),
        (TypeError, rf"{name}: {arg} must be a Tensor, got ndarray \(wrap arrays with tinygrad_nn\.Tensor\)",
         lambda: loss(np.ones(2), np.zeros(2))),
        (TypeError, rf"{name}: target must be numeric, got str", lambda: loss(x, "ab")),
        (ValueError, rf"{name}: target shape \(3,\) does not match input shape \(2,\)", lambda: loss(x, np.zeros(3))),
        (ValueError, rf"{name}: the mean over an empty input is undefined; use reduction='sum' or 'none'",
         lambda: loss(Tensor(np.zeros(0)), np.zeros(0))),
    ]
    for error, message, call in cases:
        with pytest.raises(error, match=rf"^{message}$"):
            call()


@pytest.mark.parametrize("name, rows_of", [("cross_entropy", "logits"), ("nll_loss", "the input")])
def test_class_loss_messages_name_the_loss(name, rows_of):
    loss = getattr(F, name)
    scores = Tensor(np.array([[1.0, 2.0], [0.5, 0.1]]))
    cases = [
        (rf"{name}: target shape \(3,\) does not match 2 rows of {rows_of} \(expected \(2,\)\)",
         lambda: loss(scores, np.array([0, 1, 1]))),
        (rf"{name}: target values \[5\] are out of range for 2 classes \(valid: 0 to 1\)",
         lambda: loss(scores, np.array([0, 5]))),
        (rf"{name}: target must be integer class indices, got non-integer values \[0\.5\]",
         lambda: loss(scores, np.array([0.5, 1.0]))),
        (rf"{name}: reduction must be one of 'mean', 'sum', 'none', got 'x'",
         lambda: loss(scores, np.array([0, 1]), reduction="x")),
    ]
    for message, call in cases:
        with pytest.raises(ValueError, match=rf"^{message}$"):
            call()
    with pytest.raises(TypeError, match=rf"^{name}: \w+ must be a Tensor, got ndarray"):
        loss(np.ones((2, 2)), np.array([0, 1]))


def test_cross_entropy_and_nll_shape_checks():
    for shape in [(3,), (2, 0)]:
        with pytest.raises(ValueError, match=rf"^cross_entropy: logits must be 2-D \(n, k\) with k >= 1, got "
                                             rf"shape {re.escape(str(shape))}$"):
            F.cross_entropy(Tensor(np.ones(shape)), np.array([0, 1]))
    with pytest.raises(ValueError, match=r"^nll_loss: input must be 2-D \(n, k\), got shape \(3,\)$"):
        F.nll_loss(Tensor(np.ones(3)), np.array([0, 1, 1]))
    with pytest.raises(ValueError, match=r"^cross_entropy: label_smoothing must be in \[0, 1\], got 2\.0$"):
        F.cross_entropy(Tensor(np.ones((2, 2))), np.array([0, 1]), label_smoothing=2.0)
    empty = Tensor(np.ones((0, 3)))
    with pytest.raises(ValueError, match=r"^cross_entropy: the mean over an empty batch \(0 rows\) is "
                                         r"undefined; use reduction='sum' or 'none'$"):
        F.cross_entropy(empty, np.zeros(0, int))
    assert F.cross_entropy(empty, np.zeros(0, int), reduction="sum").item() == 0.0
    assert F.cross_entropy(empty, np.zeros(0, int), reduction="none").shape == (0,)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_gradient_for_each_reduction(reduction):
    z = np.array([[1.0, 2.0, 0.5], [0.1, -1.0, 0.3]])
    t = np.array([2, 0])
    logits = Tensor(z, requires_grad=True)
    out = F.cross_entropy(logits, t, reduction=reduction)
    seed = np.array([1.0, 3.0]) if reduction == "none" else None
    out.backward(seed)
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    per_row = {"mean": np.full(2, 0.5), "sum": np.ones(2), "none": seed}[reduction]
    np.testing.assert_allclose(logits.grad, (p - np.eye(3)[t]) * per_row[:, None], rtol=1e-12)


def test_loss_defaults_and_node_defaults():
    from tinygrad_nn.ops.loss import CrossEntropy
    z, t = Tensor(np.array([[1.0, 2.0], [0.5, 0.1]])), np.array([1, 0])
    assert F.cross_entropy(z, t).item() == F.nll_loss(z.log_softmax(axis=1), t).item()  # no smoothing
    assert CrossEntropy.apply(z, t).item() == F.cross_entropy(z, t).item()  # the node: mean
    np.testing.assert_allclose(F.smooth_l1_loss(Tensor(np.array([0.5, 3.0])), np.zeros(2)).item(),
                               (0.125 + 2.5) / 2, rtol=1e-12)  # beta 1


def test_cross_entropy_keeps_no_logits():
    logits = Tensor(np.array([[1.0, 2.0], [0.5, 0.1]]), requires_grad=True)
    loss = F.cross_entropy(logits, np.array([1, 0]))
    logits.data = logits.data + 1.0  # its backward uses the probabilities it kept, not the logits
    loss.backward()
    assert logits.grad.shape == (2, 2)
