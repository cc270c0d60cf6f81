"""Every documented experiment in one run: the seeds' figures, ours, and a peer's, side by side.

Trains each model family of the source documents on the embedded data (sklearn's 8x8 digits and
the 5,000-image MNIST sample), and the peer that the seed compares against in the same process:

- seed 04: `NeuralNetwork` at the seed's best grid cell (eta 0.01, lmbd 1e-3, 10 epochs of
  minibatches of 100), and scikit-learn's MLPClassifier with the same network and objective
  (its mean-loss learning rate is eta x batch size); then `MLPClassifier` with the settings of
  the seed's scikit-learn comparison, beside scikit-learn's own;
- seed 05: `NeuralNetMLP`, sigmoid and ReLU hidden layer (40 epochs, lr 0.1, pixels in
  [-1, 1]), beside scikit-learn's MLPClassifier of the same shape and SGD schedule (softmax and
  log-loss instead of the seed's sigmoid outputs and squared error);
- seed 01: the three-layer random-feature stack around a random forest, beside nnetsauce's
  when it is installed;
- seed 02: three hand-set convolutions, max-pooled and joined into a FeatureUnion, feeding a
  (500, 300) MLP, beside scikit-learn's MLP on the same features; and `CNNClassifier`, which
  learns its kernels (no peer: the peers here are scikit-learn and nnetsauce only).

Splits: digits ``train_test_split(test_size=0.2, random_state=123)`` (seed 01's), MNIST-5k 1,000
test images stratified with ``random_state=123``. The seeds' figures come from other splits and,
for seeds 02 and 05, other data (Fashion-MNIST, full MNIST), so they are a yardstick rather than a
target. Every score is test accuracy (for one label per sample, micro-F1 is accuracy).

Prints one table (``--markdown`` adds a Markdown copy) and the total wall time, and writes
``outputs/reproduce_seeds.png``: seed, ours and peer per experiment. BLAS and OpenMP run one
thread by default (``--threads``, 0 for the libraries' default), for ours and the peers alike:
on an idle 2-core machine the whole run takes as long either way (about 35 s), but two-thread
BLAS slows down several times over as soon as another process competes for the cores.

Run: python examples/reproduce_seeds.py [--quick] [--markdown] [--threads N] [--outdir DIR]
"""
import time

START = time.perf_counter()  # the total wall time includes the imports

import os  # noqa: E402
import warnings  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from typing import Callable, Optional  # noqa: E402

import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from sklearn.ensemble import RandomForestClassifier  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.neural_network import MLPClassifier as SklearnMLP  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402
from tqdm import tqdm  # noqa: E402

from tinygrad_nn.data import load_digits, split  # noqa: E402
from tinygrad_nn.models import (CNNClassifier, CustomClassifier, MLPClassifier,  # noqa: E402
                                NeuralNetMLP, NeuralNetwork, make_convolution_union)
from _common import cli, mnist_split, output_dir, savefig  # noqa: E402

try:  # the stack's peer, when installed
    import nnetsauce
except ImportError:
    nnetsauce = None


@dataclass
class Experiment:
    """One table row: how to build our model and its peer (None: no peer), on which data."""

    name: str
    data: str  # a key of the datasets built in `load_data`
    seed: Optional[float]  # the seed's published accuracy, or None
    seed_note: str  # where that figure comes from
    ours: Callable
    peer: Optional[Callable] = None
    peer_name: str = "scikit-learn"


# ------------------------------------------------------------------------------ the models
# Seed 04's best grid cell; its eta multiplies the gradient of the loss summed over a minibatch.
SEED04 = dict(n_hidden_neurons=50, epochs=10, batch_size=100, eta=0.01, lmbd=1e-3)


def sklearn_sgd(hidden, activation, lr, batch_size, epochs, alpha, seed):
    """scikit-learn's MLP trained like the seeds' networks: plain SGD at a constant rate.

    Its loss is the minibatch mean and its L2 gradient ``alpha * W / batch_size``, so a seed's
    summed-loss step ``eta * (grad + lmbd * W)`` is ``lr = eta * batch_size``, ``alpha = lmbd``.
    """
    return SklearnMLP(hidden_layer_sizes=(hidden,), activation=activation, solver="sgd",
                      momentum=0.0, learning_rate_init=lr, batch_size=batch_size,
                      max_iter=epochs, alpha=alpha, random_state=seed)


def stack_layers(layer_class):
    """Seed 01's three estimators (each wraps the previous one), from ``layer_class``."""
    layer1 = RandomForestClassifier(n_estimators=10, random_state=123)
    shared = dict(direct_link=True, bias=True, nodes_sim="uniform", activation_name="relu",
                  n_clusters=2, seed=123)
    layer2 = layer_class(obj=layer1, n_hidden_features=5, **shared)
    layer3 = layer_class(obj=layer2, n_hidden_features=10, dropout=0.7, **shared)
    return layer1, layer2, layer3


def conv_pipeline(mlp_class, quick):
    """Seed 02's pipeline: sharpen / vertical / horizontal edges, 4x4 max-pool, then an MLP."""
    union = make_convolution_union(["sharpen", "v_edge", "h_edge"], max_pool=True,
                                   max_pool_size=(4, 4))
    hidden, epochs = ((50, 30), 30) if quick else ((500, 300), 200)
    mlp = mlp_class(hidden_layer_sizes=hidden, max_iter=epochs, random_state=0)
    return Pipeline([("convolutions", union), ("mlp", mlp)])


def experiments(quick):
    """The table's rows: the dense networks, the random-feature stack, the convolutions."""
    s04 = dict(SEED04, epochs=2 if quick else SEED04["epochs"])
    seed04_sklearn = dict(hidden_layer_sizes=(50,), activation="logistic", alpha=1e-3,
                          learning_rate_init=0.01, max_iter=3 if quick else 100, random_state=0)
    seed05_epochs = 5 if quick else 40
    rows = [
        Experiment(
            "seed 04 NeuralNetwork 64-50-10", "digits", 0.9139, "numpy grid best",
            lambda: NeuralNetwork(**s04, random_state=0),
            lambda: sklearn_sgd(s04["n_hidden_neurons"], "logistic",
                                lr=s04["eta"] * s04["batch_size"], batch_size=s04["batch_size"],
                                epochs=s04["epochs"], alpha=s04["lmbd"], seed=0)),
        Experiment(
            "MLPClassifier (seed 04 settings)", "digits", 0.9917, "its sklearn run",
            lambda: MLPClassifier(**seed04_sklearn), lambda: SklearnMLP(**seed04_sklearn)),
    ]
    for activation, sklearn_name, figure in (("sigmoid", "logistic", 0.9413),
                                             ("relu", "relu", 0.9609)):
        rows.append(Experiment(
            f"seed 05 NeuralNetMLP, {activation}", "MNIST-5k [-1, 1]", figure, "full MNIST",
            lambda a=activation: NeuralNetMLP(num_epochs=seed05_epochs, hidden_activation=a),
            lambda a=sklearn_name: sklearn_sgd(50, a, lr=0.1, batch_size=100,
                                               epochs=seed05_epochs, alpha=0.0, seed=123)))
    for layer, figure in enumerate((0.9388, 0.9305, 0.9417)):
        rows.append(Experiment(
            f"seed 01 stack, layer {layer + 1}" + (" (forest)" if layer == 0 else ""), "digits",
            figure, "",
            lambda i=layer: stack_layers(CustomClassifier)[i],
            (lambda i=layer: stack_layers(nnetsauce.CustomClassifier)[i]) if nnetsauce else None,
            "nnetsauce"))
    rows += [
        Experiment("seed 02 conv features + MLP", "MNIST-5k", 0.79, "Fashion-MNIST",
                   lambda: conv_pipeline(MLPClassifier, quick),
                   lambda: conv_pipeline(SklearnMLP, quick)),
        Experiment("CNNClassifier (learned kernels)", "MNIST-5k", None, "",
                   lambda: CNNClassifier(random_state=0, **({"max_iter": 1} if quick else {})),
                   peer_name=""),
    ]
    return rows


# ------------------------------------------------------------------------------ running
def load_data(quick):
    """{name: (X_train, y_train, X_test, y_test)} for the names the experiments use."""
    X, y = load_digits()  # pixels / 16 in [0, 1]
    digits = split(X, y, test_size=0.2, random_state=123, stratify=False)
    # MNIST-5k: pixels / 255 in [0, 1]
    (X_train, y_train), (X_test, y_test) = mnist_split(*((600, 200) if quick else ()),
                                                       random_state=123)
    return {
        "digits": (*digits[0], *digits[1]),
        "MNIST-5k": (X_train, y_train, X_test, y_test),
        "MNIST-5k [-1, 1]": (2 * X_train - 1, y_train, 2 * X_test - 1, y_test),  # as seed 05
    }


def with_progress_bar(model):
    """Turn on our models' tqdm bar over epochs (also inside a Pipeline), where they have one."""
    switches = {key: True for key in model.get_params()
                if key == "progress" or key.endswith("__progress")}
    return model.set_params(**switches)


def train_and_score(model, X_train, y_train, X_test, y_test):
    """(test accuracy, seconds to fit)."""
    start = time.perf_counter()
    model.fit(X_train, y_train)
    seconds = time.perf_counter() - start
    return model.score(X_test, y_test), seconds


def run(rows, data):
    """Fit ours and the peer for every row; one bar over the rows, one per model's epochs."""
    results = []
    bar = tqdm(rows, unit="experiment", desc="experiments")
    for row in bar:
        bar.set_postfix_str(row.name)
        ours, ours_s = train_and_score(with_progress_bar(row.ours()), *data[row.data])
        peer, peer_s = (train_and_score(row.peer(), *data[row.data]) if row.peer
                        else (None, None))
        results.append(dict(row=row, ours=ours, ours_s=ours_s, peer=peer, peer_s=peer_s))
    bar.close()
    return results


# ------------------------------------------------------------------------------ reporting
HEADER = ("experiment", "data", "seed's figure", "ours", "peer", "peer acc", "ours fit",
          "peer fit")


def table_rows(results, data):
    """The table as strings, one tuple per experiment."""
    def pct(v):
        return "-" if v is None else f"{v:.2%}"

    def secs(v):
        return "-" if v is None else f"{v:.2f} s"

    out = []
    for r in results:
        row = r["row"]
        X_train, _, X_test, _ = data[row.data]
        seed = "-" if row.seed is None else f"{100 * row.seed:.4g}%"  # as the seed prints it
        seed += f" ({row.seed_note})" if row.seed_note else ""
        peer_name = row.peer_name if row.peer else (f"({row.peer_name} n/a)" if row.peer_name
                                                    else "-")
        out.append((row.name, f"{row.data} {len(X_train)}/{len(X_test)}", seed, pct(r["ours"]),
                    peer_name, pct(r["peer"]), secs(r["ours_s"]), secs(r["peer_s"])))
    return out


def format_text(rows):
    widths = [max(len(line[i]) for line in (HEADER, *rows)) for i in range(len(HEADER))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(line, widths)) for line in (HEADER, *rows)]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def format_markdown(rows):
    lines = ["| " + " | ".join(line) + " |" for line in (HEADER, *rows)]
    lines.insert(1, "|" + "|".join("---" for _ in HEADER) + "|")
    return "\n".join(lines)


def plot(results, path, quick=False):
    """Grouped horizontal bars: the seed's figure, ours and the peer's accuracy per row."""
    names = [r["row"].name for r in results]
    series = [("seed (other split/data)", [r["row"].seed for r in results], "0.75"),
              ("ours", [r["ours"] for r in results], "tab:blue"),
              ("peer", [r["peer"] for r in results], "tab:orange")]
    fig = Figure(figsize=(9, 0.55 * len(names) + 1.5))
    ax = fig.subplots()
    height = 0.27
    positions = np.arange(len(names))
    lowest = 100.0
    for k, (label, values, color) in enumerate(series):
        shown = [(p, 100 * v) for p, v in zip(positions, values) if v is not None]
        if shown:
            p, v = zip(*shown)
            bars = ax.barh(np.array(p) + (k - 1) * height, v, height, label=label, color=color)
            ax.bar_label(bars, fmt="%.1f", fontsize=7, padding=2)
            lowest = min(lowest, *v)
    ax.set_yticks(positions, names)
    ax.invert_yaxis()
    ax.set_xlim(min(50, 10 * (lowest // 10)), 102)
    ax.set_xlabel("test accuracy (%)")
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=3, fontsize=8, frameon=False)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    savefig(fig, path, quick, dpi=110)


def main(quick=False, markdown=False, threads=1, outdir="outputs"):
    out = output_dir(outdir)
    data = load_data(quick)
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; BLAS/OpenMP threads: "
          f"{threads or 'default'}")
    with warnings.catch_warnings(), threadpool_limits(threads or None):
        warnings.simplefilter("ignore", ConvergenceWarning)  # the seeds stop at fixed epochs too
        results = run(experiments(quick), data)
    rows = table_rows(results, data)
    print("\n" + format_text(rows))
    if markdown:
        print("\n" + format_markdown(rows))
    path = out / "reproduce_seeds.png"
    plot(results, path, quick)
    print(f"\nchart: {path}")
    print(f"total wall time: {time.perf_counter() - START:.1f} s (load average "
          f"{os.getloadavg()[0]:.1f})" + (", --quick: tiny epochs and data" if quick else ""))
    return results


if __name__ == "__main__":
    cli(__doc__, main, help={"markdown": "also print the table as Markdown",
                             "threads": "BLAS and OpenMP threads (0: the libraries' default)"})
