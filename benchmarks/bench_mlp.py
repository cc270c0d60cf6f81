"""MLPClassifier against scikit-learn's on the MNIST 5k sample: fit time and test accuracy.

Both get the same arguments, ``MLPClassifier(hidden_layer_sizes=(100, 100), max_iter=20, tol=0,
n_iter_no_change=10**6, random_state=1)``, and the same 4,000 training images
(``train_test_split(test_size=1000, stratify=y, random_state=123)``, pixels in [0, 1]), in
float32 and in float64. Fits alternate between the two libraries and the median of ``--repeats``
is reported, so both see the same machine load; ``--blas-threads 1`` pins BLAS to one thread
for both (steadier on a busy machine). Target: ratio <= 0.7, accuracy within 1 point.

    .venv/bin/python benchmarks/bench_mlp.py [--repeats 3] [--blas-threads 1]
"""
import argparse
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier as SkMLPClassifier
from threadpoolctl import threadpool_limits

from tinygrad_nn.data import load_mnist
from tinygrad_nn.models.mlp import MLPClassifier

PARAMS = dict(hidden_layer_sizes=(100, 100), max_iter=20, tol=0, n_iter_no_change=10**6,
              random_state=1)


def timed_fit(cls, X, y):
    model = cls(**PARAMS)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y)
    return time.perf_counter() - start, model


def main(repeats, blas_threads):
    if blas_threads:
        threadpool_limits(blas_threads, user_api="blas")
    X, y = load_mnist()
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=1000, stratify=y,
                                                        random_state=123)
    # compile (Numba, cached) and warm both libraries up outside the timings
    for cls in (MLPClassifier, SkMLPClassifier):
        timed_fit(cls, X_train[:300], y_train[:300])

    threads = blas_threads or "default"
    print(f"MNIST-5k: {len(X_train)} train / {len(X_test)} test images, BLAS threads: {threads}, {PARAMS}")
    print(f"{'dtype':8} {'sklearn s':>10} {'ours s':>8} {'ratio':>6} {'sklearn acc':>12} {'ours acc':>9}")
    for dtype in (np.float32, np.float64):
        Xtr, Xte = X_train.astype(dtype), X_test.astype(dtype)
        times = {MLPClassifier: [], SkMLPClassifier: []}
        acc = {}
        for _ in range(repeats):
            for cls in (SkMLPClassifier, MLPClassifier):
                seconds, model = timed_fit(cls, Xtr, y_train)
                times[cls].append(seconds)
                acc[cls] = model.score(Xte, y_test)
        sk, ours = np.median(times[SkMLPClassifier]), np.median(times[MLPClassifier])
        print(f"{np.dtype(dtype).name:8} {sk:10.3f} {ours:8.3f} {ours / sk:6.2f} "
              f"{acc[SkMLPClassifier]:12.4f} {acc[MLPClassifier]:9.4f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--blas-threads", type=int, default=None)
    args = parser.parse_args()
    main(args.repeats, args.blas_threads)
