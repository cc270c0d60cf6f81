"""Seed 01's three-layer stack on digits, fitted end to end: ours against nnetsauce, in one run.

The timed block is the seed's: fit and score the random forest, then the layer-2 and layer-3
CustomClassifiers. nnetsauce runs with the same arguments (its current default wraps ``obj`` in a
2-fold ``CalibratedClassifierCV``) and, as a second peer, with ``cv_calibration=None`` (the
uncalibrated model the seed's nnetsauce had). Runs alternate between peers so they share the
machine's load; each figure is the best of ``--repeat`` (default 7). nnetsauce is not a
dependency: install it in a separate environment to get the side-by-side; without it only our
figures print.

Run: python benchmarks/bench_random_features.py [--repeat 7]
"""
import argparse
import inspect
import warnings
from importlib.metadata import version

from sklearn.datasets import load_digits
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import train_test_split

from tinygrad_nn.models import CustomClassifier
from timing import best_of

REPEAT = 7
SEED_ACCURACIES = (0.9388, 0.9305, 0.9417)


def seed_stack(layer_cls, **extra):
    """The seed's script as a function: fit and score layers 1, 2, 3; return the accuracies."""
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=123)

    def run():
        layer1 = RandomForestClassifier(n_estimators=10, random_state=123)
        layer2 = layer_cls(obj=layer1, n_hidden_features=5, direct_link=True, bias=True,
                           nodes_sim="uniform", activation_name="relu", n_clusters=2, seed=123,
                           **extra)
        layer3 = layer_cls(obj=layer2, n_hidden_features=10, direct_link=True, bias=True,
                           dropout=0.7, nodes_sim="uniform", activation_name="relu",
                           n_clusters=2, seed=123, **extra)
        return [layer.fit(X_train, y_train).score(X_test, y_test)
                for layer in (layer1, layer2, layer3)]

    return run


def peers():
    runs = {"tinygrad_nn": seed_stack(CustomClassifier)}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import nnetsauce as ns
    except ImportError:
        print("nnetsauce not importable: our figures only")
        return runs
    name = f"nnetsauce {version('nnetsauce')}"
    runs[f"{name} (defaults)"] = seed_stack(ns.CustomClassifier)
    if "cv_calibration" in inspect.signature(ns.CustomClassifier).parameters:
        runs[f"{name} (cv_calibration=None)"] = seed_stack(ns.CustomClassifier,
                                                           cv_calibration=None)
    return runs


def main(repeat=REPEAT):
    runs = peers()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # KMeans/nnetsauce chatter
        timings = best_of(runs, repeat)  # the warm-up call imports and compiles
    best = {name: t for name, (t, _) in timings.items()}
    accuracies = {name: out for name, (_, out) in timings.items()}

    ours = best["tinygrad_nn"]
    print(f"seed 01 stack on digits, fit + score of 3 layers, best of {repeat}")
    print(f"{'':44s} {'seconds':>8s} {'ours/peer':>9s}   layer 1 / 2 / 3 accuracy")
    print(f"{'seed (published)':44s} {'':>8s} {'':>9s}   "
          + " / ".join(f"{a:.2%}" for a in SEED_ACCURACIES))
    for name in runs:
        ratio = "" if name == "tinygrad_nn" else f"{ours / best[name]:.2f}x"
        print(f"{name:44s} {best[name]:8.3f} {ratio:>9s}   "
              + " / ".join(f"{a:.2%}" for a in accuracies[name]))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=REPEAT, help="runs per peer (best of)")
    main(parser.parse_args().repeat)
