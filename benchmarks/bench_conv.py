"""Convolutions: fixed-kernel features vs the chapter's scipy/scikit-image code, and CNN training.

1. The chapter's FeatureUnion (sharpen, v-edge, h-edge; 4x4 max-pool; min-max scaling) over
   the 5,000 MNIST-5k images: its scipy.ndimage.convolve + per-image block_reduce +
   MinMaxScaler code against `make_convolution_union` (best of 3 runs each).
2. CNNClassifier with its defaults (16/32 channels, 128 hidden units) on the MNIST-5k split
   (1,000 stratified test images, random_state=123): training time and test accuracy, next to
   the same layers, optimizer, batch size and epochs in PyTorch when torch is installed
   (PyTorch's own weight init).

Run: python benchmarks/bench_conv.py [--skip-cnn] [--threads N]
                                     [--max-iter N] [--batch-size N] [--lr LR]
"""
import argparse
import os
import time

import numpy as np
from scipy import ndimage
from skimage.measure import block_reduce
from sklearn.pipeline import FeatureUnion
from sklearn.preprocessing import MinMaxScaler
import tinygrad_nn as tn
from tinygrad_nn.data import load_mnist, split
from tinygrad_nn.models import CNNClassifier, make_convolution_union
from timing import best_of, import_torch

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
        out = np.array([block_reduce(img.reshape(side, side), self.max_pool_size, func=np.max)
                        for img in out])
        return MinMaxScaler().fit_transform(out.reshape(len(X), -1))


def bench_features(X):
    chapter = FeatureUnion([(name, ChapterConvolution(k)) for name, k in KERNELS.items()])
    ours = make_convolution_union(list(KERNELS), max_pool=True, max_pool_size=(4, 4))
    ours.fit_transform(X[:10])  # compile the Numba kernels outside the timing
    timings = best_of({"chapter": lambda: chapter.fit_transform(X),
                       "ours": lambda: ours.fit_transform(X)}, 3, warmup=False)
    (t_ref, ref), (t_ours, got) = timings["chapter"], timings["ours"]
    err = float(np.abs(ref - got).max())
    print(f"FeatureUnion (3 kernels, 4x4 max-pool) on {len(X)} images: scipy/skimage "
          f"{t_ref:.3f} s, tinygrad_nn {t_ours:.3f} s -> {t_ref / t_ours:.1f}x faster "
          f"(max |difference| {err:.1e})")


def bench_cnn(X_train, y_train, X_test, y_test, threads=None, **params):
    """CNNClassifier with its defaults unless overridden, then the same in PyTorch."""
    CNNClassifier(conv_channels=(2,), hidden_layer_sizes=(4,), max_iter=1).fit(
        X_train[:64], y_train[:64])  # compile the Numba kernels outside the timing
    clf = CNNClassifier(random_state=0, **params)
    t0 = time.perf_counter()
    clf.fit(X_train, y_train)
    seconds = time.perf_counter() - t0
    print(f"CNNClassifier channels {clf.conv_channels}, hidden {clf.hidden_layer_sizes}, "
          f"{clf.n_iter_} epochs of batch {clf.batch_size}, Adam lr {clf.learning_rate_init}: "
          f"{seconds:.1f} s training, test accuracy {clf.score(X_test, y_test):.2%}")
    bench_torch(clf, X_train, y_train, X_test, y_test, threads)


def bench_torch(clf, X_train, y_train, X_test, y_test, threads=None):
    """The layers, optimizer, batch size and epoch count of ``clf`` in PyTorch, if installed."""
    torch = import_torch(threads)
    if torch is None:
        print("PyTorch: not installed (pip install torch==2.13.0 to compare)")
        return
    from torch import nn

    torch.manual_seed(0)
    layers, channels, side = [], 1, 28
    for out in clf.conv_channels:
        layers += [nn.Conv2d(channels, out, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
        channels, side = out, side // 2
    width = channels * side * side
    layers.append(nn.Flatten())
    for units in clf.hidden_layer_sizes:
        layers += [nn.Linear(width, units), nn.ReLU()]
        width = units
    net = nn.Sequential(*layers, nn.Linear(width, 10))
    opt = torch.optim.Adam(net.parameters(), lr=clf.learning_rate_init)
    Xt, yt = torch.from_numpy(X_train.reshape(-1, 1, 28, 28)), torch.from_numpy(y_train)
    gen = torch.Generator().manual_seed(0)
    t0 = time.perf_counter()
    for _ in range(clf.n_iter_):
        for idx in torch.randperm(len(Xt), generator=gen).split(clf.batch_size):
            opt.zero_grad()
            nn.functional.cross_entropy(net(Xt[idx]), yt[idx]).backward()
            opt.step()
    seconds = time.perf_counter() - t0
    with torch.no_grad():
        logits = net(torch.from_numpy(X_test.reshape(-1, 1, 28, 28)))
    accuracy = (logits.argmax(1).numpy() == y_test).mean()
    print(f"PyTorch {torch.__version__} ({torch.get_num_threads()} threads), same net and "
          f"schedule: {seconds:.1f} s training, test accuracy {accuracy:.2%}")


def main(skip_cnn=False, threads=None, **cnn_params):
    X, y = load_mnist()
    if threads:
        tn.set_num_threads(threads)  # ours and the BLAS numpy/scipy use
    print(f"MNIST-5k; {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; "
          f"threads: {tn.get_num_threads()}")
    bench_features(X)
    if not skip_cnn:
        (X_train, y_train), (X_test, y_test) = split(X, y, test_size=1000, random_state=123)
        bench_cnn(X_train, y_train, X_test, y_test, threads=threads, **cnn_params)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-cnn", action="store_true", help="only time the feature pipeline")
    parser.add_argument("--threads", "--blas-threads", type=int,
                        help="tn.set_num_threads (ours and numpy's/scipy's BLAS) and PyTorch's "
                             "threads (default: every usable core)")
    parser.add_argument("--max-iter", type=int, help="CNNClassifier epochs")
    parser.add_argument("--batch-size", type=int, help="CNNClassifier batch size")
    parser.add_argument("--lr", type=float, help="CNNClassifier learning_rate_init")
    args = parser.parse_args()
    overrides = {"max_iter": args.max_iter, "batch_size": args.batch_size,
                 "learning_rate_init": args.lr}
    main(args.skip_cnn, args.threads, **{k: v for k, v in overrides.items() if v is not None})
