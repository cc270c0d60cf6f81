"""A custom activation as one Python function: leaky ReLU against ReLU in MLPClassifier on MNIST-5k.

The sklearn chapter adds leaky ReLU by writing its derivative by hand and patching scikit-learn's
private ACTIVATIONS / DERIVATIVES tables. Here the activation is a plain function of a Tensor,
handed to ``MLPClassifier(activation=...)``; autodiff supplies the derivative (plotted beside
it from ``backward()``). Both networks start from the same weights and see the same batches.
Writes outputs/mlp_custom_activation.png.

Run: python examples/mlp_custom_activation.py [--quick] [--outdir DIR]
"""
import time

import numpy as np
from matplotlib.figure import Figure

from tinygrad_nn import Tensor
from tinygrad_nn.models import MLPClassifier
from _common import cli, mnist_split, output_dir, savefig

LEAKY_SLOPE = 0.01


def leaky_relu(x):
    """x for x > 0, LEAKY_SLOPE * x otherwise: no derivative needed."""
    return x.maximum(x * LEAKY_SLOPE)


def _value_and_slope(fn, z):
    """fn(z) and its elementwise derivative, by back-propagating through sum(fn(z))."""
    t = Tensor(z, requires_grad=True)
    out = fn(t)
    out.sum().backward()
    return out.numpy(), t.grad


def main(quick=False, outdir="outputs"):
    out = output_dir(outdir)
    (X_train, y_train), (X_test, y_test) = mnist_split()
    n_train, max_iter = (400, 3) if quick else (4000, 60)
    X_train, y_train = X_train[:n_train], y_train[:n_train]

    fig = Figure(figsize=(13, 4))
    ax_fn, ax_grad, ax_loss = fig.subplots(1, 3)
    z = np.linspace(-3, 3, 601)
    results = {}
    candidates = (("relu (built in)", "relu", lambda t: t.relu()),
                  ("leaky_relu (custom)", leaky_relu, leaky_relu))
    for name, activation, fn in candidates:
        value, slope = _value_and_slope(fn, z)
        ax_fn.plot(z, value, label=name)
        ax_grad.plot(z, slope, label=name)
        t0 = time.perf_counter()
        clf = MLPClassifier(hidden_layer_sizes=(100, 100), activation=activation,
                            max_iter=max_iter, random_state=0)
        clf.fit(X_train, y_train)
        results[name] = dict(epochs=clf.n_iter_, test_accuracy=clf.score(X_test, y_test),
                             seconds=time.perf_counter() - t0)
        ax_loss.plot(range(1, clf.n_iter_ + 1), clf.loss_curve_, label=name)
        print(f"{name}: {clf.n_iter_} epochs, test accuracy "
              f"{results[name]['test_accuracy']:.2%} ({results[name]['seconds']:.1f} s)")
    ax_fn.set(title="activation", xlabel="z")
    ax_grad.set(title="derivative, from backward()", xlabel="z")
    ax_loss.set(title="MLPClassifier (100, 100) training loss", xlabel="epoch", yscale="log")
    for ax in (ax_fn, ax_grad, ax_loss):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    savefig(fig, out / "mlp_custom_activation.png", quick, dpi=120)
    return results


if __name__ == "__main__":
    cli(__doc__, main)
