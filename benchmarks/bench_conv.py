"""Convolutions: fixed-kernel features vs the chapter's scipy/scikit-image code, and CNN training.

1. The chapter's FeatureUnion (sharpen, v-edge, h-edge; 4x4 max-pool; min-max scaling) over the
   5,000 MNIST-5k images: its scipy.ndimage.convolve + per-image block_reduce + MinMaxScaler
   code against `make_convolution_union` (best of 3 runs each).
2. CNNClassifier with its defaults (16/32 channels, 128 hidden units) on the MNIST-5k split (1,000 stratified
   test images, random_state=123): training time and test accuracy, next to the same network
   in PyTorch when torch is installed.

Run: python benchmarks/bench_conv.py [--skip-cnn] [--blas-threads N] [--max-iter N] [--batch-size N] [--lr LR]
"""
import argparse
import contextlib
import os
import time

import numpy as np
from scipy import ndimage
from scipy.linalg import cython_blas  # noqa: F401  loads the BLAS Numba calls, so --blas-threads reaches it
from skimage.measure import block_reduce
from sklearn.pipeline import FeatureUnion
from sklearn.preprocessing import MinMaxScaler
from threadpoolctl import threadpool_limits

from tinygrad_nn.data import load_mnist, split
from tinygrad_nn.models import CNNClassifier, make_convolution_union

KERNELS = {
    "sharpen": [[0, -1, 0], [-1, 5, -1], [0, -1, 0]],
    "v_edge": [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]],
    "h_edge": [[-1, -2, -1], [0, 0, 0], [1, 2, 1]],
}


class ChapterConvolution:
    """The chapter's transformer: ndimage.convolve, MinMaxScaler, block_reduce, MinMaxScaler."""

    def __init__(self, kernel, max_pool_size=(4, 4)):
        self.kernel, self.max_pool_size = kernel, max_pool_size

    def get_params(self, deep=True):
        return {"kernel": self.kernel, "max_pool_size": self.max_pool_size}

    def fit(self, X, y=None):
        return self

    def fit_transform(self, X, y=None):
        return self.transform(X)

    def transform(self, X):
        """Refits both scalers on X, as the chapter does."""
        side = int(np.sqrt(X.shape[1]))
        out = ndimage.convolve(X.reshape(-1, side, side), [self.kernel], mode="constant", cval=0.0)
        out = MinMaxScaler().fit_transform(out.reshape(len(X), -1))
        out = np.array([block_reduce(img.reshape(side, side), block_size=self.max_pool_size, func=np.max)
                        for img in out])
        return MinMaxScaler().fit_transform(out.reshape(len(X), -1))


def best_of(fn, repeats=3):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), result


def bench_features(X):
    chapter = FeatureUnion([(name, ChapterConvolution(k)) for name, k in KERNELS.items()])
    ours = make_convolution_union(list(KERNELS), max_pool=True, max_pool_size=(4, 4))
    ours.fit_transform(X[:10])  # compile the Numba kernels outside the timing
    t_ref, ref = best_of(lambda: chapter.fit_transform(X))
    t_ours, got = best_of(lambda: ours.fit_transform(X))
    err = float(np.abs(ref - got).max())
    print(f"FeatureUnion (3 kernels, 4x4 pool) on {len(X)} images {X.shape[1:]}: "
          f"scipy/skimage {t_ref:.3f} s, tinygrad_nn {t_ours:.3f} s -> {t_ref / t_ours:.1f}x faster "
          f"(max |diff| {err:.1e})")


def bench_cnn(X_train, y_train, X_test, y_test, threads=None, **params):
    """CNNClassifier with its defaults (16/32 channels, 128 hidden units) unless overridden."""
    clf = CNNClassifier(random_state=0, **params)
    CNNClassifier(conv_channels=(2,), hidden_layer_sizes=(4,), max_iter=1).fit(X_train[:64], y_train[:64])  # JIT
    t0 = time.perf_counter()
    clf.fit(X_train, y_train)
    seconds = time.perf_counter() - t0
    print(f"CNNClassifier {clf.conv_channels} channels, {clf.hidden_layer_sizes} hidden, {clf.n_iter_} "
          f"epochs of batch {clf.batch_size}, lr {clf.learning_rate_init}: {seconds:.1f} s training, "
          f"test accuracy {clf.score(X_test, y_test):.2%}")
    bench_torch(X_train, y_train, X_test, y_test, clf.max_iter, clf.batch_size, clf.learning_rate_init, threads)


def bench_torch(X_train, y_train, X_test, y_test, epochs, batch_size, lr, threads=None):
    """The same network and schedule in PyTorch, if it is installed."""
    try:
        import torch
    except ImportError:
        print("PyTorch: not installed (pip install torch==2.13.0 to compare)")
        return
    from torch import nn

    if threads:
        torch.set_num_threads(threads)

    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                        nn.Linear(32 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10))
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    Xt = torch.from_numpy(X_train.reshape(-1, 1, 28, 28))
    yt = torch.from_numpy(y_train)
    gen = torch.Generator().manual_seed(0)
    t0 = time.perf_counter()
    for _ in range(epochs):
        for idx in torch.randperm(len(Xt), generator=gen).split(batch_size):
            opt.zero_grad()
            nn.functional.cross_entropy(net(Xt[idx]), yt[idx]).backward()
            opt.step()
    seconds = time.perf_counter() - t0
    with torch.no_grad():
        acc = (net(torch.from_numpy(X_test.reshape(-1, 1, 28, 28))).argmax(1).numpy() == y_test).mean()
    print(f"PyTorch {torch.__version__} ({torch.get_num_threads()} threads), same net and schedule: "
          f"{seconds:.1f} s training, test accuracy {acc:.2%}")


def main(skip_cnn=False, blas_threads=None, **cnn_params):
    X, y = load_mnist()
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; BLAS threads: "
          f"{blas_threads or 'default'}; MNIST-5k")
    limits = threadpool_limits(blas_threads, user_api="blas") if blas_threads else contextlib.nullcontext()
    with limits:
        bench_features(X)
        if not skip_cnn:
            (X_train, y_train), (X_test, y_test) = split(X, y, test_size=1000, random_state=123)
            bench_cnn(X_train, y_train, X_test, y_test, threads=blas_threads, **cnn_params)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-cnn", action="store_true", help="only time the feature pipeline")
    parser.add_argument("--blas-threads", type=int, help="limit BLAS (ours and scipy's) to this many threads")
    parser.add_argument("--max-iter", type=int, help="CNNClassifier epochs (default: its own)")
    parser.add_argument("--batch-size", type=int, help="CNNClassifier batch size (default: its own)")
    parser.add_argument("--lr", type=float, help="CNNClassifier learning_rate_init (default: its own)")
    args = parser.parse_args()
    overrides = {"max_iter": args.max_iter, "batch_size": args.batch_size, "learning_rate_init": args.lr}
    main(args.skip_cnn, args.blas_threads, **{k: v for k, v in overrides.items() if v is not None})
