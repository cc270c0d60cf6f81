"""Loss curves on MNIST-5k: MLPClassifier's stopping rule, and seed 05's network from scratch.

1. An MLPClassifier with two hidden layers of 100 units is allowed 500 epochs but stops on its
   own once the training loss has failed to improve by ``tol`` for ``n_iter_no_change`` epochs;
   ``loss_curve_`` shows where (outputs/mlp_loss_curve.png).
2. Seed 05's 784-50-10 network (`NeuralNetMLP`: sigmoid outputs, squared error, SGD with
   learning rate 0.1 on minibatches of 100, 40 epochs), once with a sigmoid and once with a ReLU
   hidden layer: loss and training/validation accuracy per epoch
   (outputs/scratch_mlp_curves.png).

Run: python examples/mlp_loss_curve.py [--quick] [--outdir DIR]
"""
import argparse
import time
from pathlib import Path

from matplotlib.figure import Figure

from tinygrad_nn.data import load_mnist, split
from tinygrad_nn.models import MLPClassifier, NeuralNetMLP


def main(quick=False, outdir="outputs"):
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    X, y = load_mnist()
    (X_train, y_train), (X_valid, y_valid), (X_test, y_test) = split(
        X, y, test_size=1000, valid_size=500, random_state=123)
    if quick:
        X_train, y_train = X_train[:500], y_train[:500]
    results = {}

    # 1. MLPClassifier's loss curve and where its stopping rule fired.
    t0 = time.perf_counter()
    clf = MLPClassifier(hidden_layer_sizes=(100, 100), max_iter=3 if quick else 500,
                        random_state=0)
    clf.fit(X_train, y_train)
    results["mlp"] = dict(epochs=clf.n_iter_, test_accuracy=clf.score(X_test, y_test),
                          seconds=time.perf_counter() - t0)
    fig = Figure(figsize=(6, 4))
    ax = fig.subplots()
    ax.plot(range(1, clf.n_iter_ + 1), clf.loss_curve_)
    ax.set(xlabel="epoch", ylabel="training loss (log loss)",
           title=f"MLPClassifier (100, 100): stopped after {clf.n_iter_} epochs")
    fig.tight_layout()
    fig.savefig(out / "mlp_loss_curve.png", dpi=120)
    print(f"MLPClassifier: {clf.n_iter_} epochs, test accuracy "
          f"{results['mlp']['test_accuracy']:.2%} ({results['mlp']['seconds']:.1f} s)")

    # 2. Seed 05's from-scratch network, sigmoid vs ReLU hidden layer.
    fig = Figure(figsize=(11, 4))
    ax_loss, ax_acc = fig.subplots(1, 2)
    for activation, color in (("sigmoid", "C0"), ("relu", "C1")):
        t0 = time.perf_counter()
        net = NeuralNetMLP(num_hidden=50, num_epochs=2 if quick else 40, learning_rate=0.1,
                           minibatch_size=100, random_seed=123, hidden_activation=activation)
        net.fit(X_train, y_train, X_valid=X_valid, y_valid=y_valid)
        results[activation] = dict(test_accuracy=net.score(X_test, y_test),
                                   seconds=time.perf_counter() - t0)
        epochs = range(1, net.n_iter_ + 1)
        ax_loss.plot(epochs, net.loss_curve_, color=color, label=activation)
        ax_acc.plot(epochs, net.train_scores_, color=color, label=f"{activation}: training")
        ax_acc.plot(epochs, net.validation_scores_, color=color, ls="--",
                    label=f"{activation}: validation")
        print(f"NeuralNetMLP ({activation}): test accuracy "
              f"{results[activation]['test_accuracy']:.2%} ({results[activation]['seconds']:.1f} s)")
    ax_loss.set(xlabel="epoch", ylabel="mean squared error", title="NeuralNetMLP: training loss")
    ax_acc.set(xlabel="epoch", ylabel="accuracy", title="NeuralNetMLP: accuracy per epoch")
    ax_loss.legend()
    ax_acc.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(out / "scratch_mlp_curves.png", dpi=120)
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few epochs on little data (seconds)")
    parser.add_argument("--outdir", default="outputs", help="folder for the PNGs")
    args = parser.parse_args()
    main(quick=args.quick, outdir=args.outdir)
