"""The loss curve on MNIST-5k, and where MLPClassifier's stopping rule ends training.

An MLPClassifier with two hidden layers of 100 units (Adam, the defaults otherwise) is allowed
500 epochs but stops on its own once the training loss has failed to improve by ``tol`` for
``n_iter_no_change`` (10) epochs in a row. ``loss_curve_`` holds the mean training loss of every
epoch; the plot marks the last epoch that improved on the best loss by more than ``tol``, and
the stop ``n_iter_no_change`` epochs later. Writes outputs/mlp_loss_curve.png.

Run: python examples/mlp_loss_curve.py [--quick] [--outdir DIR]
"""
import time

import numpy as np
from matplotlib.figure import Figure

from tinygrad_nn.models import MLPClassifier
from _common import cli, mnist_split, output_dir, savefig


def main(quick=False, outdir="outputs"):
    n_train, max_iter = (500, 3) if quick else (None, 500)
    out = output_dir(outdir)
    (X_train, y_train), (X_test, y_test) = mnist_split(n_train)

    t0 = time.perf_counter()
    clf = MLPClassifier(hidden_layer_sizes=(100, 100), max_iter=max_iter, random_state=0)
    clf.fit(X_train, y_train)
    seconds = time.perf_counter() - t0
    stopped_early = clf.n_iter_ < max_iter
    results = dict(epochs=clf.n_iter_, stopped_early=stopped_early,
                   final_loss=clf.loss_curve_[-1], test_accuracy=clf.score(X_test, y_test),
                   seconds=seconds)
    print(f"{'stopped' if stopped_early else 'ran out of epochs'} after {clf.n_iter_} epochs, "
          f"final loss {clf.loss_curve_[-1]:.2e}; test accuracy "
          f"{results['test_accuracy']:.2%} ({seconds:.1f} s)")

    fig = Figure(figsize=(7, 4.5))
    ax = fig.subplots()
    epochs = np.arange(1, clf.n_iter_ + 1)
    ax.plot(epochs, clf.loss_curve_, label="training loss")
    if stopped_early:
        last = clf.n_iter_ - clf.n_iter_no_change
        ax.axvline(last, color="C2", ls=":",
                   label=f"last improvement by more than tol={clf.tol:g} (epoch {last})")
        ax.axvline(clf.n_iter_, color="C3", ls="--", label=f"stop (epoch {clf.n_iter_})")
    ax.set(xlabel="epoch", ylabel="mean log loss", yscale="log",
           title=f"MLPClassifier (100, 100) on {len(X_train)} MNIST images: "
                 f"test accuracy {results['test_accuracy']:.1%}")
    ax.legend(loc="upper right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    savefig(fig, out / "mlp_loss_curve.png", quick, dpi=120)
    return results


if __name__ == "__main__":
    cli(__doc__, main)
