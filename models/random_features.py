"""nnetsauce-style random-feature layers around any scikit-learn estimator, stackable to any depth.

A layer turns ``X`` into ``[X | clusters | activation([1 | X] @ W)]`` with a fixed random (or
quasi-random) ``W`` and hands the result to a clone of ``obj``. Because a layer is itself an
estimator, ``CustomClassifier(obj=CustomClassifier(obj=...))`` stacks them: the outer layer's
features are the inner layer's input. ``DeepClassifier`` / ``DeepRegressor`` build such a stack
from one set of parameters.

The feature map, fitted once in ``fit`` and replayed unchanged in ``predict``:

1. column subsample (``col_sample``, seeded);
2. when ``n_clusters > 0``: scale with ``type_scaling[2]``, cluster with KMeans or a Gaussian
   mixture, append the labels one-hot (``cluster_encode=True``) or as one raw column;
3. when ``n_hidden_features > 0``: scale with ``type_scaling[1]``, compute
   ``activation([1 | X] @ W)`` (``W`` of shape ``(n_in + bias, n_hidden_features)``) with
   tinygrad_nn Tensor ops, and at fit time only apply inverted dropout;
4. keep ``[augmented | hidden]`` when ``direct_link`` else only ``hidden``;
5. scale with ``type_scaling[0]`` and fit ``clone(obj)`` (on a row subsample, stratified for
   classifiers, when ``row_sample < 1``). Regressors fit ``obj`` on ``y - mean(y)``.

``type_scaling`` follows nnetsauce's code: entry 0 scales what ``obj`` sees, entry 1 what the
hidden layer sees, entry 2 what the clustering sees. One ``seed`` drives every random draw (column
choice, uniform nodes, clustering, dropout, row choice); uniform nodes and dropout masks are the
same draws nnetsauce makes (``np.random.RandomState(seed)``).

Fixes over nnetsauce, each pinned by a test:

- ``obj`` is cloned, never mutated: fitting a layer on top of a fitted layer leaves that layer
  (and everything beneath it) predicting exactly as before;
- dropout is applied at fit time only (nnetsauce also masks at predict time, so a row's
  prediction depends on its position in the batch);
- the same scaling at fit and predict (nnetsauce's ``n_clusters=0`` path scales the direct
  link at predict time only);
- a second ``fit`` starts from scratch (nnetsauce keeps updating its fitted scalers);
- ``__init__`` only stores parameters; they are validated in ``fit``;
- a ``DeepClassifier`` stack fits every inner estimator once (nnetsauce refits the inner
  layers once per added layer).
"""
from __future__ import annotations

import math
import warnings
from numbers import Integral, Real

import numpy as np
from scipy.stats import qmc
from sklearn.base import (BaseEstimator, ClassifierMixin, RegressorMixin, _fit_context, clone,
                          is_classifier)
from sklearn.cluster import KMeans
from sklearn.mixture import GaussianMixture
from sklearn.preprocessing import MaxAbsScaler, MinMaxScaler, RobustScaler, StandardScaler
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils import get_tags
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from tinygrad_nn import Tensor, nn, no_grad
from tinygrad_nn._validation import check_choice

__all__ = ["CustomClassifier", "CustomRegressor", "DeepClassifier", "DeepRegressor"]

# numpydoc sections shared by the four estimators (one parameter set, nnetsauce's names)
_PARAMETERS_DOC = """    obj : estimator
        What the features are handed to (cloned, never changed): a classifier for the
        classifiers, a regressor for the regressors, or another layer.
    n_hidden_features : int >= 0, default 5
        Hidden nodes (0: none).
    activation_name : {"relu", "tanh", "sigmoid", "prelu", "elu"}, default "relu"
        Activation of the hidden nodes.
    a : float, default 0.01
        The prelu slope or the elu scale.
    nodes_sim : {"sobol", "hammersley", "halton", "uniform"}, default "sobol"
        How ``W`` is drawn: an unscrambled low-discrepancy sequence (first point skipped), or
        seeded uniform draws in [0, 1).
    bias : bool, default True
        Add a column of ones before the hidden layer.
    dropout : float in [0, 1), default 0
        Inverted dropout on the hidden nodes, at fit time only.
    direct_link : bool, default True
        Keep the inputs beside the hidden nodes.
    n_clusters : int >= 0, default 2
        Clusters whose labels are appended to the inputs (0: no clustering).
    cluster_encode : bool, default True
        Append the labels one-hot, else as one column.
    type_clust : {"kmeans", "gmm"}, default "kmeans"
        The clustering.
    type_scaling : sequence of 3 of {"std", "minmax", "robust", "maxabs"}, default ("std",) * 3
        Scalers of what ``obj`` sees, what the hidden layer sees, and what the clustering sees.
    col_sample, row_sample : float in (0, 1], default 1
        Fractions of the columns, and of the rows (stratified for classifiers), that are used.
    seed : int, default 123
        Seeds every random draw.
"""
_ATTRIBUTES_DOC = """    estimator_ : estimator
        The fitted clone of ``obj`` (for a deep stack: of the inner layers around it).
    W_ : ndarray
        The hidden layer's weights, shape (inputs + bias, n_hidden_features).
    scaler_, nn_scaler_, clustering_scaler_ : scikit-learn scalers
        The fitted scalers of ``type_scaling`` (the last two only when used).
    clustering_obj_ : KMeans or GaussianMixture
        The fitted clustering (with ``n_clusters > 0``).
    index_col_, index_row_ : ndarray or None
        The columns and rows used; None when all are.
    n_features_in_ : int
        Number of input features.
"""

# nnetsauce's activation names, each a layer of the framework's one registry (nn.ACTIVATIONS);
# "prelu" and "elu" take the slope/scale ``a``.
_ACTIVATIONS = {"relu": "relu", "tanh": "tanh", "sigmoid": "sigmoid", "prelu": "leaky_relu",
                "elu": "elu"}
_TAKES_A = ("prelu", "elu")
_SCALERS = {"std": StandardScaler, "minmax": MinMaxScaler, "robust": RobustScaler,
            "maxabs": MaxAbsScaler}
_CLUSTERINGS = {
    "kmeans": lambda k, seed: KMeans(n_clusters=k, random_state=seed, n_init=10),
    "gmm": lambda k, seed: GaussianMixture(n_components=k, random_state=seed),
}


def _low_discrepancy(engine_cls, d, n):
    """``n`` unscrambled low-discrepancy points in ``d`` dims, skipping the all-zero first one."""
    engine = engine_cls(d, scramble=False)
    engine.fast_forward(1)
    with warnings.catch_warnings():  # Sobol warns when n is not a power of two
        warnings.simplefilter("ignore", UserWarning)
        return engine.random(n)


def _hammersley(d, n):
    """Hammersley set of ``n`` points: ``k / (n + 1)`` then the Halton radical inverses of k."""
    first = np.arange(1, n + 1)[:, None] / (n + 1)
    if d == 1:
        return first
    return np.hstack([first, _low_discrepancy(qmc.Halton, d - 1, n)])


_NODES = {
    "sobol": lambda d, n, seed: _low_discrepancy(qmc.Sobol, d, n).T,
    "hammersley": lambda d, n, seed: _hammersley(d, n).T,
    "halton": lambda d, n, seed: _low_discrepancy(qmc.Halton, d, n).T,
    "uniform": lambda d, n, seed: np.random.RandomState(seed).random_sample((d, n)),
}


def _estimator_type(estimator):
    """"classifier", "regressor", another kind, or None for a duck-typed object without tags."""
    try:
        return get_tags(estimator).estimator_type
    except (AttributeError, TypeError):
        return getattr(estimator, "_estimator_type", None)


def _subsample_rows(strata, fraction, seed):
    """Sorted row indices keeping ``ceil(fraction * size)`` rows of every stratum."""
    _, inverse = np.unique(strata, return_inverse=True)
    rng = np.random.RandomState(seed)
    keep = []
    for k in range(inverse.max() + 1):
        rows = np.flatnonzero(inverse == k)
        keep.append(rng.choice(rows, math.ceil(fraction * rows.size), replace=False))
    return np.sort(np.concatenate(keep))


class _RandomFeatures(BaseEstimator):
    """One random-feature layer: the feature map, ``fit`` and the delegating predict."""

    _parameter_constraints: dict = {
        "obj": [HasMethods(["fit"])],
        "n_hidden_features": [Interval(Integral, 0, None, closed="left")],
        "activation_name": [StrOptions(set(_ACTIVATIONS))],
        "a": [Interval(Real, None, None, closed="neither")],
        "nodes_sim": [StrOptions(set(_NODES))],
        "bias": ["boolean"],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "direct_link": ["boolean"],
        "n_clusters": [Interval(Integral, 0, None, closed="left")],
        "cluster_encode": ["boolean"],
        "type_clust": [StrOptions(set(_CLUSTERINGS))],
        "type_scaling": [tuple, list],
        "col_sample": [Interval(Real, 0, 1, closed="right")],
        "row_sample": [Interval(Real, 0, 1, closed="right")],
        "seed": [Interval(Integral, 0, 2**32 - 1, closed="both")],
    }

    def __init__(self, obj, n_hidden_features=5, activation_name="relu", a=0.01,
                 nodes_sim="sobol", bias=True, dropout=0, direct_link=True, n_clusters=2,
                 cluster_encode=True, type_clust="kmeans", type_scaling=("std", "std", "std"),
                 col_sample=1, row_sample=1, seed=123):
        self.obj = obj
        self.n_hidden_features = n_hidden_features
        self.activation_name = activation_name
        self.a = a
        self.nodes_sim = nodes_sim
        self.bias = bias
        self.dropout = dropout
        self.direct_link = direct_link
        self.n_clusters = n_clusters
        self.cluster_encode = cluster_encode
        self.type_clust = type_clust
        self.type_scaling = type_scaling
        self.col_sample = col_sample
        self.row_sample = row_sample
        self.seed = seed

    # -- parameters ------------------------------------------------------------------------
    def _check_params(self, n_samples):
        """What the constraints table cannot say: how the parameters combine with each other,
        with ``obj``'s kind and with the data."""
        name = type(self).__name__
        if len(self.type_scaling) != 3:
            raise ValueError(f"{name}: type_scaling must be a sequence of 3 scaling names (obj "
                             f"input, hidden layer, clustering), got {self.type_scaling!r}")
        for entry in self.type_scaling:
            check_choice("each type_scaling entry", entry, tuple(_SCALERS), owner=name)
        want = "classifier" if is_classifier(self) else "regressor"
        got = _estimator_type(self.obj)
        if got in ("classifier", "regressor") and got != want:
            raise ValueError(f"{name}: obj must be a {want} (it is fitted on the {want}'s "
                             f"targets), got the {got} {self.obj!r}")
        if not self.direct_link and self.n_hidden_features == 0:
            raise ValueError("direct_link=False with n_hidden_features=0 leaves no features")
        if self.n_clusters > n_samples:
            raise ValueError(f"n_clusters={self.n_clusters} is more than the number of "
                             f"samples (n_samples={n_samples}); lower n_clusters, or set "
                             "n_clusters=0 to skip clustering")

    def _base_estimator(self):
        """The unfitted estimator the features are handed to."""
        return clone(self.obj)

    # -- feature map -----------------------------------------------------------------------
    def _fit_features(self, X):
        """Fit every step of the feature map on ``X``; return the training features."""
        n_features = X.shape[1]
        self.index_col_ = None
        if self.col_sample < 1:
            size = max(1, math.ceil(self.col_sample * n_features))
            rng = np.random.RandomState(self.seed)
            self.index_col_ = np.sort(rng.choice(n_features, size, replace=False))
            X = X[:, self.index_col_]
        if self.n_clusters > 0:
            self.clustering_scaler_ = _SCALERS[self.type_scaling[2]]().fit(X)
            clustering = _CLUSTERINGS[self.type_clust](self.n_clusters, self.seed)
            self.clustering_obj_ = clustering.fit(self.clustering_scaler_.transform(X))
            X = self._append_clusters(X)
        if self.n_hidden_features > 0:
            self.nn_scaler_ = _SCALERS[self.type_scaling[1]]().fit(X)
            n_in = X.shape[1] + bool(self.bias)
            W = _NODES[self.nodes_sim](n_in, self.n_hidden_features, self.seed)
            self.W_ = W.astype(X.dtype, copy=False)
        Z = self._link(X, training=True)
        self.scaler_ = _SCALERS[self.type_scaling[0]]().fit(Z)
        return self.scaler_.transform(Z)

    def _features(self, X):
        """Replay the fitted feature map on new rows (no dropout)."""
        if self.index_col_ is not None:
            X = X[:, self.index_col_]
        if self.n_clusters > 0:
            X = self._append_clusters(X)
        return self.scaler_.transform(self._link(X, training=False))

    def _append_clusters(self, X):
        labels = self.clustering_obj_.predict(self.clustering_scaler_.transform(X))
        if self.cluster_encode:
            codes = (labels[:, None] == np.arange(self.n_clusters)).astype(X.dtype)
        else:
            codes = labels[:, None].astype(X.dtype)
        return np.hstack([X, codes])

    def _link(self, X, training):
        """``[X | hidden]`` (direct link) or ``hidden``; dropout only when ``training``."""
        if self.n_hidden_features == 0:
            return X
        S = self.nn_scaler_.transform(X)
        if self.bias:
            S = np.hstack([np.ones((S.shape[0], 1), S.dtype), S])
        with no_grad():
            name = self.activation_name
            layer = nn.ACTIVATIONS[_ACTIVATIONS[name]](*((self.a,) if name in _TAKES_A else ()))
            H = layer(Tensor(S) @ Tensor(self.W_)).numpy()
        if training and self.dropout > 0:
            keep = np.random.RandomState(self.seed).random_sample(H.shape) > self.dropout
            H = H * keep / H.dtype.type(1 - self.dropout)
        return np.hstack([X, H]) if self.direct_link else H

    # -- estimator API ---------------------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y):
        """Fit the feature map on ``X`` and a clone of ``obj`` on the features; return self."""
        classifier = is_classifier(self)
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32], y_numeric=not classifier)
        self._check_params(X.shape[0])
        self._check_target(y)
        self._dtype = X.dtype  # predict casts to it, so fit and predict see the same arithmetic
        Z = self._fit_features(X)
        self.index_row_ = None
        if self.row_sample < 1:
            strata = y if classifier else np.zeros(len(y))
            self.index_row_ = _subsample_rows(strata, self.row_sample, self.seed)
            Z, y = Z[self.index_row_], y[self.index_row_]
        self.estimator_ = self._base_estimator().fit(Z, self._obj_target(y))
        return self

    def _transform_input(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, dtype=self._dtype, reset=False)
        return self._features(X)


class CustomClassifier(ClassifierMixin, _RandomFeatures):
    __doc__ = """Classifier = random-feature layer + a clone of ``obj`` (any classifier, or another layer).

    nnetsauce's parameter names and defaults; the module docstring gives the feature map.

    Parameters
    ----------
""" + _PARAMETERS_DOC + """
    Attributes
    ----------
    classes_ : ndarray
        The class labels.
""" + _ATTRIBUTES_DOC

    def _check_target(self, y):
        check_classification_targets(y)
        self.classes_ = np.unique(y)

    def _obj_target(self, y):
        return y

    def predict(self, X):
        """Class labels predicted by ``estimator_`` on the features of ``X``."""
        Z = self._transform_input(X)
        return self.estimator_.predict(Z)

    @available_if(lambda self: hasattr(self.obj, "predict_proba"))
    def predict_proba(self, X):
        """Class probabilities (columns in ``classes_`` order), when ``obj`` has them."""
        Z = self._transform_input(X)
        return self.estimator_.predict_proba(Z)


class CustomRegressor(RegressorMixin, _RandomFeatures):
    __doc__ = """Regressor = random-feature layer + a clone of ``obj`` fitted on the centred target.

    ``y_mean_`` is added back in ``predict``. Rows are subsampled uniformly (no strata) when
    ``row_sample < 1``.

    Parameters
    ----------
""" + _PARAMETERS_DOC + """
    Attributes
    ----------
    y_mean_ : float
        Mean of the training target.
""" + _ATTRIBUTES_DOC

    def _check_target(self, y):
        pass

    def _obj_target(self, y):
        self.y_mean_ = y.mean()
        return y - self.y_mean_

    def predict(self, X):
        """``y_mean_`` plus ``estimator_``'s prediction on the features of ``X``."""
        Z = self._transform_input(X)
        return self.y_mean_ + self.estimator_.predict(Z)


def _deep_doc(layer):
    return f"""``n_layers`` stacked ``{layer}`` layers around ``obj``, one parameter set.

    Parameters
    ----------
    n_layers : int >= 1, default 3
        Layers in the stack (1: a single layer).
{_PARAMETERS_DOC}
    Attributes
    ----------
{_ATTRIBUTES_DOC}"""


class _Deep:
    """A stack of ``n_layers`` random-feature layers sharing one set of parameters.

    ``n_layers=1`` is a single layer; ``n_layers=3`` is ``Layer(Layer(Layer(obj)))``. The outer
    layer is this estimator itself and ``estimator_`` the fitted inner stack, so every inner
    estimator is fitted exactly once.
    """

    _layer = None  # the single-layer class the stack is built from

    def __init__(self, obj, n_layers=3, n_hidden_features=5, activation_name="relu", a=0.01,
                 nodes_sim="sobol", bias=True, dropout=0, direct_link=True, n_clusters=2,
                 cluster_encode=True, type_clust="kmeans", type_scaling=("std", "std", "std"),
                 col_sample=1, row_sample=1, seed=123):
        self.n_layers = n_layers
        super().__init__(obj, n_hidden_features=n_hidden_features,
                         activation_name=activation_name, a=a, nodes_sim=nodes_sim, bias=bias,
                         dropout=dropout, direct_link=direct_link, n_clusters=n_clusters,
                         cluster_encode=cluster_encode, type_clust=type_clust,
                         type_scaling=type_scaling, col_sample=col_sample,
                         row_sample=row_sample, seed=seed)

    _parameter_constraints: dict = {
        **_RandomFeatures._parameter_constraints,
        "n_layers": [Interval(Integral, 1, None, closed="left")],
    }

    def _base_estimator(self):
        params = self.get_params(deep=False)
        del params["obj"], params["n_layers"]
        estimator = clone(self.obj)
        for _ in range(self.n_layers - 1):
            estimator = self._layer(estimator, **params)
        return estimator


class DeepClassifier(_Deep, CustomClassifier):
    __doc__ = _deep_doc("CustomClassifier")

    _layer = CustomClassifier


class DeepRegressor(_Deep, CustomRegressor):
    __doc__ = _deep_doc("CustomRegressor")

    _layer = CustomRegressor
