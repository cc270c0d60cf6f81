"""GridSearchCV over the sklearn chapter's MLP grid, trimmed to run in minutes, on MNIST-5k.

The chapter searches 6 architectures x 3 activations x 2 initial learning rates x 2 solvers
(72 candidates, 14 minutes on four CPUs). Here the architectures are cut to two small shapes,
one and two hidden layers, and each fit to 30 epochs, keeping every activation, rate and
solver: 24 candidates x 3 folds on 2,500 images, two fits at a time (``n_jobs=2``; one process
in ``--quick`` mode). The best candidate is refitted and scored on 1,000 held-out images;
micro-averaged F1 equals accuracy here. Writes outputs/mlp_grid_search.png (mean CV accuracy
of every candidate, and per-class F1 of the best one).

Run: python examples/mlp_grid_search.py [--quick] [--outdir DIR]
"""
import time
import warnings

import numpy as np
from matplotlib.figure import Figure
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import f1_score, precision_recall_fscore_support
from sklearn.model_selection import GridSearchCV

from tinygrad_nn.models import MLPClassifier
from _common import cli, mnist_split, output_dir, savefig

PARAM_GRID = {
    "hidden_layer_sizes": [(50,), (100, 50)],
    "activation": ["logistic", "tanh", "relu"],
    "learning_rate_init": [0.01, 0.001],
    "solver": ["sgd", "adam"],
}
QUICK_GRID = {"hidden_layer_sizes": [(20,)], "activation": ["relu", "tanh"]}


def main(quick=False, outdir="outputs"):
    out = output_dir(outdir)
    (X_train, y_train), (X_test, y_test) = mnist_split()
    if quick:
        n_train, max_iter, grid, n_jobs = 300, 20, QUICK_GRID, 1
    else:
        n_train, max_iter, grid, n_jobs = 2500, 30, PARAM_GRID, 2
    X_train, y_train = X_train[:n_train], y_train[:n_train]

    search = GridSearchCV(MLPClassifier(max_iter=max_iter, random_state=0), grid, cv=3,
                          n_jobs=n_jobs, scoring="accuracy")
    t0 = time.perf_counter()
    with warnings.catch_warnings():  # the epoch budget is deliberately short
        warnings.simplefilter("ignore", ConvergenceWarning)
        search.fit(X_train, y_train)
    seconds = time.perf_counter() - t0
    y_pred = search.predict(X_test)
    results = dict(best_params=search.best_params_, best_cv_accuracy=search.best_score_,
                   test_micro_f1=f1_score(y_test, y_pred, average="micro"),
                   candidates=len(search.cv_results_["params"]), seconds=seconds)
    print(f"{results['candidates']} candidates x 3 folds in {seconds:.1f} s")
    print(f"best: {search.best_params_} (CV accuracy {search.best_score_:.2%})")
    print(f"test micro-F1 of the refitted best model: {results['test_micro_f1']:.2%}")

    params = search.cv_results_["params"]
    order = np.argsort(search.cv_results_["mean_test_score"])
    labels = [", ".join(str(v) for v in p.values()) for p in params]
    _, _, f1, _ = precision_recall_fscore_support(y_test, y_pred, zero_division=0)
    fig = Figure(figsize=(13, max(4, 0.28 * len(labels) + 1.5)))
    ax_grid, ax_f1 = fig.subplots(1, 2, gridspec_kw={"width_ratios": [3, 2]})
    ax_grid.barh(range(len(order)), search.cv_results_["mean_test_score"][order],
                 xerr=search.cv_results_["std_test_score"][order], color="C0")
    ax_grid.set_yticks(range(len(order)), [labels[i] for i in order], fontsize=7)
    ax_grid.set(xlabel="mean 3-fold CV accuracy (error bars: 1 std over the folds)")
    ax_grid.set_title(", ".join(params[0]), fontsize=9)
    ax_f1.bar(range(len(f1)), f1, color="C1")
    ax_f1.set_xticks(range(len(f1)))
    ax_f1.set(xlabel="digit", ylabel="F1 on the test set", ylim=(min(f1.min(), 0.8) - 0.05, 1),
              title=f"best model: test micro-F1 {results['test_micro_f1']:.1%}")
    fig.tight_layout()
    savefig(fig, out / "mlp_grid_search.png", quick, dpi=120)
    return results


if __name__ == "__main__":
    cli(__doc__, main)
