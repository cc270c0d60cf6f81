"""Shared by the example scripts (not an example itself): the command line, the output folder,
the MNIST-5k split, the smoke-run stamp of ``--quick`` figures, and the one-parameter sweep of
the hyperparameter studies."""
import argparse
import inspect
import time
import warnings
from pathlib import Path

from matplotlib.figure import Figure
from sklearn.exceptions import ConvergenceWarning

from tinygrad_nn.data import load_mnist, split
from tinygrad_nn.models import MLPClassifier

QUICK_NOTE = ("--quick: a smoke run on tiny data and epochs; its figures show that the script "
              "runs, they are not the experiment's results")


def output_dir(outdir):
    """``outdir`` as a Path, created if missing."""
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    return out


def mnist_split(n_train=None, n_test=None, random_state=0, valid_size=0):
    """MNIST-5k as (X, y) pairs: train, then test (1,000 images, stratified and seeded by
    ``random_state``), with a validation pair of ``valid_size`` images between them when given.
    Only the first ``n_train`` training and ``n_test`` test images are kept (all when None)."""
    X, y = load_mnist()
    parts = split(X, y, test_size=1000, valid_size=valid_size, random_state=random_state)
    (X_train, y_train), (X_test, y_test) = parts[0], parts[-1]
    return ((X_train[:n_train], y_train[:n_train]), *parts[1:-1],
            (X_test[:n_test], y_test[:n_test]))


def savefig(fig, path, quick, **kwargs):
    """``fig.savefig(path, **kwargs)``; a ``--quick`` figure is stamped as a smoke run."""
    if quick:
        fig.text(0.5, 0.003, QUICK_NOTE, ha="center", va="bottom", fontsize=7, color="C3")
    fig.savefig(path, **kwargs)
    return path


def sweep(param, values, n_train, max_iter, hidden, outdir, filename, quick=False):
    """Fit on ``n_train`` MNIST-5k images for every value of ``param``; ``early_stopping=True``
    holds out 10% and records ``validation_scores_`` each epoch, while ``n_iter_no_change=
    max_iter`` keeps every run going for its whole budget. Returns per-value figures."""
    out = output_dir(outdir)
    (X_train, y_train), (X_test, y_test) = mnist_split(n_train)
    fig = Figure(figsize=(15, 4))
    axes = fig.subplots(1, len(values), sharex=True, sharey=True)
    results = {}
    for ax, value in zip(axes, values):
        t0 = time.perf_counter()
        clf = MLPClassifier(hidden_layer_sizes=hidden, max_iter=max_iter, early_stopping=True,
                            n_iter_no_change=max_iter, random_state=0, **{param: value})
        with warnings.catch_warnings():
            # Every run uses its whole budget on purpose, and a batch_size above the number
            # of training rows is clipped to it with a UserWarning.
            warnings.simplefilter("ignore", ConvergenceWarning)
            warnings.simplefilter("ignore", UserWarning)
            clf.fit(X_train, y_train)
        seconds = time.perf_counter() - t0
        results[value] = dict(best_validation=max(clf.validation_scores_),
                              test_accuracy=clf.score(X_test, y_test), seconds=seconds,
                              seconds_per_epoch=seconds / clf.n_iter_)
        ax.plot(range(1, len(clf.validation_scores_) + 1), clf.validation_scores_)
        ax.set(title=f"{param}={value:g} ({seconds / clf.n_iter_:.2f} s/epoch)", xlabel="epoch")
        ax.grid(alpha=0.3)
        print(f"{param}={value:<7g} best validation {results[value]['best_validation']:.2%}, "
              f"test {results[value]['test_accuracy']:.2%} ({seconds:.1f} s)")
    axes[0].set_ylabel("validation accuracy")
    fig.suptitle(f"MLPClassifier {hidden} on {n_train} MNIST images")
    fig.tight_layout()
    savefig(fig, out / filename, quick, dpi=120)
    return results


def cli(doc, main, argv=None, help=None):
    """The examples' one command line, built from ``main``'s signature; returns main's result.

    Every script has ``--quick`` (a smoke run, announced before and after it) and ``--outdir``;
    each other keyword of ``main`` becomes an option of the same name (``batch_size`` ->
    ``--batch-size``): a bool default is a flag, any other default gives the option's type.
    ``help`` maps keyword names to help texts.
    """
    help = help or {}
    parser = argparse.ArgumentParser(description=doc.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run on tiny data and epochs, in seconds: its figures are "
                             "not the experiment's results")
    parser.add_argument("--outdir", default="outputs", help="folder for the PNGs")
    for name, param in inspect.signature(main).parameters.items():
        if name in ("quick", "outdir"):
            continue
        default, flag = param.default, "--" + name.replace("_", "-")
        if isinstance(default, bool):
            parser.add_argument(flag, dest=name, action="store_true", help=help.get(name))
        else:
            parser.add_argument(flag, dest=name, type=type(default), default=default,
                                help=f"{help.get(name, '')} (default: {default})".lstrip())
    args = vars(parser.parse_args(argv))
    if args["quick"]:
        print(QUICK_NOTE, flush=True)
    result = main(**args)
    if args["quick"]:
        print(QUICK_NOTE)
    return result
