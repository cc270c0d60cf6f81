"""Shared by the example scripts (not an example itself): the command line, the MNIST-5k split,
and the one-parameter sweep of the hyperparameter studies."""
import argparse
import time
import warnings
from pathlib import Path

from matplotlib.figure import Figure
from sklearn.exceptions import ConvergenceWarning

from tinygrad_nn.data import load_mnist, split
from tinygrad_nn.models import MLPClassifier


def mnist_split(outdir, n_train=None):
    """The output folder (created), and MNIST-5k as (X, y) train and test pairs: 1,000 test
    images, stratified and seeded; the first ``n_train`` training images (all when None)."""
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    X, y = load_mnist()
    (X_train, y_train), (X_test, y_test) = split(X, y, test_size=1000, random_state=0)
    return out, (X_train[:n_train], y_train[:n_train]), (X_test, y_test)


def sweep(param, values, n_train, max_iter, hidden, outdir, filename):
    """Fit on ``n_train`` MNIST-5k images for every value of ``param``; ``early_stopping=True``
    holds out 10% and records ``validation_scores_`` each epoch, while ``n_iter_no_change=
    max_iter`` keeps every run going for its whole budget. Returns per-value figures."""
    out, (X_train, y_train), (X_test, y_test) = mnist_split(outdir, n_train)
    fig = Figure(figsize=(15, 4))
    axes = fig.subplots(1, len(values), sharex=True, sharey=True)
    results = {}
    for ax, value in zip(axes, values):
        t0 = time.perf_counter()
        clf = MLPClassifier(hidden_layer_sizes=hidden, max_iter=max_iter, early_stopping=True,
                            n_iter_no_change=max_iter, random_state=0, **{param: value})
        with warnings.catch_warnings():
            # Every run uses its whole budget on purpose, and a batch_size above the number
            # of training rows is clipped to it with a UserWarning.
            warnings.simplefilter("ignore", ConvergenceWarning)
            warnings.simplefilter("ignore", UserWarning)
            clf.fit(X_train, y_train)
        seconds = time.perf_counter() - t0
        results[value] = dict(best_validation=max(clf.validation_scores_),
                              test_accuracy=clf.score(X_test, y_test), seconds=seconds,
                              seconds_per_epoch=seconds / clf.n_iter_)
        ax.plot(range(1, len(clf.validation_scores_) + 1), clf.validation_scores_)
        ax.set(title=f"{param}={value:g} ({seconds / clf.n_iter_:.2f} s/epoch)", xlabel="epoch")
        ax.grid(alpha=0.3)
        print(f"{param}={value:<7g} best validation {results[value]['best_validation']:.2%}, "
              f"test {results[value]['test_accuracy']:.2%} ({seconds:.1f} s)")
    axes[0].set_ylabel("validation accuracy")
    fig.suptitle(f"MLPClassifier {hidden} on {n_train} MNIST images")
    fig.tight_layout()
    fig.savefig(out / filename, dpi=120)
    return results


def cli(doc, main):
    """The examples' command line: ``--quick`` and ``--outdir``."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny run, seconds")
    parser.add_argument("--outdir", default="outputs", help="folder for the PNGs")
    args = parser.parse_args()
    main(quick=args.quick, outdir=args.outdir)
