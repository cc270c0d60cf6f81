"""Layer-level benchmarks: a conv stack's forward+backward, and the seed MLP's training loop.

Each workload runs three ways in this one process: tinygrad_nn, PyTorch CPU (when importable)
and the same maths written by hand in plain numpy; times are best-of-N after a warm-up, and the
warm-up itself (Numba compilation, or loading it from the cache) is reported on its own.

1. Conv stack: Conv2D 1->8 3x3 pad 1, ReLU, MaxPool2D 2, Conv2D 8->16 3x3 pad 1, ReLU,
   MaxPool2D 2; forward+backward on a float32 batch of 256 28x28 images. Target <= 1.5x PyTorch.
2. Seed MLP loop: 784-50-10 sigmoid, softmax cross-entropy, SGD lr 0.1, batch 100, 40 epochs over
   4,000 MNIST-5k images, through ``tinygrad_nn.training.fit``. Targets <= 1.0x PyTorch and
   <= 1.3x numpy. All three start from the same weights and see the same batch order, so their
   test accuracies should agree.

    python benchmarks/bench_layers.py [--repeat-conv 20] [--repeat-mlp 3] [--threads N]

On a shared 2-core machine, multi-threaded BLAS on these small matrices collapses as soon as
another process takes a core (PyTorch and plain numpy slow 5-10x); ours splits work over its
own blocking thread pool with single-threaded BLAS (tinygrad_nn.threads) and stays steady.
``--threads 1`` gives the most stable figures for all three.
"""
import argparse
import os

import numpy as np

import tinygrad_nn as tn
import tinygrad_nn.functional as F
from tinygrad_nn import Tensor, nn, no_grad
from tinygrad_nn.data import load_mnist, split
from tinygrad_nn.optim import SGD
from tinygrad_nn.training import fit
from timing import best_of, import_torch, timed

CONV_BATCH = 256
EPOCHS, BATCH, LR, SEED = 40, 100, 0.1, 0


def report(results, unit, scale, targets, describe):
    """Print one line per contender: time, ratio ours/peer (with its target), extra text."""
    t_ours = results["tinygrad_nn"][0]
    for name, (t, out) in results.items():
        ratio = "" if name == "tinygrad_nn" else f"ours/{name} = {t_ours / t:.2f}x"
        if name in targets:
            ratio += f" (target <= {targets[name]}x)"
        print(f"   {name:<12} {scale * t:8.3f} {unit}   {ratio:<36} {describe(name, out)}")


# ============================================================== 1. conv stack forward+backward
def conv_stack_ours(x):
    net = nn.Sequential(
        nn.Conv2D(1, 8, 3, padding=1, rng=0), nn.ReLU(), nn.MaxPool2D(2),
        nn.Conv2D(8, 16, 3, padding=1, rng=1), nn.ReLU(), nn.MaxPool2D(2),
    )
    xt = Tensor(x)

    def run():
        net.zero_grad()
        net(xt).sum().backward()
        return net

    return run, [p.data for p in net.parameters()]


def conv_stack_torch(torch, x, params):
    w1, b1, w2, b2 = (torch.from_numpy(p.copy()).requires_grad_() for p in params)
    xt = torch.from_numpy(x)
    tF = torch.nn.functional

    def run():
        for p in (w1, b1, w2, b2):
            p.grad = None
        h = tF.max_pool2d(tF.relu(tF.conv2d(xt, w1, b1, padding=1)), 2)
        out = tF.max_pool2d(tF.relu(tF.conv2d(h, w2, b2, padding=1)), 2)
        out.sum().backward()
        return w1.grad

    return run


def _conv_forward(x, w, b):
    """3x3 'same' convolution by im2col: cols (N*H*W, C*9) @ w.reshape(O, C*9).T."""
    n, c, h, wd = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    win = np.lib.stride_tricks.sliding_window_view(xp, (3, 3), axis=(2, 3))  # N, C, H, W, 3, 3
    cols = win.transpose(0, 2, 3, 1, 4, 5).reshape(n * h * wd, c * 9)
    out = cols @ w.reshape(len(w), -1).T + b
    return out.reshape(n, h, wd, -1).transpose(0, 3, 1, 2), cols


def _conv_backward(g, cols, w, x_shape, need_input):
    n, c, h, wd = x_shape
    g2 = g.transpose(0, 2, 3, 1).reshape(n * h * wd, -1)
    gw = (g2.T @ cols).reshape(w.shape)
    gb = g2.sum(axis=0)
    if not need_input:
        return None, gw, gb
    gcols = (g2 @ w.reshape(len(w), -1)).reshape(n, h, wd, c, 3, 3)
    gxp = np.zeros((n, c, h + 2, wd + 2), dtype=g.dtype)
    for i in range(3):  # col2im: scatter each kernel offset back
        for j in range(3):
            gxp[:, :, i:i + h, j:j + wd] += gcols[:, :, :, :, i, j].transpose(0, 3, 1, 2)
    return gxp[:, :, 1:-1, 1:-1], gw, gb


def _pool_forward(x):
    n, c, h, w = x.shape
    win = x.reshape(n, c, h // 2, 2, w // 2, 2)
    out = win.max(axis=(3, 5))
    mask = win == out[:, :, :, None, :, None]
    return out, mask


def _pool_backward(g, mask):
    n, c, h, _, w, _ = mask.shape
    return (mask * g[:, :, :, None, :, None]).reshape(n, c, 2 * h, 2 * w)


def conv_stack_numpy(x, params):
    w1, b1, w2, b2 = (p.copy() for p in params)

    def run():
        z1, cols1 = _conv_forward(x, w1, b1)
        a1 = np.maximum(z1, 0)
        p1, m1 = _pool_forward(a1)
        z2, cols2 = _conv_forward(p1, w2, b2)
        a2 = np.maximum(z2, 0)
        out, m2 = _pool_forward(a2)
        g = _pool_backward(np.ones_like(out), m2) * (z2 > 0)
        gp1, gw2, gb2 = _conv_backward(g, cols2, w2, p1.shape, True)
        g = _pool_backward(gp1, m1) * (z1 > 0)
        _, gw1, gb1 = _conv_backward(g, cols1, w1, x.shape, False)
        return gw1

    return run


def bench_conv(torch, repeat):
    x = np.random.default_rng(0).random((CONV_BATCH, 1, 28, 28), dtype=np.float32)
    print(f"\n1. Conv stack forward+backward, float32 batch {x.shape}, best of {repeat}")
    ours, params = conv_stack_ours(x)
    first, _ = timed(ours)
    runs = {"tinygrad_nn": ours}
    if torch is not None:
        runs["PyTorch"] = conv_stack_torch(torch, x, params)
    runs["numpy"] = conv_stack_numpy(x, params)
    results = best_of(runs, repeat)
    ours_grad = results["tinygrad_nn"][1].parameters()[0].grad

    def describe(name, out):
        if name == "tinygrad_nn":
            return f"(first call {1e3 * first:.0f} ms: Numba compilation or cache load)"
        gw1 = out.numpy() if hasattr(out, "numpy") else out
        agree = np.allclose(gw1, ours_grad, rtol=1e-3, atol=1e-3 * np.abs(ours_grad).max())
        return f"conv1 weight grads agree with ours: {agree}"

    report(results, "ms", 1e3, {"PyTorch": "1.5"}, describe)
    if torch is None:
        print("   PyTorch not importable: no PyTorch comparison")
    return results


# ============================================================== 2. the seed MLP training loop
def mnist_4k():
    X, y = load_mnist()
    (X_train, y_train), (X_test, y_test) = split(X, y, test_size=1000, random_state=SEED)
    return X_train, y_train, X_test, y_test


def initial_mlp():
    return nn.Sequential(nn.Dense(784, 50, rng=SEED), nn.Sigmoid(), nn.Dense(50, 10, rng=SEED + 1))


def batch_orders(n):
    """The permutations fit draws with ``rng=SEED``, so the peers see the same batches."""
    gen = np.random.default_rng(SEED)
    return [gen.permutation(n) for _ in range(EPOCHS)]


def accuracy(logits, y):
    return float(np.mean(np.asarray(logits).argmax(axis=1) == y))


def mlp_ours(X, y, X_test, y_test, epochs=EPOCHS):
    def run():
        model = initial_mlp()

        def step_loss(xb, yb):
            return F.cross_entropy(model(Tensor(xb)), yb)

        hist = fit(step_loss, SGD(model.parameters(), lr=LR), (X, y), epochs=epochs,
                   batch_size=BATCH, rng=SEED, progress=False)
        with no_grad():
            return accuracy(model(Tensor(X_test)).numpy(), y_test), hist.loss[-1]

    return run


def mlp_torch(torch, X, y, X_test, y_test, params):
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    orders = [torch.from_numpy(o) for o in batch_orders(len(X))]

    def run():
        model = torch.nn.Sequential(torch.nn.Linear(784, 50), torch.nn.Sigmoid(), torch.nn.Linear(50, 10))
        with torch.no_grad():  # the same start as ours; torch's Linear weight is (out, in)
            for (w, b), layer in zip((params[:2], params[2:]), (model[0], model[2])):
                layer.weight.copy_(torch.from_numpy(w.T.copy()))
                layer.bias.copy_(torch.from_numpy(b))
        opt = torch.optim.SGD(model.parameters(), lr=LR)
        loss_fn = torch.nn.CrossEntropyLoss()
        total = 0.0
        for order in orders:
            total = 0.0
            for start in range(0, len(X), BATCH):
                idx = order[start:start + BATCH]
                opt.zero_grad()
                loss = loss_fn(model(Xt[idx]), yt[idx])
                loss.backward()
                opt.step()
                total += loss.item() * len(idx)
        with torch.no_grad():
            return accuracy(model(torch.from_numpy(X_test)).numpy(), y_test), total / len(X)

    return run


def mlp_numpy(X, y, X_test, y_test, params):
    """The network and its backprop written by hand in float32 numpy, as in the seeds."""
    orders = batch_orders(len(X))
    onehot = np.eye(10, dtype=np.float32)[y]

    def run():
        W1, b1, W2, b2 = (p.copy() for p in params)
        total = 0.0
        for order in orders:
            total = 0.0
            for start in range(0, len(X), BATCH):
                idx = order[start:start + BATCH]
                xb, tb, m = X[idx], onehot[idx], len(idx)
                a1 = 1 / (1 + np.exp(-(xb @ W1 + b1)))
                z2 = a1 @ W2 + b2
                z2 = z2 - z2.max(axis=1, keepdims=True)
                e = np.exp(z2)
                s = e.sum(axis=1, keepdims=True)
                total += float(np.sum(np.log(s) - np.sum(z2 * tb, axis=1, keepdims=True)))
                d2 = (e / s - tb) / m
                d1 = (d2 @ W2.T) * a1 * (1 - a1)
                W2 -= LR * (a1.T @ d2)
                b2 -= LR * d2.sum(axis=0)
                W1 -= LR * (xb.T @ d1)
                b1 -= LR * d1.sum(axis=0)
        a1 = 1 / (1 + np.exp(-(X_test @ W1 + b1)))
        return accuracy(a1 @ W2 + b2, y_test), total / len(X)

    return run


def bench_mlp(torch, repeat):
    X, y, X_test, y_test = mnist_4k()
    print(f"\n2. Seed MLP training loop: 784-50-10 sigmoid, softmax cross-entropy, SGD lr {LR}, "
          f"batch {BATCH}, {EPOCHS} epochs over {len(X)} MNIST-5k images; best of {repeat}")
    params = [p.data for p in initial_mlp().parameters()]
    first, _ = timed(mlp_ours(X[:BATCH], y[:BATCH], X_test, y_test, epochs=1))  # one step
    runs = {"tinygrad_nn": mlp_ours(X, y, X_test, y_test)}
    if torch is not None:
        runs["PyTorch"] = mlp_torch(torch, X, y, X_test, y_test, params)
    runs["numpy"] = mlp_numpy(X, y, X_test, y_test, params)
    results = best_of(runs, repeat, warmup=False)

    def describe(name, out):
        acc, loss = out
        text = f"test accuracy {100 * acc:.2f}%, last epoch loss {loss:.4f}"
        if name == "tinygrad_nn":
            text += f" (first step {1e3 * first:.0f} ms: Numba compilation or cache load)"
        return text

    report(results, "s ", 1, {"PyTorch": "1.0", "numpy": "1.3"}, describe)
    if torch is None:
        print("   PyTorch not importable: no PyTorch comparison")
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description="conv stack and seed-MLP loop vs PyTorch and numpy")
    parser.add_argument("--repeat-conv", type=int, default=20)
    parser.add_argument("--repeat-mlp", type=int, default=3)
    parser.add_argument("--skip-conv", action="store_true")
    parser.add_argument("--skip-mlp", action="store_true")
    parser.add_argument("--threads", type=int, default=None,
                        help="tn.set_num_threads (ours, and the BLAS numpy uses) and PyTorch's "
                             "threads (default: every usable core)")
    args = parser.parse_args(argv)
    torch = import_torch()
    if args.threads is not None:
        tn.set_num_threads(args.threads)
        if torch is not None:
            torch.set_num_threads(args.threads)
    peers = "PyTorch not importable" if torch is None else \
        f"PyTorch {torch.__version__} CPU, {torch.get_num_threads()} threads"
    print(f"bench_layers: tinygrad_nn ({tn.get_num_threads()} threads) vs {peers} vs plain numpy "
          f"{np.__version__}; load average {os.getloadavg()[0]:.1f}")
    if not args.skip_conv:
        bench_conv(torch, args.repeat_conv)
    if not args.skip_mlp:
        bench_mlp(torch, args.repeat_mlp)


if __name__ == "__main__":
    main()
