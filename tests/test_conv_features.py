"""ConvolutionTransformer against the chapter's scipy/scikit-image/MinMaxScaler features, and
CNNClassifier as a scikit-learn estimator (fit, partial_fit, Pipeline, GridSearchCV, pickle)."""
import pickle
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage
from skimage.measure import block_reduce
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import MinMaxScaler
from sklearn.utils.estimator_checks import check_estimator

from tinygrad_nn import nn
from tinygrad_nn.data import load_digits, load_mnist
from tinygrad_nn.models import CNNClassifier
from tinygrad_nn.models.conv_features import (KERNELS, ConvolutionTransformer, get_kernel,
                                              make_convolution_union)

CHAPTER_KERNELS = [
    ("Sharpen", [[0, -1, 0], [-1, 5, -1], [0, -1, 0]]),
    ("V-Edge", [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]),
    ("H-Edge", [[-1, -2, -1], [0, 0, 0], [1, 2, 1]]),
]


# ---------------------------------------------------------------- the chapter's reference code
def ref_convolve(X, kernel, shape):
    """ndimage.convolve of each (channel) image with zero padding, as the chapter calls it."""
    c, h, w = shape
    out = ndimage.convolve(X.reshape(-1, h, w), [kernel], mode="constant", cval=0.0)
    return out.reshape(len(X), -1)


def ref_maxpool(X, size, shape):
    """block_reduce(np.max) image by image, as in the chapter."""
    c, h, w = shape
    out = [block_reduce(img, block_size=tuple(size), func=np.max) for img in X.reshape(-1, h, w)]
    return np.array(out).reshape(len(X), -1)


def ref_features(X_fit, X, kernel, pool, shape):
    """The chapter's features of X, but with both MinMaxScalers fit on X_fit."""
    conv_scaler = MinMaxScaler().fit(ref_convolve(X_fit, kernel, shape))
    out = conv_scaler.transform(ref_convolve(X, kernel, shape))
    if pool is None:
        return out
    fit_pooled = ref_maxpool(conv_scaler.transform(ref_convolve(X_fit, kernel, shape)), pool, shape)
    return MinMaxScaler().fit(fit_pooled).transform(ref_maxpool(out, pool, shape))


class ChapterConvolution:
    """The chapter's transformer, square images only: refits both scalers on what it is given."""

    def __init__(self, kernel, max_pool_size):
        self.kernel, self.max_pool_size = kernel, max_pool_size

    def get_params(self, deep=True):
        return {"kernel": self.kernel, "max_pool_size": self.max_pool_size}

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        side = int(np.sqrt(X.shape[1]))
        return ref_features(X, X, self.kernel, self.max_pool_size, (1, side, side))

    def fit_transform(self, X, y=None):
        return self.transform(X)


def chapter_union(pool=(4, 4)):
    return FeatureUnion([(name, ChapterConvolution(k, pool)) for name, k in CHAPTER_KERNELS])


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits()
    return X[:300], y[:300]


def images(n, h, w, dtype=np.float64, seed=0):
    """Digit-like nonnegative images with an empty top row and some saturated pixels."""
    X = np.random.default_rng(seed).uniform(-0.5, 1.0, size=(n, h, w)).clip(0, None)
    X[:, 0, :] = 0
    return X.reshape(n, -1).astype(dtype)


# ---------------------------------------------------------------- ConvolutionTransformer
def test_feature_union_matches_the_chapter_on_mnist():
    """The chapter's three-kernel FeatureUnion with 4x4 pooling on 2,500 float32 MNIST images,
    to 1e-6. Border pixels that are dark in almost every image have tiny min-max ranges, which
    magnify any difference in the convolution's rounding: float32 sums are off by 3.8e-6
    here, so this pins the float64 summation."""
    X = load_mnist()[0][::2]
    union = make_convolution_union(CHAPTER_KERNELS, max_pool_size=(4, 4))
    expected, got = chapter_union().fit_transform(X), union.fit_transform(X)
    assert got.shape == expected.shape == (2500, 3 * 49)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_feature_union_matches_the_chapter_with_partial_blocks(dtype):
    """5x5 blocks over 28x28 images: block_reduce pads the last row/column of blocks with 0."""
    X = images(40, 28, 28, dtype)
    union = make_convolution_union(CHAPTER_KERNELS, max_pool_size=(5, 5))
    expected, got = chapter_union((5, 5)).fit_transform(X), union.fit_transform(X)
    assert got.shape == expected.shape == (40, 3 * 36)
    assert got.dtype == dtype
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize("pool", [None, (3, 3), (2, 3), (8, 8)])
@pytest.mark.parametrize("kernel", ["sharpen", "v_edge", "h_edge", "blur"])
def test_fit_transform_and_transform_match_reference_on_digits(digits, kernel, pool):
    """8x8 digits; transform scales new images with the minima and maxima of the fit images."""
    X = digits[0].astype(np.float64)
    X_fit, X_new = X[:200], X[200:]
    t = ConvolutionTransformer(kernel, max_pool=pool is not None, max_pool_size=pool or (2, 2))
    k, shape = KERNELS[kernel], (1, 8, 8)
    np.testing.assert_allclose(t.fit_transform(X_fit), ref_features(X_fit, X_fit, k, pool, shape),
                               atol=1e-6)
    np.testing.assert_allclose(t.transform(X_new), ref_features(X_fit, X_new, k, pool, shape),
                               atol=1e-6)
    np.testing.assert_array_equal(t.transform(X_fit), t.fit_transform(X_fit))


def test_transform_does_not_refit(digits):
    """The chapter refits its scalers on test images; we keep the training statistics."""
    X = digits[0].astype(np.float64)
    t = ConvolutionTransformer("sharpen", max_pool=True).fit(X[:100])
    out = t.transform(X[100:])
    assert out.min() < 0 or out.max() > 1  # new images may fall outside the training range
    refit = ref_features(X[100:], X[100:], KERNELS["sharpen"], (2, 2), (1, 8, 8))
    assert not np.allclose(out, refit)


@settings(max_examples=25)
@given(kh=st.integers(1, 5), kw=st.integers(1, 5), h=st.integers(3, 9), w=st.integers(3, 9),
       c=st.integers(1, 3), ph=st.integers(1, 3), pw=st.integers(1, 3), pool=st.booleans(),
       seed=st.integers(0, 2**16))
def test_any_kernel_and_image_shape_matches_reference(kh, kw, h, w, c, ph, pw, pool, seed):
    """Even and odd, square and oblong kernels; multi-channel images convolved per channel."""
    rng = np.random.default_rng(seed)
    kernel = rng.integers(-3, 4, size=(kh, kw)).astype(float)
    X = rng.normal(size=(12, c * h * w))
    size, shape = ((ph, pw) if pool else None), (c, h, w)
    t = ConvolutionTransformer(kernel, max_pool=pool, max_pool_size=(ph, pw), image_shape=shape)
    expected = ref_features(X[:8], X[:8], kernel, size, shape)
    np.testing.assert_allclose(t.fit_transform(X[:8]), expected, atol=1e-6)
    expected = ref_features(X[:8], X[8:], kernel, size, shape)
    np.testing.assert_allclose(t.transform(X[8:]), expected, atol=1e-6)
    assert t.get_feature_names_out().shape == (t.transform(X[8:]).shape[1],)


def test_presets_and_kernel_forms():
    assert {"sharpen", "v_edge", "h_edge", "blur"} <= set(KERNELS)
    np.testing.assert_array_equal(get_kernel("sharpen"), CHAPTER_KERNELS[0][1])
    np.testing.assert_array_equal(get_kernel([[1, 2], [3, 4]]), [[1.0, 2.0], [3.0, 4.0]])
    X = images(5, 6, 6)
    np.testing.assert_array_equal(ConvolutionTransformer("v_edge").fit_transform(X),
                                  ConvolutionTransformer(CHAPTER_KERNELS[1][1]).fit_transform(X))


def test_union_from_names_and_params():
    union = make_convolution_union(["sharpen", ("mine", np.eye(3))], max_pool_size=(7, 7))
    assert [name for name, _ in union.transformer_list] == ["sharpen", "mine"]
    out = union.fit_transform(images(10, 28, 28))
    assert out.shape == (10, 2 * 16)
    assert union.get_feature_names_out().shape == (32,)
    with pytest.raises(ValueError, match="at least one kernel"):
        make_convolution_union([])


def test_rectangular_and_channel_image_shapes():
    X = images(6, 4, 10)
    assert ConvolutionTransformer("blur", image_shape=(4, 10)).fit_transform(X).shape == (6, 40)
    t = ConvolutionTransformer("blur", max_pool=True, max_pool_size=(3, 4), image_shape=(2, 4, 5))
    assert t.fit(X).output_shape_ == (2, 2, 2)
    assert t.transform(X).shape == (6, 8)
    assert ConvolutionTransformer("blur", image_shape=(2, -1, 5)).fit(X).image_shape_ == (2, 4, 5)
    # a one-pixel-high image: only the kernel's middle row meets pixels
    np.testing.assert_allclose(ConvolutionTransformer("blur", image_shape=(1, -1)).fit_transform(X),
                               ref_features(X, X, KERNELS["blur"], None, (1, 1, 40)), atol=1e-6)


def test_pickle_and_clone(digits):
    X = digits[0]
    t = ConvolutionTransformer("h_edge", max_pool=True).fit(X)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(t)).transform(X), t.transform(X))
    assert clone(t).get_params() == t.get_params()


NINE = np.zeros((3, 9))


@pytest.mark.parametrize("kwargs, X, match", [
    ({"kernel": "sharpen"}, np.zeros((3, 10)), "10 features is not a square number"),
    ({"kernel": "sharpen", "image_shape": (3, 4)}, np.zeros((3, 10)),
     r"\(3, 4\) does not fit the 10 features"),
    ({"kernel": "sharpen", "image_shape": (3, -1)}, np.zeros((3, 10)),
     r"\(3, -1\) does not fit the 10 features"),
    ({"kernel": "sharpen", "image_shape": (-1, -1)}, NINE, "one may be -1"),
    ({"kernel": "sharpen", "image_shape": (0, 9)}, NINE, "image_shape must be"),
    ({"kernel": "sharpen", "image_shape": 9.0}, NINE,
     "The 'image_shape' parameter of ConvolutionTransformer must be None or an array-like. "
     "Got 9.0 instead"),
    ({"kernel": [1, 2, 3]}, NINE, "non-empty 2-D array"),
    ({"kernel": np.ones((2, 2, 2))}, NINE, "non-empty 2-D array"),
    ({"kernel": [[]]}, NINE, "non-empty 2-D array"),
    ({"kernel": [["a", "b"]]}, NINE, "2-D array of numbers"),
    ({"kernel": [[1, 2], [3]]}, NINE, "2-D array of numbers"),
    ({"kernel": [[1, np.nan]]}, NINE, "finite"),
    ({"kernel": "sobel"}, NINE, "unknown kernel name 'sobel'"),
    ({"kernel": "blur", "max_pool": True, "max_pool_size": (4, 2)}, NINE, "larger than the 3x3"),
    ({"kernel": "blur", "max_pool": True, "max_pool_size": (0, 2)}, NINE,
     r"ConvolutionTransformer: max_pool_size must be an int >= 1 or a pair of them, got \(0, 2\)"),
    ({"kernel": "blur", "max_pool": True, "max_pool_size": 2.5}, NINE,
     r"The 'max_pool_size' parameter of ConvolutionTransformer must be an array-like or an int "
     r"in the range \[1, inf\)\. Got 2.5 instead"),
    ({"kernel": "blur", "max_pool": "yes"}, NINE,
     "The 'max_pool' parameter of ConvolutionTransformer must be an instance of 'bool'"),
])
def test_bad_input_raises(kwargs, X, match):
    with pytest.raises(ValueError, match=match):
        ConvolutionTransformer(**kwargs).fit(X)


def test_transform_checks_feature_count(digits):
    t = ConvolutionTransformer("blur").fit(digits[0])
    with pytest.raises(ValueError, match="features"):
        t.transform(np.zeros((2, 49)))


def assert_passes_check_estimator(estimator):
    """scikit-learn's checks feed 1 to 10 features, mostly not a square number: the estimators
    see them as one-pixel-high images (image_shape=(1, -1))."""
    results = check_estimator(estimator, on_fail=None)
    failed = {r["check_name"]: r["exception"] for r in results if r["status"] == "failed"}
    assert not failed, failed
    assert sum(r["status"] == "passed" for r in results) > 40


@pytest.mark.filterwarnings("ignore")
def test_transformer_check_estimator():
    assert_passes_check_estimator(ConvolutionTransformer("sharpen", image_shape=(1, -1)))


# ---------------------------------------------------------------- CNNClassifier
def tiny_cnn(**kw):
    params = dict(conv_channels=(4,), hidden_layer_sizes=(16,), max_iter=8, batch_size=32,
                  learning_rate_init=0.01, random_state=0)
    return CNNClassifier(**{**params, **kw})


def test_cnn_learns_digits(digits):
    X, y = digits
    clf = tiny_cnn(conv_channels=(8,), hidden_layer_sizes=(32,)).fit(X[:200], y[:200])
    assert clf.classes_.tolist() == list(range(10))
    assert clf.n_features_in_ == 64 and clf.image_shape_ == (1, 8, 8)
    assert len(clf.loss_curve_) == clf.n_iter_ == 8
    assert clf.loss_curve_[-1] < 0.5 * clf.loss_curve_[0]
    assert clf.score(X[200:], y[200:]) > 0.8
    proba = clf.predict_proba(X[200:])
    assert proba.shape == (100, 10)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
    np.testing.assert_array_equal(clf.predict(X[200:]), proba.argmax(axis=1))


def test_cnn_is_deterministic_given_random_state(digits):
    X, y = digits
    a, b = tiny_cnn(max_iter=2).fit(X, y), tiny_cnn(max_iter=2).fit(X, y)
    assert a.loss_curve_ == b.loss_curve_
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    assert tiny_cnn(max_iter=2, random_state=1).fit(X, y).loss_curve_ != a.loss_curve_


def test_cnn_string_labels_and_binary(digits):
    X, y = digits
    labels = np.where(y % 2 == 0, "even", "odd")
    clf = tiny_cnn(max_iter=3).fit(X, labels)
    assert clf.classes_.tolist() == ["even", "odd"]
    assert set(clf.predict(X)) <= {"even", "odd"}
    assert clf.predict_proba(X).shape == (len(X), 2)


def test_cnn_partial_fit(digits):
    X, y = digits
    clf = tiny_cnn()
    with pytest.raises(ValueError, match="classes must be passed"):
        clf.partial_fit(X, y)
    for _ in range(3):
        clf.partial_fit(X, y, classes=np.arange(10))
    assert len(clf.loss_curve_) == 3 and clf.loss_curve_[-1] < clf.loss_curve_[0]
    with pytest.raises(ValueError, match="not in classes"):
        clf.partial_fit(X[:5], np.full(5, 11))
    with pytest.raises(ValueError, match="differ from those of the first"):
        clf.partial_fit(X, y, classes=np.arange(5))
    # partial_fit after fit keeps training the same network
    clf = tiny_cnn(max_iter=2).fit(X, y)
    clf.partial_fit(X, y)
    assert len(clf.loss_curve_) == 3


def test_cnn_pickle_round_trip_and_continue(digits):
    X, y = digits
    clf = tiny_cnn(max_iter=2).fit(X, y)
    copy = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(copy.predict_proba(X), clf.predict_proba(X))
    copy.partial_fit(X, y)
    clf.partial_fit(X, y)
    np.testing.assert_array_equal(copy.predict_proba(X), clf.predict_proba(X))


def test_cnn_lives_in_cnn_module_and_old_pickles_load(digits):
    import tinygrad_nn.models.cnn as cnn_module
    import tinygrad_nn.models.conv_features as conv_module

    assert CNNClassifier is cnn_module.CNNClassifier is conv_module.CNNClassifier
    assert CNNClassifier.__module__ == "tinygrad_nn.models.cnn"
    X, y = digits
    clf = tiny_cnn(max_iter=1).fit(X, y)
    # a pickle written before the move names the old module (protocol 2 spells names as text)
    old = pickle.dumps(clf, protocol=2).replace(b"tinygrad_nn.models.cnn\n",
                                                b"tinygrad_nn.models.conv_features\n")
    assert b"tinygrad_nn.models.conv_features\nCNNClassifier" in old
    np.testing.assert_array_equal(pickle.loads(old).predict_proba(X), clf.predict_proba(X))
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        conv_module.Nope


def test_cnn_early_stopping_and_verbose(digits, capsys):
    X, y = digits
    clf = tiny_cnn(max_iter=40, early_stopping=True, n_iter_no_change=2, validation_fraction=0.2,
                   verbose=True).fit(X, y)
    assert len(clf.validation_scores_) == clf.n_iter_ < 40
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("Iteration 1, loss = ") and "validation score = " in lines[0]
    assert len(lines) == clf.n_iter_ + 1 and lines[-1].endswith("stopping.")


def test_cnn_in_pipeline_and_grid_search(digits):
    X, y = digits
    pipe = Pipeline([("scale", MinMaxScaler()), ("cnn", tiny_cnn(max_iter=2))])
    grid = {"cnn__learning_rate_init": [0.01, 0.003], "cnn__conv_channels": [(2,), (4,)]}
    search = GridSearchCV(pipe, grid, cv=2).fit(X, y)
    # the winner's score is its own: refitting it from scratch gives the same folds' scores
    best = search.best_index_
    refit = cross_val_score(clone(pipe).set_params(**search.best_params_), X, y, cv=2)
    assert refit.mean() == pytest.approx(search.cv_results_["mean_test_score"][best], abs=1e-12)
    assert search.best_score_ == max(search.cv_results_["mean_test_score"]) > 0.3
    assert search.predict(X).shape == y.shape


def test_cnn_on_conv_features_in_pipeline(digits):
    """The transformers feed the network: 3 kernels -> 3-channel 8x8 images."""
    X, y = digits
    union = make_convolution_union(["sharpen", "v_edge", "h_edge"], max_pool=False)
    pipe = Pipeline([("conv", union), ("cnn", tiny_cnn(max_iter=2, image_shape=(3, 8, 8)))])
    assert pipe.fit(X, y).score(X, y) > 0.3


def test_cnn_architecture(digits):
    X, y = digits
    clf = tiny_cnn(conv_channels=(3, 5), hidden_layer_sizes=(7, 6), max_iter=1).fit(X, y)
    shapes = [tuple(p.shape) for _, p in clf.module_.named_parameters()]
    # 8x8 -> pool -> 4x4 -> pool -> 2x2, 5 channels -> 20 features
    assert shapes == [(3, 1, 3, 3), (3,), (5, 3, 3, 3), (5,), (20, 7), (7,), (7, 6), (6,),
                      (6, 10), (10,)]
    # an int is one layer; no pooling below 2x2; 5x5 kernels pad by 2
    clf = tiny_cnn(conv_channels=2, kernel_size=5, hidden_layer_sizes=3, max_iter=1,
                   image_shape=(1, -1)).fit(X[:, :10], y)
    shapes = [tuple(p.shape) for _, p in clf.module_.named_parameters()]
    assert shapes == [(2, 1, 5, 5), (2,), (20, 3), (3,), (3, 10), (10,)]


CNN_TABLE = r"The '{}' parameter of CNNClassifier must be {}\. Got {} instead"
POS_INT = r"an int in the range \[1, inf\)"


@pytest.mark.parametrize("kwargs, match", [
    ({"solver": "lbfgs"}, CNN_TABLE.format("solver", "a str among .*'sgd'.*", "'lbfgs'")),
    ({"conv_channels": (4, 0)}, r"CNNClassifier: conv_channels must be an int >= 1 or a "
                                r"non-empty sequence of them, got \(4, 0\)"),
    ({"hidden_layer_sizes": (-1,)}, "CNNClassifier: hidden_layer_sizes must be an int >= 1"),
    ({"hidden_layer_sizes": ()}, "CNNClassifier: hidden_layer_sizes must be an int >= 1"),
    ({"max_iter": 0}, CNN_TABLE.format("max_iter", POS_INT, "0")),
    ({"batch_size": 2.5}, CNN_TABLE.format("batch_size", POS_INT, "2.5")),
    ({"learning_rate_init": 0},
     CNN_TABLE.format("learning_rate_init", r"a float in the range \(0.0, inf\)", "0")),
    ({"kernel_size": 0}, CNN_TABLE.format("kernel_size", "an array-like or " + POS_INT, "0")),
    ({"kernel_size": (3, 0)}, "CNNClassifier: kernel_size must be an int >= 1 or a pair"),
    ({"early_stopping": True, "validation_fraction": 1.5},
     CNN_TABLE.format("validation_fraction", r"a float in the range \(0.0, 1.0\)", "1.5")),
    # issue 10 item 16: momentum is checked as MLPClassifier checks it
    ({"solver": "sgd", "momentum": 5},
     CNN_TABLE.format("momentum", r"a float in the range \[0.0, 1.0\]", "5")),
    ({"solver": "sgd", "momentum": -0.5},
     CNN_TABLE.format("momentum", r"a float in the range \[0.0, 1.0\]", "-0.5")),
    ({"random_state": "seed"}, "The 'random_state' parameter of CNNClassifier must be"),
])
def test_cnn_bad_params(digits, kwargs, match):
    X, y = digits
    with pytest.raises(ValueError, match=match):
        tiny_cnn(**kwargs).fit(X, y)


def test_cnn_partial_fit_validates_params_on_first_call(digits):
    X, y = digits
    with pytest.raises(ValueError, match=CNN_TABLE.format("momentum", ".*", "2")):
        tiny_cnn(solver="sgd", momentum=2).partial_fit(X, y, classes=np.arange(10))


# ---------------------------------------------------------------- issue 10 items 15-16
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_cnn_non_finite_weights_raise(digits):
    """Inputs scaled by 1e38 overflow the network: a ValueError, as MLPClassifier raises,
    instead of a NaN model predicting one class."""
    X, y = digits
    with pytest.raises(ValueError, match="CNNClassifier: training produced non-finite "
                                         "parameter weights"):
        tiny_cnn(max_iter=2).fit(X * np.float32(1e38), y)
    with pytest.raises(ValueError, match="non-finite parameter weights"):
        tiny_cnn().partial_fit(X * np.float32(1e38), y, classes=np.arange(10))


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_cnn_huge_learning_rate_warns(digits):
    X, y = digits
    with pytest.warns(ConvergenceWarning, match="CNNClassifier: the last epoch's training loss "
                      ".* is no better than predicting the class frequencies"):
        clf = tiny_cnn(max_iter=3, learning_rate_init=1e6).fit(X, y)
    assert clf.score(X, y) < 0.5  # the warning is deserved: the model learnt nothing


def test_cnn_healthy_fit_does_not_warn(digits):
    X, y = digits
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        tiny_cnn().fit(X, y)


@pytest.mark.parametrize("early_stopping", [True, False])
def test_cnn_interrupted_in_first_epoch_is_usable(digits, monkeypatch, early_stopping):
    """Ctrl-C during the first epoch (here: the second minibatch) leaves a usable model with an
    empty history, not KeyError: 'val_score'."""
    X, y = digits
    calls = []
    forward = nn.Flatten.forward

    def interrupt_second_batch(self, x):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return forward(self, x)

    monkeypatch.setattr(nn.Flatten, "forward", interrupt_second_batch)
    monkeypatch.setattr(nn.Flatten, "__call__", interrupt_second_batch)
    with pytest.warns(UserWarning, match="Training interrupted by user"):
        clf = tiny_cnn(early_stopping=early_stopping).fit(X, y)
    monkeypatch.undo()
    assert clf.n_iter_ == 0 and clf.loss_curve_ == []
    if early_stopping:
        assert clf.validation_scores_ == [] and clf.best_validation_score_ is None
    assert clf.predict(X).shape == y.shape and np.isin(clf.predict(X), clf.classes_).all()
    clf.partial_fit(X, y)  # and it can go on training
    assert clf.n_iter_ == 1


def test_cnn_bad_shapes(digits):
    X, y = digits
    with pytest.raises(ValueError, match="63 features is not a square number"):
        tiny_cnn().fit(X[:, :63], y)
    with pytest.raises(ValueError, match="features"):
        tiny_cnn(max_iter=1).fit(X, y).predict(X[:, :49])


@pytest.mark.filterwarnings("ignore")
def test_cnn_check_estimator():
    assert_passes_check_estimator(tiny_cnn(max_iter=10, conv_channels=(2,), hidden_layer_sizes=(8,),
                                           image_shape=(1, -1)))
