"""Seed 05: a 784-50-10 multilayer perceptron trained from scratch on MNIST digits.

The experiment of ``05-mlp-from-scratch-mnist.txt``, rebuilt from framework parts instead of
hand-derived backprop: ``Dense`` layers, sigmoid hidden and output units, a squared error on
one-hot targets, plain SGD (lr 0.1, minibatches of 100) for 40 epochs, through
``tinygrad_nn.training.fit``. Then the variant with a ReLU hidden layer. Data: the 5,000-image
MNIST sample (offline), pixels scaled to [-1, 1] as in the seed, split stratified and seeded into
train / validation / test.

Writes to ``outputs/`` (or ``--outdir``): the loss and accuracy curves of both networks, and a grid
of misclassified test digits for each. Prints the test accuracies.

    python examples/mnist_mlp.py            # the full 40 epochs
    python examples/mnist_mlp.py --quick    # 2 epochs, a smoke test
"""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from tinygrad_nn import Tensor, nn, no_grad  # noqa: E402
from tinygrad_nn.optim import SGD  # noqa: E402
from tinygrad_nn.training import fit  # noqa: E402
from _common import cli, mnist_split, output_dir, savefig  # noqa: E402

N_CLASSES = 10


def seed_init(fan_in, fan_out, rng=None, gain=1.0, dtype=np.float32, shape=None):
    """The seed's initial weights: N(0, 0.1^2), drawn in its (out, in) layout, then transposed."""
    return np.ascontiguousarray(nn.init.normal(shape[::-1], std=0.1, rng=rng, dtype=dtype).T)


def build_mlp(hidden_activation, seed):
    """784 -> 50 (hidden_activation) -> 10 (sigmoid), zero biases, weights from RandomState(seed)."""
    rng = np.random.RandomState(seed)
    return nn.Sequential(
        nn.Dense(784, 50, rng=rng, init=seed_init),
        hidden_activation,
        nn.Dense(50, N_CLASSES, rng=rng, init=seed_init),
        nn.Sigmoid(),
    )


def one_hot(y):
    return np.eye(N_CLASSES, dtype=np.float32)[y]


def evaluate(model, X, y):
    """(mean squared error over all outputs, accuracy, predicted labels) without a graph."""
    with no_grad():
        probas = model(Tensor(X)).numpy()
    pred = probas.argmax(axis=1)
    return float(np.mean((probas - one_hot(y)) ** 2)), float(np.mean(pred == y)), pred


def train(model, train_set, valid_set, epochs, lr, batch_size, seed, label):
    """SGD on the per-sample squared error summed over the 10 outputs (the gradient the seed's
    hand-written backward pass computes), logging train/valid metrics after every epoch."""
    X_train, y_train = train_set

    def step_loss(xb, yb):
        diff = model(Tensor(xb)) - one_hot(yb)
        return (diff * diff).sum(axis=1).mean()

    def validate():
        mse, acc, _ = evaluate(model, X_train, y_train)
        _, valid_acc, _ = evaluate(model, *valid_set)
        return {"valid_acc": valid_acc, "train_acc": acc, "train_mse": mse}

    def report(epoch, history):
        m = history.metrics
        print(f"[{label}] epoch {epoch + 1:03d}/{epochs:03d} | train MSE {m['train_mse'][-1]:.4f} "
              f"| train acc {100 * m['train_acc'][-1]:.2f}% | valid acc {100 * m['valid_acc'][-1]:.2f}%")

    optimizer = SGD(model.parameters(), lr=lr)
    return fit(step_loss, optimizer, (X_train, y_train), epochs=epochs, batch_size=batch_size,
               rng=seed, validate=validate, on_epoch_end=report, module=model, progress=False)


def plot_curves(histories, path, quick=False):
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 4))
    for label, hist in histories.items():
        epochs = np.arange(1, len(hist.loss) + 1)
        ax_loss.plot(epochs, hist.metrics["train_mse"], label=label)
        ax_acc.plot(epochs, 100 * np.array(hist.metrics["train_acc"]), label=f"{label}, training")
        ax_acc.plot(epochs, 100 * np.array(hist.metrics["valid_acc"]), "--", label=f"{label}, validation")
    ax_loss.set(xlabel="epoch", ylabel="mean squared error (training set)", title="Loss")
    ax_acc.set(xlabel="epoch", ylabel="accuracy (%)", title="Accuracy")
    ax_loss.legend()
    ax_acc.legend(loc="lower right")
    fig.tight_layout()
    savefig(fig, path, quick, dpi=100)
    plt.close(fig)


def plot_misclassified(X, y, pred, path, title, n=25, quick=False):
    """A 5x5 grid of the first misclassified test images, with true and predicted labels."""
    wrong = np.flatnonzero(pred != y)[:n]
    fig, axes = plt.subplots(5, 5, figsize=(8, 8.5))
    for ax in axes.ravel():
        ax.set_axis_off()
    for k, (ax, i) in enumerate(zip(axes.ravel(), wrong)):
        ax.imshow(X[i].reshape(28, 28), cmap="Greys", interpolation="nearest")
        ax.set_title(f"{k + 1}) true {y[i]}, pred {pred[i]}", fontsize=9)
    fig.suptitle(title)
    fig.tight_layout()
    savefig(fig, path, quick, dpi=100)
    plt.close(fig)


def main(quick=False, outdir="outputs", epochs=40, lr=0.1, batch_size=100, seed=123):
    """Train both networks; returns their test accuracies. ``quick``: 2 epochs (a smoke run)."""
    epochs = 2 if quick else epochs
    (X_train, y_train), (X_valid, y_valid), (X_test, y_test) = mnist_split(
        valid_size=500, random_state=seed)
    # pixels in [-1, 1], as in the seed
    X_train, X_valid, X_test = ((X - 0.5) * 2 for X in (X_train, X_valid, X_test))
    train_set, valid_set = (X_train, y_train), (X_valid, y_valid)
    print(f"MNIST-5k: {len(X_train)} training, {len(X_valid)} validation, "
          f"{len(X_test)} test images")

    out = output_dir(outdir)
    histories, accuracies = {}, {}
    for label, activation in (("sigmoid", nn.Sigmoid()), ("relu", nn.ReLU())):
        model = build_mlp(activation, seed)
        histories[label] = train(model, train_set, valid_set, epochs, lr, batch_size, seed, label)
        _, accuracies[label], pred = evaluate(model, X_test, y_test)
        plot_misclassified(X_test, y_test, pred, out / f"mnist_mlp_misclassified_{label}.png",
                           f"784-50-10 MLP, {label} hidden layer: misclassified test digits",
                           quick=quick)
    plot_curves(histories, out / "mnist_mlp_curves.png", quick)

    for label, acc in accuracies.items():
        print(f"Test accuracy ({label} hidden layer, {epochs} epochs): {100 * acc:.2f}%")
    print(f"Figures written to {out}/")
    return accuracies


if __name__ == "__main__":
    cli(__doc__, main, help={"epochs": "epochs of SGD (--quick: 2)", "lr": "SGD learning rate",
                             "batch_size": "minibatch size", "seed": "split, weights and batches"})
