"""The two from-scratch networks of the source documents, rebuilt on the framework.

Both are one-hidden-layer classifiers that their seeds train with hand-written backprop in numpy.
Here they keep the seeds' hyperparameter names, weight initialisation and objective, but the
gradients come from autodiff and the loop from `tinygrad_nn.training.fit` with plain SGD:

- `NeuralNetMLP` (seed 05, MNIST): sigmoid (or ReLU) hidden layer, sigmoid outputs, squared
  error against one-hot targets; weights ~ N(0, 0.1^2) drawn from ``RandomState(random_seed)``,
  zero biases; ``num_hidden``, ``num_epochs``, ``learning_rate``, ``minibatch_size``.
- `NeuralNetwork` (seed 04, digits): sigmoid hidden layer, softmax output, cross-entropy summed
  over the minibatch plus an L2 penalty ``lmbd / 2 * ||W||^2`` on both weight matrices;
  weights ~ N(0, 1), biases 0.01; ``n_hidden_neurons``, ``epochs``, ``batch_size``, ``eta``,
  ``lmbd``.

Both are scikit-learn classifiers (`fit`, `predict`, `predict_proba`, `score`, cloneable, usable
in `GridSearchCV`), accept any label type, and record per-epoch curves: ``loss_curve_``,
``train_scores_`` (training accuracy after each epoch) and, when ``fit`` is given
``X_valid, y_valid``, ``validation_scores_``.
"""
from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

import tinygrad_nn.functional as F
from tinygrad_nn import Tensor, no_grad, nn, optim
from tinygrad_nn.training import fit as train_loop

from ._convergence import (check_finite_weights, class_entropy, one_hot_constant_mse,
                           warn_if_no_better_than_constant)

__all__ = ["NeuralNetMLP", "NeuralNetwork"]

_DTYPES = (np.float64, np.float32)  # float32 input trains a float32 network, anything else float64
_POSITIVE_INT = [Interval(Integral, 1, None, closed="left")]
_POSITIVE_REAL = [Interval(Real, 0, None, closed="neither")]
_SEED = [None, Interval(Integral, 0, 2**32 - 1, closed="both")]  # what RandomState(seed) takes


class _EpochRecord:
    """Per-epoch bookkeeping of a scratch net's fit: the mean per-sample loss into
    ``loss_curve_``, training and validation accuracy; stops training when the loss diverges."""

    def __init__(self, est, X, y_idx, valid):
        self.est, self.X, self.y_idx, self.valid = est, X, y_idx, valid
        self.total = 0.0  # per-sample loss summed over the current epoch

    def add(self, per_sample, n_rows):
        self.total += per_sample.item() * n_rows

    def __call__(self, epoch, history):
        est = self.est
        est.loss_curve_.append(self.total / len(self.X))
        self.total = 0.0
        if not np.isfinite(est.loss_curve_[-1]):
            return True  # diverged: stop here, fit raises afterwards
        est.train_scores_.append(est._accuracy(self.X, self.y_idx))
        if self.valid is not None:
            est.validation_scores_.append(est.score(*self.valid))
        return False


class _ScratchClassifier(ClassifierMixin, BaseEstimator):
    """What both seed networks share: validation, the training loop, prediction.

    A subclass maps the roles of its hyperparameters to their names in ``_NAMES`` (hidden,
    epochs, batch_size, lr, seed and, optionally, activation), names its output activation
    in ``_OUTPUT`` (None for raw logits) and supplies the seed-specific parts:
    `_init_weights` (the seed's initial values), `_objective` (the loss the seed descends on one
    minibatch, plus the per-sample loss to record) and `_proba` (output to probabilities).
    """

    _HIDDEN = ("sigmoid", "relu")  # names in the one registry, nn.ACTIVATIONS
    _NAMES: dict = {}
    _OUTPUT = None

    def _init_weights(self, rng, hidden, output):  # pragma: no cover - abstract
        raise NotImplementedError

    def _objective(self, out, target, weights):  # pragma: no cover - abstract
        raise NotImplementedError

    def _proba(self, out):  # pragma: no cover - abstract
        raise NotImplementedError

    def _constant_loss(self, y_idx, n_classes):  # pragma: no cover - abstract
        """The recorded loss of predicting the class frequencies (the divergence baseline)."""
        raise NotImplementedError

    # ------------------------------------------------------------------ estimator API
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, X_valid=None, y_valid=None):
        """Train from the seed's initial weights.

        ``X_valid, y_valid`` (optional) are scored after every epoch into ``validation_scores_``.
        Raises ValueError when training makes a weight non-finite; warns (ConvergenceWarning)
        when the last epoch's loss is no better than predicting the class frequencies.
        """
        s = {role: getattr(self, name) for role, name in self._NAMES.items()}
        s.setdefault("activation", "sigmoid")
        X, y_idx, valid = self._fit_inputs(X, y, X_valid, y_valid)
        rng = np.random.RandomState(s["seed"])
        module, weights = self._build_module(X.dtype, s, rng)
        self.loss_curve_, self.train_scores_ = [], []
        self.validation_scores_ = [] if valid is not None else None
        record = _EpochRecord(self, X, y_idx, valid)

        def step_loss(xb, tb):
            loss, per_sample = self._objective(module(Tensor(xb)), tb, weights)
            record.add(per_sample, len(xb))
            return loss

        train_loop(step_loss, optim.SGD(module.parameters(), lr=s["lr"]),
                   (X, self._target(y_idx, X.dtype)), epochs=s["epochs"],
                   batch_size=s["batch_size"], shuffle=True, rng=rng, on_epoch_end=record,
                   progress=False)
        self.n_iter_ = len(self.loss_curve_)
        check_finite_weights(self, module.parameters())
        if self.loss_curve_:
            warn_if_no_better_than_constant(self, self.loss_curve_[-1],
                                            self._constant_loss(y_idx, len(self.classes_)))
        return self

    def _fit_inputs(self, X, y, X_valid, y_valid):
        """Validated ``X``, class indices of ``y`` (sets ``classes_``), and the validation pair."""
        X, y = validate_data(self, X, y, dtype=_DTYPES)
        check_classification_targets(y)
        self.classes_, y_idx = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes in y, got only one "
                f"class: {self.classes_[0]!r}")
        if (X_valid is None) != (y_valid is None):
            raise ValueError("fit: pass both X_valid and y_valid, or neither")
        if X_valid is None:
            return X, y_idx, None
        X_valid = validate_data(self, X_valid, dtype=_DTYPES, reset=False)
        return X, y_idx, (X_valid, np.asarray(y_valid))

    def _build_module(self, dtype, s, rng):
        """``module_`` with the seed's initial weights, and the two weight matrices."""
        hidden = nn.Dense(self.n_features_in_, s["hidden"], dtype=dtype)
        output = nn.Dense(s["hidden"], len(self.classes_), dtype=dtype)
        self._init_weights(rng, hidden, output)
        layers = [hidden, nn.ACTIVATIONS[s["activation"]](), output]
        self.module_ = nn.Sequential(*layers, *([self._OUTPUT()] if self._OUTPUT else []))
        return self.module_, (hidden.weight, output.weight)

    def predict_proba(self, X):
        """Class probabilities, one row per sample, columns in ``classes_`` order."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=_DTYPES, reset=False)
        with no_grad():
            out = self.module_(Tensor(X.astype(self._dtype(), copy=False)))
            return self._proba(out).astype(np.float64)

    def predict(self, X):
        """The class of highest probability for each sample."""
        check_is_fitted(self)
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    # ------------------------------------------------------------------ helpers
    def _target(self, y_idx, dtype):
        """What the loss compares the network output with (class indices by default)."""
        return y_idx

    def _dtype(self):
        return self.module_[0].weight.dtype

    def _accuracy(self, X, y_idx):
        with no_grad():
            out = self.module_(Tensor(X)).data
        return float(np.mean(np.argmax(out, axis=1) == y_idx))


class NeuralNetMLP(_ScratchClassifier):
    """Seed 05's 784-50-10 MNIST network: sigmoid outputs trained on squared error.

    Parameters
    ----------
    num_hidden : int, default 50
        Units in the hidden layer.
    num_epochs : int, default 40
        Passes over the training data.
    learning_rate : float, default 0.1
        Plain SGD step size.
    minibatch_size : int, default 100
        Samples per gradient step (the data are reshuffled every epoch).
    random_seed : int or None, default 123
        Seeds the weight draws and the shuffling: the same seed gives the same model.
    hidden_activation : {"sigmoid", "relu"}, default "sigmoid"
        The seed's network, or its ReLU exercise.

    Attributes
    ----------
    loss_curve_ : list of float
        Mean squared error per output over each epoch, as the seed prints it.
    train_scores_, validation_scores_, classes_, n_features_in_, n_iter_, module_
        As for every seed network: see `NeuralNetwork`.

    Notes
    -----
    The loss is the seed's: squared error summed over the one-hot classes and averaged over the
    minibatch (the gradient its backward pass computes). The outputs are independent sigmoids,
    so `predict_proba` divides each row by its sum; `predict` is the argmax either way.
    """

    _NAMES = dict(hidden="num_hidden", epochs="num_epochs", batch_size="minibatch_size",
                  lr="learning_rate", seed="random_seed", activation="hidden_activation")
    _OUTPUT = nn.Sigmoid
    _parameter_constraints: dict = {
        "num_hidden": _POSITIVE_INT, "num_epochs": _POSITIVE_INT,
        "learning_rate": _POSITIVE_REAL, "minibatch_size": _POSITIVE_INT, "random_seed": _SEED,
        "hidden_activation": [StrOptions(set(_ScratchClassifier._HIDDEN))],
    }

    def __init__(self, num_hidden=50, num_epochs=40, learning_rate=0.1, minibatch_size=100,
                 random_seed=123, hidden_activation="sigmoid"):
        self.num_hidden = num_hidden
        self.num_epochs = num_epochs
        self.learning_rate = learning_rate
        self.minibatch_size = minibatch_size
        self.random_seed = random_seed
        self.hidden_activation = hidden_activation

    def _init_weights(self, rng, hidden, output):
        # The seed draws (out, in) matrices, hidden first; ours are stored (in, out).
        for layer in (hidden, output):
            n_in, n_out = layer.weight.shape
            layer.weight.data[...] = rng.normal(0.0, 0.1, size=(n_out, n_in)).T
            layer.bias.data[...] = 0.0

    def _target(self, y_idx, dtype):
        return np.eye(len(self.classes_), dtype=dtype)[y_idx]

    _constant_loss = staticmethod(one_hot_constant_mse)

    def _objective(self, out, target, weights):
        mse = F.mse_loss(out, target)
        return mse * target.shape[1], mse

    def _proba(self, out):
        scores = np.maximum(out.data, np.finfo(out.dtype).tiny)  # no 0/0 if every unit is off
        return scores / scores.sum(axis=1, keepdims=True)


class NeuralNetwork(_ScratchClassifier):
    """Seed 04's 64-50-10 digits network: sigmoid hidden layer, softmax output, cross-entropy.

    Parameters
    ----------
    n_hidden_neurons : int, default 50
        Units in the hidden layer.
    epochs : int, default 10
        Passes over the training data.
    batch_size : int, default 100
        Samples per gradient step (the data are reshuffled every epoch).
    eta : float, default 0.1
        SGD step size. As in the seed, it multiplies the gradient of the loss *summed* over the
        minibatch, so it is ``batch_size`` times larger than a mean-loss learning rate.
    lmbd : float, default 0.0
        L2 strength: each step adds ``lmbd * W`` to the gradient of both weight matrices
        (biases are not penalised).
    random_state : int or None, default 0
        Seeds the weight draws and the shuffling (the seed calls ``np.random.seed(0)``).

    Attributes
    ----------
    loss_curve_ : list of float
        Mean cross-entropy per sample over each epoch (penalty excluded).
    train_scores_ : list of float
        Training accuracy after each epoch.
    validation_scores_ : list of float or None
        Accuracy on ``fit``'s ``X_valid, y_valid`` after each epoch; None when not given.
    classes_ : ndarray
        The class labels.
    n_features_in_ : int
        Number of input features.
    n_iter_ : int
        Epochs trained.
    module_ : tinygrad_nn.nn.Sequential
        The trained network.
    """

    _NAMES = dict(hidden="n_hidden_neurons", epochs="epochs", batch_size="batch_size", lr="eta",
                  seed="random_state")
    _parameter_constraints: dict = {
        "n_hidden_neurons": _POSITIVE_INT, "epochs": _POSITIVE_INT, "batch_size": _POSITIVE_INT,
        "eta": _POSITIVE_REAL, "lmbd": [Interval(Real, 0, None, closed="left")],
        "random_state": _SEED,
    }

    def __init__(self, n_hidden_neurons=50, epochs=10, batch_size=100, eta=0.1, lmbd=0.0,
                 random_state=0):
        self.n_hidden_neurons = n_hidden_neurons
        self.epochs = epochs
        self.batch_size = batch_size
        self.eta = eta
        self.lmbd = lmbd
        self.random_state = random_state

    def _init_weights(self, rng, hidden, output):
        for layer in (hidden, output):
            layer.weight.data[...] = rng.standard_normal(layer.weight.shape)
            layer.bias.data[...] = 0.01

    def _objective(self, out, target, weights):
        total = F.cross_entropy(out, target, reduction="sum")
        loss = total
        if self.lmbd:
            loss = total + (0.5 * self.lmbd) * sum((w * w).sum() for w in weights)
        return loss, total / len(target)

    def _proba(self, out):
        return out.softmax(axis=-1).data

    _constant_loss = staticmethod(class_entropy)
