"""scikit-learn's own MLP test suite, run against our MLPClassifier and MLPRegressor.

The installed scikit-learn's ``sklearn/neural_network/tests/test_mlp.py`` is loaded as a private
copy of the module whose ``MLPClassifier``/``MLPRegressor`` names are rebound to ours; its test
functions are collected from here with their parametrizations. Every test runs except the three
in ``PRIVATE_API``, which test scikit-learn internals rather than the estimators' behaviour.
"""
import importlib.util
from pathlib import Path

import pytest
import sklearn

from tinygrad_nn.models import MLPClassifier, MLPRegressor

SUITE = Path(sklearn.__file__).parent / "neural_network" / "tests" / "test_mlp.py"

# test name -> why it cannot apply to another implementation
PRIVATE_API = {
    "test_gradient": "calls scikit-learn's private _loss_grad_lbfgs and compares it with finite "
                     "differences (ours is autodiff: tests/test_mlp.py gradchecks the network)",
    "test_learning_rate_warmstart": "reads the private _optimizer.learning_rate of "
                                    "scikit-learn's optimizer classes (ours: optim.SGD's lr)",
    "test_adaptive_learning_rate": "reads the private _optimizer.learning_rate of "
                                   "scikit-learn's optimizer classes (ours: optim.SGD's lr)",
}


def _load_suite():
    spec = importlib.util.spec_from_file_location("_sklearn_test_mlp_on_tinygrad_nn", SUITE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.MLPClassifier, module.MLPRegressor = MLPClassifier, MLPRegressor
    return module


_suite = _load_suite()
_tests = {name: obj for name, obj in vars(_suite).items()
          if name.startswith("test_") and callable(obj)}
globals().update({name: obj for name, obj in _tests.items() if name not in PRIVATE_API})


@pytest.fixture
def global_random_seed():
    """scikit-learn's conftest fixture, at its default value."""
    return 42


def test_suite_is_the_installed_one_pointed_at_ours():
    assert SUITE.is_file()
    assert _suite.MLPClassifier is MLPClassifier and _suite.MLPRegressor is MLPRegressor
    # exactly the three private-API tests are left out, and they still exist upstream
    assert set(PRIVATE_API) <= set(_tests)
    assert len(_tests) - len(PRIVATE_API) >= 40


# ---------------------------------------------------------------- coefs_/intercepts_ assignment
def _fitted():
    import numpy as np

    X = np.random.default_rng(0).normal(size=(40, 3))
    y = (X[:, 0] > 0).astype(int)
    return MLPClassifier(hidden_layer_sizes=(4,), max_iter=5, random_state=0).fit(X, y), X


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_assigned_weights_go_into_the_module():
    import numpy as np
    from numpy.testing import assert_array_equal

    clf, X = _fitted()
    new_coefs = [np.full(c.shape, 0.5) for c in clf.coefs_]
    new_intercepts = [np.zeros(b.shape) for b in clf.intercepts_]
    clf.coefs_, clf.intercepts_ = new_coefs, new_intercepts
    for mine, given in zip(clf.coefs_ + clf.intercepts_, new_coefs + new_intercepts):
        assert_array_equal(mine, given)
    # the network computes with them: relu(X @ 0.5) @ 0.5, logistic output
    hidden = np.maximum(X @ new_coefs[0], 0)
    assert_array_equal(clf.predict_proba(X)[:, 1].round(6),
                       (1 / (1 + np.exp(-(hidden @ new_coefs[1])))).ravel().round(6))
    assert clf.coefs_[0] is clf.module_[0].weight.data  # still the module's own arrays


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_assigned_weights_are_shape_checked_and_atomic():
    import numpy as np

    clf, _ = _fitted()
    before = [c.copy() for c in clf.coefs_]
    with pytest.raises(ValueError, match=r"coefs_\[1\] must have shape \(4, 1\), got \(4, 2\)"):
        clf.coefs_ = [np.zeros((3, 4)), np.zeros((4, 2))]
    with pytest.raises(ValueError, match="intercepts_ must hold 2 arrays .*got 1"):
        clf.intercepts_ = [np.zeros(4)]
    for c, b in zip(clf.coefs_, before):
        np.testing.assert_array_equal(c, b)  # nothing was written
