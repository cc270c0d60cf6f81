"""Random-feature layers (models/random_features.py): the feature map against numpy/scipy/sklearn
references, stacking, the fixes over nnetsauce, bad input, and scikit-learn compatibility."""
import itertools
import math
import pickle
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal
from scipy.stats import qmc
from sklearn.base import clone
from sklearn.cluster import KMeans
from sklearn.datasets import load_digits, make_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression, RidgeClassifier
from sklearn.mixture import GaussianMixture
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MaxAbsScaler, MinMaxScaler, RobustScaler, StandardScaler
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor
from sklearn.utils.estimator_checks import parametrize_with_checks

from tinygrad_nn.models import (CustomClassifier, CustomRegressor, DeepClassifier,
                                DeepRegressor)


class Recorder:
    """Stand-in for ``obj``: remembers what it was fitted on and echoes its input from predict,
    so a CustomRegressor's ``predict(X) - y_mean_`` is exactly the features ``obj`` receives."""

    fits = 0  # class-wide count of fit calls

    def get_params(self, deep=True):
        return {}

    def set_params(self, **params):
        return self

    def fit(self, X, y):
        Recorder.fits += 1
        self.X_, self.y_ = X.copy(), np.asarray(y).copy()
        return self

    def predict(self, X):
        return X


def fed(est, X):
    """The features a fitted CustomRegressor(Recorder()) hands its Recorder for rows X."""
    return est.predict(X) - est.y_mean_


def data(n=40, p=5, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p)).astype(dtype)
    return X, X[:, 0] * 2 + rng.normal(size=n)


NUMPY_ACTIVATIONS = {
    "relu": lambda x, a: np.maximum(x, 0),
    "tanh": lambda x, a: np.tanh(x),
    "sigmoid": lambda x, a: 1 / (1 + np.exp(-x)),
    "prelu": lambda x, a: np.where(x > 0, x, a * x),
    "elu": lambda x, a: np.where(x > 0, x, a * np.expm1(x)),
}


# ------------------------------------------------------------------ scikit-learn's own checks
@parametrize_with_checks([
    CustomClassifier(DecisionTreeClassifier(random_state=0)),
    CustomRegressor(DecisionTreeRegressor(random_state=0)),
    DeepClassifier(DecisionTreeClassifier(random_state=0), n_layers=2),
    DeepRegressor(DecisionTreeRegressor(random_state=0), n_layers=2),
])
def test_sklearn_check_estimator(estimator, check):
    check(estimator)


# ------------------------------------------------------------------ the feature map
@settings(max_examples=25)
@given(activation=st.sampled_from(sorted(NUMPY_ACTIVATIONS)), bias=st.booleans(),
       direct_link=st.booleans(), a=st.floats(0.01, 2.0), seed=st.integers(0, 2**16),
       dropout=st.sampled_from([0, 0.3]))
def test_features_match_numpy_reference(activation, bias, direct_link, a, seed, dropout):
    X, y = data(seed=seed)
    est = CustomRegressor(Recorder(), n_hidden_features=4, activation_name=activation, a=a,
                          bias=bias, direct_link=direct_link, n_clusters=0, nodes_sim="uniform",
                          dropout=dropout, type_scaling=("minmax", "std", "std"), seed=seed)
    est.fit(X, y)
    S = StandardScaler().fit_transform(X)
    if bias:
        S = np.hstack([np.ones((len(S), 1)), S])
    W = np.random.RandomState(seed).random_sample((X.shape[1] + bias, 4))
    assert_array_equal(est.W_, W)
    H = NUMPY_ACTIVATIONS[activation](S @ W, a)
    keep = np.random.RandomState(seed).random_sample(H.shape) > dropout
    H_fit = H * keep / (1 - dropout)  # inverted dropout at fit time only

    def final(h):
        return np.hstack([X, h]) if direct_link else h

    final_scaler = MinMaxScaler().fit(final(H_fit))
    assert_allclose(est.estimator_.X_, final_scaler.transform(final(H_fit)), atol=1e-12)
    assert_allclose(est.estimator_.y_, y - y.mean(), atol=1e-12)
    assert_allclose(fed(est, X), final_scaler.transform(final(H)), atol=1e-12)


def low_discrepancy(engine, d, n):
    """scipy's unscrambled sequence without its all-zero first point, as (d, n) nodes."""
    ref = engine(d, scramble=False)
    ref.fast_forward(1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # Sobol: n not a power of two
        return ref.random(n).T


@pytest.mark.parametrize("n_in,n", [(1, 3), (4, 5), (7, 8)])
def test_nodes_match_scipy_and_numpy(n_in, n):
    X, y = data(p=n_in)
    nodes = {}
    for sim in ("sobol", "halton", "hammersley", "uniform"):
        est = CustomRegressor(Recorder(), n_hidden_features=n, nodes_sim=sim, n_clusters=0)
        nodes[sim] = est.fit(X, y).W_
        assert nodes[sim].shape == (n_in + 1, n)  # bias row first
    assert_array_equal(nodes["sobol"], low_discrepancy(qmc.Sobol, n_in + 1, n))
    assert_array_equal(nodes["halton"], low_discrepancy(qmc.Halton, n_in + 1, n))
    assert_allclose(nodes["hammersley"][0], np.arange(1, n + 1) / (n + 1))
    assert_array_equal(nodes["hammersley"][1:], low_discrepancy(qmc.Halton, n_in, n))
    assert_array_equal(nodes["uniform"], np.random.RandomState(123).random_sample((n_in + 1, n)))


@pytest.mark.parametrize("type_clust", ["kmeans", "gmm"])
@pytest.mark.parametrize("cluster_encode", [True, False])
def test_cluster_features_match_sklearn(type_clust, cluster_encode):
    X, y = data(n=60, p=3)
    X[:30] += 4  # two clear groups
    est = CustomRegressor(Recorder(), n_hidden_features=0, n_clusters=3, type_clust=type_clust,
                          cluster_encode=cluster_encode, type_scaling=("std", "std", "minmax"),
                          seed=7).fit(X, y)
    scaled = MinMaxScaler().fit_transform(X)
    if type_clust == "kmeans":
        labels = KMeans(n_clusters=3, random_state=7, n_init=10).fit(scaled).labels_
    else:
        labels = GaussianMixture(n_components=3, random_state=7).fit(scaled).predict(scaled)
    codes = np.eye(3)[labels] if cluster_encode else labels[:, None].astype(float)
    Z = np.hstack([X, codes])
    assert_allclose(est.estimator_.X_, StandardScaler().fit_transform(Z), atol=1e-12)
    assert_allclose(fed(est, X), est.estimator_.X_, atol=1e-12)


SKLEARN_SCALERS = {"std": StandardScaler, "minmax": MinMaxScaler, "robust": RobustScaler,
                   "maxabs": MaxAbsScaler}


@pytest.mark.parametrize("type_scaling", list(itertools.permutations(SKLEARN_SCALERS, 3)),
                         ids="-".join)
def test_each_type_scaling_slot_scales_its_own_step(type_scaling):
    """Clustering and hidden layer both on, three different scalers: slot 2 scales what the
    clustering sees, slot 1 what the hidden layer sees, slot 0 what ``obj`` sees. A model
    that used one slot's scaler for another step differs from this reference."""
    obj_scaler, hidden_scaler, cluster_scaler = (SKLEARN_SCALERS[name] for name in type_scaling)
    X, y = data(n=50, p=4, seed=3)
    X[:25] += 3  # two clear groups
    X[:, 1] = 10 * X[:, 1] + 5  # columns on different scales, so the scalers disagree
    est = CustomRegressor(Recorder(), n_hidden_features=4, activation_name="tanh", bias=True,
                          direct_link=True, n_clusters=2, nodes_sim="uniform",
                          type_scaling=type_scaling, seed=11).fit(X, y)
    clustered = cluster_scaler().fit_transform(X)
    labels = KMeans(n_clusters=2, random_state=11, n_init=10).fit(clustered).predict(clustered)
    X_c = np.hstack([X, np.eye(2)[labels]])
    S = np.hstack([np.ones((len(X), 1)), hidden_scaler().fit_transform(X_c)])
    W = np.random.RandomState(11).random_sample((X_c.shape[1] + 1, 4))
    Z = np.hstack([X_c, np.tanh(S @ W)])
    expected = obj_scaler().fit_transform(Z)
    assert_allclose(est.estimator_.X_, expected, atol=1e-12)
    assert_allclose(fed(est, X), expected, atol=1e-12)


def test_col_sample_picks_seeded_columns():
    X, y = data(p=10)
    est = CustomRegressor(Recorder(), col_sample=0.35, n_hidden_features=3, n_clusters=2,
                          seed=5).fit(X, y)
    expected = np.sort(np.random.RandomState(5).choice(10, math.ceil(3.5), replace=False))
    assert_array_equal(est.index_col_, expected)
    assert est.W_.shape == (4 + 2 + 1, 3)  # columns kept + cluster indicators + bias
    assert est.estimator_.X_.shape[1] == 4 + 2 + 3
    assert est.n_features_in_ == 10


def test_row_sample_is_stratified_for_classifiers():
    X, _ = data(n=90)
    y = np.repeat([0, 1, 2], [60, 20, 10])
    sub = CustomClassifier(Recorder(), row_sample=0.5, seed=3).fit(X, y)
    full = CustomClassifier(Recorder(), seed=3).fit(X, y)
    assert_array_equal(np.bincount(sub.estimator_.y_), [30, 10, 5])
    assert_array_equal(sub.estimator_.X_, full.estimator_.X_[sub.index_row_])
    assert_array_equal(sub.estimator_.y_, y[sub.index_row_])
    reg = CustomRegressor(Recorder(), row_sample=0.3, seed=3).fit(X, X[:, 0])
    assert len(reg.estimator_.y_) == 27 and len(np.unique(reg.index_row_)) == 27


def test_float32_is_kept_float64_by_default():
    X, y = data(dtype=np.float32)
    est = CustomRegressor(Recorder(), nodes_sim="uniform").fit(X, y)
    assert est.estimator_.X_.dtype == np.float32 and est.W_.dtype == np.float32
    est.fit(X.astype(np.int64), y)
    assert est.estimator_.X_.dtype == np.float64


# ------------------------------------------------------------------ the fixes over nnetsauce
@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return train_test_split(X, y, test_size=0.2, random_state=123)


def test_wrapped_estimator_is_cloned_never_mutated(digits):
    X_train, X_test, y_train, _ = digits
    layer1 = RandomForestClassifier(n_estimators=5, random_state=0).fit(X_train, y_train)
    p1 = layer1.predict_proba(X_test)
    layer2 = CustomClassifier(layer1, nodes_sim="uniform").fit(X_train, y_train)
    p2 = layer2.predict_proba(X_test)
    layer3 = CustomClassifier(layer2, n_hidden_features=10, dropout=0.7).fit(X_train, y_train)
    assert layer3.estimator_ is not layer2 and layer2.estimator_ is not layer1
    assert layer1.n_features_in_ == 64  # still the raw-feature forest
    assert_array_equal(layer1.predict_proba(X_test), p1)
    assert_array_equal(layer2.predict_proba(X_test), p2)
    assert layer3.estimator_.n_features_in_ == 64 + 2 + 10


def test_dropout_only_at_fit_so_predictions_are_row_independent():
    X, y = data(n=50)
    est = CustomRegressor(Recorder(), n_hidden_features=6, activation_name="sigmoid",
                          dropout=0.5, type_scaling=("maxabs", "std", "std"), seed=1).fit(X, y)
    full = fed(est, X)
    assert_allclose(fed(est, X[:7]), full[:7], rtol=1e-13, atol=1e-15)  # BLAS may round a row differently per batch size
    assert_allclose(fed(est, X[::-1]), full[::-1], rtol=1e-13, atol=1e-15)  # BLAS may round a row differently per batch size
    hidden_fit = est.scaler_.inverse_transform(est.estimator_.X_)[:, -6:]
    hidden_predict = est.scaler_.inverse_transform(full)[:, -6:]
    dropped = hidden_fit == 0
    assert 0.3 < dropped.mean() < 0.7 and not np.any(hidden_predict == 0)
    assert_allclose(hidden_fit[~dropped], hidden_predict[~dropped] / 0.5)


@pytest.mark.parametrize("n_clusters", [0, 2])
@pytest.mark.parametrize("direct_link", [True, False])
def test_same_scaling_at_fit_and_predict(n_clusters, direct_link):
    X, y = data(n=30)
    est = CustomRegressor(Recorder(), n_clusters=n_clusters, direct_link=direct_link,
                          type_scaling=("robust", "minmax", "maxabs")).fit(X, y)
    assert_allclose(fed(est, X), est.estimator_.X_, rtol=1e-12, atol=1e-12)


def test_second_fit_starts_from_scratch():
    (Xa, ya), (Xb, yb) = data(seed=1), data(n=30, seed=2)
    Xb = Xb * 10 + 3
    twice = CustomClassifier(DecisionTreeClassifier(random_state=0), col_sample=0.8,
                             row_sample=0.9, dropout=0.2)
    fresh = clone(twice).fit(Xb, yb > 0)
    twice.fit(Xa, ya > 0).fit(Xb, yb > 0)
    assert_array_equal(twice.predict_proba(Xb), fresh.predict_proba(Xb))
    assert_array_equal(twice.W_, fresh.W_)


def test_init_only_stores_parameters():
    obj = object()
    est = CustomClassifier(obj, nodes_sim="nope", dropout=5, type_scaling="x")
    assert vars(est) == est.get_params(deep=False)
    assert est.get_params()["obj"] is obj


# ------------------------------------------------------------------ stacking
def test_deep_equals_nested_layers_and_fits_each_estimator_once():
    X, y = make_classification(n_samples=80, n_features=6, n_informative=4, n_classes=3,
                               random_state=0)
    params = dict(n_hidden_features=4, nodes_sim="halton", dropout=0.2, seed=9)
    deep = DeepClassifier(DecisionTreeClassifier(random_state=0), n_layers=3, **params)
    nested = DecisionTreeClassifier(random_state=0)
    for _ in range(3):
        nested = CustomClassifier(nested, **params)
    assert_array_equal(deep.fit(X, y).predict_proba(X), nested.fit(X, y).predict_proba(X))
    assert isinstance(deep.estimator_.estimator_.estimator_, DecisionTreeClassifier)

    Recorder.fits = 0
    DeepRegressor(Recorder(), n_layers=4).fit(X, y.astype(float))
    assert Recorder.fits == 1
    one = DeepRegressor(LinearRegression(), n_layers=1, **params).fit(X, y)
    assert_array_equal(one.predict(X), CustomRegressor(LinearRegression(), **params)
                       .fit(X, y).predict(X))


def test_same_seed_same_bits_other_seed_other_nodes(digits):
    X_train, X_test, y_train, _ = digits
    est = CustomClassifier(CustomClassifier(RandomForestClassifier(n_estimators=3,
                                                                   random_state=0)),
                           dropout=0.3, nodes_sim="uniform", col_sample=0.9, row_sample=0.8)
    p = clone(est).fit(X_train, y_train).predict_proba(X_test)
    assert_array_equal(clone(est).fit(X_train, y_train).predict_proba(X_test), p)
    other = clone(est).set_params(seed=124).fit(X_train, y_train)
    assert not np.array_equal(other.W_, clone(est).fit(X_train, y_train).W_)


def test_predict_proba_only_when_obj_has_it():
    assert not hasattr(CustomClassifier(CustomClassifier(RidgeClassifier())), "predict_proba")
    assert hasattr(CustomClassifier(CustomClassifier(DecisionTreeClassifier())), "predict_proba")


def test_seed_experiment_on_digits(load_example):
    """Seed 01 published 93.88%, 93.05%, 94.17%; the forest (layer 1) matches it exactly.

    Layers 2 and 3 are one draw each of a noisy figure, so only floors are pinned, taken from
    the spread over seeds rather than from this run's output: with the random-feature layers'
    ``seed`` set to 0..19 (same split and forest), layer 2 scored 91.9%-95.3% (mean 94.0%,
    std 0.9 points) and layer 3 91.9%-95.0% (mean 93.4%, std 0.9 points). Each floor is that
    mean minus three standard deviations, rounded down: 0.91 and 0.90."""
    layers = load_example("stacked_random_features")["build_layers"]()
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=123)
    acc = [layer.fit(X_train, y_train).score(X_test, y_test) for layer in layers]
    assert acc[0] == pytest.approx(0.9389, abs=1e-4)  # the seed's forest, exactly
    assert acc[1] >= 0.91 and acc[2] >= 0.90, acc


# ------------------------------------------------------------------ scikit-learn plumbing
def test_pickle_pipeline_and_grid_search():
    X, y = make_classification(n_samples=80, n_features=5, random_state=1)
    est = CustomClassifier(CustomClassifier(DecisionTreeClassifier(random_state=0)))
    pipe = make_pipeline(StandardScaler(), est).fit(X, y)
    again = pickle.loads(pickle.dumps(pipe))
    assert_array_equal(again.predict_proba(X), pipe.predict_proba(X))
    grid = GridSearchCV(est, {"n_hidden_features": [2, 6], "obj__obj__max_depth": [2, None]},
                        cv=2, n_jobs=2).fit(X, y)
    # the parallel search's scores are each candidate's own (serial, from scratch), and the
    # best is the best of those
    serial = [cross_val_score(clone(est).set_params(**params), X, y, cv=2).mean()
              for params in grid.cv_results_["params"]]
    assert_allclose(grid.cv_results_["mean_test_score"], serial, rtol=1e-12)
    assert grid.best_params_ == grid.cv_results_["params"][int(np.argmax(serial))]
    assert grid.score(X, y) > 0.8


# ------------------------------------------------------------------ bad input
# One constraints table per family (scikit-learn's parameter validation) gives every bad value
# the same message shape, naming the parameter, the estimator, the valid values and the value.
TABLE = r"The '{}' parameter of (Custom|Deep)(Classifier|Regressor) must be {}\. Got {} instead"
HALF_OPEN, OPEN_CLOSED = r"a float in the range \[0.0, 1.0\)", r"a float in the range \(0.0, 1.0\]"


@pytest.mark.parametrize("params,error,match", [
    (dict(nodes_sim="random"), ValueError,
     TABLE.format("nodes_sim", "a str among .*'sobol'.*", "'random'")),
    (dict(activation_name="gelu"), ValueError,
     TABLE.format("activation_name", "a str among .*'prelu'.*", "'gelu'")),
    (dict(type_clust="dbscan"), ValueError,
     TABLE.format("type_clust", "a str among .*'gmm'.*", "'dbscan'")),
    (dict(type_scaling=("std", "l2", "std")), ValueError,
     "Custom(Classifier|Regressor): each type_scaling entry must be one of 'std', 'minmax', "
     "'robust', 'maxabs', got 'l2'"),
    (dict(type_scaling=("std", "std")), ValueError, "sequence of 3 scaling names"),
    (dict(type_scaling="std"), ValueError,
     TABLE.format("type_scaling", "an instance of 'tuple' or an instance of 'list'", "'std'")),
    (dict(dropout=1), ValueError, TABLE.format("dropout", HALF_OPEN, "1")),
    (dict(dropout=-0.1), ValueError, TABLE.format("dropout", HALF_OPEN, "-0.1")),
    (dict(col_sample=0), ValueError, TABLE.format("col_sample", OPEN_CLOSED, "0")),
    (dict(row_sample=1.5), ValueError, TABLE.format("row_sample", OPEN_CLOSED, "1.5")),
    (dict(n_hidden_features=-1), ValueError,
     TABLE.format("n_hidden_features", r"an int in the range \[0, inf\)", "-1")),
    (dict(n_clusters=2.5), ValueError,
     TABLE.format("n_clusters", r"an int in the range \[0, inf\)", "2.5")),
    (dict(seed=-1), ValueError, TABLE.format("seed", "an int in the range .*", "-1")),
    (dict(n_clusters=11), ValueError, r"n_clusters=11 is more than the number of samples "
                                      r"\(n_samples=10\)"),
    (dict(n_hidden_features=0, direct_link=False), ValueError, "leaves no features"),
    (dict(obj=object()), TypeError,
     TABLE.format("obj", "an object implementing 'fit'", "<object object at .*>")),
])
@pytest.mark.parametrize("cls", [CustomClassifier, CustomRegressor])
def test_bad_parameters_raise_clear_errors(cls, params, error, match):
    X, y = data(n=10)
    obj = DecisionTreeClassifier() if cls is CustomClassifier else DecisionTreeRegressor()
    params = {"obj": obj, **params}
    with pytest.raises(error, match=match):
        cls(**params).fit(X, y > 0)


def test_bad_n_layers():
    X, y = data(n=10)
    with pytest.raises(ValueError, match=TABLE.format("n_layers", r"an int in the range "
                                                      r"\[1, inf\)", "0")):
        DeepClassifier(DecisionTreeClassifier(), n_layers=0).fit(X, y > 0)


@pytest.mark.parametrize("cls, obj, match", [
    (CustomClassifier, LinearRegression(), "CustomClassifier: obj must be a classifier .* got "
                                           r"the regressor LinearRegression\(\)"),
    (DeepClassifier, DecisionTreeRegressor(), "DeepClassifier: obj must be a classifier"),
    (CustomRegressor, LogisticRegression(), "CustomRegressor: obj must be a regressor .* got "
                                            r"the classifier LogisticRegression\(\)"),
    (DeepRegressor, DecisionTreeClassifier(), "DeepRegressor: obj must be a regressor"),
    (CustomClassifier, CustomRegressor(LinearRegression()), "obj must be a classifier"),
])
def test_obj_of_the_wrong_kind_is_named(cls, obj, match):
    """Issue 10 item 17: a regressor under a classifier (or the reverse) fails at fit with a
    message naming both kinds, not deep inside obj.fit or with silently meaningless output."""
    X, y = data(n=30)
    with pytest.raises(ValueError, match=match):
        cls(obj).fit(X, y > 0)
