"""How much data, how many epochs: learning_curve and validation_curve over max_iter on MNIST-5k.

Both use scikit-learn's model-selection helpers on an MLPClassifier with two hidden layers of
100 units and 3-fold cross-validation, two fits at a time (``n_jobs=2``; one process in
``--quick`` mode, where starting the workers would cost more than the fits):

- ``learning_curve`` trains on 5% ... 100% of each training fold: the training score stays near
  100% while the cross-validated score climbs and flattens (outputs/mlp_learning_curve.png);
- ``validation_curve`` varies ``max_iter`` from 5 to 150 epochs: the cross-validated score
  levels off after a few dozen epochs while the training score climbs to 100%, the mark of
  overfitting; past the point where the fits converge (``tol``) a larger budget changes
  nothing (outputs/mlp_validation_curve.png).

Run: python examples/mlp_curves.py [--quick] [--outdir DIR]
"""
import time
import warnings

import numpy as np
from matplotlib.figure import Figure
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import learning_curve, validation_curve

from tinygrad_nn.models import MLPClassifier
from _common import cli, mnist_split, output_dir, savefig


def _plot(path, x, train_scores, test_scores, xlabel, title, quick):
    fig = Figure(figsize=(6, 4))
    ax = fig.subplots()
    for scores, label, ls in ((train_scores, "training", ":"),
                              (test_scores, "cross-validated", "-")):
        mean, std = scores.mean(axis=1), scores.std(axis=1)
        ax.plot(x, mean, ls=ls, marker="o", label=label)
        ax.fill_between(x, mean - std, mean + std, alpha=0.2)
    ax.set(xlabel=xlabel, ylabel="accuracy", title=title)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    savefig(fig, path, quick, dpi=120)


def main(quick=False, outdir="outputs"):
    out = output_dir(outdir)
    (X_train, y_train), _ = mnist_split()
    if quick:
        X_train, y_train = X_train[:300], y_train[:300]
        train_sizes, max_iter_range, base_iter, hidden, n_jobs = [0.5, 1.0], [5, 20], 20, (20,), 1
    else:
        train_sizes, max_iter_range, base_iter, hidden, n_jobs = \
            [0.05, 0.1, 0.25, 0.5, 0.75, 1.0], [5, 10, 25, 50, 75, 100, 150], 50, (100, 100), 2
    clf = MLPClassifier(hidden_layer_sizes=hidden, max_iter=base_iter, random_state=0)
    results = {}
    with warnings.catch_warnings():  # short max_iter budgets end before convergence on purpose
        warnings.simplefilter("ignore", ConvergenceWarning)
        t0 = time.perf_counter()
        sizes, train_scores, test_scores = learning_curve(
            clf, X_train, y_train, train_sizes=train_sizes, cv=3, n_jobs=n_jobs)
        results["learning_curve"] = dict(
            sizes=sizes.tolist(), test_scores=test_scores.mean(axis=1).round(4).tolist(),
            seconds=time.perf_counter() - t0)
        _plot(out / "mlp_learning_curve.png", sizes, train_scores, test_scores,
              "training samples", f"Learning curve, MLPClassifier {hidden}, max_iter={base_iter}",
              quick)

        t0 = time.perf_counter()
        train_scores, test_scores = validation_curve(
            clf, X_train, y_train, param_name="max_iter", param_range=max_iter_range, cv=3,
            n_jobs=n_jobs)
        results["validation_curve"] = dict(
            max_iter=list(max_iter_range), test_scores=test_scores.mean(axis=1).round(4).tolist(),
            seconds=time.perf_counter() - t0)
        _plot(out / "mlp_validation_curve.png", np.asarray(max_iter_range), train_scores,
              test_scores, "max_iter (epochs)", "Validation curve over max_iter", quick)
    for name, res in results.items():
        print(f"{name}: cross-validated accuracy {res['test_scores']} ({res['seconds']:.1f} s)")
    return results


if __name__ == "__main__":
    cli(__doc__, main)
