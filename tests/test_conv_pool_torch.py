"""conv2d, pooling and their layers against real PyTorch, values and gradients (skipped when
PyTorch is not importable)."""
import numpy as np
import pytest

import tinygrad_nn.functional as F
from tinygrad_nn import Tensor, nn

torch = pytest.importorskip("torch")
tF = torch.nn.functional


def both(*arrays):
    """(ours, theirs): leaf Tensors that want gradients, from the same float64 arrays."""
    return ([Tensor(a, requires_grad=True) for a in arrays],
            [torch.tensor(a, requires_grad=True) for a in arrays])


def assert_close(ours, theirs, rtol=1e-10, atol=1e-12):
    np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=rtol, atol=atol)


CONV_CASES = [  # x shape, w shape, keyword arguments
    ((2, 3, 9, 8), (4, 3, 3, 3), dict(padding=1)),
    ((2, 3, 9, 8), (4, 3, 3, 3), dict(stride=2, padding=1)),
    ((1, 2, 11, 10), (3, 2, 3, 2), dict(stride=(3, 2), padding=(2, 0), dilation=(2, 3))),
    ((2, 4, 7, 7), (6, 2, 3, 3), dict(padding="same", groups=2)),
    ((2, 4, 7, 6), (4, 1, 2, 4), dict(padding="same", groups=4, dilation=(1, 2))),
    ((1, 6, 8, 9), (6, 2, 1, 1), dict(groups=3, stride=2)),
    ((3, 2, 5, 5), (2, 2, 5, 5), dict(padding="valid")),
]


@pytest.mark.parametrize("x_shape, w_shape, kwargs", CONV_CASES)
def test_conv2d_matches_torch(x_shape, w_shape, kwargs):
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal(x_shape), rng.standard_normal(w_shape), rng.standard_normal(w_shape[0])
    (X, W, B), (tx, tw, tb) = both(x, w, b)
    out, ref = F.conv2d(X, W, B, **kwargs), tF.conv2d(tx, tw, tb, **kwargs)
    assert_close(out.data, ref)
    g = rng.standard_normal(ref.shape)
    out.backward(g)
    ref.backward(torch.tensor(g))
    for ours, theirs in ((X, tx), (W, tw), (B, tb)):
        assert_close(ours.grad, theirs.grad)


@pytest.mark.parametrize("x_shape, w_shape, kwargs", CONV_CASES[:4])
def test_conv2d_float32_matches_torch(x_shape, w_shape, kwargs):
    rng = np.random.default_rng(1)
    x = rng.standard_normal(x_shape).astype(np.float32)
    w = rng.standard_normal(w_shape).astype(np.float32)
    out = F.conv2d(Tensor(x), Tensor(w), **kwargs)
    assert out.dtype == np.float32
    assert_close(out.data, tF.conv2d(torch.tensor(x), torch.tensor(w), **kwargs), rtol=1e-4, atol=1e-4)


POOL_CASES = [((2, 3, 8, 8), 2, None, 0), ((1, 2, 9, 7), 3, 2, 1), ((2, 1, 6, 9), (2, 3), (1, 2), (1, 1)),
              ((1, 1, 5, 5), (3, 1), 1, (1, 0)), ((2, 2, 4, 4), 4, 1, 2)]


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("shape, kernel, stride, padding", POOL_CASES)
def test_pool2d_matches_torch(kind, shape, kernel, stride, padding):
    rng = np.random.default_rng(2)
    x = np.round(rng.standard_normal(shape) * 2) / 2  # ties: the gradient goes to the first max
    (X,), (tx,) = both(x)
    ours = getattr(F, f"{kind}_pool2d")(X, kernel, stride, padding)
    theirs = getattr(tF, f"{kind}_pool2d")(tx, kernel, stride, padding)
    assert_close(ours.data, theirs)
    g = rng.standard_normal(theirs.shape)
    ours.backward(g)
    theirs.backward(torch.tensor(g))
    assert_close(X.grad, tx.grad)


def test_max_pool2d_nan_and_infinity_like_torch():
    x = np.arange(36.0).reshape(1, 1, 6, 6)
    x[0, 0, 0, 1] = x[0, 0, 1, 0] = np.nan
    x[0, 0, 4, 4], x[0, 0, 2, 3] = np.inf, -np.inf
    (X,), (tx,) = both(x)
    ours, theirs = F.max_pool2d(X, 3, 2, 1), tF.max_pool2d(tx, 3, 2, 1)
    assert_close(ours.data, theirs)
    ours.sum().backward()
    theirs.sum().backward()
    assert_close(X.grad, tx.grad)


def test_layers_match_torch_modules():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 4, 10, 9))
    conv = nn.Conv2D(4, 6, 3, padding="same", dilation=2, groups=2, dtype=np.float64, rng=0)
    tconv = torch.nn.Conv2d(4, 6, 3, padding="same", dilation=2, groups=2, dtype=torch.float64)
    with torch.no_grad():
        tconv.weight.copy_(torch.tensor(conv.weight.data))
        tconv.bias.copy_(torch.tensor(conv.bias.data))
    ours = nn.Sequential(conv, nn.ReLU(), nn.MaxPool2D(3, 2, padding=1), nn.AvgPool2D(2, 1, 1),
                         nn.GlobalAvgPool2D())
    theirs = torch.nn.Sequential(tconv, torch.nn.ReLU(), torch.nn.MaxPool2d(3, 2, padding=1),
                                 torch.nn.AvgPool2d(2, 1, 1), torch.nn.AdaptiveAvgPool2d(1),
                                 torch.nn.Flatten())
    X, tx = Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, ref = ours(X), theirs(tx)
    assert_close(out.data, ref)
    out.sum().backward()
    ref.sum().backward()
    assert_close(X.grad, tx.grad)
    assert_close(conv.weight.grad, tconv.weight.grad)
    assert_close(conv.bias.grad, tconv.bias.grad)
    assert conv.weight.shape == tuple(tconv.weight.shape)


def test_conv2d_glorot_fans_match_torch_fan_rules():
    layer = nn.Conv2D(6, 9, (3, 2), groups=3, rng=0)
    fan_in, fan_out = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(layer.weight.shape))
    bound = np.sqrt(6 / (fan_in + fan_out))
    assert (fan_in, fan_out) == (2 * 3 * 2, 9 * 3 * 2)
    assert np.abs(layer.weight.data).max() <= bound and np.abs(layer.weight.data).max() > 0.8 * bound
