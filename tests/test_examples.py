"""Every script in examples/ runs end to end in its ``--quick`` mode, writes its PNGs, returns its
metrics, and those metrics clear a floor well above chance.

The scripts are found by glob, so a new example fails `test_every_example_has_floors` until it is
given metrics and floors here. Each one runs in-process through the shared command line
(``_common.cli(..., argv=["--quick", "--outdir", tmp])``) and never touches the network: sockets
refuse to connect for the whole file, and Fashion-MNIST comes from a stand-in loader.
"""
import socket
from pathlib import Path

import matplotlib.pyplot as plt
import pytest

import tinygrad_nn.data as data

EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "examples"

EXAMPLES = sorted(p.stem for p in EXAMPLES_DIR.glob("*.py") if not p.name.startswith("_"))
# Examples whose quick run is checked by a test file of their own, with its own floor.
OWN_TEST = {"custom_cnn": "test_custom_cnn.py"}
QUICK_TESTED = [name for name in EXAMPLES if name not in OWN_TEST]


def _by_key(key):
    return lambda r: {str(name): v[key] for name, v in r.items()}


def _best_of(key):
    return lambda r: {f"best {key}": max(v[key] for v in r.values())}


# name -> (the metrics to check, from main()'s return value; the chance level of each).
METRICS = {
    "conv_features": (_by_key("micro_f1"), 0.1),
    "digits_eta_lambda": (_by_key("best_accuracy"), 0.1),
    "fashion_mnist": (lambda r: {k: v["micro_f1"] for k, v in r.items() if k != "dataset"}, 0.1),
    "mlp_batch_size": (_best_of("test_accuracy"), 0.1),
    "mlp_confusion_matrix": (lambda r: {"test_accuracy": r["test_accuracy"]}, 0.1),
    "mlp_curves": (lambda r: {"learning curve, all data": r["learning_curve"]["test_scores"][-1],
                              "validation curve, best": max(r["validation_curve"]["test_scores"])}, 0.1),
    "mlp_custom_activation": (_by_key("test_accuracy"), 0.1),
    "mlp_grid_search": (lambda r: {"cv": r["best_cv_accuracy"], "test": r["test_micro_f1"]}, 0.1),
    "mlp_learning_rate": (_best_of("test_accuracy"), 0.1),
    "mlp_loss_curve": (lambda r: {"test_accuracy": r["test_accuracy"]}, 0.1),
    "mlp_regression": (lambda r: {f"{x['problem']}, {x['model']}": x["r2"] for x in r
                                  if x["model"] == "tinygrad_nn MLPRegressor"}, 0.0),
    "mlp_regularisation": (_by_key("test_accuracy"), 0.5),
    "mlp_weights_images": (_by_key("test_accuracy"), 0.1),
    "mnist_mlp": (lambda r: dict(r), 0.1),
    "quickstart": (lambda r: {"accuracy": r}, 0.1),
    "reproduce_seeds": (lambda r: {x["row"].name: x["ours"] for x in r
                                   if x["row"].name != "seed 05 NeuralNetMLP, sigmoid"}, 0.1),
    "stacked_random_features": (lambda r: {f"layer {i + 1}": a
                                           for i, a in enumerate(r["accuracies"])}, 0.1),
}


# The floor of each metric. How they were derived: every script's quick mode was run for five
# seeds (each ``random_state=<int>`` and ``seed=<int>`` in the scripts and _common.py replaced by
# 0, 1, 2, 3 and 4, which changes the splits, the initial weights and the batch orders; the
# Fashion-MNIST stand-in below), and each floor put halfway between chance and the smallest of
# the five, rounded down to 0.05: floor = chance + (minimum - chance) / 2 (R^2: chance 0). That
# minimum is in the comment beside each floor. Not floored: reproduce_seeds' seed-05 sigmoid
# network (5 quick epochs of a sigmoid net on squared error stay near chance: 12.5% at worst);
# mnist_mlp's sigmoid row covers that network. Quick budgets were raised where two or three
# epochs left a model at chance (conv features + MLP, mlp_curves, mlp_grid_search,
# digits_eta_lambda, fashion_mnist): a quick run must be able to fail.
FLOORS = {
    "conv_features": {
        'conv features + MLP': 0.35,  # min 0.675 of 5
        'raw pixels + MLP': 0.45,  # min 0.810 of 5
        'CNNClassifier': 0.40,  # min 0.765 of 5
    },
    "digits_eta_lambda": {
        'NeuralNetwork': 0.35,  # min 0.672 of 5
        'MLPClassifier': 0.50,  # min 0.950 of 5
    },
    "fashion_mnist": {
        'MLP on pixels': 0.40,  # min 0.765 of 5
        'tuned MLP on pixels': 0.45,  # min 0.815 of 5
        'conv features + MLP': 0.30,  # min 0.535 of 5
    },
    "mlp_batch_size": {
        'best test_accuracy': 0.15,  # min 0.265 of 5
    },
    "mlp_confusion_matrix": {
        'test_accuracy': 0.30,  # min 0.559 of 5
    },
    "mlp_curves": {
        'learning curve, all data': 0.25,  # min 0.403 of 5
        'validation curve, best': 0.25,  # min 0.403 of 5
    },
    "mlp_custom_activation": {
        'relu (built in)': 0.25,  # min 0.431 of 5
        'leaky_relu (custom)': 0.25,  # min 0.437 of 5
    },
    "mlp_grid_search": {
        'cv': 0.35,  # min 0.620 of 5
        'test': 0.35,  # min 0.680 of 5
    },
    "mlp_learning_rate": {
        'best test_accuracy': 0.15,  # min 0.265 of 5
    },
    "mlp_loss_curve": {
        'test_accuracy': 0.30,  # min 0.550 of 5
    },
    "mlp_regression": {
        'diabetes, tinygrad_nn MLPRegressor': 0.15,  # min 0.363 of 5
        'BMI, tinygrad_nn MLPRegressor': 0.45,  # min 0.993 of 5
    },
    "mlp_regularisation": {
        '1e-05': 0.65,  # min 0.883 of 5
        '0.001': 0.65,  # min 0.883 of 5
        '0.1': 0.65,  # min 0.892 of 5
        '1.0': 0.65,  # min 0.883 of 5
        '3.0': 0.65,  # min 0.825 of 5
        '10.0': 0.60,  # min 0.758 of 5
    },
    "mlp_weights_images": {
        '0.0001': 0.30,  # min 0.598 of 5
        '1.0': 0.30,  # min 0.592 of 5
        '10.0': 0.30,  # min 0.585 of 5
    },
    "mnist_mlp": {
        'sigmoid': 0.15,  # min 0.208 of 5
        'relu': 0.35,  # min 0.613 of 5
    },
    "quickstart": {
        'accuracy': 0.50,  # min 0.903 of 5
    },
    "reproduce_seeds": {
        'seed 04 NeuralNetwork 64-50-10': 0.40,  # min 0.794 of 5
        'MLPClassifier (seed 04 settings)': 0.35,  # min 0.692 of 5
        'seed 05 NeuralNetMLP, relu': 0.20,  # min 0.395 of 5
        'seed 01 stack, layer 1 (forest)': 0.50,  # min 0.931 of 5
        'seed 01 stack, layer 2': 0.50,  # min 0.914 of 5
        'seed 01 stack, layer 3': 0.50,  # min 0.917 of 5
        'seed 02 conv features + MLP': 0.35,  # min 0.675 of 5
        'CNNClassifier (learned kernels)': 0.35,  # min 0.690 of 5
    },
    "stacked_random_features": {
        'layer 1': 0.50,  # min 0.931 of 5
        'layer 2': 0.50,  # min 0.922 of 5
        'layer 3': 0.50,  # min 0.914 of 5
    },
}


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Any attempt to open a connection fails the test that makes it."""
    def refuse(self, *args, **kwargs):
        raise AssertionError(f"an example test tried to reach the network: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)


def fake_fashion_mnist(data_home=None, as_images=False):
    """A stand-in for Fashion-MNIST with its shapes and value ranges: the 5,000 MNIST digits."""
    return data.load_mnist(as_images=as_images)


def run_quick(load_example, name, tmp_path):
    """main()'s return value of ``examples/<name>.py --quick --outdir tmp_path``."""
    ns = load_example(name)
    try:
        return ns["cli"](ns["__doc__"], ns["main"], argv=["--quick", "--outdir", str(tmp_path)])
    finally:
        plt.close("all")


def test_every_example_has_floors():
    assert len(EXAMPLES) >= 9, EXAMPLES
    assert sorted(METRICS) == sorted(FLOORS) == QUICK_TESTED
    assert all((Path(__file__).parent / test).exists() for test in OWN_TEST.values())
    for name, floors in FLOORS.items():
        assert all(floor > METRICS[name][1] for floor in floors.values()), name


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # quick = truncated
@pytest.mark.parametrize("name", QUICK_TESTED)
def test_example_quick_run_clears_its_floors(name, load_example, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(data, "load_fashion_mnist", fake_fashion_mnist)
    result = run_quick(load_example, name, tmp_path)
    pngs = sorted(tmp_path.rglob("*.png"))
    assert pngs, f"{name} wrote no PNG under {tmp_path}"
    assert all(p.stat().st_size > 1000 for p in pngs), pngs
    out = capsys.readouterr().out
    assert out.startswith("--quick: a smoke run") and out.rstrip().endswith("experiment's results")

    metrics, chance = METRICS[name]
    values = metrics(result)
    assert sorted(values) == sorted(FLOORS[name]), f"{name}: metrics {sorted(values)}"
    low = {k: (v, FLOORS[name][k]) for k, v in values.items() if not v >= FLOORS[name][k]}
    assert not low, f"{name}: (value, floor) under the floor (chance {chance}): {low}"


def test_fashion_mnist_uses_the_dataset_when_available(load_example, tmp_path, monkeypatch):
    calls = []

    def loader(**kwargs):
        calls.append(kwargs)
        return fake_fashion_mnist()

    monkeypatch.setattr(data, "load_fashion_mnist", loader)
    result = run_quick(load_example, "fashion_mnist", tmp_path)
    assert calls and result["dataset"] == "Fashion-MNIST"


def test_fashion_mnist_falls_back_to_mnist_offline(load_example, tmp_path, monkeypatch, capsys):
    def unavailable(**kwargs):
        raise data.DatasetUnavailableError("not cached, no network (test)")

    monkeypatch.setattr(data, "load_fashion_mnist", unavailable)
    result = run_quick(load_example, "fashion_mnist", tmp_path)
    assert result["dataset"] == "MNIST-5k"
    assert "runs on the embedded MNIST-5k sample instead" in capsys.readouterr().out


def test_command_line_is_shared(load_example, tmp_path, capsys):
    """Every script's --help comes from _common.cli: --quick (a smoke run) and --outdir."""
    for name in EXAMPLES:
        ns = load_example(name)
        with pytest.raises(SystemExit) as exc:
            ns["cli"](ns["__doc__"], ns["main"], argv=["--help"])
        assert exc.value.code == 0
        usage = capsys.readouterr().out
        assert "--quick" in usage and "--outdir" in usage and "not the experiment's" in usage, name
        assert "--out " not in usage, name


def test_options_come_from_main_signature(load_example, tmp_path):
    ns = load_example("mnist_mlp")

    def main(quick=False, outdir="o", epochs=40, batch_size=100, markdown=False):
        return dict(quick=quick, outdir=outdir, epochs=epochs, batch_size=batch_size,
                    markdown=markdown)

    seen = ns["cli"](ns["__doc__"], main,
                     argv=["--epochs", "3", "--batch-size", "7", "--markdown", "--outdir", "x"])
    assert seen == dict(quick=False, outdir="x", epochs=3, batch_size=7, markdown=True)
    with pytest.raises(SystemExit):
        ns["cli"](ns["__doc__"], ns["main"], argv=["--out", str(tmp_path)])
