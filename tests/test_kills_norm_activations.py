"""Kill tests for the normalisation kernels and ops and the activation kernels (see docs/mutation.md).

References are numpy transcriptions in float64 of the textbook formulas (batch and layer norm
statistics, affine, backward; each activation and its derivative), not outputs of the code. The
tests run with or without the JIT; the ones that watch how work is split call the splitters with
a recording Python kernel, so they are fast either way.
"""
import re

import numpy as np
import pytest

import tinygrad_nn.functional as F
from tinygrad_nn import Tensor
from tinygrad_nn import threads as T
from tinygrad_nn.kernels import activations as KA
from tinygrad_nn.kernels import norm as KN


def exact(message):
    """A ``match=`` pattern for exactly this message."""
    return "^" + re.escape(message) + "$"


# ---------------------------------------------------------------- references (float64)
def bn_stats(x3):
    return x3.mean(axis=(0, 2)), x3.var(axis=(0, 2))


def bn_backward_reference(x3, g3, mean, invstd, w, training):
    """d/dx of (x - mean) * invstd * w + b per channel; with ``training`` mean and invstd are
    the batch's (invstd = 1/sqrt(var + eps)), so dx carries their dependence on x."""
    x3, g3 = x3.astype(np.float64), g3.astype(np.float64)
    c = (None, slice(None), None)
    xhat = (x3 - mean[c]) * invstd[c]
    dbias = g3.sum(axis=(0, 2))
    dweight = (g3 * xhat).sum(axis=(0, 2))
    if training:
        dx = w[c] * invstd[c] * (g3 - g3.mean(axis=(0, 2))[c] - xhat * (g3 * xhat).mean(axis=(0, 2))[c])
    else:
        dx = w[c] * invstd[c] * g3
    return dx, dweight, dbias


def ln_forward_reference(x, inner_ndim, w, b, eps):
    axes = tuple(range(x.ndim - inner_ndim, x.ndim))
    xhat = (x - x.mean(axis=axes, keepdims=True)) / np.sqrt(x.var(axis=axes, keepdims=True) + eps)
    return xhat * (1.0 if w is None else w) + (0.0 if b is None else b), xhat


def ln_backward_reference(x, inner_ndim, w, g, eps):
    axes = tuple(range(x.ndim - inner_ndim, x.ndim))
    _, xhat = ln_forward_reference(x, inner_ndim, None, None, eps)
    invstd = 1.0 / np.sqrt(x.var(axis=axes, keepdims=True) + eps)
    gx = g * (1.0 if w is None else w)
    dx = invstd * (gx - gx.mean(axis=axes, keepdims=True) - xhat * (gx * xhat).mean(axis=axes, keepdims=True))
    outer = tuple(range(x.ndim - inner_ndim))
    return dx, (g * xhat).sum(axis=outer), g.sum(axis=outer)


# ---------------------------------------------------------------- kernels/norm.py
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_batch_norm_backward_kernel_against_the_formulas(training, dtype):
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((3, 4, 5)) * 2 + 1).astype(dtype)
    g = rng.standard_normal((3, 4, 5)).astype(dtype)
    w = rng.uniform(0.5, 2, 4)
    if training:
        mean, var = bn_stats(x.astype(np.float64))
    else:  # running estimates: constants, not the batch's
        mean, var = rng.standard_normal(4), rng.uniform(0.5, 2, 4)
    invstd = 1.0 / np.sqrt(var + 1e-5)
    dx, dw, db = KN.batch_norm_backward(x, g, mean, invstd, w, training)
    rdx, rdw, rdb = bn_backward_reference(x, g, mean, invstd, w, training)
    assert dx.dtype == dtype and dw.dtype == np.float64 and db.dtype == np.float64
    tol = dict(rtol=1e-4, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(db, rdb, **tol)
    np.testing.assert_allclose(dw, rdw, **tol)
    np.testing.assert_allclose(dx, rdx, **tol)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("threads", [1, 3])
def test_batch_norm_train_kernel_against_the_formulas(dtype, threads, monkeypatch):
    """Statistics and output of a block of channels from one task: the batch's mean and biased
    variance, and x * scale + shift with scale = w / sqrt(var + eps), shift = b - mean * scale
    in x's dtype; the same at any thread count (split into channel blocks when large)."""
    monkeypatch.setattr(KN, "PARALLEL_SIZE", 1)
    monkeypatch.setattr(T, "get_num_threads", lambda: threads)
    rng = np.random.default_rng(4)
    x = (rng.standard_normal((3, 5, 7)) * 2 + 1).astype(dtype)
    w, b = rng.uniform(0.5, 2, 5), rng.standard_normal(5)
    out, mean, var = KN.batch_norm_train(x, w, b, 1e-3)
    rmean, rvar = bn_stats(x.astype(np.float64))
    scale = w / np.sqrt(rvar + 1e-3)
    want = x * scale.astype(dtype)[:, None] + (b - rmean * scale).astype(dtype)[:, None]
    assert out.dtype == dtype and mean.dtype == var.dtype == np.float64
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(mean, rmean, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(var, rvar, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(out, want, **tol)
    with pytest.raises(TypeError, match=exact("batch_norm_train: bias has dtype float32, expected float64")):
        KN.batch_norm_train(x, w, b.astype(np.float32), 1e-5)


def test_norm_kernel_refusals_name_the_kernel():
    x = np.zeros((2, 3, 4))
    with pytest.raises(ValueError, match=exact("channel_affine: x must be 3-D, got shape (2, 3)")):
        KN.channel_affine(np.zeros((2, 3)), np.ones(3), np.ones(3))
    with pytest.raises(ValueError, match=exact("batch_norm_backward: mean has shape (2,), expected (3,)")):
        KN.batch_norm_backward(x, x.copy(), np.zeros(2), np.ones(3), np.ones(3), True)
    with pytest.raises(TypeError, match=exact("batch_norm_backward: weight has dtype float32, expected float64")):
        KN.batch_norm_backward(x, x.copy(), np.zeros(3), np.ones(3), np.ones(3, np.float32), False)


def _blocks_of(C, L, threads, monkeypatch):
    """The channel blocks ``_over_channels`` hands a kernel for an (1, C, L) array, and the
    kernel's result (each block doubles its channels into ``out``)."""
    monkeypatch.setattr(T, "get_num_threads", lambda: threads)
    x = np.arange(C * L, dtype=np.float64).reshape(1, C, L)
    out = np.full_like(x, np.nan)
    blocks = []

    def kernel(x, out, c0, c1):
        blocks.append((c0, c1))
        out[:, c0:c1] = 2 * x[:, c0:c1]

    KN._over_channels(kernel, x, out)
    np.testing.assert_array_equal(out, 2 * x)  # every channel once, whatever the split
    return sorted(blocks)


def even_blocks(C, n):
    return [(C * t // n, C * (t + 1) // n) for t in range(n)]


def test_norm_kernels_split_large_arrays_into_channel_blocks(monkeypatch):
    big = KN.PARALLEL_SIZE
    # from PARALLEL_SIZE elements, with 2+ channels and 2+ threads: TASKS_PER_THREAD blocks per
    # thread (fewer channels: one each)
    per = KN.TASKS_PER_THREAD
    assert _blocks_of(16, big // 16, 3, monkeypatch) == even_blocks(16, min(16, 3 * per))
    assert _blocks_of(13, -(-big // 13), 2, monkeypatch) == even_blocks(13, min(13, 2 * per))
    assert _blocks_of(2, big // 2, 3, monkeypatch) == [(0, 1), (1, 2)]
    assert _blocks_of(3, -(-big // 3), 3, monkeypatch) == [(0, 1), (1, 2), (2, 3)]
    # below it, with one channel, or on one thread: the whole array in one call
    assert _blocks_of(16, big // 16 - 1, 3, monkeypatch) == [(0, 16)]
    assert _blocks_of(4, 10, 3, monkeypatch) == [(0, 4)]
    assert _blocks_of(1, big, 3, monkeypatch) == [(0, 1)]
    assert _blocks_of(16, big // 16, 1, monkeypatch) == [(0, 16)]


# ---------------------------------------------------------------- ops/norm.py
def bn_forward_reference(x, mean, var, w, b, eps):
    shape = (1, -1) + (1,) * (x.ndim - 2)
    return (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + eps) * w.reshape(shape) + b.reshape(shape)


def test_batch_norm_defaults_evaluation_momentum_and_eps():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((4, 3, 2)) * 3 + 1
    rm, rv = rng.standard_normal(3), rng.uniform(1e-5, 3e-5, 3)  # eps 1e-5 matters here
    rm0, rv0 = rm.copy(), rv.copy()
    out = F.batch_norm(Tensor(x), rm, rv)  # training defaults to False: the running estimates
    np.testing.assert_allclose(out.data, bn_forward_reference(x, rm0, rv0, np.ones(3), np.zeros(3), 1e-5),
                               rtol=1e-10)
    np.testing.assert_array_equal(rm, rm0)
    np.testing.assert_array_equal(rv, rv0)
    out = F.batch_norm(Tensor(x), rm, rv, training=True)  # momentum defaults to 0.1
    mean, var = x.mean(axis=(0, 2)), x.var(axis=(0, 2))
    np.testing.assert_allclose(out.data, bn_forward_reference(x, mean, var, np.ones(3), np.zeros(3), 1e-5),
                               rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(rm, 0.9 * rm0 + 0.1 * mean, rtol=1e-12)
    np.testing.assert_allclose(rv, 0.9 * rv0 + 0.1 * x.var(axis=(0, 2), ddof=1), rtol=1e-12)


@pytest.mark.parametrize("affine", ["weight", "bias", "both", "neither"])
@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_gradients_with_either_affine_parameter(affine, training):
    rng = np.random.default_rng(11)
    x = rng.standard_normal((3, 2, 4)) * 2 - 1
    g = rng.standard_normal((3, 2, 4))
    wv, bv = rng.uniform(0.5, 2, 2), rng.standard_normal(2)
    rm, rv = rng.standard_normal(2), rng.uniform(0.5, 2, 2)
    xt = Tensor(x, requires_grad=True)
    w = Tensor(wv, requires_grad=True) if affine in ("weight", "both") else None
    b = Tensor(bv, requires_grad=True) if affine in ("bias", "both") else None
    out = F.batch_norm(xt, rm.copy(), rv.copy(), w, b, training=training)
    out.backward(g)
    mean, var = bn_stats(x) if training else (rm, rv)
    wref = wv if w is not None else np.ones(2)
    rdx, rdw, rdb = bn_backward_reference(x, g, mean, 1.0 / np.sqrt(var + 1e-5), wref, training)
    np.testing.assert_allclose(xt.grad, rdx, rtol=1e-9, atol=1e-12)
    if w is not None:
        np.testing.assert_allclose(w.grad, rdw, rtol=1e-9, atol=1e-12)
    if b is not None:
        np.testing.assert_allclose(b.grad, rdb, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("affine", ["weight", "bias", "both", "neither"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_layer_norm_values_and_gradients_with_either_affine_parameter(affine, dtype):
    rng = np.random.default_rng(13)
    x = (rng.standard_normal((3, 2, 4)) * 2 + 0.5).astype(dtype)
    g = rng.standard_normal((3, 2, 4)).astype(dtype)
    wv, bv = rng.uniform(0.5, 2, (2, 4)).astype(dtype), rng.standard_normal((2, 4)).astype(dtype)
    xt = Tensor(x, requires_grad=True)
    w = Tensor(wv, requires_grad=True) if affine in ("weight", "both") else None
    b = Tensor(bv, requires_grad=True) if affine in ("bias", "both") else None
    out = F.layer_norm(xt, (2, 4), w, b)  # eps defaults to 1e-5
    out.backward(g)
    x64, g64 = x.astype(np.float64), g.astype(np.float64)
    w64 = None if w is None else wv.astype(np.float64)
    b64 = None if b is None else bv.astype(np.float64)
    ref, _ = ln_forward_reference(x64, 2, w64, b64, 1e-5)
    rdx, rdw, rdb = ln_backward_reference(x64, 2, w64, g64, 1e-5)
    tol = dict(rtol=1e-4, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-12)
    assert out.dtype == dtype and xt.grad.dtype == dtype
    np.testing.assert_allclose(out.data, ref, **tol)
    np.testing.assert_allclose(xt.grad, rdx, **tol)
    if w is not None:
        np.testing.assert_allclose(w.grad, rdw, **tol)
    if b is not None:
        np.testing.assert_allclose(b.grad, rdb, **tol)


def test_layer_norm_eps_defaults_to_1e_5():
    x = np.array([[1.0, 1.002, 0.998, 1.0]])  # variance 2e-6: eps weighs in
    out = F.layer_norm(Tensor(x), 4)
    ref, _ = ln_forward_reference(x, 1, None, None, 1e-5)
    np.testing.assert_allclose(out.data, ref, rtol=1e-10)


def test_norm_op_messages_are_exact():
    x = Tensor(np.zeros((2, 3, 2)))
    c3, c2 = np.zeros(3), np.zeros(2)
    cases = [
        (ValueError, "batch_norm: input must be (N, C) or (N, C, ...), got shape (3,)",
         lambda: F.batch_norm(Tensor(np.zeros(3)), training=True)),
        (ValueError, "batch_norm: training needs more than one value per channel, got input of shape (1, 3)",
         lambda: F.batch_norm(Tensor(np.zeros((1, 3))), training=True)),
        (ValueError, "batch_norm: weight has shape (2,), expected (3,)",
         lambda: F.batch_norm(x, weight=Tensor(c2), training=True)),
        (ValueError, "batch_norm: bias has shape (2,), expected (3,)",
         lambda: F.batch_norm(x, bias=Tensor(c2), training=True)),
        (ValueError, "batch_norm: running_mean has shape (2,), expected (3,)",
         lambda: F.batch_norm(x, c2, c3.copy(), training=True)),
        (ValueError, "batch_norm: running_var has shape (2,), expected (3,)",
         lambda: F.batch_norm(x, c3.copy(), c2, training=True)),
        (ValueError, "batch_norm: evaluation (training=False) needs running_mean and running_var",
         lambda: F.batch_norm(x, running_mean=c3.copy())),
        (ValueError, "batch_norm: evaluation (training=False) needs running_mean and running_var",
         lambda: F.batch_norm(x, running_var=np.ones(3))),
        (TypeError, "batch_norm: input must be float32 or float64, got int64",
         lambda: F.batch_norm(np.zeros((2, 3), np.int64), training=True)),
        (ValueError, "layer_norm: weight has shape (3,), expected (2,)",
         lambda: F.layer_norm(x, 2, weight=Tensor(c3))),
        (ValueError, "layer_norm: bias has shape (3,), expected (2,)",
         lambda: F.layer_norm(x, 2, bias=Tensor(c3))),
        (TypeError, "layer_norm: input must be float32 or float64, got int64",
         lambda: F.layer_norm(np.zeros((2, 3), np.int64), 3)),
    ]
    for error, message, call in cases:
        with pytest.raises(error, match=exact(message)):
            call()


# ---------------------------------------------------------------- kernels/activations.py
def _sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))


REFERENCE = {  # name: (f(x, p), df(x, p)) in float64, PyTorch's conventions at 0
    "sigmoid": (lambda x, p: _sigmoid(x), lambda x, p: _sigmoid(x) * (1 - _sigmoid(x))),
    "tanh": (lambda x, p: np.tanh(x), lambda x, p: 1 - np.tanh(x) ** 2),
    "relu": (lambda x, p: np.where(x > 0, x, 0.0), lambda x, p: np.where(x > 0, 1.0, 0.0)),
    "leaky_relu": (lambda x, p: np.where(x > 0, x, p * x), lambda x, p: np.where(x > 0, 1.0, p)),
    "elu": (lambda x, p: np.where(x > 0, x, p * np.expm1(x)), lambda x, p: np.where(x > 0, 1.0, p * np.exp(x))),
    "softplus": (lambda x, p: np.logaddexp(0.0, x), lambda x, p: _sigmoid(x)),
}
PARAM = {"leaky_relu": 0.2, "elu": 1.5}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_activation_kernels_against_numpy_at_zero_and_around(name, dtype):
    x = np.array([[0.0, -0.0, 1e-3, -1e-3], [2.5, -2.5, 30.0, -30.0]], dtype)
    p = PARAM.get(name, 0.0)
    forward, backward = KA.ACTIVATIONS[name]
    f, df = REFERENCE[name]
    g = np.array([[1.5, -2.0, 0.5, 3.0], [-1.0, 2.0, 0.25, -0.75]], dtype)
    y = forward(x, p)
    dx = backward(x, y, g, p)
    assert y.dtype == dtype and dx.dtype == dtype
    tol = dict(rtol=2e-6, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-13, atol=1e-15)
    x64 = x.astype(np.float64)
    np.testing.assert_allclose(y, f(x64, p), **tol)
    np.testing.assert_allclose(dx, g * df(x64, p), **tol)
    if name == "relu":  # 0 for x <= 0, -0.0 included: no negative zero out
        np.testing.assert_array_equal(np.signbit(y), np.zeros_like(x, bool))


def test_activation_backward_refusals_are_exact():
    forward, backward = KA.ACTIVATIONS["sigmoid"]
    x = np.linspace(-1, 1, 6).reshape(2, 3)
    y, g = forward(x, 0.0), np.ones((2, 3))
    wide = np.zeros((2, 6))
    cases = [
        (TypeError, "sigmoid backward: x must be an ndarray, got list", (x.tolist(), y, g)),
        (TypeError, "sigmoid backward: y must be an ndarray, got list", (x, y.tolist(), g)),
        (TypeError, "sigmoid backward: grad must be an ndarray, got list", (x, y, g.tolist())),
        (ValueError, "sigmoid backward: y has shape (3, 2), x has shape (2, 3)", (x, y.reshape(3, 2), g)),
        (ValueError, "sigmoid backward: grad has shape (6,), x has shape (2, 3)", (x, y, g.reshape(6))),
        (TypeError, "sigmoid backward: x must be float32 or float64, got int64",
         (np.zeros((2, 3), np.int64), np.zeros((2, 3), np.int64), np.zeros((2, 3), np.int64))),
        (TypeError, "sigmoid backward: y has dtype float32, expected float64", (x, y.astype(np.float32), g)),
        (TypeError, "sigmoid backward: grad has dtype float32, expected float64", (x, y, g.astype(np.float32))),
        (ValueError, "sigmoid backward: x must be C-contiguous", (wide[:, ::2], y, g)),
        (ValueError, "sigmoid backward: y must be C-contiguous", (x, wide[:, 1::2], g)),
        (ValueError, "sigmoid backward: grad must be C-contiguous", (x, y, wide[:, ::2])),
    ]
    for error, message, (xa, ya, ga) in cases:
        with pytest.raises(error, match=exact(message)):
            backward(xa, ya, ga, 0.0)


def _chunks_of(size, threads, monkeypatch):
    """The shapes of the arrays ``_split`` hands a kernel for ``size`` elements (given as an
    (n, 2) array when ``size`` is even: a flat chunk is 1-D, the array as given 2-D)."""
    monkeypatch.setattr(T, "get_num_threads", lambda: threads)
    x = np.arange(size, dtype=np.float64)
    x = x.reshape(-1, 2) if size % 2 == 0 else x
    out = np.full_like(x, np.nan)
    chunks = []

    def kernel(x, p, out):
        chunks.append(x.shape)
        out[...] = x * p

    KA._split(kernel, size, x, 3.0, out)
    np.testing.assert_array_equal(out, 3 * x)  # every element once, whatever the split
    return chunks


def test_activation_kernels_split_large_arrays_in_flat_chunks_per_thread(monkeypatch):
    big = KA.PARALLEL_SIZE
    for size, threads in [(big, 3), (big + 7, 2)]:
        chunks = _chunks_of(size, threads, monkeypatch)
        n = KA.CHUNKS_PER_THREAD * threads
        assert sorted(chunks) == sorted((size * (t + 1) // n - size * t // n,) for t in range(n))
    # below PARALLEL_SIZE or on one thread: one call on the array as given
    assert _chunks_of(big - 2, 3, monkeypatch) == [(big // 2 - 1, 2)]
    assert _chunks_of(1000, 2, monkeypatch) == [(500, 2)]
    assert _chunks_of(big, 1, monkeypatch) == [(big // 2, 2)]
