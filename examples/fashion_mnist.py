"""The chapter's Fashion-MNIST experiments: an MLP on pixels, and on hand-set convolution features.

The scikit-learn chapter samples 10,000 Fashion-MNIST images (OpenML 40996), keeps 20% for
testing, and trains

1. ``MLPClassifier(hidden_layer_sizes=(100, 100), max_iter=500)`` on the pixels, and
2. the same kind of MLP, ``hidden_layer_sizes=(500, 300)``, on convolution features: three fixed
   kernels (sharpen, vertical edges, horizontal edges), each max-pooled over 4x4 blocks, joined
   by a ``FeatureUnion`` -- here `make_convolution_union` -- for 79% micro-F1;

and its grid search over the pixel MLP's hyperparameters picks two hidden layers of 500 and 100
ReLUs with Adam at ``learning_rate_init=0.01`` (85.6%), which is the third model here.

All three run here on a seeded, stratified sample, with micro-averaged F1 on the test images (for
single-label classes this equals accuracy). Without the network, and with no cached copy,
Fashion-MNIST cannot be had: the script then says so and runs the same two experiments on the
5,000 MNIST digits embedded in the package (`load_mnist()`; 4,000 training and 1,000 test
images), whose scores are not comparable with the chapter's. Draws the confusion
matrices and a few test images with the convolution model's predictions (outputs/fashion_mnist.png).

Run: python examples/fashion_mnist.py [--quick] [--outdir DIR]
"""
import socket
import time
import warnings
from contextlib import contextmanager

import numpy as np
from matplotlib.figure import Figure
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import ConfusionMatrixDisplay, confusion_matrix, f1_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline

from tinygrad_nn.data import (FASHION_MNIST_LABELS, DatasetUnavailableError, load_fashion_mnist,
                              load_mnist)
from tinygrad_nn.models import MLPClassifier, make_convolution_union
from _common import cli, output_dir, savefig

KERNELS = ["sharpen", "v_edge", "h_edge"]
SAMPLE_SIZE = 10_000  # the chapter's subset of the 70,000 images
NETWORK_TIMEOUT = 10  # seconds per socket operation: a silently dropped connection cannot hang


@contextmanager
def network_timeout(seconds):
    """Bound every socket wait (urllib has none by default), restoring the old setting after."""
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(previous)


def load_data():
    """(X, y, dataset name, class names): Fashion-MNIST if cached or downloadable, else MNIST-5k."""
    print("Loading Fashion-MNIST from the cache or OpenML ...", flush=True)
    t0 = time.perf_counter()
    try:
        with network_timeout(NETWORK_TIMEOUT), warnings.catch_warnings():
            # scikit-learn warns before each of its retries; the outcome is reported below
            warnings.filterwarnings("ignore", message="A network error occurred",
                                    category=UserWarning)
            X, y = load_fashion_mnist()
    except DatasetUnavailableError as exc:
        print(f"OpenML cannot be reached ({exc.__cause__ or 'no connection'}; gave up after "
              f"{time.perf_counter() - t0:.1f} s) and Fashion-MNIST is not cached, so this runs "
              "on the embedded MNIST-5k sample instead (tinygrad_nn.data.load_mnist(): 5,000 "
              "handwritten digits). Its scores are not comparable with the chapter's "
              "Fashion-MNIST figures.\n")
        X, y = load_mnist()
        return X, y, "MNIST-5k", [str(d) for d in range(10)]
    print(f"Fashion-MNIST: {len(X)} images ({time.perf_counter() - t0:.1f} s)\n")
    return X, y, "Fashion-MNIST", list(FASHION_MNIST_LABELS)


def models(quick):
    """The chapter's three models, fresh; --quick shrinks them to a smoke test."""
    pixels = dict(hidden_layer_sizes=(100, 100), max_iter=500)
    tuned = dict(hidden_layer_sizes=(500, 100), learning_rate_init=0.01)
    convs = dict(hidden_layer_sizes=(500, 300))
    if quick:
        pixels, tuned, convs = (dict(args, hidden_layer_sizes=(30, 30), max_iter=20)
                                for args in (pixels, tuned, convs))
    return {
        "MLP on pixels": MLPClassifier(random_state=0, **pixels),
        "tuned MLP on pixels": MLPClassifier(random_state=0, **tuned),
        "conv features + MLP": Pipeline([
            ("convolutions", make_convolution_union(KERNELS, max_pool=True, max_pool_size=(4, 4))),
            ("mlp", MLPClassifier(random_state=0, **convs)),
        ]),
    }


def main(quick=False, outdir="outputs"):
    out = output_dir(outdir)
    X, y, dataset, class_names = load_data()
    sample = min(SAMPLE_SIZE, len(X))
    if sample < len(X):
        X, _, y, _ = train_test_split(X, y, train_size=sample, stratify=y, random_state=0)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, stratify=y,
                                                        random_state=0)
    if quick:
        X_train, y_train, X_test, y_test = X_train[:600], y_train[:600], X_test[:200], y_test[:200]
    print(f"{dataset}: {len(X_train)} training and {len(X_test)} test images")

    results, predictions = {}, {}
    for name, model in models(quick).items():
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            if quick:  # a few epochs cannot converge
                warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(X_train, y_train)
        seconds = time.perf_counter() - t0
        y_pred = predictions[name] = model.predict(X_test)
        mlp = model[-1] if isinstance(model, Pipeline) else model
        results[name] = dict(micro_f1=f1_score(y_test, y_pred, average="micro"),
                             epochs=mlp.n_iter_, seconds=seconds)

    print(f"\n{'model':<22} {'micro-F1':>9} {'epochs':>7} {'fit (s)':>8}")
    for name, r in results.items():
        print(f"{name:<22} {r['micro_f1']:>9.2%} {r['epochs']:>7} {r['seconds']:>8.1f}")
    if dataset == "Fashion-MNIST":
        print("(the chapter: 79% micro-F1 with the convolution features, 85.6% tuned)")

    path = out / "fashion_mnist.png"
    plot(dataset, class_names, X_test, y_test, predictions, results, path, quick)
    print(f"\nconfusion matrices and sample predictions: {path}")
    return dict(dataset=dataset, **results)


def plot(dataset, class_names, X_test, y_test, predictions, results, path, quick=False):
    """Top: one confusion matrix per model. Bottom: test images with the last model's guesses."""
    fig = Figure(figsize=(6 * len(predictions), 11), layout="constrained")
    top, bottom = fig.subfigures(2, 1, height_ratios=[2.2, 1])
    labels = np.arange(len(class_names))
    for ax, (name, y_pred) in zip(top.subplots(1, len(predictions)), predictions.items()):
        cm = confusion_matrix(y_test, y_pred, labels=labels)
        ConfusionMatrixDisplay(cm, display_labels=class_names).plot(
            ax=ax, colorbar=False, cmap="Blues", xticks_rotation=45)
        ax.set_title(f"{name}: micro-F1 {results[name]['micro_f1']:.1%}")
    top.suptitle(f"{dataset}, {len(y_test)} test images (rows: true class)")

    name, y_pred = list(predictions.items())[-1]
    axes = bottom.subplots(2, 10).ravel()
    wrong = np.flatnonzero(y_pred != y_test)[:len(axes) // 2]
    right = np.flatnonzero(y_pred == y_test)[:len(axes) - len(wrong)]
    for ax, i in zip(axes, np.concatenate([wrong, right])):
        ax.imshow(X_test[i].reshape(28, 28), cmap="Greys", interpolation="nearest")
        ok = y_pred[i] == y_test[i]
        ax.set_title(class_names[y_pred[i]] + ("" if ok else f" (is {class_names[y_test[i]]})"),
                     fontsize=8, color="C2" if ok else "C3")
    for ax in axes:
        ax.set_xticks(())
        ax.set_yticks(())
    bottom.suptitle(f"{name}: predicted class of test images (red: wrong, true class in brackets)")
    savefig(fig, path, quick, dpi=100)


if __name__ == "__main__":
    cli(__doc__, main)
