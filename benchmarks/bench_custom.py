"""The hand-written CNN of examples/custom_cnn.py against the same net in PyTorch, plus the new
layers' forward+backward.

1. Training: the example's all-convolutional net (16-16-pool-32-32-pool-64 channels, BatchNorm2D
   + ReLU after every 3x3 convolution, GlobalAvgPool2D, Dense to 10), AdamW with a per-epoch
   cosine schedule and gradient clipping at norm 1, 15 epochs of batch 64 on the 4,000 MNIST-5k
   training images. PyTorch trains the same layers from the SAME initial weights (ours copied
   in; Dense's (in, out) weight transposed into Linear's (out, in)) over the SAME minibatch
   order (the permutations `training.fit` draws). The two take turns epoch by epoch (PyTorch's
   epoch runs at the end of each of ours, its time taken out of ours), so a slow spell of the
   machine hits both alike: this VM's step time moved between 22 and 30 ms from one epoch to
   the next. Both times, their ratio (target <= 1.0x) and both test accuracies (target: within
   0.5 points) are printed.
2. Layers, forward+backward, best of N (each contender warmed up first): BatchNorm2D in training
   mode on (64, 32, 14, 14), AvgPool2D(2) on (64, 16, 28, 28), Embedding(10000, 64) on (128, 32)
   indices. Ratios ours/PyTorch.

Without PyTorch (pip install torch==2.13.0) only our figures are printed, and the script says so.

    python benchmarks/bench_custom.py [--quick] [--epochs N] [--threads N]

--quick trains on 2,000 images for 2 epochs and repeats the layer timings less (a smoke run).
The full run trains both nets for the example's whole budget, about a minute each on an idle
2-core machine. On a busy machine PyTorch's OpenMP threads wait for descheduled peers and its
times balloon (5-20x measured under a load average of 10): ``--threads 1`` gives stable ratios.
"""
import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

import tinygrad_nn as tn
from tinygrad_nn import Tensor, nn
from tinygrad_nn.data import load_mnist, split
from timing import best_of, import_torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
import custom_cnn  # noqa: E402  (the example's network, training loop and hyperparameters)

SEED = 0


# ---------------------------------------------------------------------------------------------
# 1. Training the example's net

def torch_twin(model, torch):
    """The PyTorch version of ``custom_cnn.make_model()``, holding copies of ``model``'s current
    weights and BatchNorm buffers, in their dtype."""
    from torch import nn as tnn

    layers = []
    for layer in model:
        if isinstance(layer, nn.Conv2D):
            conv = tnn.Conv2d(layer.in_channels, layer.out_channels, layer.kernel_size,
                              stride=layer.stride, padding=layer.padding,
                              bias=layer.bias is not None)
            conv.weight.data = torch.tensor(layer.weight.numpy())
            if layer.bias is not None:
                conv.bias.data = torch.tensor(layer.bias.numpy())
            layers.append(conv)
        elif isinstance(layer, nn.BatchNorm2D):
            bn = tnn.BatchNorm2d(layer.num_features, eps=layer.eps, momentum=layer.momentum)
            bn.weight.data = torch.tensor(layer.weight.numpy())
            bn.bias.data = torch.tensor(layer.bias.numpy())
            bn.running_mean.data = torch.tensor(layer.running_mean.numpy())
            bn.running_var.data = torch.tensor(layer.running_var.numpy())
            layers.append(bn)
        elif isinstance(layer, nn.ReLU):
            layers.append(tnn.ReLU())
        elif isinstance(layer, nn.MaxPool2D):
            layers.append(tnn.MaxPool2d(layer.kernel_size, layer.stride))
        elif isinstance(layer, nn.GlobalAvgPool2D):
            layers += [tnn.AdaptiveAvgPool2d(1), tnn.Flatten()]
        elif isinstance(layer, nn.Dense):
            linear = tnn.Linear(layer.in_features, layer.out_features)
            linear.weight.data = torch.tensor(layer.weight.numpy().T.copy())  # (in, out) -> (out, in)
            linear.bias.data = torch.tensor(layer.bias.numpy())
            layers.append(linear)
        else:
            raise TypeError(f"torch_twin: no PyTorch counterpart for {layer!r}")
    return tnn.Sequential(*layers)


def train_torch(net, torch, X_train, y_train, X_test, y_test, epochs, seed):
    """The example's recipe in PyTorch, over the minibatch order ``fit(rng=seed)`` draws.
    Returns the test accuracy and the mean training loss of each epoch (as ``History.loss``)."""
    epochs_run = torch_epochs(net, torch, X_train, y_train, epochs, seed)
    losses = [loss for loss, _ in epochs_run]
    return torch_accuracy(net, torch, X_test, y_test), losses


def torch_epochs(net, torch, X_train, y_train, epochs, seed):
    """Trains ``net`` one epoch per ``next()``, yielding (the epoch's mean training loss, its
    seconds)."""
    opt = torch.optim.AdamW(net.parameters(), lr=custom_cnn.LR,
                            weight_decay=custom_cnn.WEIGHT_DECAY)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    X, y = torch.from_numpy(X_train), torch.from_numpy(y_train)
    order = np.random.default_rng(seed)  # what training.fit draws its permutations from
    batch = custom_cnn.BATCH_SIZE
    for _ in range(epochs):
        start_time = time.perf_counter()
        net.train()
        perm = torch.from_numpy(order.permutation(len(X)))
        total = 0.0
        for start in range(0, len(X), batch):
            idx = perm[start:start + batch]
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(net(X[idx]), y[idx])
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), custom_cnn.MAX_GRAD_NORM)
            opt.step()
            total += loss.item() * len(idx)
        schedule.step()
        yield total / len(X), time.perf_counter() - start_time


def torch_accuracy(net, torch, X_test, y_test):
    net.eval()
    with torch.no_grad():
        predicted = torch.cat([net(torch.from_numpy(X_test[i:i + 500])).argmax(1)
                               for i in range(0, len(X_test), 500)]).numpy()
    return float((predicted == y_test).mean())


def bench_training(torch, n_train, epochs):
    X, y = load_mnist()
    (X_train, y_train), (X_test, y_test) = split(X, y, test_size=1000, random_state=0)
    X_train, y_train = X_train[:n_train].reshape(-1, 1, 28, 28), y_train[:n_train]
    X_test = X_test.reshape(-1, 1, 28, 28)
    print(f"1. custom_cnn net, {len(X_train)} MNIST-5k training images, {epochs} epochs of batch "
          f"{custom_cnn.BATCH_SIZE}, AdamW lr {custom_cnn.LR} + cosine + clip "
          f"{custom_cnn.MAX_GRAD_NORM}; test on {len(X_test)} images")

    t0 = time.perf_counter()  # compile (or load from the cache) every kernel outside the timing
    custom_cnn.train(custom_cnn.make_model(), X_train[:64], y_train[:64], X_test[:64],
                     y_test[:64], epochs=1, progress=False)
    print(f"   warm-up (Numba compile / cache load): {time.perf_counter() - t0:.1f} s")

    tn.manual_seed(SEED)
    model = custom_cnn.make_model()
    twin = torch_twin(model, torch) if torch is not None else None  # before ours trains
    torch_seconds, after_epoch = [], None
    if torch is not None:
        # a few steps first: PyTorch's one-off start-up cost (thread pool, allocator) out of timing
        warm = torch_twin(custom_cnn.make_model(), torch)
        train_torch(warm, torch, X_train[:128], y_train[:128], X_test[:64], y_test[:64], 1, SEED)
        epochs_run = torch_epochs(twin, torch, X_train, y_train, epochs, SEED)

        def after_epoch(epoch):  # PyTorch's epoch, between two of ours: the same machine state
            torch_seconds.append(next(epochs_run)[1])

    t0 = time.perf_counter()
    history = custom_cnn.train(model, X_train, y_train, X_test, y_test, epochs=epochs, seed=SEED,
                               progress=False, after_epoch=after_epoch)
    t_ours = time.perf_counter() - t0 - sum(torch_seconds)
    acc_ours = history.metrics["test_accuracy"][-1]
    # ours also scores the test set after every epoch (the example's curve); PyTorch only at the
    # end, so time that evaluation separately and leave it out of the comparison
    t0 = time.perf_counter()
    custom_cnn.accuracy(model, X_test, y_test)
    t_eval = time.perf_counter() - t0
    t_ours_train = t_ours - epochs * t_eval
    print(f"   tinygrad_nn   {t_ours_train:6.1f} s training (+{epochs} x {t_eval:.2f} s per-epoch "
          f"test scoring), test accuracy {acc_ours:.2%}")
    if torch is None:
        print("   PyTorch: not installed (pip install torch==2.13.0 to compare)")
        return
    t_torch = sum(torch_seconds)
    acc_torch = torch_accuracy(twin, torch, X_test, y_test)
    print(f"   PyTorch {torch.__version__} ({torch.get_num_threads()} threads) {t_torch:6.1f} s "
          f"training, test accuracy {acc_torch:.2%}")
    print(f"   ours/PyTorch time = {t_ours_train / t_torch:.2f}x (target <= 1.0x); accuracy "
          f"difference {100 * (acc_ours - acc_torch):+.1f} points (target within 0.5)")


# ---------------------------------------------------------------------------------------------
# 2. Layers, forward + backward

def layer_cases(torch):
    """(name, ours step, PyTorch step or None): one forward + backward each."""
    rng = np.random.default_rng(SEED)
    cases = []

    x_bn = rng.standard_normal((64, 32, 14, 14)).astype(np.float32)
    g_bn = rng.standard_normal(x_bn.shape).astype(np.float32)
    bn = nn.BatchNorm2D(32)

    def ours_bn():
        x = Tensor(x_bn, requires_grad=True)
        bn.zero_grad()
        bn(x).backward(g_bn)
    cases.append(("BatchNorm2D(32) train, x (64, 32, 14, 14)", ours_bn, x_bn, g_bn,
                  lambda: torch.nn.BatchNorm2d(32)))

    x_pool = rng.standard_normal((64, 16, 28, 28)).astype(np.float32)
    g_pool = rng.standard_normal((64, 16, 14, 14)).astype(np.float32)
    pool = nn.AvgPool2D(2)

    def ours_pool():
        x = Tensor(x_pool, requires_grad=True)
        pool(x).backward(g_pool)
    cases.append(("AvgPool2D(2), x (64, 16, 28, 28)", ours_pool, x_pool, g_pool,
                  lambda: torch.nn.AvgPool2d(2)))

    idx = rng.integers(0, 10000, size=(128, 32))
    g_emb = rng.standard_normal((128, 32, 64)).astype(np.float32)
    emb = nn.Embedding(10000, 64, rng=SEED)

    def ours_emb():
        emb.zero_grad()
        emb(idx).backward(g_emb)
    cases.append(("Embedding(10000, 64), indices (128, 32)", ours_emb, idx, g_emb,
                  lambda: torch.nn.Embedding(10000, 64)))
    return cases


def torch_step(make_layer, x_np, g_np, torch):
    layer = make_layer()
    g = torch.from_numpy(g_np)
    if x_np.dtype.kind in "iu":  # embedding indices: the gradient goes to the table only
        x = torch.from_numpy(x_np)

        def step():
            layer.zero_grad()
            layer(x).backward(g)
        return step

    def step():
        x = torch.from_numpy(x_np).requires_grad_()
        layer.zero_grad()
        layer(x).backward(g)
    return step


def bench_layers(torch, repeat, number):
    print(f"2. layers, forward + backward, best of {repeat} x {number} calls")
    for name, ours, x_np, g_np, make_torch in layer_cases(torch):
        runs = {"ours": ours}
        if torch is not None:
            runs["PyTorch"] = torch_step(make_torch, x_np, g_np, torch)
        timings = best_of(runs, repeat, number)
        t_ours = timings["ours"][0]
        line = f"   {name:<42} tinygrad_nn {1e3 * t_ours:7.3f} ms"
        if torch is not None:
            t_torch = timings["PyTorch"][0]
            line += f"   PyTorch {1e3 * t_torch:7.3f} ms   ours/PyTorch = {t_ours / t_torch:.2f}x"
        print(line)


def main(quick=False, epochs=None, threads=None):
    torch = import_torch()
    if threads:
        tn.set_num_threads(threads)
        if torch is not None:
            torch.set_num_threads(threads)
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; tinygrad_nn threads "
          f"{tn.get_num_threads()}; "
          + (f"PyTorch {torch.__version__}" if torch is not None
             else "PyTorch not installed (pip install torch==2.13.0): our figures only"))
    epochs = epochs or (2 if quick else custom_cnn.EPOCHS)
    bench_training(torch, 2000 if quick else None, epochs)
    bench_layers(torch, *((3, 5) if quick else (5, 20)))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short smoke run")
    parser.add_argument("--epochs", type=int, help="training epochs (default 15, --quick 2)")
    parser.add_argument("--threads", type=int, help="threads for tinygrad_nn and PyTorch")
    args = parser.parse_args()
    main(args.quick, args.epochs, args.threads)
