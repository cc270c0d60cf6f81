"""Learning-rate study on MNIST-5k: validation accuracy per epoch for learning_rate_init 1 ... 1e-4.

An MLPClassifier with one hidden layer of 500 units is trained on 1,000 images with each
initial learning rate. ``early_stopping=True`` makes it hold out 10% of them and record the
accuracy there after every epoch (``validation_scores_``); ``n_iter_no_change=max_iter`` keeps
it from actually stopping early, so every run gets the full 120 epochs. Too large a rate (1)
overshoots and never settles; too small a one (1e-4) is still climbing at the end.
Writes outputs/mlp_learning_rate.png.

Run: python examples/mlp_learning_rate.py [--quick] [--outdir DIR]
"""
import argparse
import time
import warnings
from pathlib import Path

from matplotlib.figure import Figure
from sklearn.exceptions import ConvergenceWarning

from tinygrad_nn.data import load_mnist, split
from tinygrad_nn.models import MLPClassifier

LEARNING_RATES = [1, 0.1, 0.01, 0.001, 0.0001]


def main(quick=False, outdir="outputs"):
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    X, y = load_mnist()
    (X_train, y_train), (X_test, y_test) = split(X, y, test_size=1000, random_state=0)
    n_train, max_iter, hidden = (200, 2, (20,)) if quick else (1000, 120, (500,))
    X_train, y_train = X_train[:n_train], y_train[:n_train]

    fig = Figure(figsize=(15, 4))
    axes = fig.subplots(1, len(LEARNING_RATES), sharex=True, sharey=True)
    results = {}
    for ax, lr in zip(axes, LEARNING_RATES):
        t0 = time.perf_counter()
        clf = MLPClassifier(hidden_layer_sizes=hidden, learning_rate_init=lr, max_iter=max_iter,
                            early_stopping=True, n_iter_no_change=max_iter, random_state=0)
        with warnings.catch_warnings():  # every run uses its whole budget, on purpose
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(X_train, y_train)
        results[lr] = dict(best_validation=max(clf.validation_scores_),
                           test_accuracy=clf.score(X_test, y_test),
                           seconds=time.perf_counter() - t0)
        ax.plot(range(1, len(clf.validation_scores_) + 1), clf.validation_scores_)
        ax.set(title=f"learning_rate_init={lr:g}", xlabel="epoch")
        ax.grid(alpha=0.3)
        print(f"lr={lr:<7g} best validation {results[lr]['best_validation']:.2%}, test "
              f"{results[lr]['test_accuracy']:.2%} ({results[lr]['seconds']:.1f} s)")
    axes[0].set_ylabel("validation accuracy")
    fig.suptitle(f"MLPClassifier {hidden} on {n_train} MNIST images")
    fig.tight_layout()
    fig.savefig(out / "mlp_learning_rate.png", dpi=120)
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny run, seconds")
    parser.add_argument("--outdir", default="outputs", help="folder for the PNGs")
    args = parser.parse_args()
    main(quick=args.quick, outdir=args.outdir)
