"""The module system: registration, state dicts, modes, layers against numpy references, init,
gradients through small stacks, repr, determinism and bad input."""
import math
import pickle
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_nn.functional as F
from tinygrad_nn import Tensor, nn
from tinygrad_nn.nn import init
from tinygrad_nn.testing import gradcheck


class Net(nn.Module):
    """A custom model: an own Tensor, a list of blocks, a nested Sequential, a private cache."""

    def __init__(self, rng=0):
        super().__init__()
        self.scale = Tensor(np.ones(2, dtype=np.float32), requires_grad=True)
        self.blocks = [nn.Dense(3, 4, rng=rng), nn.Dense(4, 2, rng=rng + 1, bias=False)]
        self.head = nn.Sequential(nn.Tanh(), nn.Dense(2, 2, rng=rng + 2))
        self._cache = Tensor(np.zeros(5))  # private: never a parameter
        self.n_blocks = 2

    def forward(self, x):
        for block in self.blocks:
            x = block(x)
        return self.head(x) * self.scale


NET_NAMES = ["scale", "blocks.0.weight", "blocks.0.bias", "blocks.1.weight", "head.1.weight",
             "head.1.bias"]


# ---------------------------------------------------------------- registration
def test_registration_nested_and_lists_with_dotted_names():
    net = Net()
    assert [name for name, _ in net.named_parameters()] == NET_NAMES
    assert [p.shape for p in net.parameters()] == [(2,), (3, 4), (4,), (4, 2), (2, 2), (2,)]
    assert net.parameters()[1] is net.blocks[0].weight
    assert [name for name, _ in net.named_children()] == ["blocks.0", "blocks.1", "head"]
    assert len(net.modules()) == 6  # Net, 2 Dense, Sequential, Tanh, Dense


def test_registration_order_is_assignment_order_and_reassignment_replaces():
    class M(nn.Module):
        def __init__(self):
            self.b = Tensor([1.0], requires_grad=True)
            self.a = Tensor([2.0], requires_grad=True)
            self.b = Tensor([3.0, 4.0], requires_grad=True)  # replaced in place, keeps its slot

    assert [(n, p.shape) for n, p in M().named_parameters()] == [("b", (2,)), ("a", (1,))]


def test_shared_parameters_and_modules_are_listed_once():
    shared = nn.Dense(2, 2, rng=0)
    seq = nn.Sequential(shared, nn.ReLU(), shared)
    assert [n for n, _ in seq.named_parameters()] == ["0.weight", "0.bias"]

    class Tied(nn.Module):
        def __init__(self):
            self.enc = nn.Dense(3, 2, rng=0)
            self.tied = self.enc.weight

    assert [n for n, _ in Tied().named_parameters()] == ["enc.weight", "enc.bias"]


def test_lists_appended_after_assignment_and_non_members_ignored():
    class M(nn.Module):
        def __init__(self):
            self.layers = []
            self.config = {"w": Tensor([1.0])}  # dicts are not walked
            self.sizes = [3, 4]
            self.array = np.ones(3)  # plain arrays are not parameters

    m = M()
    m.layers.append(nn.Dense(2, 1, rng=0))
    assert [n for n, _ in m.named_parameters()] == ["layers.0.weight", "layers.0.bias"]


def test_calling_a_module_is_its_forward_unless_a_class_wraps_it():
    assert nn.Dense.__call__ is nn.Dense.forward  # no wrapper frame per layer call

    class Wrapped(nn.Module):
        def __call__(self, x):
            return ("wrapped", self.forward(x))

    class Child(Wrapped):
        def forward(self, x):
            return x + 1

    class Override(nn.Identity):
        def forward(self, x):
            return x * 2

    assert Child()(1) == ("wrapped", 2) and Override()(3) == 6 and nn.Identity()(3) == 3


def test_module_without_init_call_and_without_forward():
    class NoForward(nn.Module):
        pass

    with pytest.raises(NotImplementedError, match="NoForward must define forward"):
        NoForward()(Tensor([1.0]))
    assert NoForward().training and NoForward().parameters() == []


# ---------------------------------------------------------------- state dict
def test_state_dict_copies_and_round_trips_into_the_same_tensors():
    src, dst = Net(rng=0), Net(rng=10)
    x = Tensor(np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32))
    sd = src.state_dict()
    assert list(sd) == NET_NAMES
    assert all(isinstance(v, np.ndarray) for v in sd.values())
    sd["scale"][:] = 7.0  # a copy: the module is untouched
    assert np.all(src.scale.data == 1.0)
    sd["scale"][:] = 1.0
    before = dst.parameters()
    assert dst.load_state_dict(sd) is dst
    assert all(a is b for a, b in zip(before, dst.parameters()))  # optimizers stay valid
    np.testing.assert_array_equal(dst(x).data, src(x).data)
    for (name, a), b in zip(src.state_dict().items(), dst.state_dict().values()):
        assert a.dtype == b.dtype and np.array_equal(a, b), name


def test_load_state_dict_lists_every_problem_and_changes_nothing():
    net = Net()
    before = net.state_dict()
    sd = dict(before)
    del sd["blocks.0.bias"], sd["head.1.bias"]
    sd["extra.weight"] = np.zeros(3)
    sd["blocks.1.weight"] = np.zeros((2, 4))
    sd["scale"] = np.full(2, 5.0)
    with pytest.raises(ValueError) as info:
        net.load_state_dict(sd)
    msg = str(info.value)
    assert "missing keys ['blocks.0.bias', 'head.1.bias']" in msg
    assert "unexpected keys ['extra.weight']" in msg
    assert "'blocks.1.weight' expected (4, 2), got (2, 4)" in msg
    assert all(np.array_equal(before[k], v) for k, v in net.state_dict().items())


@pytest.mark.parametrize("mutate, pattern", [
    (lambda sd: sd.pop("0.bias"), r"missing keys \['0.bias'\]"),
    (lambda sd: sd.update(bogus=np.zeros(1)), r"unexpected keys \['bogus'\]"),
    (lambda sd: sd.update({"0.weight": np.zeros((3, 2))}), r"'0.weight' expected \(2, 3\), got \(3, 2\)"),
])
def test_load_state_dict_each_error(mutate, pattern):
    model = nn.Sequential(nn.Dense(2, 3, rng=0))
    sd = model.state_dict()
    mutate(sd)
    with pytest.raises(ValueError, match=pattern):
        model.load_state_dict(sd)


def test_load_state_dict_accepts_tensors_casts_and_rejects_non_mappings():
    model = nn.Dense(2, 2, rng=0)
    model.load_state_dict({"weight": Tensor(np.eye(2)), "bias": [1, 2]})
    assert model.weight.dtype == np.float32
    np.testing.assert_array_equal(model.weight.data, np.eye(2))
    np.testing.assert_array_equal(model.bias.data, [1.0, 2.0])
    with pytest.raises(TypeError, match="expects a mapping"):
        model.load_state_dict([("weight", np.eye(2))])


# ---------------------------------------------------------------- modes, grads, pickling
def test_train_eval_propagate_and_drive_dropout():
    model = nn.Sequential(nn.Dense(4, 4, rng=0), nn.Sequential(nn.Dropout(0.5, rng=0)))
    drop = model[1][0]
    x = Tensor(np.ones((200, 50), dtype=np.float32))
    assert model.eval() is model and not drop.training
    assert drop(x) is x
    model.train()
    assert drop.training and all(m.training for m in model.modules())
    out = drop(x).data
    assert set(np.unique(out)) <= {0.0, 2.0}  # inverted: survivors scaled by 1/(1-p)
    assert abs((out == 0).mean() - 0.5) < 0.03


def test_dropout_seeded_and_validated():
    x = Tensor(np.ones((10, 10)))
    a, b = nn.Dropout(0.3, rng=4), nn.Dropout(0.3, rng=4)
    for _ in range(2):  # the same mask sequence, call after call
        np.testing.assert_array_equal(a(x).data, b(x).data)
    assert not np.array_equal(a(x).data, a(x).data)
    c, d = nn.Dropout(0.3, rng=np.random.RandomState(1)), nn.Dropout(0.3, rng=np.random.RandomState(1))
    np.testing.assert_array_equal(c(x).data, d(x).data)
    assert nn.Dropout(0.0)(x) is x
    with pytest.raises(ValueError, match=r"Dropout: p must be in \[0, 1\), got 1.0"):
        nn.Dropout(1.0)


def test_zero_grad_clears_every_parameter():
    net = Net()
    net(Tensor(np.ones((2, 3), dtype=np.float32))).sum().backward()
    assert all(p.grad is not None and p.grad.shape == p.shape for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_modules_pickle():
    model = nn.Sequential(nn.Conv2D(1, 2, 3, rng=0), nn.ReLU(), nn.Flatten(), nn.Dropout(0.2, rng=1),
                          nn.Dense(8, 3, rng=2), nn.Lambda(F.softplus))
    clone = pickle.loads(pickle.dumps(model))
    x = Tensor(np.random.default_rng(0).standard_normal((2, 1, 4, 4)).astype(np.float32))
    model.eval(), clone.eval()
    np.testing.assert_array_equal(clone(x).data, model(x).data)
    assert repr(clone) == repr(model)


# ---------------------------------------------------------------- Dense and init
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dense_forward_is_x_at_w_plus_b(dtype):
    layer = nn.Dense(5, 3, rng=1, dtype=dtype)
    x = np.random.default_rng(0).standard_normal((4, 5)).astype(dtype)
    out = layer(Tensor(x))
    assert out.dtype == dtype and layer.weight.shape == (5, 3) and layer.bias.shape == (3,)
    np.testing.assert_allclose(out.data, x @ layer.weight.data + layer.bias.data, rtol=1e-6)
    no_bias = nn.Dense(5, 3, bias=False, rng=1)
    assert no_bias.bias is None and [n for n, _ in no_bias.named_parameters()] == ["weight"]
    np.testing.assert_allclose(no_bias(Tensor(x)).data, x @ no_bias.weight.data, rtol=1e-5)
    batched = Tensor(np.ones((2, 4, 5), dtype=dtype))  # leading axes pass through
    assert layer(batched).shape == (2, 4, 3)


@pytest.mark.parametrize("make", [lambda **kw: nn.Dense(3, 2, **kw),
                                  lambda **kw: nn.Conv2D(1, 2, 3, **kw)], ids=["Dense", "Conv2D"])
@pytest.mark.parametrize("dtype", [np.int32, np.int64, bool, np.float16, np.complex64, "text"])
def test_layers_refuse_non_float32_64_dtypes(make, dtype):
    """Integer dtypes used to give all-zero weights, float16 silently float32."""
    with pytest.raises(TypeError, match="dtype must be float32 or float64, got"):
        make(dtype=dtype)


@pytest.mark.parametrize("make", [lambda **kw: nn.Dense(3, 2, **kw),
                                  lambda **kw: nn.Conv2D(1, 2, 3, **kw),
                                  lambda **kw: nn.Dense(3, 2, init="he_normal", **kw),
                                  lambda **kw: init.glorot_uniform(3, 2, **kw),
                                  lambda **kw: init.he_normal(3, 2, **kw)])
@pytest.mark.parametrize("gain", [math.nan, math.inf, "1"])
def test_bad_gain_is_refused_by_name(make, gain):
    with pytest.raises(ValueError, match=r"gain must be a (finite|real) number, got"):
        make(gain=gain)


@pytest.mark.parametrize("fan_in, fan_out, gain, factor", [
    (4, 5, 1.0, 6.0), (7, 3, math.sqrt(1 / 3), 2.0), (7, 3, 1 / math.sqrt(3), 2.0),
])
def test_dense_glorot_init_reproduces_sklearn_draws(fan_in, fan_out, gain, factor):
    """scikit-learn's MLP: bound sqrt(factor / (in + out)); coef then intercept from U(-b, b)."""
    layer = nn.Dense(fan_in, fan_out, rng=np.random.RandomState(3), gain=gain)
    rs = np.random.RandomState(3)
    bound = np.sqrt(factor / (fan_in + fan_out))
    coef = rs.uniform(-bound, bound, (fan_in, fan_out)).astype(np.float32)
    intercept = rs.uniform(-bound, bound, fan_out).astype(np.float32)
    np.testing.assert_array_equal(layer.weight.data, coef)
    np.testing.assert_array_equal(layer.bias.data, intercept)
    assert init.glorot_bound(fan_in, fan_out, gain) == bound


def test_dense_init_matches_sklearn_init_coef():
    from sklearn.neural_network import MLPClassifier

    mlp = MLPClassifier(activation="logistic")
    if not hasattr(mlp, "_init_coef"):  # private API; the formula test above covers the maths
        pytest.skip("sklearn's _init_coef is not available")
    mlp._random_state = np.random.RandomState(0)
    expected = [mlp._init_coef(6, 4, np.float64), mlp._init_coef(4, 2, np.float64)]
    rs = np.random.RandomState(0)
    layers = [nn.Dense(6, 4, rng=rs, gain=math.sqrt(1 / 3), dtype=np.float64),
              nn.Dense(4, 2, rng=rs, gain=math.sqrt(1 / 3), dtype=np.float64)]
    for layer, (coef, intercept) in zip(layers, expected):
        np.testing.assert_array_equal(layer.weight.data, coef)
        np.testing.assert_array_equal(layer.bias.data, intercept)


def test_dense_init_bound_spread_and_seeding():
    layer = nn.Dense(30, 20, rng=0)
    bound = math.sqrt(6 / 50)
    w = layer.weight.data
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.95 * bound
    assert abs(w.mean()) < 0.05 and np.abs(layer.bias.data).max() <= bound
    np.testing.assert_array_equal(nn.Dense(30, 20, rng=0).weight.data, w)
    np.testing.assert_array_equal(nn.Dense(30, 20, rng=np.random.default_rng(0)).weight.data, w)
    assert not np.array_equal(nn.Dense(30, 20, rng=1).weight.data, w)
    assert not np.array_equal(nn.Dense(30, 20).weight.data, nn.Dense(30, 20).weight.data)


def test_dense_he_normal_and_callable_init():
    he = nn.Dense(400, 300, rng=0, init="he_normal")
    assert abs(he.weight.data.std() - math.sqrt(2 / 400)) < 0.002
    assert np.all(he.bias.data == 0)

    def ones(fan_in, fan_out, rng=None, gain=1.0, dtype=np.float32, shape=None):
        return np.full(shape, gain, dtype=dtype)

    layer = nn.Dense(2, 3, init=ones, gain=0.5)
    np.testing.assert_array_equal(layer.weight.data, np.full((2, 3), 0.5, np.float32))
    with pytest.raises(ValueError, match="unknown init 'xavier'"):
        nn.Dense(2, 3, init="xavier")


def test_init_functions_and_rng_kinds():
    for rng in (None, 3, np.random.default_rng(3), np.random.RandomState(3)):
        w = init.glorot_uniform(3, 5, rng=rng, dtype=np.float64)
        assert w.shape == (3, 5) and w.dtype == np.float64
    assert init.he_normal(8, 2, rng=0, shape=(2, 8, 1, 1)).shape == (2, 8, 1, 1)
    u = init.uniform((1000,), -2.0, 3.0, rng=np.random.default_rng(0))
    assert u.dtype == np.float32 and u.min() >= -2 and u.max() < 3
    np.testing.assert_array_equal(init.normal((4,), 1.0, 2.0, rng=5),
                                  np.random.default_rng(5).normal(1.0, 2.0, 4).astype(np.float32))
    np.testing.assert_array_equal(init.uniform((4,), rng=np.random.RandomState(2)),
                                  np.random.RandomState(2).uniform(-1, 1, 4).astype(np.float32))
    with pytest.raises(TypeError, match="rng must be None, a non-negative int seed"):
        init.uniform((2,), rng="seed")


@pytest.mark.parametrize("make, pattern", [
    (lambda: nn.Dense(0, 3), "Dense: in_features must be a positive int, got 0"),
    (lambda: nn.Dense(2, 2.5), "Dense: out_features must be a positive int, got 2.5"),
    (lambda: nn.Conv2D(3, 8, (3, 0)), r"Conv2D: kernel_size must be an int >= 1 or a pair"),
    (lambda: nn.Conv2D(3, 8, 3, padding=-1), r"Conv2D: padding must be an int >= 0"),
    (lambda: nn.MaxPool2D((2, 2, 2)), r"MaxPool2D: kernel_size must be an int >= 1 or a pair"),
])
def test_bad_layer_arguments(make, pattern):
    with pytest.raises(ValueError, match=pattern):
        make()


def test_dense_wrong_feature_count_names_the_layer():
    with pytest.raises(ValueError, match=r"Dense\(4, 3\): expected input with 4 features .*got shape \(2, 5\)"):
        nn.Dense(4, 3)(Tensor(np.ones((2, 5))))


# ---------------------------------------------------------------- conv and pooling layers
@pytest.mark.parametrize("kernel, stride, padding", [(3, 1, 0), ((2, 3), 2, 1), (1, (1, 2), (0, 1))])
def test_conv2d_forward_matches_functional(kernel, stride, padding):
    layer = nn.Conv2D(2, 3, kernel, stride=stride, padding=padding, rng=0)
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    assert layer.weight.shape == (3, 2, kh, kw) and layer.bias.shape == (3,)
    x = Tensor(np.random.default_rng(1).standard_normal((2, 2, 6, 5)).astype(np.float32))
    expected = F.conv2d(x, layer.weight, layer.bias, stride=stride, padding=padding)
    np.testing.assert_array_equal(layer(x).data, expected.data)


def test_conv2d_against_a_direct_numpy_convolution():
    layer = nn.Conv2D(2, 3, (2, 3), dtype=np.float64, rng=0)
    x = np.random.default_rng(1).standard_normal((2, 2, 4, 5))
    w, b = layer.weight.data, layer.bias.data
    expected = np.zeros((2, 3, 3, 3))
    for i in range(3):
        for j in range(3):
            expected[:, :, i, j] = np.einsum("nchw,ochw->no", x[:, :, i:i + 2, j:j + 3], w) + b
    out = layer(Tensor(x))
    assert out.dtype == np.float64
    np.testing.assert_allclose(out.data, expected, rtol=1e-10, atol=1e-12)


def test_conv2d_glorot_uses_receptive_field_fans():
    layer = nn.Conv2D(3, 4, 5, rng=np.random.RandomState(0))
    bound = math.sqrt(6 / (3 * 25 + 4 * 25))
    rs = np.random.RandomState(0)
    np.testing.assert_array_equal(layer.weight.data,
                                  rs.uniform(-bound, bound, (4, 3, 5, 5)).astype(np.float32))


def test_conv2d_bad_input_names_layer_and_both_shapes():
    layer = nn.Conv2D(3, 8, 3)
    with pytest.raises(ValueError, match=r"Conv2D\(3, 8, kernel_size=3, .*\): expected input with 3 "
                                         r"channels, got shape \(2, 1, 28, 28\)"):
        layer(Tensor(np.zeros((2, 1, 28, 28), dtype=np.float32)))
    with pytest.raises(ValueError, match=r"expected input with 3 channels, got shape \(3, 28, 28\)"):
        layer(Tensor(np.zeros((3, 28, 28), dtype=np.float32)))
    with pytest.raises(ValueError, match=r"Conv2D\(3, 8, .*\): input image of shape \(1, 3, 2, 5\) "
                                         r".*smaller than the kernel of shape \(8, 3, 3, 3\)"):
        layer(Tensor(np.zeros((1, 3, 2, 5), dtype=np.float32)))
    assert nn.Conv2D(3, 8, 3, padding=1)(Tensor(np.zeros((1, 3, 1, 1), dtype=np.float32))).shape == (1, 8, 1, 1)


def test_maxpool_flatten_match_functional_and_validate():
    x = Tensor(np.random.default_rng(0).standard_normal((2, 3, 6, 4)).astype(np.float32))
    pool = nn.MaxPool2D(2)
    np.testing.assert_array_equal(pool(x).data, F.max_pool2d(x, 2).data)
    np.testing.assert_array_equal(pool(x).data, x.data.reshape(2, 3, 3, 2, 2, 2).max(axis=(3, 5)))
    assert nn.MaxPool2D((3, 2), stride=1)(x).shape == (2, 3, 4, 3)
    assert nn.Flatten()(pool(x)).shape == (2, 18)
    assert nn.Flatten(start_axis=2)(x).shape == (2, 3, 24)
    with pytest.raises(ValueError, match=r"MaxPool2D\(kernel_size=2, stride=2\): input image of shape "
                                         r"\(2, 3, 1, 4\) is smaller than the 2x2 pooling window"):
        pool(Tensor(np.zeros((2, 3, 1, 4))))
    with pytest.raises(ValueError, match=r"MaxPool2D.*expected input \(N, C, H, W\), got shape \(6, 4\)"):
        pool(Tensor(np.zeros((6, 4))))


# ---------------------------------------------------------------- activations and Lambda
def test_activation_layers_match_numpy():
    x = np.linspace(-3, 3, 13).reshape(1, 13)
    t = Tensor(x)
    sig = 1 / (1 + np.exp(-x))
    cases = [(nn.ReLU(), np.maximum(x, 0)), (nn.Tanh(), np.tanh(x)), (nn.Sigmoid(), sig),
             (nn.LeakyReLU(0.2), np.where(x > 0, x, 0.2 * x)),
             (nn.ELU(0.5), np.where(x > 0, x, 0.5 * np.expm1(x))),
             (nn.Softmax(), np.exp(x) / np.exp(x).sum()), (nn.Identity(), x)]
    for layer, expected in cases:
        np.testing.assert_allclose(layer(t).data, expected, rtol=1e-10, atol=1e-12, err_msg=repr(layer))


def test_get_activation_names_modules_and_callables():
    assert isinstance(nn.get_activation("logistic"), nn.Sigmoid)
    assert isinstance(nn.get_activation("ReLU"), nn.ReLU)
    relu = nn.ReLU()
    assert nn.get_activation(relu) is relu
    lam = nn.get_activation(F.softplus)
    assert isinstance(lam, nn.Lambda) and repr(lam) == "Lambda(softplus)"
    with pytest.raises(ValueError, match="unknown activation 'swish'.*known: .*'relu'"):
        nn.get_activation("swish")
    with pytest.raises(TypeError, match="activation must be a name"):
        nn.get_activation(3)


def test_lambda_wraps_custom_activation_and_checks_output():
    swish = nn.Lambda(lambda x: x * x.sigmoid(), name="swish")
    x = np.array([[-1.0, 0.5, 2.0]])
    np.testing.assert_allclose(swish(Tensor(x)).data, x / (1 + np.exp(-x)))
    assert repr(swish) == "Lambda(swish)" and swish.parameters() == []
    with pytest.raises(TypeError, match=r"Lambda\(<lambda>\): the function must return a Tensor, got ndarray"):
        nn.Lambda(lambda x: x.data)(Tensor(x))
    with pytest.raises(TypeError, match="Lambda needs a callable"):
        nn.Lambda(3)


# ---------------------------------------------------------------- gradients through stacks
def _with_params(model, params):
    """Point the model's parameters at gradcheck's float64 leaves (matching named_parameters)."""
    for (name, _), leaf in zip(model.named_parameters(), params):
        *path, attr = name.split(".")
        owner = model
        for part in path:
            owner = owner[int(part)] if part.isdigit() else getattr(owner, part)
        setattr(owner, attr, leaf)


def _gradcheck_model(model, x):
    params = [p.data for p in model.parameters()]

    def fn(x, *leaves):
        _with_params(model, leaves)
        return model(x)

    assert gradcheck(fn, x, *params)


@settings(max_examples=10)
@given(seed=st.integers(0, 2**16))
def test_gradcheck_dense_stack(seed):
    rng = np.random.default_rng(seed)
    model = nn.Sequential(nn.Dense(3, 4, rng=rng, dtype=np.float64), nn.Tanh(),
                          nn.Dense(4, 3, rng=rng, dtype=np.float64), nn.ELU(0.7),
                          nn.Dense(3, 2, rng=rng, dtype=np.float64), nn.Softmax())
    _gradcheck_model(model, rng.standard_normal((2, 3)))


def test_gradcheck_conv_pool_stack():
    rng = np.random.default_rng(0)
    model = nn.Sequential(nn.Conv2D(2, 3, 3, padding=1, rng=rng, dtype=np.float64), nn.Sigmoid(),
                          nn.MaxPool2D(2), nn.Flatten(), nn.Dense(12, 2, rng=rng, dtype=np.float64),
                          nn.Lambda(lambda t: t * t.sigmoid(), name="swish"))
    _gradcheck_model(model, rng.standard_normal((2, 2, 4, 4)))


@settings(max_examples=10)
@given(seed=st.integers(0, 2**16), lead=st.sampled_from([(2, 3), (2, 1, 3), (1, 2, 2)]),
       bias=st.booleans())
def test_gradcheck_dense_on_3d_and_4d_input(seed, lead, bias):
    """Leading axes of any count: the weight and bias gradients sum over all of them (a weight
    gradient taken from the first 2-D slice only, or reshaped wrongly, fails here)."""
    rng = np.random.default_rng(seed)
    model = nn.Sequential(nn.Dense(4, 3, bias=bias, rng=rng, dtype=np.float64), nn.Tanh(),
                          nn.Dense(3, 2, rng=rng, dtype=np.float64))
    _gradcheck_model(model, rng.standard_normal((*lead, 4)))


@settings(max_examples=5)
@given(seed=st.integers(0, 2**16), stride=st.sampled_from([1, 2]), padding=st.sampled_from([0, 1]))
def test_gradcheck_two_conv_layers_end_to_end(seed, stride, padding):
    """conv -> tanh -> conv -> relu -> pool -> dense: the second conv's input gradient is the
    first conv's output gradient, so an off-by-one in either direction of the conv input
    gradient fails here (a one-conv model only ever needs the weight gradient of its conv)."""
    rng = np.random.default_rng(seed)
    conv2 = nn.Conv2D(3, 2, (2, 3), stride=stride, padding=padding, rng=rng, dtype=np.float64)
    model = nn.Sequential(nn.Conv2D(2, 3, 3, padding=1, rng=rng, dtype=np.float64), nn.Tanh(),
                          conv2, nn.ReLU(), nn.MaxPool2D(1), nn.Flatten())
    x = rng.standard_normal((2, 2, 5, 6))
    n_out = int(np.prod(model(Tensor(x)).shape[1:]))
    model.append(nn.Dense(n_out, 2, rng=rng, dtype=np.float64))
    _gradcheck_model(model, x)


def test_gradcheck_custom_module_with_lists():
    model = Net(rng=3)
    for p in model.parameters():
        p.data = p.data.astype(np.float64)
    _gradcheck_model(model, np.random.default_rng(1).standard_normal((2, 3)))


def test_dropout_backward_uses_the_forward_mask():
    drop = nn.Dropout(0.5, rng=0)
    x = Tensor(np.ones((4, 6)), requires_grad=True)
    out = drop(x)
    out.sum().backward()
    np.testing.assert_array_equal(x.grad, out.data)  # d/dx of mask * 2 * x is mask * 2


# ---------------------------------------------------------------- repr, Sequential, determinism
def test_repr_is_readable():
    model = nn.Sequential(nn.Conv2D(1, 4, (3, 5), stride=2, padding=1), nn.LeakyReLU(0.1),
                          nn.MaxPool2D(2), nn.Flatten(), nn.Dropout(0.25),
                          nn.Dense(16, 10, bias=False, dtype=np.float64))
    assert repr(model) == (
        "Sequential(\n"
        "  (0): Conv2D(1, 4, kernel_size=(3, 5), stride=2, padding=1)\n"
        "  (1): LeakyReLU(slope=0.1)\n"
        "  (2): MaxPool2D(kernel_size=2, stride=2)\n"
        "  (3): Flatten()\n"
        "  (4): Dropout(p=0.25)\n"
        "  (5): Dense(16, 10, bias=False, dtype=float64)\n"
        ")"
    )
    text = repr(Net())
    assert text.startswith("Net(\n  (scale): Tensor(shape=(2,), dtype=float32)\n  (blocks.0): Dense(3, 4)")
    assert "  (head): Sequential(\n    (0): Tanh()\n    (1): Dense(2, 2)\n  )\n)" in text
    assert "_cache" not in text


def test_sequential_indexing_iteration_len_and_append():
    layers = [nn.Dense(3, 4, rng=0), nn.ReLU(), nn.Dense(4, 2, rng=1)]
    seq = nn.Sequential(*layers)
    assert len(seq) == 3 and list(seq) == layers and seq[0] is layers[0] and seq[-1] is layers[2]
    head = seq[1:]
    assert isinstance(head, nn.Sequential) and list(head) == layers[1:]
    assert head[1].weight is layers[2].weight  # slices share layers
    x = Tensor(np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32))
    np.testing.assert_array_equal(seq(x).data, head(seq[0](x)).data)
    assert seq.append(F.tanh) is seq and isinstance(seq[3], nn.Lambda) and len(seq) == 4
    np.testing.assert_allclose(seq(x).data, np.tanh(head(seq[0](x)).data), rtol=1e-6)
    assert nn.Sequential()(x) is x
    with pytest.raises(TypeError, match="Sequential: layer 1 is a int, not a Module or a callable"):
        nn.Sequential(nn.ReLU(), 3)


def test_seeded_models_are_deterministic():
    def build(seed):
        rng = np.random.default_rng(seed)
        return nn.Sequential(nn.Conv2D(1, 2, 3, rng=rng), nn.ReLU(), nn.Flatten(),
                             nn.Dropout(0.5, rng=rng.integers(2**31)), nn.Dense(8, 3, rng=rng))

    x = Tensor(np.random.default_rng(9).standard_normal((2, 1, 4, 4)).astype(np.float32))
    a, b, c = build(1), build(1), build(2)
    for pa, pb in zip(a.parameters(), b.parameters()):
        np.testing.assert_array_equal(pa.data, pb.data)
    np.testing.assert_array_equal(a(x).data, b(x).data)  # dropout masks too
    assert not np.array_equal(a.parameters()[0].data, c.parameters()[0].data)


def test_sequential_rejects_a_layer_that_is_not_callable():
    with pytest.raises(TypeError, match=r"^Sequential: layer 1 is a int, not a Module or a callable$"):
        nn.Sequential(nn.ReLU(), 3)


def test_he_normal_draws_mean_0_std_sqrt_2_over_fan_in_and_checks_its_arguments():
    from tinygrad_nn.nn import init as I
    w = I.he_normal(2000, 50, rng=0)
    assert abs(w.mean()) < 1e-3 and abs(w.std() / np.sqrt(2 / 2000) - 1) < 0.01
    assert I.he_normal(1, 3, rng=0).shape == (1, 3)  # fan_in 1 is allowed
    for call, message in [(lambda: I.he_normal(0, 3), r"he_normal: fan_in must be positive, got 0"),
                          (lambda: I.glorot_bound(0, 0), r"glorot_bound: fan_in \+ fan_out must be positive, got 0 \+ 0")]:
        with pytest.raises(ValueError, match=rf"^{message}$"):
            call()
    with pytest.raises(ValueError, match=r"^he_normal: gain must be a real number, got 'x'$"):
        I.he_normal(2, 3, gain="x")


def test_loss_modules_defaults_and_repr():
    x, t = Tensor(np.array([0.5, 3.0])), np.zeros(2)
    np.testing.assert_allclose(nn.SmoothL1Loss()(x, t).item(), (0.125 + 2.5) / 2, rtol=1e-12)  # beta 1
    z, c = Tensor(np.array([[1.0, 2.0], [0.5, 0.1]])), np.array([1, 0])
    assert nn.CrossEntropyLoss()(z, c).item() == F.cross_entropy(z, c).item()  # no smoothing
    assert repr(nn.SmoothL1Loss(beta=0.5)) == "SmoothL1Loss(reduction='mean', beta=0.5)"
    assert repr(nn.MSELoss()) == "MSELoss(reduction='mean')"


def test_activation_layer_messages_defaults_and_reprs():
    from tinygrad_nn.nn.activations import ACTIVATIONS, get_activation
    cases = [
        (ValueError, r"GELU: approximate must be one of 'none', 'tanh', got 'x'", lambda: nn.GELU(approximate="x")),
        (ValueError, r"Softplus: beta must be a finite number > 0, got 0\.0", lambda: nn.Softplus(beta=0.0)),
        (ValueError, r"Softplus: threshold must be a real number, got 'a'", lambda: nn.Softplus(threshold="a")),
        (TypeError, r"Lambda needs a callable Tensor -> Tensor, got int", lambda: nn.Lambda(3)),
        (TypeError, r"Lambda\(<lambda>\): the function must return a Tensor, got int",
         lambda: nn.Lambda(lambda t: 3)(Tensor([1.0]))),
        (ValueError, rf"unknown activation 'nope'; known: {re.escape(str(sorted(ACTIVATIONS)))}, or pass a "
                     r"callable Tensor -> Tensor", lambda: get_activation("nope")),
        (TypeError, r"activation must be a name, a Module or a callable, got int", lambda: get_activation(3)),
    ]
    for error, message, call in cases:
        with pytest.raises(error, match=rf"^{message}$"):
            call()
    reprs = {nn.GELU(): "GELU()", nn.GELU(approximate="tanh"): "GELU(approximate='tanh')",
             nn.Softplus(): "Softplus(beta=1.0, threshold=20.0)", nn.ELU(): "ELU(alpha=1.0)",
             nn.Softmax(): "Softmax(axis=-1)", nn.LeakyReLU(): "LeakyReLU(slope=0.01)"}
    for layer, text in reprs.items():
        assert repr(layer) == text
    x = Tensor(np.array([[-2.0, 1.0], [0.5, 3.0]]))
    np.testing.assert_allclose(nn.LeakyReLU()(x).data[0], [-0.02, 1.0], rtol=1e-12)
    np.testing.assert_allclose(nn.ELU()(x).data[0], [np.expm1(-2.0), 1.0], rtol=1e-12)
    x3 = Tensor(np.random.default_rng(0).normal(size=(2, 3, 4)))
    np.testing.assert_allclose(nn.Softmax()(x3).data.sum(axis=-1), np.ones((2, 3)), rtol=1e-12)
