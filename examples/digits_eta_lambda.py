"""Seed 04's learning-rate x L2 grid on the 8x8 digits: NeuralNetwork beside MLPClassifier.

Seed 04 trains its numpy 64-50-10 network (sigmoid hidden layer, softmax output, 10 epochs of
minibatches of 100) for every ``eta`` and ``lmbd`` in 1e-5 ... 1, then scikit-learn's
MLPClassifier (one logistic hidden layer of 50, ``learning_rate_init=eta``, ``alpha=lmbd``,
Adam, 100 epochs) on the same grid, and compares test accuracies (numpy best ~91%, sklearn ~99%).
Here both are this framework's: `NeuralNetwork` and `MLPClassifier`, on an 80/20 split of
``load_digits()`` (pixels scaled to [0, 1]). A run that diverges counts as a failed cell (grey).
Writes outputs/digits_eta_lambda.png.

Run: python examples/digits_eta_lambda.py [--quick] [--outdir DIR]
"""
import time
import warnings

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure
from sklearn.exceptions import ConvergenceWarning

from tinygrad_nn.data import load_digits, split
from tinygrad_nn.models import MLPClassifier, NeuralNetwork
from _common import cli, output_dir, savefig


def _grid_accuracy(make_model, etas, lmbds, X_train, y_train, X_test, y_test):
    """Test accuracy for every (eta, lmbd); NaN where training diverged."""
    acc = np.full((len(etas), len(lmbds)), np.nan)
    for i, eta in enumerate(etas):
        for j, lmbd in enumerate(lmbds):
            model = make_model(eta, lmbd)
            try:
                model.fit(X_train, y_train)
            except ValueError as exc:
                if "non-finite" not in str(exc):
                    raise
                continue
            acc[i, j] = model.score(X_test, y_test)
    return acc


def _heatmap(ax, acc, etas, lmbds, title):
    cmap = colormaps["viridis"].with_extremes(bad="lightgrey")  # grey: diverged
    ax.imshow(np.ma.masked_invalid(acc), cmap=cmap, vmin=0, vmax=1)
    for (i, j), value in np.ndenumerate(acc):
        text = "diverged" if np.isnan(value) else f"{value:.2f}"
        ax.text(j, i, text, ha="center", va="center", fontsize=8,
                color="white" if not np.isnan(value) and value < 0.5 else "black")
    ax.set_xticks(range(len(lmbds)), [f"{v:g}" for v in lmbds])
    ax.set_yticks(range(len(etas)), [f"{v:g}" for v in etas])
    ax.set(xlabel="lmbd (alpha)", ylabel="eta (learning_rate_init)", title=title)


def main(quick=False, outdir="outputs"):
    out = output_dir(outdir)
    X, y = load_digits()
    (X_train, y_train), (X_test, y_test) = split(X, y, test_size=0.2, random_state=0)
    if quick:
        etas, lmbds, epochs, max_iter = [1e-3, 1e-1], [1e-5, 1e-1], 10, 10
    else:
        etas = lmbds = np.logspace(-5, 0, 6)
        epochs, max_iter = 10, 100
    data = (X_train, y_train, X_test, y_test)

    t0 = time.perf_counter()
    acc_scratch = _grid_accuracy(
        lambda eta, lmbd: NeuralNetwork(n_hidden_neurons=50, epochs=epochs, batch_size=100,
                                        eta=eta, lmbd=lmbd, random_state=0),
        etas, lmbds, *data)
    t_scratch = time.perf_counter() - t0
    t0 = time.perf_counter()
    with warnings.catch_warnings():  # seed 04 also stops at 100 epochs, converged or not
        warnings.simplefilter("ignore", ConvergenceWarning)
        acc_mlp = _grid_accuracy(
            lambda eta, lmbd: MLPClassifier(hidden_layer_sizes=(50,), activation="logistic",
                                            alpha=lmbd, learning_rate_init=eta,
                                            max_iter=max_iter, random_state=0),
            etas, lmbds, *data)
    t_mlp = time.perf_counter() - t0

    fig = Figure(figsize=(13, 5.5))
    ax_scratch, ax_mlp = fig.subplots(1, 2)
    _heatmap(ax_scratch, acc_scratch, etas, lmbds,
             f"NeuralNetwork (seed 04), best {np.nanmax(acc_scratch):.1%}")
    _heatmap(ax_mlp, acc_mlp, etas, lmbds, f"MLPClassifier, best {np.nanmax(acc_mlp):.1%}")
    fig.suptitle("Test accuracy on the digits for each learning rate and L2 strength")
    fig.tight_layout()
    savefig(fig, out / "digits_eta_lambda.png", quick, dpi=120)

    results = {}
    for name, acc, seconds in (("NeuralNetwork", acc_scratch, t_scratch),
                               ("MLPClassifier", acc_mlp, t_mlp)):
        i, j = np.unravel_index(np.nanargmax(acc), acc.shape)
        results[name] = dict(best_accuracy=acc[i, j], eta=etas[i], lmbd=lmbds[j],
                             diverged=int(np.isnan(acc).sum()), seconds=seconds)
        print(f"{name}: best test accuracy {acc[i, j]:.2%} at eta={etas[i]:g}, "
              f"lmbd={lmbds[j]:g}; {results[name]['diverged']} diverged ({seconds:.1f} s)")
    return results


if __name__ == "__main__":
    cli(__doc__, main)
