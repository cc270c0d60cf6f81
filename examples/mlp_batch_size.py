"""Batch-size study on MNIST-5k: validation accuracy per epoch for batch_size 1, 10, 100, 1500.

As in the learning-rate study, accuracy on a held-out 10% is recorded after every epoch and
nothing stops early; 1,500 images, and only ``batch_size`` changes (1,500 is more than the 1,350
training rows, so it means full-batch gradient descent). Small batches take many noisy steps per
epoch and learn the most per epoch; one sample per step is also by far the slowest per epoch.
The sklearn chapter uses 500 hidden units; this uses 100 and 30 epochs so that the 40,000
single-sample Adam steps fit the example's 3-minute budget. Writes outputs/mlp_batch_size.png.

Run: python examples/mlp_batch_size.py [--quick] [--outdir DIR]
"""
import argparse
import time
import warnings
from pathlib import Path

from matplotlib.figure import Figure
from sklearn.exceptions import ConvergenceWarning

from tinygrad_nn.data import load_mnist, split
from tinygrad_nn.models import MLPClassifier

BATCH_SIZES = [1, 10, 100, 1500]


def main(quick=False, outdir="outputs"):
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    X, y = load_mnist()
    (X_train, y_train), (X_test, y_test) = split(X, y, test_size=1000, random_state=0)
    n_train, max_iter, hidden = (100, 1, (20,)) if quick else (1500, 30, (100,))
    X_train, y_train = X_train[:n_train], y_train[:n_train]

    fig = Figure(figsize=(15, 4))
    axes = fig.subplots(1, len(BATCH_SIZES), sharex=True, sharey=True)
    results = {}
    for ax, batch_size in zip(axes, BATCH_SIZES):
        t0 = time.perf_counter()
        clf = MLPClassifier(hidden_layer_sizes=hidden, batch_size=batch_size, max_iter=max_iter,
                            early_stopping=True, n_iter_no_change=max_iter, random_state=0)
        with warnings.catch_warnings():
            # Every run uses its whole budget on purpose, and a batch_size above the number
            # of training rows is clipped to it with a UserWarning.
            warnings.simplefilter("ignore", ConvergenceWarning)
            warnings.simplefilter("ignore", UserWarning)
            clf.fit(X_train, y_train)
        seconds = time.perf_counter() - t0
        results[batch_size] = dict(best_validation=max(clf.validation_scores_),
                                   test_accuracy=clf.score(X_test, y_test), seconds=seconds,
                                   seconds_per_epoch=seconds / clf.n_iter_)
        ax.plot(range(1, len(clf.validation_scores_) + 1), clf.validation_scores_)
        ax.set(title=f"batch_size={batch_size} ({seconds / clf.n_iter_:.2f} s/epoch)",
               xlabel="epoch")
        ax.grid(alpha=0.3)
        print(f"batch_size={batch_size:<5d} best validation "
              f"{results[batch_size]['best_validation']:.2%}, test "
              f"{results[batch_size]['test_accuracy']:.2%} ({seconds:.1f} s)")
    axes[0].set_ylabel("validation accuracy")
    fig.suptitle(f"MLPClassifier {hidden} on {n_train} MNIST images")
    fig.tight_layout()
    fig.savefig(out / "mlp_batch_size.png", dpi=120)
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny run, seconds")
    parser.add_argument("--outdir", default="outputs", help="folder for the PNGs")
    args = parser.parse_args()
    main(quick=args.quick, outdir=args.outdir)
