"""How the L2 penalty `alpha` shapes MLPClassifier's decision boundary, on two noisy moons.

`alpha` adds ``0.5 * alpha * ||W||^2 / n_samples`` to the training loss, so a larger value keeps
the weights small: the boundary loses curvature, and with it the ability to chase the noise in
the training points (high variance) -- until, too large, it cannot follow the moons either (high
bias). The same network (two hidden layers of 50 ReLUs, trained to convergence by L-BFGS from the
same initial weights) is fitted for six values of alpha on 180 noisy points of ``make_moons`` and
tested on 120 others. One panel per alpha shows the predicted probability of the lower moon
(class 1) and the 0.5 boundary, with train/test accuracy and the squared weight norm in its title.
Writes outputs/mlp_regularisation.png.

Run: python examples/mlp_regularisation.py [--quick] [--outdir DIR]
"""
import time
import warnings

import numpy as np
from matplotlib.figure import Figure
from sklearn.datasets import make_moons
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from tinygrad_nn.models import MLPClassifier
from _common import cli, output_dir, savefig

ALPHAS = (1e-5, 1e-3, 1e-1, 1.0, 3.0, 10.0)


def main(quick=False, outdir="outputs"):
    out = output_dir(outdir)
    X, y = make_moons(n_samples=300, noise=0.3, random_state=0)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.4, random_state=0,
                                                        stratify=y)
    max_iter, resolution = (40, 60) if quick else (2000, 250)

    lo, hi = X.min(axis=0) - 0.5, X.max(axis=0) + 0.5
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], resolution),
                         np.linspace(lo[1], hi[1], resolution))
    grid = np.column_stack([gx.ravel(), gy.ravel()])

    fig = Figure(figsize=(13, 8.4))
    axes = fig.subplots(2, (len(ALPHAS) + 1) // 2).ravel()
    results = {}
    print(f"{'alpha':>7} {'train acc':>10} {'test acc':>9} {'||W||^2':>9} {'iters':>6} "
          f"{'fit (s)':>8}")
    for ax, alpha in zip(axes, ALPHAS):
        t0 = time.perf_counter()
        clf = MLPClassifier(hidden_layer_sizes=(50, 50), solver="lbfgs", alpha=alpha,
                            max_iter=max_iter, random_state=0)
        with warnings.catch_warnings():
            if quick:  # 40 iterations cannot converge
                warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(X_train, y_train)
        seconds = time.perf_counter() - t0
        r = results[alpha] = dict(train_accuracy=clf.score(X_train, y_train),
                                  test_accuracy=clf.score(X_test, y_test),
                                  weight_norm=sum(float((w ** 2).sum()) for w in clf.coefs_),
                                  iterations=clf.n_iter_, seconds=seconds)
        print(f"{alpha:>7g} {r['train_accuracy']:>10.1%} {r['test_accuracy']:>9.1%} "
              f"{r['weight_norm']:>9.1f} {r['iterations']:>6} {seconds:>8.2f}")

        proba = clf.predict_proba(grid)[:, 1].reshape(gx.shape)
        ax.contourf(gx, gy, proba, levels=np.linspace(0, 1, 11), cmap="RdBu", alpha=0.75)
        ax.contour(gx, gy, proba, levels=[0.5], colors="k", linewidths=1.2)
        ax.scatter(*X_train.T, c=y_train, cmap="RdBu", edgecolors="k", s=18, label="train")
        ax.scatter(*X_test.T, c=y_test, cmap="RdBu", edgecolors="k", marker="^", s=22,
                   alpha=0.7, label="test")
        ax.set_title(f"alpha = {alpha:g}: train {r['train_accuracy']:.1%}, "
                     f"test {r['test_accuracy']:.1%}\n||W||^2 = {r['weight_norm']:.3g}",
                     fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0].legend(loc="lower right", fontsize=8)
    fig.suptitle("MLPClassifier (50, 50), L-BFGS: larger alpha, smaller weights, smoother boundary")
    fig.tight_layout()
    savefig(fig, out / "mlp_regularisation.png", quick, dpi=110)
    return results


if __name__ == "__main__":
    cli(__doc__, main)
