"""Kill tests for nn/: behaviour that mutants showed the rest of the suite left loose (see
docs/mutation.md). Error messages are matched whole (anchored); reprs and defaults exactly."""
import numpy as np
import pytest

from tinygrad_nn import Tensor, nn


def _raises(exc, message):
    return pytest.raises(exc, match="^" + message + "$")


# ---------------------------------------------------------------- nn/layers.py
def test_dense_rejects_an_unknown_init_listing_the_known_ones():
    with _raises(ValueError, r"unknown init 'nope'; known: \['glorot_uniform', 'he_normal'\], or a callable "
                             r"\(fan_in, fan_out, rng=, gain=, dtype=, shape=\) -> array"):
        nn.Dense(2, 3, init="nope")


class _WrongShape:
    def __call__(self, fan_in, fan_out, rng=None, gain=1.0, dtype=np.float32, shape=None):
        return np.zeros((1, 1), dtype)

    def __repr__(self):
        return "wrong_shape"


def test_dense_rejects_an_init_returning_the_wrong_shape():
    with _raises(ValueError, r"init wrong_shape returned shape \(1, 1\), expected \(2, 3\)"):
        nn.Dense(2, 3, init=_WrongShape())


def test_layer_errors_name_the_layer():
    with _raises(ValueError, r"Dense: in_features must be a positive int, got 0"):
        nn.Dense(0, 3)
    with _raises(ValueError, r"Dense\(3, 2\): expected input with 3 features \(shape \(\.\.\., 3\)\), "
                             r"got shape \(4, 2\)"):
        nn.Dense(3, 2)(Tensor(np.ones((4, 2))))
    with _raises(ValueError, r"Conv2D\(1, 2, kernel_size=3, stride=1, padding=0\): input image of shape "
                             r"\(1, 1, 2, 2\) \(padding \(0, 0\)\) is smaller than the kernel of shape "
                             r"\(2, 1, 3, 3\)"):
        nn.Conv2D(1, 2, 3)(Tensor(np.ones((1, 1, 2, 2))))
    with _raises(ValueError, r"Conv2D: padding='same' needs stride 1, got stride \(2, 2\)"):
        nn.Conv2D(1, 2, 3, stride=2, padding="same")


@pytest.mark.parametrize("layer", [nn.MaxPool2D, nn.AvgPool2D])
def test_pool_layer_errors_name_the_layer(layer):
    name = layer.__name__
    with _raises(ValueError, rf"{name}\(kernel_size=3, stride=3\): input image of shape \(1, 1, 2, 2\) is "
                             r"smaller than the 3x3 pooling window"):
        layer(3)(Tensor(np.ones((1, 1, 2, 2))))
    with _raises(ValueError, rf"{name}: stride must be an int >= 1 or a pair of them, got 0"):
        layer(2, stride=0)
    with _raises(ValueError, rf"{name}: padding must be an int >= 0 or a pair of them, got -1"):
        layer(2, padding=-1)
    with _raises(ValueError, rf"{name}: padding must be at most half the kernel size, got padding "
                             r"\(2, 2\) for kernel_size \(2, 2\)"):
        layer(2, padding=2)


def test_layer_reprs_show_non_default_options():
    assert repr(nn.Dense(2, 3, bias=False)) == "Dense(2, 3, bias=False)"
    assert repr(nn.GlobalAvgPool2D(keepdims=True)) == "GlobalAvgPool2D(keepdims=True)"
    assert repr(nn.GlobalAvgPool2D()) == "GlobalAvgPool2D()"
    assert repr(nn.Flatten(start_axis=2)) == "Flatten(start_axis=2)"
    assert repr(nn.Flatten()) == "Flatten()"


def test_global_avg_pool_checks_keepdims_by_name():
    with _raises(TypeError, r"GlobalAvgPool2D: keepdims must be a bool, got 'yes'"):
        nn.GlobalAvgPool2D(keepdims="yes")


def test_dropout_default_and_range():
    layer = nn.Dropout()
    assert layer.p == 0.5 and repr(layer) == "Dropout(p=0.5)"
    with _raises(ValueError, r"Dropout: p must be in \[0, 1\), got 1\.0"):
        nn.Dropout(p=1.0)


# ---------------------------------------------------------------- nn/losses.py
def test_loss_repr_lists_every_option():
    assert repr(nn.CrossEntropyLoss(reduction="sum", label_smoothing=0.1)) == \
        "CrossEntropyLoss(reduction='sum', label_smoothing=0.1)"
    assert repr(nn.SmoothL1Loss(reduction="none", beta=0.5)) == "SmoothL1Loss(reduction='none', beta=0.5)"
    assert repr(nn.MSELoss()) == "MSELoss(reduction='mean')"


# ---------------------------------------------------------------- nn/module.py
def test_a_module_keeps_its_own_call():
    class Custom(nn.Module):
        def forward(self, x):
            return x

        def __call__(self, x):
            return ("called", x)

    assert Custom()(1) == ("called", 1)


def test_a_shared_tensor_is_listed_once_and_the_members_after_it_still_are():
    class Tied(nn.Module):
        def __init__(self):
            self.a = Tensor(np.ones(2), requires_grad=True)
            self.b = self.a  # tied: the same Tensor again
            self.c = Tensor(np.zeros(3), requires_grad=True)

    m = Tied()
    assert [n for n, _ in m.named_parameters()] == ["a", "c"]
    assert m.parameters()[1] is m.c


def test_register_buffer_keeps_a_given_tensor():
    m = nn.Module()
    t = Tensor(np.ones(2))
    assert m.register_buffer("running", t) is t and m.running is t
    assert m.buffers() == [t]


class _Two(nn.Module):
    def __init__(self):
        self.w = Tensor(np.ones((2, 2)), requires_grad=True)
        self.v = Tensor(np.ones(3), requires_grad=True)


def test_load_state_dict_lists_every_problem():
    with _raises(ValueError, r"load_state_dict into _Two: shape mismatch: 'w' expected \(2, 2\), got \(3,\), "
                             r"'v' expected \(3,\), got \(2,\)"):
        _Two().load_state_dict({"w": np.ones(3), "v": np.ones(2)})
    with pytest.raises(ValueError, match=r"^load_state_dict into _Two: bad values: 'w' is not an array "
                                         r"\(setting an array element with a sequence\..*\)$"):
        _Two().load_state_dict({"w": [[1.0, 2.0], [3.0]], "v": np.ones(3)})


def test_repr_of_a_module_with_options_and_children_puts_the_options_first():
    class Block(nn.Module):
        def __init__(self):
            self.dense = nn.Dense(2, 3)

        def extra_repr(self):
            return "depth=1"

    assert repr(Block()) == "Block(\n  depth=1\n  (dense): Dense(2, 3)\n)"
