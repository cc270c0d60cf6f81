"""The PyTorch-fluent Tensor API (issue 11 items 1-5, 7): values against numpy, gradients by
finite differences, and against real PyTorch when it is importable."""
import inspect
import re
import warnings

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import tinygrad_nn as tn
from tinygrad_nn import Tensor
from tinygrad_nn.tensor import where
from tinygrad_nn.testing import gradcheck, shapes, tensors

COMPARISONS = {
    "<": (lambda a, b: a < b, np.less), "<=": (lambda a, b: a <= b, np.less_equal),
    ">": (lambda a, b: a > b, np.greater), ">=": (lambda a, b: a >= b, np.greater_equal),
    "==": (lambda a, b: a == b, np.equal), "!=": (lambda a, b: a != b, np.not_equal),
}


def without_near_ties(t, gap=1e-3):
    v = np.sort(t.data.reshape(-1))
    assume(v.size < 2 or np.diff(v).min() > gap)


# ---------------------------------------------------------------- item 1: comparisons, masks
@pytest.mark.parametrize("op", sorted(COMPARISONS))
@given(a=tensors(shape=(3, 4), min_value=-2, max_value=2), b=st.sampled_from([0.0, 1, "row", "t"]))
def test_comparisons_are_elementwise_bool_tensors(op, a, b):
    ours, ref = COMPARISONS[op]
    a = Tensor(np.round(a.data))  # rounding makes ties, so == and != see both outcomes
    other = {"row": np.array([0.0, 1.0, -1.0, 2.0]), "t": Tensor(np.round(a.data[::-1]))}.get(b, b)
    out = ours(a, other)
    assert isinstance(out, Tensor) and out.dtype == np.bool_ and not out.requires_grad
    raw = other.data if isinstance(other, Tensor) else other
    np.testing.assert_array_equal(out.data, ref(a.data, raw))


def test_reflected_comparison_with_an_array_on_the_left():
    t = Tensor([1.0, 2.0, 3.0])
    np.testing.assert_array_equal((np.array([2.0, 2.0, 2.0]) < t).data, [False, False, True])
    np.testing.assert_array_equal((2.0 >= t).data, [True, True, False])


def test_comparison_shape_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"\(2,\) and \(3,\)"):
        Tensor([1.0, 2.0]) < Tensor([1.0, 2.0, 3.0])


def test_comparison_with_non_numbers_is_identity_based():
    t = Tensor([1.0, 2.0])
    assert (t == None) is False and (t != "x") is True  # noqa: E711


def test_comparisons_never_differentiable():
    x = Tensor([1.0, -1.0], requires_grad=True)
    assert not (x > 0).requires_grad
    loss = (x * (x > 0)).sum()
    loss.backward()
    np.testing.assert_array_equal(x.grad, [1.0, 0.0])


def test_bool_tensor_keeps_dtype_and_refuses_grad():
    m = Tensor(np.array([True, False]))
    assert m.dtype == np.bool_
    assert Tensor([True, False]).dtype == np.bool_
    with pytest.raises(TypeError, match="only float tensors can require grad.*bool"):
        Tensor(np.array([True, False]), requires_grad=True)
    with pytest.raises(TypeError, match="only float tensors"):
        m.requires_grad_()


@pytest.mark.parametrize("partner", [np.float32, np.float64])
def test_arithmetic_with_masks_promotes_to_float(partner):
    m = Tensor(np.array([True, False, True]))
    x = Tensor(np.array([1.0, 2.0, 3.0], dtype=partner))
    for out in (m * x, x * m, m + x, x - m, m / (x + 1), m * 2.5, 1 - m, m + m, m - m):
        assert out.dtype.kind == "f"
    assert (m * x).dtype == partner and (m * 2).dtype == np.float32 and (m + m).dtype == np.float32
    np.testing.assert_array_equal((m * x).data, [1.0, 0.0, 3.0])
    np.testing.assert_array_equal((1 - m).data, [0.0, 1.0, 0.0])
    assert m.sum().item() == 2.0 and m.mean().dtype == np.float32
    assert m.relu().dtype == np.float32  # kernels see floats, never a Numba typing error
    with np.errstate(divide="ignore"):  # log(False) = -inf
        outs = (m.exp(), m.log(), m.sqrt(), -m, m.abs(), m.clip(0, 0.5))
    for out in outs:
        assert out.dtype == np.float32  # not numpy's float16 for exp(bool), no error for -bool


def test_mask_logic_and_any_all():
    m = Tensor([1.0, 2.0, 3.0]) > 1.5
    np.testing.assert_array_equal((~m).data, [True, False, False])
    np.testing.assert_array_equal((m & (Tensor([1.0, 2.0, 3.0]) < 2.5)).data, [False, True, False])
    assert m.any() and not m.all() and m.any().item() is True
    with pytest.raises(TypeError, match="bool tensor"):
        ~Tensor([1.0])


def test_hash_is_identity_and_containers_use_identity():
    a, b = Tensor([1.0, 2.0]), Tensor([1.0, 2.0])
    assert hash(a) == object.__hash__(a) and hash(a) != hash(b)
    assert {a: 1, b: 2}[b] == 2 and len({a, b}) == 2
    assert a in [a] and a in {a} and b not in {a}


def test_bool_of_one_element_only():
    assert bool(Tensor([2.0])) and not bool(Tensor(0.0)) and bool(Tensor([[True]]))
    with pytest.raises(ValueError, match="truth value of a tensor with 2 elements.*ambiguous"):
        bool(Tensor([1.0, 2.0]))
    with pytest.raises(ValueError, match="0 elements"):
        bool(Tensor(np.zeros(0)))


def test_library_code_stays_identity_based():
    """The optimizer and module walks never compare Tensors with == (which is elementwise now)."""
    from tinygrad_nn import nn, optim

    layer = nn.Dense(2, 2, rng=0)
    opt = optim.SGD(layer.parameters() + [Tensor(np.ones(2), requires_grad=True)], lr=0.1)
    with pytest.raises(ValueError, match="more than once"):
        optim.SGD([layer.weight, layer.weight])
    assert len(opt.params) == 3 and len(nn.Sequential(layer, layer).parameters()) == 2


# ---------------------------------------------------------------- item 2: argmax, min, var, where
@pytest.mark.parametrize("name", ["argmax", "argmin"])
@given(x=tensors(shape=shapes(min_dims=1, max_dims=3, min_side=1)), data=st.data())
def test_argmax_argmin_match_numpy(name, x, data):
    axis = data.draw(st.one_of(st.none(), st.integers(-x.ndim, x.ndim - 1)))
    keep = data.draw(st.booleans())
    out = getattr(x, name)(axis=axis, keepdims=keep)
    ref = getattr(np, name)(x.data, axis=axis, keepdims=keep)
    assert out.dtype == np.int64 and not out.requires_grad
    np.testing.assert_array_equal(out.data, ref)


def test_argmax_errors():
    with pytest.raises(ValueError, match="empty tensor"):
        Tensor(np.zeros((0, 3))).argmax()
    with pytest.raises(ValueError, match="argmax: axis 2 is out of range for 2 axes"):
        Tensor(np.zeros((2, 3))).argmax(2)


@given(x=tensors(shape=shapes(max_dims=3, min_side=1)), data=st.data())
def test_min_values_and_gradient(x, data):
    axis = data.draw(st.one_of(st.none(), st.integers(-max(x.ndim, 1), max(x.ndim, 1) - 1)))
    keep = data.draw(st.booleans())
    if x.ndim == 0:
        axis = None
    np.testing.assert_allclose(x.min(axis, keep).data, np.min(x.data, axis=axis, keepdims=keep))
    without_near_ties(x)
    gradcheck(lambda t: t.min(axis, keep), x)


def test_min_ties_split_the_gradient_like_max():
    x = Tensor([1.0, 3.0, 1.0], requires_grad=True)
    x.min().backward()
    np.testing.assert_array_equal(x.grad, [0.5, 0.0, 0.5])


@given(x=tensors(shape=shapes(min_dims=1, max_dims=3, min_side=2)), data=st.data(),
       correction=st.sampled_from([0, 1, 2]))
def test_var_std_match_numpy_ddof(x, data, correction):
    axis = data.draw(st.one_of(st.none(), st.integers(-x.ndim, x.ndim - 1)))
    n = x.size if axis is None else x.shape[axis]
    assume(n - correction > 0)
    keep = data.draw(st.booleans())
    np.testing.assert_allclose(x.var(axis, correction, keep).data,
                               np.var(x.data, axis=axis, ddof=correction, keepdims=keep), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(x.std(axis=axis, correction=correction).data,
                               np.std(x.data, axis=axis, ddof=correction), rtol=1e-10, atol=1e-12)
    gradcheck(lambda t: t.var(axis, correction, keep), x)
    assume(np.all(np.var(x.data, axis=axis, ddof=correction) > 1e-3))
    gradcheck(lambda t: t.std(axis, correction), x)


def test_var_default_is_unbiased_and_zero_dof_warns():
    x = Tensor([1.0, 2.0, 3.0, 4.0])
    assert x.var().item() == pytest.approx(np.var(x.data, ddof=1))
    with pytest.warns(RuntimeWarning, match="degrees of freedom"):
        assert np.isnan(Tensor([2.0]).var().item())


@given(data=st.data(), shape=shapes(max_dims=2))
def test_where_values_and_gradients(data, shape):
    a = data.draw(tensors(shape=shape))
    b = data.draw(tensors(shape=shape[-1:] if shape else ()))
    cond = np.asarray(data.draw(st.lists(st.booleans(), min_size=1, max_size=1)) * max(a.size, 1))
    cond = cond[: a.size].reshape(shape)
    out = tn.where(Tensor(cond), a, b)
    np.testing.assert_array_equal(out.data, np.where(cond, a.data, b.data))
    gradcheck(lambda x, y: where(cond, x, y), a, b)


def test_where_with_scalars_and_float_condition():
    x = Tensor(np.array([-1.0, 2.0]), requires_grad=True)
    out = tn.where(x > 0, x, 0.0)
    assert out.dtype == np.float64
    out.sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 1.0])
    np.testing.assert_array_equal(tn.where(np.array([0.0, 3.0]), 1.0, 2.0).data, [2.0, 1.0])
    with pytest.raises(ValueError, match="where: shapes"):
        tn.where(np.ones(3, bool), Tensor(np.ones(2)), 0.0)


# ---------------------------------------------------------------- item 3: shape and conversion
@given(x=tensors(shape=shapes(max_dims=3)), data=st.data())
def test_unsqueeze_squeeze(x, data):
    axis = data.draw(st.integers(-x.ndim - 1, x.ndim))
    out = x.unsqueeze(axis)
    np.testing.assert_array_equal(out.data, np.expand_dims(x.data, axis))
    gradcheck(lambda t: t.unsqueeze(axis), x)
    np.testing.assert_array_equal(out.squeeze().data, np.squeeze(x.data))
    np.testing.assert_array_equal(out.squeeze(axis).data, x.data)
    gradcheck(lambda t: t.unsqueeze(axis).squeeze(), x)


def test_squeeze_leaves_a_named_axis_of_size_not_one_as_pytorch():
    x = Tensor(np.zeros((2, 1, 3)))
    assert x.squeeze(0).shape == (2, 1, 3) and x.squeeze(1).shape == (2, 3)
    assert x.squeeze((0, 1)).shape == (2, 3) and x.squeeze(-2).shape == (2, 3)
    with pytest.raises(ValueError, match="squeeze: axis 3 is out of range"):
        x.squeeze(3)


@given(x=tensors(shape=st.sampled_from([(1,), (3,), (1, 2), (3, 1)])), lead=st.integers(0, 2))
def test_expand_values_and_gradient(x, lead):
    target = (2,) * lead + tuple(4 if n == 1 else n for n in x.shape)
    out = x.expand(*target)
    np.testing.assert_array_equal(out.data, np.broadcast_to(x.data, target))
    gradcheck(lambda t: t.expand(target) * 1.5, x)
    assert x.expand(*((-1,) * 0 + (2,) * lead + (-1,) * x.ndim)).shape == (2,) * lead + x.shape


def test_expand_errors():
    with pytest.raises(ValueError, match=r"\(3,\) cannot be expanded to \(2,\)"):
        Tensor(np.zeros(3)).expand(2)
    with pytest.raises(ValueError, match="fewer axes"):
        Tensor(np.zeros((2, 3))).expand(3)


@given(x=tensors(shape=shapes(min_dims=1, max_dims=4)), data=st.data())
def test_permute_and_two_axis_transpose(x, data):
    perm = data.draw(st.permutations(range(x.ndim)))
    np.testing.assert_array_equal(x.permute(*perm).data, np.transpose(x.data, perm))
    gradcheck(lambda t: t.permute(perm), x)
    if x.ndim != 2:  # a full permutation keeps numpy's meaning
        np.testing.assert_array_equal(x.transpose(*perm).data, np.transpose(x.data, perm))
    a, b = data.draw(st.integers(-x.ndim, x.ndim - 1)), data.draw(st.integers(-x.ndim, x.ndim - 1))
    if x.ndim > 1 or a == b:
        np.testing.assert_array_equal(x.transpose(a, b).data, np.swapaxes(x.data, a, b))
        gradcheck(lambda t: t.transpose(a, b), x)


def test_transpose_forms():
    x = Tensor(np.arange(24.0).reshape(2, 3, 4))
    assert x.transpose(0, 2).shape == (4, 3, 2) and x.transpose(1, 2).shape == (2, 4, 3)
    assert x.transpose().shape == (4, 3, 2) and x.transpose(2, 0, 1).shape == (4, 2, 3)
    m = Tensor(np.arange(6.0).reshape(2, 3))
    assert m.transpose(0, 1).shape == (3, 2) == m.transpose(1, 0).shape == m.T.shape
    with pytest.raises(ValueError, match="permute: 2 axes given for a 3-d tensor"):
        x.permute(0, 1)


def test_view_clone_tolist_float_int():
    x = Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    assert x.view(3, 2).shape == (3, 2) and x.view(-1).shape == (6,)
    c = x.clone()
    assert c.data is not x.data and c.requires_grad
    c.data[0, 0] = 99.0
    assert x.data[0, 0] == 0.0
    (c * 2).sum().backward()
    np.testing.assert_array_equal(x.grad, np.full((2, 3), 2.0))
    assert x.tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]] and Tensor(2.5).tolist() == 2.5
    assert float(Tensor([2.5])) == 2.5 and int(Tensor(-2.7)) == -2 and isinstance(int(Tensor(3.0)), int)
    with pytest.raises(ValueError, match="one element"):
        float(x)


def test_astype_is_differentiable_between_floats():
    x = Tensor(np.array([1.0, 2.0], np.float32), requires_grad=True)
    y = x.astype(np.float64)
    assert y.dtype == np.float64
    (y * y).sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_allclose(x.grad, [2.0, 4.0])
    assert (x > 1).astype(np.float32).tolist() == [0.0, 1.0]
    with pytest.raises(TypeError, match="astype.*int64"):
        x.astype(np.int64)


# ---------------------------------------------------------------- item 4: dim= / keepdim=
@pytest.mark.parametrize("name", ["sum", "mean", "max", "min", "logsumexp", "var", "std",
                                  "argmax", "argmin", "softmax", "log_softmax"])
def test_dim_and_keepdim_spellings(name):
    x = Tensor(np.random.default_rng(0).standard_normal((3, 4)))
    method = getattr(x, name)
    if name in ("softmax", "log_softmax"):
        np.testing.assert_array_equal(method(dim=0).data, method(axis=0).data)
    else:
        np.testing.assert_array_equal(method(dim=1, keepdim=True).data, method(axis=1, keepdims=True).data)
        assert method(dim=1, keepdim=True).shape == (3, 1)
    with pytest.raises(TypeError, match="both axis= and dim="):
        method(axis=0, dim=0)


def test_other_dim_spellings_and_cat():
    x = Tensor(np.zeros((2, 3, 4)))
    assert x.unsqueeze(dim=1).shape == (2, 1, 3, 4) and x.flatten(start_dim=0).shape == (24,)
    assert Tensor.cat([x, x], dim=2).shape == (2, 3, 8) == Tensor.concatenate([x, x], axis=2).shape
    assert Tensor.stack([x, x], dim=1).shape == (2, 2, 3, 4)
    assert x.squeeze(dim=0).shape == (2, 3, 4)
    from tinygrad_nn import nn
    assert nn.Flatten(start_dim=2)(x).shape == (2, 3, 4) and nn.Flatten()(x).shape == (2, 12)


# ---------------------------------------------------------------- item 5: constructors
def test_constructors_match_numpy():
    np.testing.assert_array_equal(Tensor.arange(5).data, np.arange(5, dtype=np.float32))
    np.testing.assert_array_equal(Tensor.arange(1, 2, 0.25, dtype=np.float64).data, np.arange(1, 2, 0.25))
    np.testing.assert_array_equal(Tensor.eye(3).data, np.eye(3))
    assert Tensor.eye(2, 3).shape == (2, 3) and Tensor.eye(2).dtype == np.float32
    np.testing.assert_array_equal(Tensor.full((2, 3), 7.0).data, np.full((2, 3), 7.0))
    x = Tensor(np.ones((2, 2), np.float64))
    assert Tensor.zeros_like(x).dtype == np.float64 and Tensor.ones_like(x).data.sum() == 4
    assert Tensor.zeros_like(np.ones(3, int)).dtype == np.float32
    assert Tensor.ones_like(x, requires_grad=True).requires_grad
    with pytest.raises(ValueError, match="step must be non-zero"):
        Tensor.arange(0, 3, 0)


def test_rand_is_seeded_uniform():
    a, b = Tensor.rand(3, 4, rng=5), Tensor.rand((3, 4), rng=np.random.default_rng(5))
    np.testing.assert_array_equal(a.data, b.data)
    np.testing.assert_array_equal(a.data, np.random.default_rng(5).random((3, 4)).astype(np.float32))
    assert a.dtype == np.float32 and (a.data >= 0).all() and (a.data < 1).all()
    assert Tensor.rand(2, dtype=np.float64, rng=1).dtype == np.float64


# ---------------------------------------------------------------- item 7: docstrings
def test_every_public_tensor_method_has_a_docstring():
    slots = {"data", "grad", "requires_grad"}  # attributes, described in the class docstring
    missing = [name for name, member in inspect.getmembers(Tensor)
               if not name.startswith("_") and name not in slots
               and not (getattr(member, "__doc__", None) or "").strip()]
    assert all(f"{name} :" in Tensor.__doc__ for name in slots)
    dunder = ["__add__", "__mul__", "__matmul__", "__eq__", "__lt__", "__bool__", "__float__"]
    missing += [name for name in dunder if not getattr(Tensor, name).__doc__]
    assert missing == []
    assert "axis" in Tensor.sum.__doc__ and "keepdims" in Tensor.sum.__doc__
    assert list(inspect.signature(Tensor.sum).parameters) == ["self", "axis", "keepdims"]


# ---------------------------------------------------------------- against real PyTorch
def test_against_pytorch_values_and_gradients():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    data = rng.standard_normal((3, 4, 5))
    cases = [
        (lambda t: t.min(dim=1).sum(), lambda t: t.min(dim=1).values.sum()),
        (lambda t: t.var(dim=2).sum(), lambda t: t.var(dim=2).sum()),
        (lambda t: t.std(dim=(0, 2), correction=0).sum(), lambda t: t.std(dim=(0, 2), correction=0).sum()),
        (lambda t: t.var(), lambda t: t.var()),
        (lambda t: (t.unsqueeze(1).expand(3, 2, 4, 5) * 2).sum(), lambda t: (t.unsqueeze(1).expand(3, 2, 4, 5) * 2).sum()),
        (lambda t: (t.permute(2, 0, 1).clone() ** 2).sum(), lambda t: (t.permute(2, 0, 1).clone() ** 2).sum()),
        (lambda t: (t.transpose(0, 2) * Tensor(np.arange(3.0))).sum(),
         lambda t: (t.transpose(0, 2) * torch.arange(3.0, dtype=torch.float64)).sum()),
        (lambda t: tn.where(t > 0, t, t * 0.5).sum(), lambda t: torch.where(t > 0, t, t * 0.5).sum()),
        (lambda t: t.gelu().sum(), lambda t: torch.nn.functional.gelu(t).sum()),
        (lambda t: t.gelu(approximate="tanh").sum(), lambda t: torch.nn.functional.gelu(t, approximate="tanh").sum()),
        (lambda t: t.silu().sum(), lambda t: torch.nn.functional.silu(t).sum()),
        (lambda t: t.view(12, 5).squeeze().sum(dim=0, keepdim=True).sum(), lambda t: t.view(12, 5).squeeze().sum(dim=0, keepdim=True).sum()),
    ]
    for ours, theirs in cases:
        x = Tensor(data.copy(), requires_grad=True)
        tx = torch.tensor(data, requires_grad=True)
        out, ref = ours(x), theirs(tx)
        out.backward()
        ref.backward()
        np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(x.grad, tx.grad.numpy(), rtol=1e-10, atol=1e-12)
    x, tx = Tensor(data), torch.tensor(data)
    for name in ("argmax", "argmin"):
        np.testing.assert_array_equal(getattr(x, name)(dim=1).data, getattr(tx, name)(dim=1).numpy())
        np.testing.assert_array_equal(getattr(x, name)().data, getattr(tx, name)().numpy())
    for op in COMPARISONS.values():
        np.testing.assert_array_equal(op[0](x, 0.1).data, op[0](tx, 0.1).numpy())
    m = x > 0
    np.testing.assert_array_equal((m * 2.5).data, ((tx > 0) * 2.5).numpy())
    assert (m * x).dtype == np.float64 and (tx > 0).sum().item() == m.sum().item()


def test_unseeded_constructors_and_embedding_follow_manual_seed():
    from tinygrad_nn import nn

    tn.manual_seed(7)
    a, e1 = Tensor.rand(3), nn.Embedding(4, 2).weight.data.copy()
    tn.manual_seed(7)
    b, e2 = Tensor.rand(3), nn.Embedding(4, 2).weight.data.copy()
    np.testing.assert_array_equal(a.data, b.data)
    np.testing.assert_array_equal(e1, e2)


# ---------------------------------------------------------------- pinned by make mutation
# (docs/mutation.md): constructor defaults, which results carry no graph, exact messages.
@pytest.mark.parametrize("make", [
    lambda: Tensor.zeros(2), lambda: Tensor.ones(2), lambda: Tensor.randn(2, rng=0),
    lambda: Tensor.rand(2, rng=0), lambda: Tensor.uniform(2, rng=0), lambda: Tensor.arange(3),
    lambda: Tensor.eye(2), lambda: Tensor.full((2,), 1.0), lambda: Tensor.zeros_like(np.ones(2)),
    lambda: Tensor.ones_like(np.ones(2)), lambda: Tensor([1.0]),
], ids=["zeros", "ones", "randn", "rand", "uniform", "arange", "eye", "full", "zeros_like",
        "ones_like", "Tensor"])
def test_constructors_do_not_require_grad_by_default(make):
    assert make().requires_grad is False


def test_uniform_defaults_to_the_unit_interval():
    x = Tensor.uniform(2000, rng=0).data
    assert 0.0 <= x.min() < 0.01 and 0.99 < x.max() < 1.0


def test_like_constructors_keep_a_float_dtype_and_make_others_float32():
    assert Tensor.ones_like(Tensor(np.ones(2, np.float32))).dtype == np.float32
    assert Tensor.ones_like(np.ones(2, np.float64)).dtype == np.float64
    assert Tensor.ones_like(np.ones(2, np.int64)).dtype == np.float32


@pytest.mark.parametrize("op", [
    lambda t, m: t.detach(), lambda t, m: ~m, lambda t, m: t.astype(np.bool_),
    lambda t, m: m.astype(np.float32), lambda t, m: t.any(), lambda t, m: t.all(),
    lambda t, m: m.sum(), lambda t, m: t < 1.5, lambda t, m: m.min(), lambda t, m: t.argmax(),
    lambda t, m: where(m, 1.0, 2.0), lambda t, m: where(m.data, np.ones(2), 0.0),
    lambda t, m: (t * 0).detach().var(axis=None, correction=2),
], ids=["detach", "invert", "astype-bool", "astype-from-bool", "any", "all", "mask-sum", "compare",
        "mask-min", "argmax", "where-constants", "where-arrays", "var-no-dof"])
def test_results_off_the_graph_do_not_require_grad(op):
    t, m = Tensor([1.0, 2.0], requires_grad=True), Tensor(np.array([True, False]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        out = op(t, m)
    assert out.requires_grad is False


def test_where_makes_constants_in_the_float_dtype_of_its_tensor():
    a = Tensor(np.array([1.0, 2.0]), requires_grad=True)  # float64
    out = where(np.array([1, 0]), a, 0.5)  # non-bool condition: != 0
    assert out.dtype == np.float64 and out.requires_grad
    np.testing.assert_array_equal(out.data, [1.0, 0.5])
    assert where([True, False], a, 0.1).data[1] == 0.1  # made in float64: 0.1 is not a float32
    assert where([True, False], 0.1, a).data[0] == 0.1
    assert where([True, False], 1.0, 2.0).dtype == np.float32
    np.testing.assert_array_equal(where(Tensor(np.array([0.0, 3.0])), 1.0, 2.0).data, [2.0, 1.0])


def test_constants_join_a_mask_as_float32_and_off_the_graph():
    mask = Tensor(np.array([True, False]))
    assert (mask + 1.5).dtype == np.float32 and (mask * [1.0, 2.0]).dtype == np.float32
    assert (Tensor([1.0, 2.0]) + [1.0, 2.0]).requires_grad is False


def test_data_assignment_coerces_like_the_constructor():
    t = Tensor([1.0])
    t.data = [1, 2]
    assert type(t.data) is np.ndarray and t.data.dtype == np.float32
    arr = np.ones(2)
    t.data = arr
    assert t.data is arr  # a float ndarray is kept as it is
    assert Tensor(arr).data is arr and Tensor(arr, dtype=np.float64).data is arr


def test_bool_dtype_is_accepted_and_float_data_converts():
    assert Tensor([1.0, 0.0], dtype=np.bool_).dtype == np.bool_
    assert Tensor(np.ones(2), dtype=np.float32).dtype == np.float32
    assert Tensor(np.ones(2, np.float32), dtype=np.float64).dtype == np.float64


def test_repr_shows_four_decimals_the_dtype_and_requires_grad():
    assert repr(Tensor([1.23456789, 2.0])) == "Tensor([1.2346 2.    ], dtype=float32)"
    assert repr(Tensor([1.5], requires_grad=True)) == "Tensor([1.5], dtype=float32, requires_grad=True)"
    assert repr(Tensor(np.arange(20.0))).count("...") == 0
    assert repr(Tensor(np.arange(21.0))) == "Tensor([ 0.  1.  2. ... 18. 19. 20.], dtype=float64)"
    assert repr(Tensor(np.ones((2, 2)))) == "Tensor([[1. 1.]\n        [1. 1.]], dtype=float64)"


def test_reduction_and_shape_defaults():
    x = Tensor(np.array([[3.0, 1.0], [2.0, 4.0]]))
    assert x.min().shape == x.argmax().shape == x.argmin().shape == x.var().shape == ()
    assert (x.argmax().item(), x.argmin().item()) == (3, 1)
    data = np.array([1.0, 2.0, 4.0, 7.0])
    np.testing.assert_allclose(Tensor(data).std().item(), np.std(data, ddof=1), rtol=1e-6)
    assert Tensor(np.ones((2, 3, 4))).flatten().shape == (2, 12)
    assert Tensor(np.ones(3)).flatten().shape == (3,)
    assert Tensor(np.float32(2.0)).flatten().shape == (1,)
    assert Tensor(np.arange(6.0)).view(3, 2).shape == (3, 2)
    mask = Tensor(np.array([[True, False], [True, True]]))
    assert mask.min().item() is False and mask.min(axis=[0, 1]).item() is False
    np.testing.assert_array_equal(mask.min(axis=0).data, [True, False])
    assert mask.min(axis=1, keepdims=True).shape == (2, 1)


def test_activation_defaults():
    x = np.array([-2.0, 1.0])
    np.testing.assert_allclose(Tensor(x).leaky_relu().data, [-0.02, 1.0], rtol=1e-12)
    np.testing.assert_allclose(Tensor(x).elu().data, [np.expm1(-2.0), 1.0], rtol=1e-12)
    from scipy.special import erf
    np.testing.assert_allclose(Tensor(x).gelu().data, x * (1 + erf(x / np.sqrt(2))) / 2, rtol=1e-12)
    np.testing.assert_allclose(Tensor(x).silu().data, x / (1 + np.exp(-x)), rtol=1e-12)


def test_axis_checks():
    x = Tensor(np.ones(2))
    with pytest.raises(TypeError, match=r"^transpose: axis must be an int, got 0\.5$"):
        x.transpose(0.5, 0)
    with pytest.raises(TypeError, match=r"^argmax: axis must be an int, got True$"):
        x.argmax(axis=True)
    with pytest.raises(ValueError, match=r"^transpose: axis 3 is out of range for 1 axes$"):
        x.transpose(0, 3)
    for bad in (-2, 1):
        with pytest.raises(ValueError, match=rf"^argmax: axis {bad} is out of range for 1 axes$"):
            x.argmax(axis=bad)
    assert Tensor(np.float32(1.0)).argmax(axis=-1).item() == 0
    with pytest.raises(ValueError, match=r"^argmin: axis 1 is out of range for 0 axes$"):
        Tensor(np.float32(1.0)).argmin(axis=1)
    with pytest.raises(ValueError, match=r"^unsqueeze: axis 5 is out of range for 2 axes$"):
        x.unsqueeze(5)


def test_tensor_api_messages_are_exact():
    cases = [
        (ValueError, r"<: shapes \(1, 2\) and \(3,\) cannot be broadcast together",
         lambda: Tensor([[1, 2]]) < Tensor([1, 2, 3])),
        (ValueError, r"the truth value of a tensor with 2 elements \(shape \(2,\)\) is ambiguous; use "
                     r"\.any\(\), \.all\(\) or compare an item\(\)", lambda: bool(Tensor([1.0, 2.0]))),
        (TypeError, r"astype: Tensor dtype must be float32, float64 or bool, got int32",
         lambda: Tensor([1.0]).astype(np.int32)),
        (ValueError, r"expand: shape \(3,\) has fewer axes than the tensor's \(2, 3\)",
         lambda: Tensor(np.ones((2, 3))).expand(3)),
        (ValueError, r"permute: 1 axes given for a 2-d tensor", lambda: Tensor(np.ones((2, 3))).permute(0)),
        (ValueError, r"argmin: cannot reduce an empty tensor of shape \(0,\)", lambda: Tensor(np.zeros(0)).argmin()),
        (ValueError, r"min: cannot reduce an empty tensor of shape \(0,\)",
         lambda: Tensor(np.zeros(0, bool)).min()),
        (ValueError, r"item\(\) needs a tensor with one element, got shape \(2,\)",
         lambda: Tensor([1.0, 2.0]).item()),
        (TypeError, r"only float tensors can require grad, this one has dtype bool \(bool masks and "
                    r"integer indices are not differentiable\)", lambda: Tensor(np.array([True])).requires_grad_()),
        (TypeError, r"~ needs a bool tensor, got dtype float32", lambda: ~Tensor([1.0])),
        (ValueError, r"arange: step must be non-zero, got 0", lambda: Tensor.arange(0, 3, 0)),
        (ValueError, r"concatenate needs at least one tensor", lambda: Tensor.concatenate([])),
        (ValueError, r"stack needs at least one tensor", lambda: Tensor.stack([])),
        (TypeError, r"Tensor data must be numeric \(bool, int or float\), got dtype <U1 from str",
         lambda: Tensor("a")),
        (TypeError, r"cannot build a Tensor from list: setting an array element with a sequence\..*",
         lambda: Tensor([[1, 2], [3]])),
        (TypeError, r"Tensor dtype must be float32, float64 or bool, got int64",
         lambda: Tensor([1.0], dtype=np.int64)),
    ]
    for error, message, call in cases:
        with pytest.raises(error, match=rf"^{message}$"):
            call()
    for symbol, op in [("<=", lambda a, b: a <= b), (">", lambda a, b: a > b), (">=", lambda a, b: a >= b),
                       ("==", lambda a, b: a == b), ("!=", lambda a, b: a != b), ("&", lambda a, b: a & b),
                       ("|", lambda a, b: a | b)]:
        with pytest.raises(ValueError, match=rf"^{re.escape(symbol)}: shapes \(2,\) and \(3,\) cannot be"):
            op(Tensor(np.array([True, False])), np.array([True, False, True]))


def test_var_without_degrees_of_freedom_warns_at_the_caller():
    with pytest.warns(RuntimeWarning, match=r"^var: degrees of freedom n - correction = 1 - 1 <= 0$") as w:
        out = Tensor([1.0]).var()
    assert np.isnan(out.item()) and w[0].filename == __file__
    with pytest.warns(RuntimeWarning, match=r"= 2 - 2 <= 0$"):
        assert np.isinf(Tensor([1.0, 3.0]).var(correction=2).item())


def test_flatten_and_concatenate_take_torch_names():
    assert Tensor(np.ones((2, 3, 4))).flatten(start_dim=2).shape == (2, 3, 4)
    assert Tensor.cat([np.ones((1, 2)), np.ones((1, 2))], dim=1).shape == (1, 4)


def test_tensors_can_be_weakly_referenced():
    import weakref
    t = Tensor([1.0])
    assert weakref.ref(t)() is t
