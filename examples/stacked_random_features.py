"""Seed 01's three-layer stack on sklearn digits: a random forest, then two random-feature layers.

Layer 1 is a RandomForestClassifier (10 trees). Layer 2 wraps it in a CustomClassifier that adds
2 KMeans cluster indicators and 5 ReLU features from uniform random weights. Layer 3 wraps
layer 2, adding 2 more cluster indicators and 10 ReLU features, 70% of them dropped out while
fitting. Each layer is fitted on its own (the wrapped layer is cloned, so fitting layer 3 leaves
layer 2 as it was) and scored on the same 20% test split; the accuracies print beside the seed's.
Writes outputs/stacked_random_features.png (layer 3's confusion matrix).

Run: python examples/stacked_random_features.py [--quick] [--outdir DIR]
(--quick is accepted for the examples test; the experiment takes well under a second anyway.)
"""
import time

from matplotlib.figure import Figure
from sklearn.datasets import load_digits
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import ConfusionMatrixDisplay, confusion_matrix
from sklearn.model_selection import train_test_split

from tinygrad_nn.models import CustomClassifier
from _common import cli, output_dir, savefig

SEED_ACCURACIES = (0.9388, 0.9305, 0.9417)  # the seed's published layer 1, 2, 3 accuracies


def build_layers():
    """The seed's three estimators, unfitted; each wraps the previous one."""
    layer1 = RandomForestClassifier(n_estimators=10, random_state=123)
    layer2 = CustomClassifier(obj=layer1, n_hidden_features=5, direct_link=True, bias=True,
                              nodes_sim="uniform", activation_name="relu", n_clusters=2,
                              seed=123)
    layer3 = CustomClassifier(obj=layer2, n_hidden_features=10, direct_link=True, bias=True,
                              dropout=0.7, nodes_sim="uniform", activation_name="relu",
                              n_clusters=2, seed=123)
    return layer1, layer2, layer3


def main(quick=False, outdir="outputs"):
    out = output_dir(outdir)
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=123)

    start = time.perf_counter()
    layers = build_layers()
    accuracies = [layer.fit(X_train, y_train).score(X_test, y_test) for layer in layers]
    seconds = time.perf_counter() - start
    for i, (ours, seed) in enumerate(zip(accuracies, SEED_ACCURACIES), start=1):
        print(f"layer {i}: accuracy {ours:.2%}   (seed: {seed:.2%})")
    print(f"three layers fitted and scored in {seconds:.2f} s")

    layer3 = layers[2]
    cm = confusion_matrix(y_test, layer3.predict(X_test), labels=layer3.classes_)
    fig = Figure(figsize=(6.5, 6))
    ConfusionMatrixDisplay(cm, display_labels=layer3.classes_).plot(
        ax=fig.subplots(), colorbar=False, cmap="Blues")
    fig.suptitle(f"Layer 3 (RF + 2 random-feature layers): test accuracy {accuracies[2]:.1%}")
    savefig(fig, out / "stacked_random_features.png", quick, dpi=120)
    return dict(accuracies=accuracies, seconds=seconds)


if __name__ == "__main__":
    cli(__doc__, main)
