"""Module parameters, buffers, dict registration, apply/requires_grad_, atomic load_state_dict
(issue 11 items 8, 13; issue 10 item 13) and the activation modules against numpy/PyTorch."""
import numpy as np
import pytest
import scipy.special as sp
from hypothesis import given

from tinygrad_nn import Tensor, nn, optim
from tinygrad_nn.testing import gradcheck, shapes, tensors


class Heads(nn.Module):
    def __init__(self):
        self.trunk = nn.Dense(3, 4, rng=0)
        self.heads = {"a": nn.Dense(4, 2, rng=1), "b": nn.Dense(4, 1, rng=2)}
        self.scales = {"a": Tensor(np.ones(2), requires_grad=True)}
        self.mask = Tensor(np.ones(4))  # requires_grad=False: state, never trained
        self.register_buffer("steps", np.array(0, dtype=np.int64))

    def forward(self, x):
        h = self.trunk(x).relu() * self.mask
        return self.heads["a"](h) * self.scales["a"], self.heads["b"](h)


# ---------------------------------------------------------------- item 8
def test_dicts_register_like_lists_and_only_requires_grad_tensors_are_parameters():
    m = Heads()
    names = [n for n, _ in m.named_parameters()]
    assert names == ["trunk.weight", "trunk.bias", "heads.a.weight", "heads.a.bias",
                     "heads.b.weight", "heads.b.bias", "scales.a"]
    assert [n for n, _ in m.named_children()] == ["trunk", "heads.a", "heads.b"]
    assert all(p.requires_grad for p in m.parameters()) and all(p is not m.mask for p in m.parameters())
    assert list(m.state_dict()) == names[:-1] + ["scales.a", "mask", "steps"]
    assert [n for n, _ in m.named_buffers()] == ["steps"] and m.buffers()[0].dtype == np.int64


def test_dict_heads_are_trained():
    m = Heads()
    opt = optim.SGD(m.parameters(), lr=0.1)
    before = m.heads["b"].weight.data.copy()
    a, b = m(Tensor(np.ones((2, 3), np.float32)))
    (a.sum() + b.sum()).backward()
    opt.step()
    assert not np.array_equal(before, m.heads["b"].weight.data)
    np.testing.assert_array_equal(m.mask.data, 1.0)


def test_register_buffer_rules():
    m = nn.Module()
    t = m.register_buffer("count", [1, 2])
    assert m.count is t and t.dtype == np.int64 and not t.requires_grad
    m.register_buffer("count", np.zeros(2))  # re-registering replaces
    assert m.count.dtype == np.float64 and list(m.state_dict()) == ["count"] and m.parameters() == []
    m.w = Tensor([1.0], requires_grad=True)
    with pytest.raises(KeyError, match="attribute 'w' already exists"):
        m.register_buffer("w", np.zeros(1))
    with pytest.raises(ValueError, match="public identifier"):
        m.register_buffer("_hidden", np.zeros(1))
    with pytest.raises(ValueError, match="requires grad"):
        m.register_buffer("p", Tensor([1.0], requires_grad=True))
    with pytest.raises(TypeError, match="numeric"):
        m.register_buffer("s", np.array(["a"]))


# ---------------------------------------------------------------- item 13: apply, requires_grad_
def test_requires_grad_freezes_parameters_but_not_buffers_and_keeps_state():
    m = Heads()
    sd_keys = list(m.state_dict())
    assert m.requires_grad_(False) is m and m.parameters() == []
    assert list(m.state_dict()) == sd_keys  # frozen tensors are still saved
    m.heads["a"].requires_grad_(True)
    assert [n for n, _ in m.named_parameters()] == ["heads.a.weight", "heads.a.bias"]
    m.requires_grad_(True)
    assert not m.steps.requires_grad and len(m.parameters()) == 8  # the mask joins: it is not a buffer


def test_apply_visits_children_first_then_self():
    seq = nn.Sequential(nn.Dense(2, 2, rng=0), nn.Sequential(nn.ReLU(), nn.Dense(2, 1, rng=1)))
    seen = []
    assert seq.apply(lambda m: seen.append(type(m).__name__)) is seq
    assert seen == ["Dense", "ReLU", "Dense", "Sequential", "Sequential"]
    shared = nn.Dense(2, 2, rng=0)
    count = []
    nn.Sequential(shared, shared).apply(count.append)
    assert len(count) == 2  # a shared module is visited once

    def zero_dense(m):
        if isinstance(m, nn.Dense):
            m.weight.data[...] = 0

    seq.apply(zero_dense)
    assert all(np.all(m.weight.data == 0) for m in seq.modules() if isinstance(m, nn.Dense))
    with pytest.raises(TypeError, match="callable"):
        seq.apply(3)


# ---------------------------------------------------------------- issue 10 item 13: atomic load
@pytest.mark.parametrize("bad", [
    {"trunk.weight": np.array([["x"] * 4] * 3)},  # not numeric
    {"steps": np.array(1.5)},  # float into an int64 buffer
    {"heads.b.bias": np.zeros(2)},  # shape
    {"heads.a.bias": object()},
])
def test_load_state_dict_is_atomic(bad):
    m = Heads()
    before = m.state_dict()
    new = {k: v + 1 for k, v in before.items()}
    new.update(bad)
    with pytest.raises(ValueError, match="load_state_dict into Heads") as info:
        m.load_state_dict(new)
    assert repr(next(iter(bad))) in str(info.value)
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(v, before[k], err_msg=k)


def test_load_state_dict_casts_and_non_strict():
    m = Heads()
    sd = {k: v.astype(np.float64) if v.dtype.kind == "f" else v for k, v in m.state_dict().items()}
    sd["trunk.bias"] = sd["trunk.bias"] + 1
    m.load_state_dict(sd)
    assert m.trunk.bias.dtype == np.float32
    np.testing.assert_allclose(m.trunk.bias.data, sd["trunk.bias"], rtol=1e-6)
    m.load_state_dict({"steps": np.array(7), "extra": np.zeros(1)}, strict=False)
    assert int(m.steps.data) == 7
    with pytest.raises(ValueError, match="missing keys"):
        m.load_state_dict({"steps": np.array(7)})


# ---------------------------------------------------------------- activation modules
def test_activation_modules_against_numpy():
    x = np.linspace(-30, 30, 121)
    t = Tensor(x)
    phi = 0.5 * (1 + sp.erf(x / np.sqrt(2)))
    np.testing.assert_allclose(nn.GELU()(t).data, x * phi, rtol=1e-12, atol=1e-300)
    tanh_form = 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))
    np.testing.assert_allclose(nn.GELU(approximate="tanh")(t).data, tanh_form, rtol=1e-12)
    np.testing.assert_allclose(nn.SiLU()(t).data, x * sp.expit(x), rtol=1e-12)
    np.testing.assert_allclose(nn.Softplus()(t).data, np.where(x > 20, x, np.logaddexp(0, x)), rtol=1e-12)
    np.testing.assert_allclose(nn.Softplus(beta=2, threshold=5)(t).data,
                               np.where(2 * x > 5, x, np.logaddexp(0, 2 * x) / 2), rtol=1e-12)
    m = np.random.default_rng(0).standard_normal((3, 4))
    np.testing.assert_allclose(nn.LogSoftmax(dim=0)(Tensor(m)).data, sp.log_softmax(m, axis=0), rtol=1e-12)
    np.testing.assert_allclose(nn.Softmax(dim=1)(Tensor(m)).data, sp.softmax(m, axis=1), rtol=1e-12)
    assert nn.Identity(3, any="thing")(t) is t
    with pytest.raises(ValueError, match="approximate must be one of 'none', 'tanh'"):
        nn.GELU(approximate="fast")
    with pytest.raises(ValueError, match="beta must be"):
        nn.Softplus(beta=0)


@pytest.mark.parametrize("layer", [nn.GELU(), nn.GELU(approximate="tanh"), nn.SiLU(), nn.Softplus(),
                                   nn.Softplus(beta=0.5, threshold=1.0), nn.LogSoftmax()],
                         ids=repr)
@given(x=tensors(shape=shapes(min_dims=1, min_side=1)))  # 0-d and empty: issue 10 items 6, 8
def test_activation_module_gradients(layer, x):
    if isinstance(layer, nn.Softplus):  # away from the switch to the identity
        from hypothesis import assume
        assume(np.all(np.abs(x.data * layer.beta - layer.threshold) > 1e-3))
    gradcheck(layer, x)


def test_activation_modules_against_pytorch():
    torch = pytest.importorskip("torch")
    x = np.linspace(-25, 25, 101).reshape(1, -1)
    pairs = [(nn.GELU(), torch.nn.GELU()), (nn.GELU(approximate="tanh"), torch.nn.GELU(approximate="tanh")),
             (nn.SiLU(), torch.nn.SiLU()), (nn.Softplus(), torch.nn.Softplus()),
             (nn.Softplus(beta=3, threshold=4), torch.nn.Softplus(beta=3, threshold=4)),
             (nn.Softmax(dim=1), torch.nn.Softmax(dim=1)), (nn.LogSoftmax(dim=1), torch.nn.LogSoftmax(dim=1)),
             (nn.Identity(), torch.nn.Identity())]
    g = np.random.default_rng(0).standard_normal(x.shape)
    for ours, theirs in pairs:
        X, TX = Tensor(x.copy(), requires_grad=True), torch.tensor(x, requires_grad=True)
        y, ty = ours(X), theirs(TX)
        y.backward(g), ty.backward(torch.tensor(g))
        np.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=1e-12, atol=1e-15, err_msg=repr(ours))
        np.testing.assert_allclose(X.grad, TX.grad.numpy(), rtol=1e-10, atol=1e-15, err_msg=repr(ours))


def test_pytorch_spellings_are_plain_aliases():
    assert nn.BatchNorm1d is nn.BatchNorm1D and nn.BatchNorm2d is nn.BatchNorm2D
    assert nn.Conv2d is nn.Conv2D and nn.MaxPool2d is nn.MaxPool2D and nn.AvgPool2d is nn.AvgPool2D
    assert Tensor.cat is Tensor.concatenate and Tensor.view is Tensor.reshape
    assert all(name in nn.__all__ for name in ("BatchNorm1d", "BatchNorm2d", "Conv2d", "MaxPool2d"))


def test_load_state_dict_invalidates_graphs_that_saved_the_old_values():
    m = nn.Dense(2, 2, rng=0)
    loss = (m(Tensor(np.ones((1, 2), np.float32))) * m.weight.sum()).sum()
    m.load_state_dict(m.state_dict())
    with pytest.raises(RuntimeError, match="modified after the forward pass"):
        loss.backward()


def test_modules_with_buffers_pickle_and_copy():
    import copy
    import pickle

    m = nn.Sequential(nn.BatchNorm1D(3), nn.Embedding(4, 3, rng=0), nn.LayerNorm(3))
    m[0](Tensor(np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)))
    for clone in (pickle.loads(pickle.dumps(m)), copy.deepcopy(m)):
        assert list(clone.state_dict()) == list(m.state_dict())
        for (k, a), b in zip(m.state_dict().items(), clone.state_dict().values()):
            np.testing.assert_array_equal(a, b, err_msg=k)
        assert [n for n, _ in clone.named_buffers()] == ["0.running_mean", "0.running_var",
                                                        "0.num_batches_tracked"]


# ---------------------------------------------------------------- pinned by make mutation
# (docs/mutation.md): Module's exact messages, private attributes skipped, requires_grad_.
def test_module_messages_are_exact():
    m = nn.Dense(2, 2, rng=0)
    cases = [
        (ValueError, r"register_buffer: name must be a public identifier, got '_x'",
         lambda: m.register_buffer("_x", np.zeros(2))),
        (ValueError, r"register_buffer: name must be a public identifier, got 'a b'",
         lambda: m.register_buffer("a b", np.zeros(2))),
        (ValueError, r"register_buffer: 'buf' requires grad; a buffer is not trained \(assign it as an "
                     r"attribute to make a parameter\)",
         lambda: m.register_buffer("buf", Tensor([1.0], requires_grad=True))),
        (TypeError, r"register_buffer: 'buf2' must be numeric, got dtype <U1",
         lambda: m.register_buffer("buf2", np.array(["a"]))),
        (TypeError, r"apply needs a callable Module -> None, got int", lambda: m.apply(3)),
        (TypeError, r"load_state_dict expects a mapping name -> array, got list", lambda: m.load_state_dict([1])),
        (NotImplementedError, r"Module must define forward\(\)", lambda: nn.Module()(1)),
    ]
    for error, message, call in cases:
        with pytest.raises(error, match=rf"^{message}$"):
            call()
    with pytest.raises(KeyError) as info:
        m.register_buffer("weight", np.zeros(2))
    assert info.value.args[0] == "register_buffer: attribute 'weight' already exists on Dense"
    sd = m.state_dict()
    bad = {"weight": np.zeros((3, 3)), "extra": np.zeros(1), "more": np.zeros(1)}
    with pytest.raises(ValueError, match=r"^load_state_dict into Dense: missing keys \['bias'\]; unexpected "
                                         r"keys \['extra', 'more'\]; shape mismatch: 'weight' expected \(2, 2\), "
                                         r"got \(3, 3\)$"):
        m.load_state_dict(bad)
    with pytest.raises(ValueError, match=r"^load_state_dict into Dense: bad values: 'weight' has dtype <U1, "
                                         r"which cannot become float32, 'bias' has dtype <U1, which cannot "
                                         r"become float32$"):
        m.load_state_dict({"weight": np.full((2, 2), "a"), "bias": np.full(2, "b")})
    m.load_state_dict(sd)


def test_private_attributes_are_skipped_and_requires_grad_defaults_to_true():
    class Net(nn.Module):
        def __init__(self):
            self.a = nn.Dense(1, 1, rng=0)
            self._hidden = nn.Dense(1, 1, rng=0)
            self.b = nn.Dense(1, 1, rng=0)
            self.register_buffer("count", np.zeros(1))

        def forward(self, x):
            return x

    net = Net()
    assert [n for n, _ in net.named_parameters()] == ["a.weight", "a.bias", "b.weight", "b.bias"]
    assert len(net.modules()) == 3
    net.requires_grad_(False)
    assert net.parameters() == []
    net.requires_grad_()
    assert len(net.parameters()) == 4 and net.count.requires_grad is False
