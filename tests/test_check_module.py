"""check_module / check_function: every built-in layer and op passes; planted bugs are caught."""
import numpy as np
import pytest
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinygrad_nn import Tensor, nn
from tinygrad_nn.autograd import Function
from tinygrad_nn.ops import conv as C
from tinygrad_nn.ops import elementwise as E
from tinygrad_nn.ops import embedding as Emb
from tinygrad_nn.ops import loss as L
from tinygrad_nn.ops import matmul as M
from tinygrad_nn.ops import movement as V
from tinygrad_nn.ops import norm as N
from tinygrad_nn.ops import pool as P
from tinygrad_nn.ops import reduce as R
from tinygrad_nn.testing import CheckError, check_function, check_module, tensors

# ---------------------------------------------------------------- every built-in layer
def batches(*shape, low=1):
    """Shapes ``(n, *shape)`` with n from ``low`` to 4 (batch norm trains on 2 rows or more)."""
    return st.integers(low, 4).map(lambda n: (n,) + shape)


token_ids = st.integers(1, 4).flatmap(
    lambda n: hnp.arrays(np.int64, (n, 3), elements=st.integers(0, 4)))


def class_targets(n, k):
    """Integer class indices in [0, k) for n rows."""
    return hnp.arrays(np.int64, (n,), elements=st.integers(0, k - 1))


def probabilities(*shape):
    return tensors(shape=shape, min_value=0.05, max_value=0.95)


BW = {"batchwise": True}  # samples along axis 0 are independent (in eval mode)
TARGET = {"constants": [1]}  # a loss: input 1 is a target, without gradient
# name: (factory, input spec, check_module options). Adding a layer is one line.
LAYERS = {
    "Dense": (lambda: nn.Dense(3, 2, rng=0), (4, 3), BW),
    "Dense-no-bias": (lambda: nn.Dense(3, 2, bias=False, rng=1), (4, 3), BW),
    "Dense-3d-input": (lambda: nn.Dense(3, 2, rng=2), (2, 2, 3), BW),
    "Conv2D": (lambda: nn.Conv2D(2, 3, 2, rng=0), (2, 2, 4, 3), BW),
    "Conv2D-stride-padding": (lambda: nn.Conv2D(1, 2, 3, stride=2, padding=1, rng=0),
                              (2, 1, 4, 5), BW),
    "Conv2D-same-dilation-groups": (lambda: nn.Conv2D(2, 4, 3, padding="same", dilation=2,
                                                       groups=2, rng=0), (2, 2, 5, 4), BW),
    "MaxPool2D": (lambda: nn.MaxPool2D(2), (2, 2, 4, 4), BW),
    "MaxPool2D-padding": (lambda: nn.MaxPool2D(3, stride=2, padding=1), (2, 1, 4, 5), BW),
    "AvgPool2D": (lambda: nn.AvgPool2D(2, stride=1, padding=1), (2, 2, 3, 4), BW),
    "GlobalAvgPool2D": (nn.GlobalAvgPool2D, (2, 3, 2, 3), BW),
    "MaxPool2D-stride": (lambda: nn.MaxPool2D((2, 3), stride=1), (2, 1, 3, 4), BW),
    "Flatten": (lambda: nn.Flatten(), (2, 2, 3), BW),
    "Dropout": (lambda: nn.Dropout(0.5, rng=0), (4, 3), BW),
    "ReLU": (nn.ReLU, (4, 3), BW),
    "Tanh": (nn.Tanh, (4, 3), BW),
    "Sigmoid": (nn.Sigmoid, (4, 3), BW),
    "LeakyReLU": (lambda: nn.LeakyReLU(0.1), (4, 3), BW),
    "ELU": (lambda: nn.ELU(0.7), (4, 3), BW),
    "Softmax": (lambda: nn.Softmax(axis=-1), (4, 3), BW),
    "Identity": (nn.Identity, (4, 3), BW),
    "Lambda": (lambda: nn.Lambda(lambda x: x * x.sigmoid(), name="swish"), (4, 3), BW),
    "GELU": (nn.GELU, (4, 3), BW),
    "GELU-tanh": (lambda: nn.GELU(approximate="tanh"), (4, 3), BW),
    "SiLU": (nn.SiLU, (4, 3), BW),
    "Softplus": (nn.Softplus, (4, 3), BW),
    "LogSoftmax": (lambda: nn.LogSoftmax(axis=-1), (4, 3), BW),
    "BatchNorm1D": (lambda: nn.BatchNorm1D(3), batches(3, low=2), BW),
    "BatchNorm1D-3d": (lambda: nn.BatchNorm1D(2), (3, 2, 4), BW),
    "BatchNorm2D": (lambda: nn.BatchNorm2D(2), (3, 2, 2, 3), BW),
    "LayerNorm": (lambda: nn.LayerNorm(3), (4, 3), BW),
    "LayerNorm-2d": (lambda: nn.LayerNorm((2, 3)), (2, 2, 3), BW),
    "Embedding": (lambda: nn.Embedding(5, 3, rng=0), token_ids, BW),
    "MSELoss": (nn.MSELoss, [(4, 3), (4, 3)], TARGET),
    "MSELoss-none": (lambda: nn.MSELoss(reduction="none"), [(4, 3), (4, 3)], {**BW, **TARGET}),
    "L1Loss": (lambda: nn.L1Loss(reduction="sum"), [(4, 3), (4, 3)], TARGET),
    "SmoothL1Loss": (lambda: nn.SmoothL1Loss(beta=0.5), [(4, 3), (4, 3)], TARGET),
    "NLLLoss": (nn.NLLLoss, [(4, 3), class_targets(4, 3)], {}),
    "CrossEntropyLoss": (lambda: nn.CrossEntropyLoss(label_smoothing=0.1),
                         [(4, 3), class_targets(4, 3)], {}),
    "BCELoss": (nn.BCELoss, [probabilities(4, 3), probabilities(4, 3)], TARGET),
    "BCEWithLogitsLoss": (nn.BCEWithLogitsLoss, [(4, 3), probabilities(4, 3)], TARGET),
    "Sequential-MLP": (lambda: nn.Sequential(nn.Dense(3, 4, rng=0), nn.Tanh(),
                                             nn.Dropout(0.2, rng=1), nn.Dense(4, 2, rng=2)),
                       (4, 3), BW),
    "Sequential-CNN": (lambda: nn.Sequential(nn.Conv2D(1, 2, 2, rng=0), nn.ReLU(),
                                             nn.Conv2D(2, 2, 2, padding=1, rng=1),
                                             nn.MaxPool2D(2), nn.Flatten(), nn.Dense(8, 2, rng=2)),
                       (2, 1, 4, 4), BW),
}


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_every_builtin_layer_passes_check_module(name):
    factory, spec, options = LAYERS[name]
    assert check_module(factory, spec, max_examples=5, **options)


def test_every_public_layer_is_in_the_table():
    """A new layer in tinygrad_nn.nn needs its line in LAYERS above (aliases count once)."""
    covered = {type(LAYERS[k][0]()) for k in LAYERS}
    public = {getattr(nn, n) for n in nn.__all__ if isinstance(getattr(nn, n), type)
              and issubclass(getattr(nn, n), nn.Module) and getattr(nn, n) is not nn.Module}
    missing = sorted(c.__name__ for c in public - covered)
    assert not missing, f"add these layers to LAYERS: {missing}"


# ---------------------------------------------------------------- every built-in op
positive = tensors(shape=(3, 2), min_value=0.5, max_value=2.0)
OPS = {
    "Add": (E.Add, [(3, 2), (2,)], {}),
    "Sub": (E.Sub, [(3, 1), (1, 2)], {}),
    "Mul": (E.Mul, [(3, 2), ()], {}),
    "Div": (E.Div, [(3, 2), positive], {}),
    "Pow": (E.Pow, [positive, (2,)], {}),
    "Maximum": (E.Maximum, [(3, 2), (3, 2)], {}),
    "Neg": (E.Neg, [(2, 3)], {}),
    "Exp": (E.Exp, [(2, 3)], {}),
    "Log": (E.Log, [positive], {}),
    "Sqrt": (E.Sqrt, [positive], {}),
    "Abs": (E.Abs, [(2, 3)], {}),
    "Clip": (E.Clip, [(2, 3)], {"lo": -0.5, "hi": 0.7}),
    **{f"Activation-{n}": (E.Activation, [(2, 3)], {"name": n, "param": 0.3})
       for n in ["sigmoid", "tanh", "relu", "leaky_relu", "elu", "softplus"]},
    "Sum": (R.Sum, [(2, 3, 2)], {"axis": 1}),
    "Mean": (R.Sum, [(2, 3)], {"axis": 0, "keepdims": True, "mean": True}),
    "Max": (R.Max, [(3, 4)], {"axis": -1}),
    "LogSumExp": (R.LogSumExp, [(3, 4)], {"axis": 0}),
    "Softmax": (R.Softmax, [(3, 4)], {"axis": 0}),
    "LogSoftmax": (R.LogSoftmax, [(2, 3, 2)], {"axis": 1}),
    "MatMul": (M.MatMul, [(2, 1, 3, 4), (2, 4, 2)], {}),
    "Linear": (M.Linear, [(5, 3), (3, 2), (2,)], {}),
    "Reshape": (V.Reshape, [(2, 3, 2)], {"shape": (3, -1)}),
    "Transpose": (V.Transpose, [(2, 3, 4)], {"axes": (2, 0, 1)}),
    "GetItem": (V.GetItem, [(4, 3)], {"index": (np.array([0, 2, 2]), slice(None, None, 2))}),
    "Concatenate": (V.Concatenate, [(2, 3), (1, 3)], {"axis": 0}),
    "Stack": (V.Stack, [(2, 3), (2, 3), (2, 3)], {"axis": 1}),
    "Pad": (V.Pad, [(2, 3)], {"pad_width": ((1, 0), (2, 1))}),
    "_Conv2D": (C._Conv2D, [(2, 2, 5, 4), (3, 2, 2, 3), (3,)],
                {"stride": (2, 1), "padding": (1, 0, 0, 1), "dilation": (1, 1)}),
    "_Conv2D-groups": (C._Conv2D, [(1, 4, 5, 5), (2, 2, 2, 2), (2,)],
                       {"dilation": (2, 1), "groups": 2}),
    "_MaxPool2D": (P._MaxPool2D, [(2, 2, 4, 5)],
                   {"kernel_size": (2, 2), "stride": (1, 2), "padding": (1, 0)}),
    "_AvgPool2D": (P._AvgPool2D, [(2, 2, 4, 5)],
                   {"kernel_size": (3, 2), "stride": (1, 2), "padding": (1, 1)}),
    "CrossEntropy": (L.CrossEntropy, [(3, 4), st.just(np.array([0, 3, 1]))], {}),
    "BinaryCrossEntropy": (L.BinaryCrossEntropy, [probabilities(3, 2), probabilities(3, 2)],
                           {"constants": [1]}),
    "BCEWithLogits": (L.BCEWithLogits, [(3, 2), (3, 2)], {"constants": [1]}),
    "Where": (E.Where, [st.just(np.array([[True, False], [False, False], [True, True]])),
                        (3, 2), (2,)], {}),
    "Cast": (E.Cast, [(2, 3)], {"dtype": np.float64}),
    "GELU": (E.GELU, [(2, 3)], {}),
    "GELU-tanh": (E.GELU, [(2, 3)], {"approximate": "tanh"}),
    "Expand": (V.Expand, [(3, 1)], {"shape": (2, 3, 4)}),
    "Clone": (V.Clone, [(2, 3)], {}),
    "BatchNorm": (N.BatchNorm, [(4, 3, 2), (3,), (3,)], {"training": True}),
    "LayerNorm": (N.LayerNorm, [(4, 2, 3), (2, 3), (2, 3)], {"ndim": 2}),
    "Embedding": (Emb.Embedding, [(5, 3)], {"indices": np.array([[0, 4], [2, 2]])}),
}
KEEPS_NO_DTYPE = {"Cast"}  # changes the dtype by design


@pytest.mark.parametrize("name", sorted(OPS))
def test_every_builtin_op_passes_check_function(name):
    function, specs, kwargs = OPS[name]
    kwargs = dict(kwargs)
    constants = kwargs.pop("constants", ())
    assert check_function(function, specs, kwargs=kwargs, max_examples=5, constants=constants,
                          keeps_dtype=name not in KEEPS_NO_DTYPE)


def test_every_op_is_in_the_table():
    """A new Function in tinygrad_nn.ops needs its line in OPS above."""
    import importlib
    import pkgutil

    import tinygrad_nn.ops as ops

    defined = set()
    for info in pkgutil.iter_modules(ops.__path__):
        module = importlib.import_module(f"tinygrad_nn.ops.{info.name}")
        defined |= {name for name, obj in vars(module).items()
                    if isinstance(obj, type) and issubclass(obj, Function)
                    and obj.__module__ == module.__name__
                    and obj.__subclasses__() == []}  # leaves, not shared bases
    covered = {function.__name__ for function, _, _ in OPS.values()}
    assert defined - covered == set(), f"add these ops to OPS: {sorted(defined - covered)}"


# ---------------------------------------------------------------- planted bugs: check_module
class WrongSquare(Function):
    def forward(self, a):
        self.a = a
        return a * a

    def backward(self, grad):
        return grad * self.a  # should be 2 * a * grad


class WrongBackward(nn.Module):
    def forward(self, x):
        return WrongSquare.apply(x)


class ScaledWrong(nn.Module):
    """A parameter whose gradient is wrong: out = x * scale, backward forgets x."""

    def __init__(self):
        self.scale = Tensor(np.full(3, 1.5), requires_grad=True)

    def forward(self, x):
        return BadScale.apply(x, self.scale)


class BadScale(Function):
    def forward(self, x, s):
        self.x, self.s = x, s
        return x * s

    def backward(self, grad):
        return grad * self.s, (grad * 2).reshape(-1, self.s.size).sum(axis=0)  # not grad * x


class Noisy(nn.Module):
    def forward(self, x):
        return x + np.random.default_rng().standard_normal(x.shape) * 1e-3


class Mutating(nn.Module):
    def forward(self, x):
        x.data *= 2.0  # in place: the caller's array changes
        return x * 1.0


class KeepsGraph(nn.Module):
    def __init__(self):
        self._log = []

    def forward(self, x):
        self._log.append((x * x).mean())  # a side branch kept for logging: its graph lives on
        return x.tanh()


class BatchDependent(nn.Module):
    def forward(self, x):
        return x - x.mean(axis=0, keepdims=True)  # centred with the batch's statistics


class NoRecursiveTrain(nn.Module):
    def __init__(self):
        self.drop = nn.Dropout(0.5, rng=0)

    def train(self, mode=True):  # forgets the children
        self.training = mode
        return self

    def forward(self, x):
        return self.drop(x)


class PrivateWeight(nn.Module):
    """A weight kept out of the state_dict (private attribute) does not survive a round trip."""

    def __init__(self):
        self._w = Tensor(np.linspace(0.5, 1.5, 3), requires_grad=True)

    def forward(self, x):
        return x * self._w


class PromotesToFloat64(nn.Module):
    def forward(self, x):
        return x * Tensor(np.full(x.shape[-1], 2.0))  # a float64 constant promotes float32 input


class AssumesCLayout(Function):
    def forward(self, a):
        self.a = a
        return a * a

    def backward(self, grad):
        return 2 * np.ravel(self.a, order="K").reshape(self.a.shape) * grad


class LayoutBug(nn.Module):
    def forward(self, x):
        return AssumesCLayout.apply(x)


PLANTED = {
    "wrong backward": (WrongBackward, r"gradcheck \(eval\): GradcheckError: gradcheck failed for input 0"),
    "wrong parameter gradient": (ScaledWrong, r"gradcheck failed for parameter 'scale'"),
    "non-deterministic": (Noisy, r"determinism: AssertionError: two eval-mode calls"),
    "mutates its input": (Mutating, r"input mutation: AssertionError: input 0 was changed"),
    "keeps its graph alive": (KeepsGraph, r"graph freed: .*\(Mul, Sum\) survive backward\(\): still referenced"),
    "batch-dependent": (BatchDependent, r"batch independence: AssertionError: sample \d alone"),
    "train() not recursive": (NoRecursiveTrain, r"train/eval: AssertionError: eval\(\) left training=True on \['Dropout'\]"),
    "state outside state_dict": (PrivateWeight, r"state_dict: AssertionError: a module loaded from the state_dict gives other outputs"),
    "float32 not kept": (PromotesToFloat64, r"dtype: AssertionError: float32 module and inputs gave a float64 output"),
    "assumes C layout": (LayoutBug, r"layout: AssertionError: a transposed input 0"),
}


@pytest.mark.parametrize("bug", sorted(PLANTED))
def test_check_module_catches_planted_bug(bug):
    factory, pattern = PLANTED[bug]
    with pytest.raises(CheckError, match=pattern):
        check_module(factory, (3, 3), batchwise=True, max_examples=5)


def test_one_error_lists_every_failure():
    class TwoBugs(nn.Module):
        def __init__(self):
            self._log = []

        def forward(self, x):
            self._log.append(x.sum())
            return WrongSquare.apply(x - x.mean(axis=0, keepdims=True))

    with pytest.raises(CheckError) as info:
        check_module(TwoBugs, (3, 2), batchwise=True, max_examples=3)
    names = [name for name, _ in info.value.failures]
    assert {"gradcheck (eval)", "batch independence", "graph freed"} <= set(names)
    assert str(info.value).startswith(f"check_module(TwoBugs): {len(names)} check(s) failed")


def test_unseeded_factory_is_not_deterministic():
    with pytest.raises(CheckError, match=r"determinism: .*two builds from the factory have "
                                         r"different state; seed every layer"):
        check_module(lambda: nn.Dense(3, 2), (2, 3), max_examples=2)


def test_check_module_leaves_the_given_module_unchanged():
    layer = nn.Dense(3, 2, rng=0)
    before = layer.state_dict()
    check_module(layer, (2, 3), batchwise=True, max_examples=3)
    after = layer.state_dict()
    assert all(np.array_equal(before[k], after[k]) and after[k].dtype == np.float32 for k in before)
    assert layer.weight.grad is None and layer.training


def test_check_module_takes_strategies_and_several_inputs():
    class Bilinear(nn.Module):
        def __init__(self):
            self.w = Tensor(np.random.default_rng(0).standard_normal((3, 2)), requires_grad=True)

        def forward(self, x, y):
            return (x @ self.w) * y

    pairs = st.integers(1, 3).flatmap(
        lambda n: st.tuples(tensors(shape=(n, 3)), tensors(shape=(n, 2))))
    assert check_module(Bilinear, pairs, batchwise=True, max_examples=5)
    assert check_module(Bilinear, [(2, 3), (2, 2)], max_examples=3)


@pytest.mark.parametrize("bad, error, match", [
    (dict(module=3), TypeError, "module must be a Module or a factory"),
    (dict(module=lambda: 3), TypeError, "the factory returned int, not a Module"),
    (dict(inputs="x"), TypeError, "input 0 must be a shape tuple or a hypothesis strategy"),
    (dict(max_examples=0), ValueError, "max_examples must be an integer >= 1"),
    (dict(batchwise="yes"), TypeError, "batchwise must be a bool"),
    (dict(eps=0.0), ValueError, "eps must be"),
])
def test_check_module_validates_its_arguments(bad, error, match):
    args = dict(module=nn.ReLU, inputs=(2, 3))
    args.update(bad)
    with pytest.raises(error, match=match):
        check_module(args.pop("module"), args.pop("inputs"), **args)


# ---------------------------------------------------------------- planted bugs: check_function
class OneGradientForTwo(Function):
    def forward(self, a, b):
        return a * b

    def backward(self, grad):
        return grad  # missing the second input's gradient


class NoUnbroadcast(Function):
    def forward(self, a, b):
        self.a, self.b = a, b
        return a + b

    def backward(self, grad):
        return grad, grad  # b was broadcast: its gradient must be summed back to b's shape


class Float64Gradient(Function):
    def forward(self, a):
        return a * 3

    def backward(self, grad):
        return grad.astype(np.float64) * 3


class KeepsItself(Function):
    registry = []

    def forward(self, a):
        KeepsItself.registry.append(self)  # the node outlives backward
        return a * 2

    def backward(self, grad):
        return grad * 2


FUNCTION_BUGS = {
    "gradient count": (OneGradientForTwo, [(2, 2), (2, 2)],
                       r"gradient count: .*1 gradient\(s\) for 2 input\(s\)"),
    "gradient shape": (NoUnbroadcast, [(3, 2), (2,)],
                       r"gradient shapes: .*shape \(3, 2\) for input 1 of shape \(2,\)"),
    "wrong gradient": (WrongSquare, [(2, 3)], r"gradcheck: GradcheckError: gradcheck failed for input 0"),
    "float32 not kept": (Float64Gradient, [(2, 3)], r"dtype: AssertionError: float32 input 0 got a float64 gradient"),
    "keeps its node alive": (KeepsItself, [(2, 3)], r"graph freed: .*KeepsItself"),
    "assumes C layout": (AssumesCLayout, [(2, 3)], r"layout: AssertionError: a transposed input 0"),
}


@pytest.mark.parametrize("bug", sorted(FUNCTION_BUGS))
def test_check_function_catches_planted_bug(bug):
    function, specs, pattern = FUNCTION_BUGS[bug]
    with pytest.raises(CheckError, match=pattern):
        check_function(function, specs, max_examples=3)
    KeepsItself.registry.clear()


def test_check_function_validates_its_arguments():
    with pytest.raises(TypeError, match="must be a subclass of tinygrad_nn.autograd.Function"):
        check_function(lambda a: a, [(2,)])
    with pytest.raises(TypeError, match="kwargs must be a dict"):
        check_function(E.Exp, [(2,)], kwargs=[1])


def test_a_dead_weak_proxy_elsewhere_in_the_process_does_not_break_the_graph_check():
    """The graph-freed check scans every object the garbage collector tracks; a dead
    ``weakref.proxy`` among them (some libraries keep them) must not raise ReferenceError."""
    import weakref

    class Target:
        pass

    target = Target()
    holder = [weakref.proxy(target)]
    del target
    assert check_module(lambda: nn.Tanh(), [(3, 2)], max_examples=2)
    assert len(holder) == 1
