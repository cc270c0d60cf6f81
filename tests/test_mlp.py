"""MLPClassifier / MLPRegressor against scikit-learn 1.9's own, which they reproduce."""
import inspect
import pickle
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal
from sklearn import neural_network as sk
from sklearn.datasets import load_digits, make_regression
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.base import clone
from sklearn.model_selection import (GridSearchCV, cross_val_score, learning_curve,
                                     train_test_split, validation_curve)
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from tinygrad_nn import Tensor, nn
from tinygrad_nn.models.mlp import MLPClassifier, MLPRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

OURS_AND_SKLEARN = [(MLPClassifier, sk.MLPClassifier), (MLPRegressor, sk.MLPRegressor)]


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:400] / 16.0, y[:400]


@pytest.fixture(scope="module")
def regression():
    X, y = make_regression(n_samples=150, n_features=6, n_targets=2, noise=0.1, random_state=0)
    return X, y / 100.0


def leaky(x):  # module level, so models using it pickle
    return x.leaky_relu(0.01)


def assert_same_fit(ours, theirs, rtol=1e-6):
    """Same fitted state as scikit-learn's estimator, up to float rounding."""
    for name in ("n_iter_", "t_", "n_layers_", "n_outputs_", "out_activation_", "n_features_in_"):
        assert getattr(ours, name) == getattr(theirs, name), name
    assert_allclose(ours.loss_, theirs.loss_, rtol=rtol)
    for name in ("loss_curve_", "validation_scores_", "best_loss_", "best_validation_score_"):
        assert hasattr(ours, name) == hasattr(theirs, name), name
        if hasattr(theirs, name):
            mine, ref = getattr(ours, name), getattr(theirs, name)
            assert (mine is None) == (ref is None), name
            if ref is not None:
                assert_allclose(mine, ref, rtol=rtol, err_msg=name)
    for mine, ref in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_,
                         strict=True):
        assert mine.shape == ref.shape and mine.dtype == ref.dtype
        assert_allclose(mine, ref, rtol=rtol * 10, atol=rtol)


def fit_both(ours_cls, theirs_cls, X, y, sample_weight=None, **params):
    ours = ours_cls(**params).fit(X, y, sample_weight=sample_weight)
    theirs = theirs_cls(**params).fit(X, y, sample_weight=sample_weight)
    return ours, theirs


# ------------------------------------------------------------------------- the interface
@pytest.mark.parametrize("ours, theirs", OURS_AND_SKLEARN)
def test_parameters_and_defaults_are_sklearns(ours, theirs):
    mine = ours().get_params()
    assert mine.pop("progress") is False  # the one extra: a tqdm bar
    assert mine == theirs().get_params()
    names = list(inspect.signature(ours).parameters)
    assert names[:-1] == list(inspect.signature(theirs).parameters)
    assert ours().__sklearn_tags__() == theirs().__sklearn_tags__()


@parametrize_with_checks([MLPClassifier(max_iter=100), MLPRegressor(max_iter=100)])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


# ------------------------------------------------------------------------- same numbers as sklearn
CLASSIFIER_CASES = {
    "adam": dict(hidden_layer_sizes=(20,)),
    "adam-two-layers-l2": dict(hidden_layer_sizes=(12, 8), alpha=0.05, batch_size=64),
    "sgd-nesterov-invscaling": dict(solver="sgd", learning_rate="invscaling", learning_rate_init=0.2),
    "sgd-adaptive": dict(solver="sgd", learning_rate="adaptive", tol=0.05, n_iter_no_change=2,
                         momentum=0.5, nesterovs_momentum=False),
    "lbfgs-logistic": dict(solver="lbfgs", activation="logistic", alpha=1e-2),
    "identity-no-shuffle": dict(activation="identity", shuffle=False, batch_size=50),
}


@pytest.mark.parametrize("case", CLASSIFIER_CASES)
def test_classifier_reproduces_sklearn(digits, case):
    X, y = digits
    params = dict(hidden_layer_sizes=(16,), max_iter=15, random_state=0) | CLASSIFIER_CASES[case]
    ours, theirs = fit_both(MLPClassifier, sk.MLPClassifier, X, y, **params)
    assert_same_fit(ours, theirs)
    assert_array_equal(ours.predict(X), theirs.predict(X))
    assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), rtol=1e-5, atol=1e-9)


def test_binary_early_stopping_multilabel_and_weights_reproduce_sklearn(digits):
    X, y = digits
    params = dict(hidden_layer_sizes=(10,), max_iter=30, random_state=1, activation="tanh")
    binary = fit_both(MLPClassifier, sk.MLPClassifier, X, y % 2, early_stopping=True,
                      n_iter_no_change=3, **params)
    Y = np.c_[y % 2, y < 5, y % 3 == 0].astype(int)
    multilabel = fit_both(MLPClassifier, sk.MLPClassifier, X, Y, **params)
    weights = np.random.default_rng(0).uniform(0.2, 3.0, len(y))
    weighted = fit_both(MLPClassifier, sk.MLPClassifier, X, y, sample_weight=weights,
                        solver="sgd", **params)
    for ours, theirs in (binary, multilabel, weighted):
        assert_same_fit(ours, theirs)
        assert_array_equal(ours.predict(X), theirs.predict(X))
    ours = binary[0]
    assert ours.n_iter_ < 30 and ours.best_loss_ is None  # stopped early on the validation score
    assert multilabel[0].predict(X).shape == Y.shape and multilabel[0].out_activation_ == "logistic"


REGRESSOR_CASES = {
    "adam-two-outputs": dict(batch_size=32),
    "sgd-early-stopping-weights": dict(solver="sgd", early_stopping=True, learning_rate_init=0.01,
                                       n_iter_no_change=2),
    "lbfgs": dict(solver="lbfgs", alpha=1e-3),
    "poisson-lbfgs": dict(loss="poisson", solver="lbfgs"),
    "poisson-adam": dict(loss="poisson", learning_rate_init=0.01),
}


@pytest.mark.parametrize("case", REGRESSOR_CASES)
def test_regressor_reproduces_sklearn(regression, case):
    X, y = regression
    params = dict(hidden_layer_sizes=(16,), max_iter=20, random_state=0) | REGRESSOR_CASES[case]
    if params.get("loss") == "poisson":
        y = np.exp(y[:, 0] / 2)  # one non-negative output
    weights = np.linspace(0.5, 2.0, len(y)) if "weights" in case else None
    ours, theirs = fit_both(MLPRegressor, sk.MLPRegressor, X, y, sample_weight=weights, **params)
    assert_same_fit(ours, theirs)
    assert_allclose(ours.predict(X), theirs.predict(X), rtol=1e-6, atol=1e-9)
    assert ours.predict(X).shape == y.shape


KINDS = ("binary", "multiclass", "multilabel", "squared_error", "poisson")


@settings(max_examples=25)
@given(st.data())
def test_any_small_problem_gets_sklearns_sgd_weights(data):
    """Property: for small random problems, three SGD epochs give scikit-learn's weights."""
    kind = data.draw(st.sampled_from(KINDS), "kind")
    n = data.draw(st.integers(6, 30), "n_samples")
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16), "seed"))
    X = rng.standard_normal((n, data.draw(st.integers(1, 4), "n_features")))
    if kind in ("binary", "multiclass"):
        y = rng.integers(0, 2 if kind == "binary" else 4, n)
        y[:2] = [0, 1]  # at least two classes
    elif kind == "multilabel":
        y = rng.integers(0, 2, (n, 3))
    else:
        y = rng.uniform(0, 2, (n, 2)) if data.draw(st.booleans(), "two_outputs") else rng.uniform(0, 2, n)
    params = dict(
        hidden_layer_sizes=data.draw(st.lists(st.integers(1, 6), max_size=2), "hidden"),
        activation=data.draw(st.sampled_from(["identity", "logistic", "tanh", "relu"]), "act"),
        alpha=data.draw(st.sampled_from([0.0, 1e-4, 0.1]), "alpha"),
        batch_size=data.draw(st.integers(1, n), "batch_size"),
        solver="sgd", learning_rate_init=0.01, max_iter=3, random_state=0,
    )
    weights = rng.uniform(0.1, 3.0, n) if data.draw(st.booleans(), "weighted") else None
    if kind in ("squared_error", "poisson"):
        pair, params["loss"] = (MLPRegressor, sk.MLPRegressor), kind
    else:
        pair = (MLPClassifier, sk.MLPClassifier)
    try:
        theirs = pair[1](**params).fit(X, y, sample_weight=weights)
    except ValueError as error:  # e.g. exp outputs overflowing: then both give up alike
        with pytest.raises(ValueError, match=str(error)):
            pair[0](**params).fit(X, y, sample_weight=weights)
        return
    assert_same_fit(pair[0](**params).fit(X, y, sample_weight=weights), theirs, rtol=1e-7)


def test_float32_is_kept_and_matches_sklearn(digits):
    X, y = digits
    X32 = X.astype(np.float32)
    ours, theirs = fit_both(MLPClassifier, sk.MLPClassifier, X32, y, hidden_layer_sizes=(16,),
                            max_iter=10, random_state=0)
    assert all(a.dtype == np.float32 for a in ours.coefs_ + ours.intercepts_)
    assert ours.predict_proba(X32).dtype == np.float32
    assert ours.predict_proba(X).dtype == np.float32  # the network's dtype, whatever the input's
    assert_same_fit(ours, theirs, rtol=1e-4)
    reg = MLPRegressor(hidden_layer_sizes=(4,), max_iter=2).fit(X32, y.astype(np.float32))
    assert reg.predict(X32).dtype == np.float32
    assert MLPClassifier(max_iter=2).fit(X, y).coefs_[0].dtype == np.float64


def test_accuracy_on_digits_is_sklearns():
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X / 16, y, test_size=0.25, random_state=0)
    ours, theirs = fit_both(MLPClassifier, sk.MLPClassifier, X_train, y_train,
                            hidden_layer_sizes=(32,), max_iter=40, random_state=0)
    assert ours.score(X_test, y_test) > 0.9
    assert abs(ours.score(X_test, y_test) - theirs.score(X_test, y_test)) <= 0.01


# ------------------------------------------------------------------------- stopping and schedules
def test_stopping_rule_counts_strictly_more_than_n_iter_no_change(digits):
    X, y = digits
    # with tol=10 no epoch after the first improves enough: after epoch k the count is k - 1
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        clf = MLPClassifier(hidden_layer_sizes=(8,), tol=10, n_iter_no_change=3, max_iter=50,
                            random_state=0).fit(X, y)
    assert clf.n_iter_ == 3 + 2 and len(clf.loss_curve_) == 5
    assert clf.best_loss_ == min(clf.loss_curve_)
    assert clf.validation_scores_ is None and clf.best_validation_score_ is None
    never = MLPClassifier(hidden_layer_sizes=(8,), tol=10, n_iter_no_change=np.inf, max_iter=7,
                          random_state=0)
    with pytest.warns(ConvergenceWarning, match=r"Maximum iterations \(7\) reached"):
        never.fit(X, y)
    assert never.n_iter_ == 7
    with pytest.warns(ConvergenceWarning, match="lbfgs failed to converge"):
        MLPClassifier(hidden_layer_sizes=(8,), solver="lbfgs", max_iter=3).fit(X, y)


def test_adaptive_rate_divides_by_five_before_stopping(digits):
    X, y = digits
    ours, theirs = fit_both(MLPClassifier, sk.MLPClassifier, X, y, hidden_layer_sizes=(8,),
                            solver="sgd", learning_rate="adaptive", learning_rate_init=1e-5,
                            tol=10, n_iter_no_change=1, max_iter=100, random_state=0)
    # the count passes 1 after epoch 3, then every 2 epochs: the rate drops 1e-5 -> 2e-6 -> 4e-7,
    # and at 4e-7 <= 1e-6 the next trigger stops
    assert ours.n_iter_ == 3 + 2 + 2
    assert ours._optimizer.lr == pytest.approx(4e-7)
    assert_same_fit(ours, theirs)


@pytest.mark.parametrize("solver, learning_rate", [("adam", "constant"), ("sgd", "invscaling"),
                                                    ("sgd", "adaptive")])
def test_the_optimizer_is_configured_not_rewritten(digits, solver, learning_rate):
    """scikit-learn's epsilon placement and velocity are optimizer options: after a fit with rate
    changes the optimizer still holds the estimator's own hyperparameters, and the result is
    scikit-learn's."""
    X, y = digits
    ours, theirs = fit_both(MLPClassifier, sk.MLPClassifier, X, y, hidden_layer_sizes=(8,),
                            solver=solver, learning_rate=learning_rate, learning_rate_init=0.05,
                            tol=0.5, n_iter_no_change=2, max_iter=12, random_state=0)
    group = ours._optimizer.param_groups[0]
    if solver == "adam":
        assert group["eps"] == ours.epsilon and group["eps_placement"] == "raw"
    else:
        assert group["velocity"] == "step" and group["momentum"] == ours.momentum
    assert_same_fit(ours, theirs)


def test_early_stopping_restores_the_best_epoch(digits):
    X, y = digits
    params = dict(hidden_layer_sizes=(10,), early_stopping=True, n_iter_no_change=4,
                  learning_rate_init=0.05, random_state=3, max_iter=60)
    clf = MLPClassifier(**params).fit(X, y)
    best = int(np.argmax(clf.validation_scores_)) + 1  # first epoch reaching the best score
    assert clf.n_iter_ > best and clf.best_validation_score_ == max(clf.validation_scores_)
    assert clf.best_loss_ is None and len(clf.validation_scores_) == clf.n_iter_
    # training only up to that epoch ends with the same weights: the best ones were restored
    short = MLPClassifier(**params | dict(max_iter=best)).fit(X, y)
    for restored, at_best in zip(clf.coefs_ + clf.intercepts_, short.coefs_ + short.intercepts_):
        assert_array_equal(restored, at_best)


def test_early_stopping_split_is_stratified_by_class():
    # 3 classes of 20: a stratified 15% split holds exactly 3 of each
    X = np.repeat(np.eye(3), 20, axis=0) + np.random.default_rng(0).normal(0, 0.1, (60, 3))
    y = np.repeat([0, 1, 2], 20)
    clf = MLPClassifier(hidden_layer_sizes=(4,), early_stopping=True, validation_fraction=0.15,
                        max_iter=1, random_state=0)
    clf.fit(X, y)
    train, val = clf._validation_split(clf._label_binarizer.transform(y).astype(bool))
    assert_array_equal(np.bincount(y[val]), [3, 3, 3])
    # a class too rare to stratify on: train_test_split's error, as scikit-learn raises it
    with pytest.raises(ValueError, match=r"The least populated classes in y have only 1 member"
                                         r".*Classes with too few members are: \[3\]"):
        MLPClassifier(hidden_layer_sizes=(4,), early_stopping=True, max_iter=2).fit(
            X, np.r_[y[:-1], 3])


# ------------------------------------------------------------------------- warm start, partial_fit
def test_warm_start_and_partial_fit_continue_like_sklearn(digits):
    X, y = digits
    params = dict(hidden_layer_sizes=(12,), max_iter=4, random_state=0)
    ours, theirs = MLPClassifier(warm_start=True, **params), sk.MLPClassifier(warm_start=True, **params)
    for _ in range(2):
        ours.fit(X, y)
        theirs.fit(X, y)
    assert len(ours.loss_curve_) == 8 and ours.t_ == 8 * len(X) and ours.n_iter_ == 4
    assert_same_fit(ours, theirs)
    ours, theirs = MLPClassifier(**params), sk.MLPClassifier(**params)
    for start in (0, 200, 0):
        batch = slice(start, start + 200)
        ours.partial_fit(X[batch], y[batch], classes=np.arange(10))
        theirs.partial_fit(X[batch], y[batch], classes=np.arange(10))
    assert ours.n_iter_ == 1 and len(ours.loss_curve_) == 3 and ours.t_ == 600
    assert_same_fit(ours, theirs)
    # a fit without warm_start starts afresh
    fresh = MLPClassifier(**params).fit(X, y)
    assert_same_fit(ours.fit(X, y), fresh)
    # switching solver or early stopping on a warm start begins a fresh history
    switch = MLPClassifier(solver="lbfgs", warm_start=True, **params).fit(X, y)
    assert not hasattr(switch, "loss_curve_") and switch.t_ == 0
    assert len(switch.set_params(solver="adam").fit(X, y).loss_curve_) == 4
    switch.set_params(early_stopping=True).fit(X, y)
    assert len(switch.validation_scores_) == len(switch.loss_curve_) == 4


def test_partial_fit_needs_classes_and_a_stochastic_solver(digits):
    X, y = digits
    clf = MLPClassifier(hidden_layer_sizes=(4,))
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        clf.partial_fit(X, y)
    clf.partial_fit(X[y < 5], y[y < 5], classes=np.arange(10))  # classes not all in y: fine
    assert_array_equal(clf.classes_, np.arange(10))
    assert clf.predict_proba(X).shape == (400, 10)
    with pytest.raises(ValueError, match="`y` has classes not in `self.classes_`"):
        clf.partial_fit(X, y + 1)
    with pytest.raises(ValueError, match="partial_fit does not support early_stopping=True"):
        MLPClassifier(early_stopping=True).partial_fit(X, y, classes=np.arange(10))
    for est in (MLPClassifier(solver="lbfgs"), MLPRegressor(solver="lbfgs")):
        assert not hasattr(est, "partial_fit")
        with pytest.raises(AttributeError, match="has no attribute 'partial_fit'"):
            est.partial_fit(X, y)
    with pytest.raises(ValueError, match="warm_start can only be used where `y` has the same"):
        MLPClassifier(warm_start=True, max_iter=2).fit(X, y).fit(X, y % 3)


# ------------------------------------------------------------------------- targets and weights
def test_lbfgs_sample_weight_equals_repeated_rows(digits, regression):
    X, y = digits
    counts = np.random.default_rng(0).integers(0, 4, len(y))
    for est, (Xs, ys) in ((MLPClassifier, (X, y)), (MLPRegressor, regression)):
        params = dict(hidden_layer_sizes=(8,), solver="lbfgs", max_iter=25, random_state=0)
        weighted = est(**params).fit(Xs, ys, sample_weight=counts[:len(ys)])
        repeated = est(**params).fit(np.repeat(Xs, counts[:len(ys)], axis=0),
                                     np.repeat(ys, counts[:len(ys)], axis=0))
        method = "predict_proba" if est is MLPClassifier else "predict"
        assert_allclose(getattr(weighted, method)(Xs), getattr(repeated, method)(Xs),
                        rtol=1e-5, atol=1e-8)


def test_string_labels_and_probabilities(digits):
    X, y = digits
    names = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight",
                      "nine"])[y]
    clf = MLPClassifier(hidden_layer_sizes=(16,), max_iter=30, early_stopping=True,
                        learning_rate_init=0.01, random_state=0).fit(X, names)
    assert_array_equal(clf.classes_, np.unique(names))
    assert set(clf.predict(X)) <= set(names) and clf.score(X, names) > 0.8
    proba = clf.predict_proba(X)
    assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    assert_allclose(clf.predict_log_proba(X), np.log(proba))
    binary = MLPClassifier(hidden_layer_sizes=(4,), max_iter=5).fit(X, names == "one")
    assert binary.predict_proba(X).shape == (400, 2) and binary.n_outputs_ == 1


# ------------------------------------------------------------------------- beyond sklearn
@pytest.mark.parametrize("name, fn", [("leaky_relu", leaky), ("elu", lambda x: x.elu(1.0)),
                                      ("softplus", lambda x: x.softplus()),
                                      ("tanh", lambda x: x.tanh())])
def test_named_activation_equals_the_same_callable(digits, name, fn):
    X, y = digits
    params = dict(hidden_layer_sizes=(8, 8), max_iter=5, random_state=0)
    by_name = MLPClassifier(activation=name, **params).fit(X, y)
    by_callable = MLPClassifier(activation=fn, **params).fit(X, y)
    assert isinstance(by_callable.module_[1], nn.Lambda)
    assert_allclose(by_name.loss_curve_, by_callable.loss_curve_, rtol=1e-12)
    assert by_name.loss_curve_[-1] < by_name.loss_curve_[0]


def test_module_is_the_trained_network_and_pickles(digits):
    X, y = digits
    clf = MLPClassifier(hidden_layer_sizes=(8,), activation=leaky, max_iter=3, random_state=0)
    clf.partial_fit(X, y, classes=np.arange(10))
    assert isinstance(clf.module_, nn.Sequential) and len(clf.module_) == 3
    logits = clf.module_(Tensor(X)).numpy()
    proba = np.exp(logits - logits.max(axis=1, keepdims=True))
    assert_allclose(proba / proba.sum(axis=1, keepdims=True), clf.predict_proba(X), rtol=1e-12)
    assert clf.coefs_[0] is clf.module_[0].weight.data  # views, not copies
    copy = pickle.loads(pickle.dumps(clf))
    assert_array_equal(copy.predict_proba(X), clf.predict_proba(X))
    # the optimizer's state travels along: partial_fit goes on identically
    assert_array_equal(copy.partial_fit(X, y).coefs_[0], clf.partial_fit(X, y).coefs_[0])


def test_verbose_prints_each_iteration_and_progress_shows_a_bar(digits, capsys):
    X, y = digits
    MLPClassifier(hidden_layer_sizes=(4,), max_iter=3, verbose=True, tol=10,
                  n_iter_no_change=1).fit(X, y)
    out = capsys.readouterr().out
    assert "Iteration 1, loss = " in out and "Iteration 3, loss = " in out
    assert "Training loss did not improve more than tol=10.000000 for 1 consecutive epochs. " \
           "Stopping." in out
    MLPClassifier(hidden_layer_sizes=(4,), max_iter=2, early_stopping=True, verbose=True).fit(X, y)
    assert "Validation score: " in capsys.readouterr().out
    MLPRegressor(hidden_layer_sizes=(4,), max_iter=2, progress=True).fit(X, y)
    assert "MLPRegressor" in capsys.readouterr().err


def test_keyboard_interrupt_keeps_the_epochs_done(digits):
    X, y = digits
    calls = [0]

    def interrupting(x):  # 2 batches per epoch: interrupts in the middle of the third epoch
        calls[0] += 1
        if calls[0] == 6:
            raise KeyboardInterrupt
        return x.relu()

    clf = MLPClassifier(hidden_layer_sizes=(4,), batch_size=200, activation=interrupting,
                        max_iter=10)
    with pytest.warns(UserWarning, match="Training interrupted by user"):
        clf.fit(X, y)
    assert clf.n_iter_ == 2 and len(clf.loss_curve_) == 2
    assert clf.predict(X).shape == y.shape


# ------------------------------------------------------------------------- bad input
def test_bad_input_raises_what_sklearn_raises(digits):
    X, y = digits
    bad = X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        MLPClassifier().fit(bad, y)
    bad[0, 0] = np.inf
    with pytest.raises(ValueError, match="Input X contains infinity"):
        MLPRegressor().fit(bad, y)
    clf = MLPClassifier(hidden_layer_sizes=(4,), max_iter=2).fit(X, y)
    with pytest.raises(ValueError, match="X has 63 features, but MLPClassifier is expecting 64"):
        clf.predict(X[:, 1:])
    with pytest.raises(NotFittedError):
        MLPRegressor().predict(X)
    with pytest.raises(ValueError, match="'activation' parameter .* among .*'leaky_relu'.* or a "
                                         "callable. Got 'swish' instead"):
        MLPClassifier(activation="swish").fit(X, y)
    with pytest.raises(ValueError, match="'solver' parameter .* among .*'lbfgs'"):
        MLPRegressor(solver="newton").fit(X, y)
    with pytest.raises(ValueError, match="hidden_layer_sizes must be > 0, got \\[4, 0\\]"):
        MLPClassifier(hidden_layer_sizes=(4, 0)).fit(X, y)
    with pytest.raises(ValueError, match="The test_size = 1 should be greater or equal to the "
                                         "number of classes = 2"):  # train_test_split's words
        MLPClassifier(early_stopping=True).fit(X[:8], y[:8] % 2)
    with pytest.raises(ValueError, match="The validation set is too small"):
        MLPRegressor(early_stopping=True).fit(X[:8], y[:8] % 2)
    with pytest.raises(ValueError, match="loss='poisson' requires non-negative targets"):
        MLPRegressor(loss="poisson").fit(X, y - 1.0)
    with pytest.warns(UserWarning, match="It is going to be clipped"):
        MLPClassifier(hidden_layer_sizes=(4,), batch_size=1000, max_iter=1).fit(X, y)


def test_divergence_ends_cleanly_or_with_sklearns_error(digits):
    X, y = digits
    # the chapter's learning_rate_init=1: no crash, the network just learns nothing, as sklearn
    ours, theirs = fit_both(MLPClassifier, sk.MLPClassifier, X, y, learning_rate_init=1.0,
                            hidden_layer_sizes=(32,), max_iter=10, random_state=0)
    assert ours.score(X, y) < 0.3 and ours.score(X, y) == theirs.score(X, y)
    Xr, yr = make_regression(n_samples=100, n_features=5, random_state=0)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.raises(ValueError, match="Solver produced non-finite parameter weights"):
            MLPRegressor(solver="sgd", learning_rate_init=1.0, max_iter=10,
                         random_state=0).fit(Xr, yr * 1e3)


# ------------------------------------------------------------------------- in sklearn's tools
@pytest.mark.parametrize("est, data", [(MLPClassifier, "digits"), (MLPRegressor, "regression")])
def test_pipeline_grid_search_and_curves(request, est, data):
    X, y = request.getfixturevalue(data)
    pipe = make_pipeline(StandardScaler(), est(hidden_layer_sizes=(16,), max_iter=40,
                                               learning_rate_init=0.01, random_state=0))
    name = type(pipe[-1]).__name__.lower()
    search = GridSearchCV(pipe, {f"{name}__alpha": [1e-4, 1.0]}, cv=2, n_jobs=2).fit(X, y)
    assert search.best_score_ > 0.8 and len(search.cv_results_["params"]) == 2
    sizes, train, test = learning_curve(pipe, X, y, cv=2, train_sizes=[0.5, 1.0])
    assert train.shape == test.shape == (2, 2) and np.all(test > 0.5)
    train, test = validation_curve(pipe, X, y, param_name=f"{name}__alpha",
                                   param_range=[1e-4, 1.0], cv=2)
    assert test.shape == (2, 2)
    for scores, alpha in zip(test, [1e-4, 1.0]):  # each row: that alpha's own 2-fold scores
        model = clone(pipe).set_params(**{f"{name}__alpha": alpha})
        assert_allclose(scores, cross_val_score(model, X, y, cv=2), rtol=1e-12)
    assert test.mean(axis=1).max() > 0.8
