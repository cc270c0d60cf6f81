"""tinygrad_nn.data: embedded datasets, the OpenML cache policy (offline), minibatches, splits.

No test touches the network: sklearn's urlopen is replaced by one that fails at once, and the
OpenML tests read small fake datasets written in the exact layout of sklearn's own cache, so the
real fetch_openml code path runs end to end.
"""

import gzip
import hashlib
import json
import socket
from pathlib import Path
from urllib.error import URLError

import numpy as np
import pytest
import sklearn.datasets
import sklearn.datasets._openml as sk_openml
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_nn.data as D

MNIST_ID, FASHION_ID = 554, 40996
OPENML_LOADERS = [
    pytest.param(lambda **kw: D.load_mnist("full", **kw), MNIST_ID, id="mnist_full"),
    pytest.param(D.load_fashion_mnist, FASHION_ID, id="fashion_mnist"),
]


def write_fake_openml(data_home, data_id, X, y):
    """Write a tiny dataset where fetch_openml(data_id=..., data_home=data_home) caches one.

    Four gzip files under <data_home>/openml/openml.org/: the description (with the ARFF url and
    its md5), the feature list, the qualities (row count) and the ARFF data itself.
    """
    root = Path(data_home, "openml", "openml.org")

    def put(rel_path, text):
        path = root / (rel_path + ".gz")
        path.parent.mkdir(parents=True, exist_ok=True)
        with gzip.open(path, "wt") as f:
            f.write(text)

    names = [f"pixel{i + 1}" for i in range(X.shape[1])]
    arff = "@RELATION fake\n" + "".join(f"@ATTRIBUTE {c} NUMERIC\n" for c in names)
    arff += "@ATTRIBUTE class {0,1,2,3,4,5,6,7,8,9}\n@DATA\n"
    arff += "".join(",".join(map(str, row)) + f",{label}\n" for row, label in zip(X, y))
    arff_path = f"data/v1/download/{data_id}/fake.arff"
    put(arff_path, arff)

    def feature(i, name, **kw):
        return dict(index=str(i), name=name, is_ignore="false", is_row_identifier="false",
                    number_of_missing_values="0", **kw)

    features = [feature(i, c, data_type="numeric", is_target="false") for i, c in enumerate(names)]
    features.append(feature(len(names), "class", data_type="nominal", is_target="true",
                            nominal_value=[str(k) for k in range(10)]))
    description = dict(id=str(data_id), name="fake", version="1", description="fake",
                       format="ARFF", status="active", url=f"https://www.openml.org/{arff_path}",
                       md5_checksum=hashlib.md5(arff.encode()).hexdigest())
    put(f"api/v1/json/data/{data_id}", json.dumps({"data_set_description": description}))
    put(f"api/v1/json/data/features/{data_id}",
        json.dumps({"data_features": {"feature": features}}))
    put(f"api/v1/json/data/qualities/{data_id}", json.dumps(
        {"data_qualities": {"quality": [{"name": "NumberOfInstances", "value": str(len(X))}]}}))


def fake_images(n, seed):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(n, 784)), rng.integers(0, 10, size=n)


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """No network, no retry delays, no env var, and a throwaway home folder."""
    calls = []

    def unreachable(request, *args, **kwargs):
        calls.append(request.full_url)
        raise URLError(socket.gaierror(-2, "Name or service not known"))

    monkeypatch.setattr(sk_openml, "urlopen", unreachable)
    monkeypatch.setattr(sk_openml.time, "sleep", lambda seconds: None)
    monkeypatch.delenv(D.DATA_ENV_VAR, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return calls


# ---------------------------------------------------------------- embedded datasets


def test_load_digits_matches_sklearn_scaled():
    X, y = D.load_digits()
    ref = sklearn.datasets.load_digits()
    assert X.shape == (1797, 64) and X.dtype == np.float32
    assert y.dtype == np.int64
    np.testing.assert_allclose(X, ref.data / 16, rtol=1e-7)
    np.testing.assert_array_equal(y, ref.target)
    assert X.min() == 0.0 and X.max() == 1.0
    images, y2 = D.load_digits(as_images=True)
    assert images.shape == (1797, 1, 8, 8) and images.dtype == np.float32
    np.testing.assert_array_equal(images.reshape(1797, 64), X)
    np.testing.assert_array_equal(y2, y)


def test_load_mnist_5k_shapes_ranges_and_class_order():
    X, y = D.load_mnist()
    assert X.shape == (5000, 784) and X.dtype == np.float32
    assert y.shape == (5000,) and y.dtype == np.int64
    assert X.min() == 0.0 and X.max() == 1.0
    np.testing.assert_array_equal(np.bincount(y), np.full(10, 500))
    assert np.all(np.diff(y) >= 0), "docstring promises the sample is sorted by class"
    # pixels are whole numbers / 255
    np.testing.assert_allclose(X * 255, np.round(X * 255), atol=1e-4)
    images, _ = D.load_mnist(as_images=True)
    assert images.shape == (5000, 1, 28, 28)
    np.testing.assert_array_equal(images.reshape(5000, 784), X)


def test_load_mnist_returns_fresh_writable_arrays():
    X1, y1 = D.load_mnist()
    X1[:] = -1.0
    y1[:] = -1
    X2, y2 = D.load_mnist()
    assert X2.min() == 0.0 and y2.min() == 0


def test_load_mnist_unknown_subset():
    with pytest.raises(ValueError, match=r"subset must be one of \('5k', 'full'\), got '60k'"):
        D.load_mnist("60k")


def test_fashion_labels():
    assert len(D.FASHION_MNIST_LABELS) == 10
    assert D.FASHION_MNIST_LABELS[0] == "T-shirt/top" and D.FASHION_MNIST_LABELS[9] == "Ankle boot"


# ---------------------------------------------------------------- cache folder policy


def test_data_home_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv(D.DATA_ENV_VAR, raising=False)
    assert D.get_data_home() == tmp_path / ".cache" / "tinygrad_nn"
    monkeypatch.setenv(D.DATA_ENV_VAR, "")  # empty counts as unset
    assert D.get_data_home() == tmp_path / ".cache" / "tinygrad_nn"
    monkeypatch.setenv(D.DATA_ENV_VAR, "~/from_env")
    assert D.get_data_home() == tmp_path / "from_env"
    assert D.get_data_home(tmp_path / "explicit") == tmp_path / "explicit"
    assert D.get_data_home("~/arg") == tmp_path / "arg"


@pytest.mark.parametrize("loader, data_id", OPENML_LOADERS)
def test_cached_openml_dataset_loads_offline(offline, tmp_path, loader, data_id):
    X_raw, y_raw = fake_images(7, seed=data_id)
    write_fake_openml(tmp_path / "cache", data_id, X_raw, y_raw)
    X, y = loader(data_home=tmp_path / "cache")
    assert offline == [], "a populated cache must not touch the network"
    assert X.shape == (7, 784) and X.dtype == np.float32
    assert y.dtype == np.int64
    np.testing.assert_allclose(X, X_raw / 255, rtol=1e-6)
    np.testing.assert_array_equal(y, y_raw)
    images, _ = loader(data_home=str(tmp_path / "cache"), as_images=True)
    assert images.shape == (7, 1, 28, 28)
    np.testing.assert_array_equal(images.reshape(7, 784), X)


def test_cache_folder_precedence_end_to_end(offline, monkeypatch, tmp_path):
    """data_home beats TINYGRAD_NN_DATA, which beats ~/.cache/tinygrad_nn."""
    homes = {"arg": tmp_path / "arg", "env": tmp_path / "env",
             "default": tmp_path / "home" / ".cache" / "tinygrad_nn"}
    labels = {"arg": 1, "env": 2, "default": 3}
    for key, folder in homes.items():
        X_raw, _ = fake_images(3, seed=labels[key])
        write_fake_openml(folder, MNIST_ID, X_raw, np.full(3, labels[key]))

    def label(**kw):
        return set(D.load_mnist("full", **kw)[1].tolist())

    assert label() == {3}
    monkeypatch.setenv(D.DATA_ENV_VAR, str(homes["env"]))
    assert label() == {2}
    assert label(data_home=homes["arg"]) == {1}
    assert offline == []


@pytest.mark.filterwarnings("ignore:A network error occurred")
@pytest.mark.parametrize("loader, data_id", OPENML_LOADERS)
def test_offline_download_raises_clear_error(offline, tmp_path, loader, data_id):
    cache = tmp_path / "empty cache"
    with pytest.raises(D.DatasetUnavailableError) as info:
        loader(data_home=cache)
    message = str(info.value)
    assert "cannot reach OpenML" in message
    assert str(cache) in message
    assert "load_mnist()" in message and "load_digits()" in message
    assert str(data_id) in message
    assert isinstance(info.value, RuntimeError)
    assert offline and offline[0].endswith(f"/{data_id}")


@pytest.mark.filterwarnings("ignore:A network error occurred", "ignore:Invalid cache")
@pytest.mark.parametrize("error", [ConnectionResetError(104, "reset"), TimeoutError("timed out")])
def test_other_network_failures_are_wrapped(offline, monkeypatch, tmp_path, error):
    def broken(*args, **kwargs):
        raise error

    monkeypatch.setattr(sk_openml, "urlopen", broken)
    with pytest.raises(D.DatasetUnavailableError, match="cannot reach OpenML"):
        D.load_fashion_mnist(data_home=tmp_path)


@pytest.mark.filterwarnings("ignore:A network error occurred")
def test_offline_error_names_default_cache_folder(offline, tmp_path):
    with pytest.raises(D.DatasetUnavailableError,
                       match=f"cache folder {tmp_path / 'home' / '.cache' / 'tinygrad_nn'}"):
        D.load_mnist("full")


@pytest.mark.parametrize("loader, data_id", OPENML_LOADERS)
@pytest.mark.parametrize("X_raw, y_raw, match", [
    (np.ones((5, 64), dtype=int), np.arange(5), r"expected \(n, 784\) pixels and n labels, got "
                                                 r"X of shape \(5, 64\)"),
    (np.full((5, 784), 1000), np.arange(5), r"expected pixel values in \[0, 255\], got "
                                             r"\[1000, 1000\]"),
    (-np.ones((5, 784), dtype=int), np.arange(5), r"pixel values in \[0, 255\], got \[-1, -1\]"),
])
def test_cached_file_with_wrong_data_names_the_cache(offline, tmp_path, loader, data_id, X_raw,
                                                     y_raw, match):
    """A cache holding another dataset (or damaged values) is an error naming where it is."""
    cache = tmp_path / "cache"
    write_fake_openml(cache, data_id, X_raw, y_raw)
    with pytest.raises(ValueError, match=match) as info:
        loader(data_home=cache)
    assert f"under {cache / 'openml'} holds the wrong data" in str(info.value)
    assert "Delete that folder" in str(info.value) and offline == []


def test_cached_labels_outside_the_ten_classes_name_the_cache(monkeypatch, tmp_path):
    def fetch(**kwargs):
        return np.zeros((3, 784)), np.array(["cat", "dog", "cat"], dtype=object)

    monkeypatch.setattr(sklearn.datasets, "fetch_openml", fetch)
    with pytest.raises(ValueError, match=f"under {tmp_path / 'openml'} holds the wrong data: "
                                         "expected class labels 0..9"):
        D.load_fashion_mnist(data_home=tmp_path)
    monkeypatch.setattr(sklearn.datasets, "fetch_openml",
                        lambda **kw: (np.zeros((3, 784)), np.array([0, 10, 3])))
    with pytest.raises(ValueError, match="expected class labels 0..9, got values"):
        D.load_mnist("full", data_home=tmp_path)


@pytest.mark.filterwarnings("ignore:A network error occurred", "ignore:Invalid cache")
def test_damaged_cache_file_offline_says_it_could_not_be_read(offline, tmp_path):
    cache = tmp_path / "cache"
    X_raw, y_raw = fake_images(4, seed=1)
    write_fake_openml(cache, FASHION_ID, X_raw, y_raw)
    (arff,) = cache.rglob("fake.arff.gz")
    with gzip.open(arff, "wt") as f:
        f.write("@RELATION damaged\n@DATA\n1,2,3\n")
    with pytest.raises(D.DatasetUnavailableError,
                       match=f"its cached copy in the cache folder {cache} could not be read"):
        D.load_fashion_mnist(data_home=cache)


# ---------------------------------------------------------------- batches


@settings(max_examples=60, deadline=None)
@given(n=st.integers(0, 40), batch_size=st.integers(1, 12), shuffle=st.booleans(),
       seed=st.integers(0, 2**32 - 1))
def test_batches_cover_every_sample_once(n, batch_size, shuffle, seed):
    X = np.arange(n * 3, dtype=np.float32).reshape(n, 3)
    y = np.arange(n)
    out = list(D.batches(X, y, batch_size, shuffle=shuffle, rng=seed))
    assert len(out) == -(-n // batch_size)
    assert all(len(yb) == batch_size for _, yb in out[:-1])
    seen = np.concatenate([yb for _, yb in out]) if out else np.array([], dtype=int)
    np.testing.assert_array_equal(np.sort(seen), y)
    for Xb, yb in out:
        np.testing.assert_array_equal(Xb, X[yb])  # rows stay paired with their labels
    if not shuffle:
        np.testing.assert_array_equal(seen, y)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(0, 40), batch_size=st.integers(1, 12), shuffle=st.booleans())
def test_batches_drop_last(n, batch_size, shuffle):
    y = np.arange(n)
    out = [yb for _, yb in D.batches(y[:, None], y, batch_size, shuffle=shuffle, rng=0,
                                     drop_last=True)]
    assert len(out) == n // batch_size
    assert all(len(yb) == batch_size for yb in out)
    seen = np.concatenate(out) if out else np.array([], dtype=int)
    assert len(np.unique(seen)) == len(seen) == n - n % batch_size


def order(rng, n=50, batch_size=8):
    return np.concatenate([yb for _, yb in D.batches(np.zeros((n, 2)), np.arange(n), batch_size,
                                                      rng=rng)])


def test_batches_deterministic_per_seed():
    np.testing.assert_array_equal(order(7), order(7))
    np.testing.assert_array_equal(order(np.random.default_rng(7)), order(7))
    np.testing.assert_array_equal(order(np.random.RandomState(7)), order(np.random.RandomState(7)))
    assert not np.array_equal(order(7), order(8))
    gen = np.random.default_rng(3)  # a shared Generator advances: each epoch gets a new order
    assert not np.array_equal(order(gen), order(gen))


def test_batches_without_shuffle_are_views_and_y_may_be_none():
    X = np.arange(10.0).reshape(5, 2)
    out = list(D.batches(X, None, 2, shuffle=False))
    assert [yb for _, yb in out] == [None, None, None]
    assert all(np.shares_memory(Xb, X) for Xb, _ in out)
    np.testing.assert_array_equal(np.concatenate([Xb for Xb, _ in out]), X)


@pytest.mark.parametrize("batch_size", [0, -3, 2.5, True, "8"])
def test_batches_rejects_bad_batch_size_at_call_time(batch_size):
    with pytest.raises(ValueError, match=r"batch_size must be an integer >= 1"):
        D.batches(np.zeros((4, 2)), np.zeros(4), batch_size)  # no next(): checked eagerly


def test_batches_rejects_bad_inputs():
    with pytest.raises(ValueError,
                       match=r"same number of samples, got len\(X\)=4 and y of shape \(3,\)"):
        D.batches(np.zeros((4, 2)), np.zeros(3), 2)
    with pytest.raises(ValueError, match="at least one dimension"):
        D.batches(np.float32(1.0), None, 2)
    with pytest.raises(TypeError, match="rng must be None, a non-negative int seed"):
        D.batches(np.zeros((4, 2)), None, 2, rng="seed")


# ---------------------------------------------------------------- split


def balanced(n_per_class=100, n_classes=10):
    y = np.repeat(np.arange(n_classes), n_per_class)  # sorted by class, like the MNIST sample
    return np.arange(len(y))[:, None], y


def test_split_two_way_is_stratified_disjoint_and_seeded():
    X, y = balanced()
    (X_tr, y_tr), (X_te, y_te) = D.split(X, y, test_size=0.2, random_state=0)
    assert len(X_te) == 200 and len(X_tr) == 800
    np.testing.assert_array_equal(np.bincount(y_te), np.full(10, 20))
    np.testing.assert_array_equal(np.sort(np.concatenate([X_tr, X_te]).ravel()), X.ravel())
    np.testing.assert_array_equal(y[X_tr.ravel()], y_tr)  # rows stay paired with labels
    (X_tr2, _), _ = D.split(X, y, test_size=0.2, random_state=0)
    np.testing.assert_array_equal(X_tr, X_tr2)


def test_split_three_way_sizes_are_fractions_of_the_whole():
    X, y = balanced()
    train, valid, test = D.split(X, y, test_size=0.2, valid_size=0.1, random_state=1)
    assert [len(part[0]) for part in (train, valid, test)] == [700, 100, 200]
    for (_, y_part), per_class in zip((train, valid, test), (70, 10, 20)):
        np.testing.assert_array_equal(np.bincount(y_part), np.full(10, per_class))
    ids = np.concatenate([part[0] for part in (train, valid, test)]).ravel()
    np.testing.assert_array_equal(np.sort(ids), X.ravel())
    counts = D.split(X, y, test_size=100, valid_size=50, random_state=1)
    assert [len(part[1]) for part in counts] == [850, 50, 100]


def test_split_rejects_valid_size_that_leaves_no_training_data():
    X, y = balanced()
    with pytest.raises(ValueError, match=r"valid_size must be in \(0, 1 - test_size\)"):
        D.split(X, y, test_size=0.5, valid_size=0.5)
