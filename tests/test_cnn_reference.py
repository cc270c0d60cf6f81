"""`CNNClassifier` training checked against a plain-numpy reference of the same steps.

The reference re-derives everything from the estimator's documented rules rather than from the
library: the two seeds drawn from ``RandomState(random_state)`` (weights, then batch order), He
normal weights drawn in layer order from ``default_rng(init_seed)`` with zero biases, the
epoch's batch order ``default_rng(seed).permutation(n)``, and SGD with PyTorch's momentum rule.
Forward and backward passes (convolution with zero padding, ReLU, 2x2 max-pool with the first
maximum winning, dense layers, mean softmax cross-entropy) are written out in float64 numpy. An
off-by-one in the convolution's input gradient, a wrong stride in pooling, or a shuffled batch
order each move the trained weights far outside the tolerance.
"""
import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

from tinygrad_nn.models import CNNClassifier


def conv_forward(x, w, b, pad):
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    windows = sliding_window_view(xp, w.shape[2:], axis=(2, 3))  # (N, C, Ho, Wo, kh, kw)
    return np.einsum("ncijkl,ockl->noij", windows, w) + b[None, :, None, None], windows


def conv_backward(g, windows, w, x_shape, pad):
    dw = np.einsum("ncijkl,noij->ockl", windows, g)
    db = g.sum(axis=(0, 2, 3))
    n, c, h, wd = x_shape
    dxp = np.zeros((n, c, h + 2 * pad, wd + 2 * pad))
    ho, wo = g.shape[2:]
    for di in range(w.shape[2]):
        for dj in range(w.shape[3]):
            dxp[:, :, di:di + ho, dj:dj + wo] += np.einsum("noij,oc->ncij", g, w[:, :, di, dj])
    return dxp[:, :, pad:pad + h, pad:pad + wd], dw, db


def pool_forward(x):
    """2x2 max-pool, stride 2, floor; the first maximum in row-major order wins."""
    n, c, h, w = x.shape
    ho, wo = h // 2, w // 2
    blocks = x[:, :, :2 * ho, :2 * wo].reshape(n, c, ho, 2, wo, 2).transpose(0, 1, 2, 4, 3, 5)
    flat = blocks.reshape(n, c, ho, wo, 4)
    return flat.max(axis=-1), flat.argmax(axis=-1)


def pool_backward(g, arg, x_shape):
    n, c, h, w = x_shape
    dx = np.zeros(x_shape)
    ii, jj = np.meshgrid(np.arange(g.shape[2]), np.arange(g.shape[3]), indexing="ij")
    for a in range(4):
        di, dj = divmod(a, 2)
        hit = arg == a
        dx[:, :, 2 * ii + di, 2 * jj + dj] += np.where(hit, g, 0.0)
    return dx


def reference_gradients(params, x, y, n_classes, pad):
    """Mean cross-entropy gradients of conv-relu-pool x2 -> dense-relu -> dense, in float64."""
    (w1, b1), (w2, b2), (w3, b3), (w4, b4) = params
    z1, win1 = conv_forward(x, w1, b1, pad)
    a1 = np.maximum(z1, 0)
    p1, arg1 = pool_forward(a1)
    z2, win2 = conv_forward(p1, w2, b2, pad)
    a2 = np.maximum(z2, 0)
    p2, arg2 = pool_forward(a2)
    f = p2.reshape(len(x), -1)
    z3 = f @ w3 + b3
    a3 = np.maximum(z3, 0)
    logits = a3 @ w4 + b4
    prob = np.exp(logits - logits.max(axis=1, keepdims=True))
    prob /= prob.sum(axis=1, keepdims=True)
    dlogits = (prob - np.eye(n_classes)[y]) / len(x)
    dw4, db4 = a3.T @ dlogits, dlogits.sum(axis=0)
    dz3 = (dlogits @ w4.T) * (z3 > 0)
    dw3, db3 = f.T @ dz3, dz3.sum(axis=0)
    dp2 = (dz3 @ w3.T).reshape(p2.shape)
    dz2 = pool_backward(dp2, arg2, a2.shape) * (z2 > 0)
    dp1, dw2, db2 = conv_backward(dz2, win2, w2, p1.shape, pad)
    dz1 = pool_backward(dp1, arg1, a1.shape) * (z1 > 0)
    _, dw1, db1 = conv_backward(dz1, win1, w1, x.shape, pad)
    return [(dw1, db1), (dw2, db2), (dw3, db3), (dw4, db4)]


def he_params(init_seed, shapes):
    """He-normal weights drawn in layer order from one Generator, zero biases (float32)."""
    rng = np.random.default_rng(init_seed)
    out = []
    for shape in shapes:
        fan_in = int(np.prod(shape[1:])) if len(shape) == 4 else shape[0]
        w = rng.normal(0.0, np.sqrt(2.0 / fan_in), shape).astype(np.float32)
        out.append((w, np.zeros(shape[0] if len(shape) == 4 else shape[1], np.float32)))
    return out


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # one epoch
@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_cnn_fit_matches_numpy_sgd_steps(momentum):
    """One epoch of three minibatches (sizes 8, 8, 4) on 20 random 7x9 images, 3 classes."""
    rng = np.random.default_rng(5)
    n, shape, classes, lr = 20, (1, 7, 9), 3, 0.05
    X = rng.random((n, int(np.prod(shape)))).astype(np.float32)
    y = rng.integers(0, classes, n)
    clf = CNNClassifier(conv_channels=(3, 4), kernel_size=3, hidden_layer_sizes=(5,),
                        image_shape=shape, solver="sgd", momentum=momentum,
                        learning_rate_init=lr, batch_size=8, max_iter=1, random_state=42)
    clf.fit(X, y)

    init_seed, seed = np.random.RandomState(42).randint(np.iinfo(np.int32).max, size=2)
    # 7x9 -> conv(pad 1) 7x9 -> pool 3x4 -> conv 3x4 -> pool 1x2 -> 4*1*2 = 8 features
    params = he_params(init_seed, [(3, 1, 3, 3), (4, 3, 3, 3), (8, 5), (5, classes)])
    params = [[p.astype(np.float64) for p in layer] for layer in params]
    images = X.reshape((n,) + shape).astype(np.float64)
    order = np.random.default_rng(seed).permutation(n)
    velocity = None
    for start in range(0, n, 8):
        idx = order[start:start + 8]
        grads = reference_gradients(params, images[idx], y[idx], classes, pad=1)
        flat = [g for layer in grads for g in layer]
        velocity = flat if velocity is None else [momentum * v + g for v, g in zip(velocity, flat)]
        it = iter(velocity)
        params = [[p - lr * next(it) for p in layer] for layer in params]

    trained = [p.data for p in clf.module_.parameters()]
    expected = [p for layer in params for p in layer]
    assert [t.shape for t in trained] == [e.shape for e in expected]
    for k, (got, want) in enumerate(zip(trained, expected)):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5, err_msg=f"parameter {k}")
    # and the steps moved the weights by far more than that tolerance
    start = he_params(init_seed, [(3, 1, 3, 3), (4, 3, 3, 3), (8, 5), (5, classes)])
    moved = max(np.abs(w - s).max() for w, s in zip(expected, [p for l in start for p in l]))
    assert moved > 1e-3
