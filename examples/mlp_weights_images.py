"""What the hidden units look at: MLPClassifier's first-layer weights ``coefs_[0]`` as images.

The slides' MNIST network (one hidden layer of 50 units, SGD with learning rate 0.1, 10 epochs,
``random_state=1``) trained on MNIST-5k. Column j of ``coefs_[0]`` (shape 784 x 50) holds the
weights from every pixel into hidden unit j, so it reshapes to a 28 x 28 image; 16 of them are
drawn on one shared grey scale. Repeated for three values of the L2 penalty ``alpha``: the
stronger it is, the smaller and smoother the weights (and the test accuracy shows what that
costs or gains). Writes outputs/mlp_weights_images.png.

Run: python examples/mlp_weights_images.py [--quick] [--outdir DIR]
"""
import time
import warnings

from matplotlib.figure import Figure
from sklearn.exceptions import ConvergenceWarning

from tinygrad_nn.models import MLPClassifier
from _common import cli, mnist_split, output_dir, savefig

ALPHAS = [1e-4, 1.0, 10.0]


def main(quick=False, outdir="outputs"):
    out = output_dir(outdir)
    (X_train, y_train), (X_test, y_test) = mnist_split()
    n_train, max_iter = (500, 2) if quick else (4000, 10)
    X_train, y_train = X_train[:n_train], y_train[:n_train]

    fig = Figure(figsize=(4 * len(ALPHAS), 4.6))
    results = {}
    for subfig, alpha in zip(fig.subfigures(1, len(ALPHAS)), ALPHAS):
        t0 = time.perf_counter()
        clf = MLPClassifier(hidden_layer_sizes=(50,), max_iter=max_iter, alpha=alpha,
                            solver="sgd", tol=1e-4, random_state=1, learning_rate_init=0.1)
        with warnings.catch_warnings():  # 10 epochs is the slides' budget, not convergence
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(X_train, y_train)
        acc = clf.score(X_test, y_test)
        results[alpha] = dict(test_accuracy=acc, seconds=time.perf_counter() - t0)
        weights = clf.coefs_[0]
        vmin, vmax = weights.min(), weights.max()  # one scale for all 16 images
        for coef, ax in zip(weights.T, subfig.subplots(4, 4).ravel()):
            ax.imshow(coef.reshape(28, 28), cmap="gray", vmin=0.5 * vmin, vmax=0.5 * vmax)
            ax.set_xticks(())
            ax.set_yticks(())
        subfig.suptitle(f"alpha={alpha:g}: test accuracy {acc:.1%}")
        print(f"alpha={alpha:g}: test accuracy {acc:.2%}, weights in [{vmin:.2f}, {vmax:.2f}] "
              f"({results[alpha]['seconds']:.1f} s)")
    savefig(fig, out / "mlp_weights_images.png", quick, dpi=120)
    return results


if __name__ == "__main__":
    cli(__doc__, main)
