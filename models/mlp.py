"""scikit-learn's `MLPClassifier` and `MLPRegressor`, trained by tinygrad_nn.

Same constructor parameters and defaults as scikit-learn 1.9, same fitted attributes with the
same None-ness, the same stopping rule, learning-rate schedules, early stopping, warm start,
``partial_fit``, L-BFGS and ``sample_weight`` -- but the network is a `tinygrad_nn.nn.Sequential`
(`module_`) trained by `tinygrad_nn.training.fit` with gradients from the framework's autodiff.

Reproduced exactly: the Glorot initialisation (drawn from the same ``RandomState`` in the same
order, so an equal ``random_state`` gives equal initial weights), the objective (data loss +
``0.5 * alpha * ||W||^2 / n``, as scikit-learn defines ``loss_``), the validation split and the
per-epoch batch order (same draws), the stopping and learning-rate rules, and L-BFGS (same
objective, same scipy call).

The updates come from `tinygrad_nn.optim` with the options that make them scikit-learn's:
``SGD(velocity="step")`` keeps learning-rate-scaled steps in the momentum buffer, as
scikit-learn's velocity does (so ``invscaling`` and ``adaptive`` rate changes act like its own),
and ``Adam(eps_placement="raw")`` adds ``epsilon`` to ``sqrt(v)`` as scikit-learn does. The
stopping rule counts epochs with `tinygrad_nn.optim.Plateau`. Hence every solver reproduces
scikit-learn's weights, ``loss_curve_`` and ``n_iter_`` up to float rounding.

Deliberate differences: early stopping stratifies the validation split for binary *and*
multiclass targets, as scikit-learn documents (its 1.9 code only stratifies binary ones), so a
class with one member raises train_test_split's error; sparse input is accepted and densified;
``partial_fit`` is unavailable with ``solver="lbfgs"`` for the regressor too; ``loss="poisson"``
rejects negative targets.

Beyond scikit-learn: ``activation`` also takes ``"leaky_relu"``, ``"elu"``, ``"softplus"`` or any
callable Tensor -> Tensor; ``progress=True`` shows a tqdm bar over epochs; ``module_`` is the
trained network (it maps X to the output layer's pre-activation: logits for classifiers).
"""
import warnings
from itertools import chain
from numbers import Integral, Real

import numpy as np
import scipy.optimize
import scipy.sparse as sp
from scipy.special import expit, softmax, xlogy
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, _fit_context, is_classifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_random_state, column_or_1d
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.fixes import _get_additional_lbfgs_options_dict
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import _check_partial_fit_first_call, type_of_target, unique_labels
from sklearn.utils.optimize import _check_optimize_result
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

import tinygrad_nn.functional as F
from tinygrad_nn import Tensor, nn, no_grad, optim, training

__all__ = ["MLPClassifier", "MLPRegressor"]

# Hidden-layer activations by name (scikit-learn's four, then the framework's extras), all layers of
# the one registry nn.ACTIVATIONS, except that softplus stays the plain log(1 + exp(x)) everywhere
# (nn.Softplus switches to x above its threshold, as PyTorch does).
HIDDEN_ACTIVATIONS = ("identity", "logistic", "tanh", "relu", "leaky_relu", "elu", "softplus")


def _hidden_activation(name):
    return nn.Lambda(F.softplus) if name == "softplus" else nn.ACTIVATIONS[name]()


def _per_sample_softmax(z, t):
    return F.cross_entropy(z, t, reduction="none")


def _per_sample_logistic(z, t):  # binary cross-entropy from logits, summed over labels
    return (z.softplus() - z * t).sum(axis=1)


def _per_sample_identity(z, t):  # half squared error, summed over outputs
    d = z - t
    return (d * d).sum(axis=1) * 0.5


def _per_sample_exp(z, t):  # half Poisson deviance with a log link: exp(z) - t z + const
    return (z.exp() - z * t).sum(axis=1) + (xlogy(t, t) - t).sum(axis=1)


# out_activation_ -> (per-sample loss from the output layer's pre-activation, numpy activation)
OUTPUTS = {
    "softmax": (_per_sample_softmax, lambda z: softmax(z, axis=1)),
    "logistic": (_per_sample_logistic, expit),
    "identity": (_per_sample_identity, lambda z: z),
    "exp": (_per_sample_exp, np.exp),
}


class _Rows:
    """An array that `training.fit` slices into minibatches, read in a shared epoch order.

    scikit-learn permutes an index vector once per epoch and the permutations compound;
    `_reorder` does the same to ``order``, so the minibatches are scikit-learn's very own.
    """

    __slots__ = ("array", "order")

    def __init__(self, array):
        self.array = array
        self.order = np.arange(array.shape[0])

    @property
    def shape(self):
        return self.array.shape

    @property
    def ndim(self):
        return self.array.ndim

    def __getitem__(self, index):
        return self.array[self.order[index]]


def _reorder(rows, random_state):
    order = rows[0].order[random_state.permutation(rows[0].shape[0])]
    for r in rows:
        r.order = order


def _store_params(estimator, arguments):
    """Keep every constructor argument as an attribute of the same name, as scikit-learn wants."""
    for name, value in arguments.items():
        if name != "self":
            setattr(estimator, name, value)


class _Epochs:
    """One stochastic fit or partial_fit: the epoch's running loss and scikit-learn's
    end-of-epoch bookkeeping, as `training.fit` callbacks."""

    def __init__(self, mlp, arrays, validation, incremental):
        self.mlp, self.arrays, self.validation = mlp, arrays, validation
        self.incremental = incremental
        self.n_samples = arrays[0].shape[0]
        self.loss_sum = 0.0  # over the epoch's batches: loss value * batch size

    def step_loss(self, X_batch, target_batch, sw_batch=None):
        loss, value = self.mlp._objective(X_batch, target_batch, sw_batch)
        self.loss_sum += value * X_batch.shape[0]
        return loss

    def end_epoch(self, epoch, history):
        """scikit-learn's order: record the loss, count, schedule, then stop or go on."""
        mlp = self.mlp
        mlp.n_iter_ += 1
        mlp.t_ += self.n_samples
        mlp.loss_ = self.loss_sum / self.n_samples
        self.loss_sum = 0.0
        mlp.loss_curve_.append(mlp.loss_)
        if mlp.verbose:
            print("Iteration %d, loss = %.8f" % (mlp.n_iter_, mlp.loss_))
        mlp._update_no_improvement_count(self.validation)
        if mlp._schedule is not None:
            mlp._schedule.step(mlp.t_)
        stalled = mlp._plateau.num_bad_epochs > mlp.n_iter_no_change
        if (stalled and mlp._stop_or_slow_down()) or self.incremental:
            return True
        if mlp.n_iter_ == mlp.max_iter:
            warnings.warn("Stochastic Optimizer: Maximum iterations (%d) reached and the "
                          "optimization hasn't converged yet." % mlp.max_iter, ConvergenceWarning)
        elif mlp.shuffle:
            _reorder(self.arrays, mlp._random_state)
        return False


# numpydoc sections shared by MLPClassifier and MLPRegressor (the parameters are the same)
_PARAMETERS_DOC = """    hidden_layer_sizes : int or sequence of int, default (100,)
        Units of each hidden layer, input side first.
    activation : {"identity", "logistic", "tanh", "relu", "leaky_relu", "elu", "softplus"} \
or callable, default "relu"
        Hidden-layer activation; a callable maps a Tensor to a Tensor.
    solver : {"lbfgs", "sgd", "adam"}, default "adam"
        scipy's L-BFGS-B on the full batch, or minibatch SGD / Adam.
    alpha : float >= 0, default 1e-4
        L2 penalty: ``0.5 * alpha * sum ||W||^2 / n_samples`` added to the loss.
    batch_size : int or "auto", default "auto"
        Minibatch size for sgd/adam; "auto" is ``min(200, n_samples)``.
    learning_rate : {"constant", "invscaling", "adaptive"}, default "constant"
        sgd's schedule: fixed, ``learning_rate_init / t ** power_t``, or divided by 5 whenever
        ``n_iter_no_change`` epochs pass without improvement.
    learning_rate_init : float > 0, default 1e-3
        Initial step size (sgd, adam).
    power_t : float >= 0, default 0.5
        Exponent of the "invscaling" schedule.
    max_iter : int >= 1, default 200
        Epochs for sgd/adam; iterations for lbfgs.
    shuffle : bool, default True
        Reshuffle the samples every epoch (sgd, adam).
    random_state : None, int or RandomState, default None
        Seeds the initial weights, the shuffles and the early-stopping split.
    tol : float >= 0, default 1e-4
        Improvement below which an epoch counts as no progress.
    verbose : bool, default False
        Print the loss of each epoch.
    warm_start : bool, default False
        Let ``fit`` continue from the current weights.
    momentum : float in [0, 1], default 0.9
        sgd's momentum.
    nesterovs_momentum : bool, default True
        Nesterov momentum for sgd when ``momentum > 0``.
    early_stopping : bool, default False
        Hold out ``validation_fraction`` of the data and stop when its score stalls, keeping
        the best weights (sgd, adam).
    validation_fraction : float in [0, 1), default 0.1
        Share of the training data held out for early stopping.
    beta_1, beta_2 : float in [0, 1), default 0.9 and 0.999
        Adam's decay rates of the first and second moment estimates.
    epsilon : float > 0, default 1e-8
        Adam's denominator guard.
    n_iter_no_change : int >= 1 or inf, default 10
        Epochs without ``tol`` improvement before stopping (or slowing down).
    max_fun : int >= 1, default 15000
        lbfgs's cap on loss evaluations.
    progress : bool, default False
        Show a tqdm bar over the epochs (not in scikit-learn).
"""
_ATTRIBUTES_DOC = """    loss_ : float
        The last loss computed (data term plus the L2 penalty).
    best_loss_ : float or None
        The lowest training loss seen by sgd/adam; None under early stopping.
    loss_curve_ : list of float
        Training loss per epoch (sgd, adam).
    validation_scores_ : list of float or None
        Validation score per epoch under early stopping, else None.
    best_validation_score_ : float or None
        The best of ``validation_scores_``, else None.
    t_ : int
        Training samples seen by the solver (0 for lbfgs).
    coefs_ : list of ndarray
        Weight matrix of each layer, shaped (fan_in, fan_out): ``module_``'s own arrays.
        Assignable (shapes are checked).
    intercepts_ : list of ndarray
        Bias vector of each layer, assignable as ``coefs_``.
    n_features_in_ : int
        Number of input features.
    n_iter_ : int
        Epochs (or lbfgs iterations) of the last fit.
    n_layers_ : int
        Layers including the input and output layers.
    n_outputs_ : int
        Output units.
    out_activation_ : str
        The output layer's activation ("softmax", "logistic", "identity" or "exp").
    module_ : tinygrad_nn.nn.Sequential
        The trained network; it maps X to the output layer's pre-activation.
"""


class BaseMLP(BaseEstimator):
    """What MLPClassifier and MLPRegressor share: parameters, training, prediction.

    Fitted attributes, as scikit-learn's: ``coefs_`` and ``intercepts_`` (the arrays of
    ``module_``'s Dense layers, weights shaped (fan_in, fan_out)), ``loss_``, ``n_iter_``, ``t_``
    (samples seen; 0 for lbfgs), ``n_layers_``, ``n_outputs_``, ``out_activation_``,
    ``n_features_in_``. Only with sgd/adam: ``loss_curve_``, ``best_loss_`` (None under early
    stopping), ``validation_scores_`` and ``best_validation_score_`` (None without it).
    """

    _parameter_constraints: dict = {
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "activation": [StrOptions(set(HIDDEN_ACTIVATIONS)), callable],
        "solver": [StrOptions({"lbfgs", "sgd", "adam"})],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "learning_rate": [StrOptions({"constant", "invscaling", "adaptive"})],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "power_t": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "momentum": [Interval(Real, 0, 1, closed="both")],
        "nesterovs_momentum": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="left")],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left"), Options(Real, {np.inf})],
        "max_fun": [Interval(Integral, 1, None, closed="left")],
        "progress": ["boolean"],
    }

    # ------------------------------------------------------------------ fitted parameters
    @property
    def coefs_(self):
        """Weight matrices, one (fan_in, fan_out) array per layer: ``module_``'s own arrays.

        Assignable: on a fitted model the arrays are copied into ``module_`` (shapes checked);
        before the first fit they are kept and used by ``partial_fit`` or a warm start, as
        scikit-learn does with weights set by hand.
        """
        return self._weights("coefs")

    @coefs_.setter
    def coefs_(self, arrays):
        self._assign_weights("coefs", arrays)

    @property
    def intercepts_(self):
        """Bias vectors, one per layer: ``module_``'s own arrays (assignable as ``coefs_``)."""
        return self._weights("intercepts")

    @intercepts_.setter
    def intercepts_(self, arrays):
        self._assign_weights("intercepts", arrays)

    @property
    def _no_improvement_count(self):  # scikit-learn's name for the stopping counter
        return self._plateau.num_bad_epochs

    @_no_improvement_count.setter
    def _no_improvement_count(self, count):
        if hasattr(self, "_plateau"):
            self._plateau.num_bad_epochs = count

    def _weights(self, kind):
        if "module_" not in vars(self) and f"_assigned_{kind}" in vars(self):
            return vars(self)[f"_assigned_{kind}"]  # the very list assigned, as scikit-learn's
        return [getattr(layer, "weight" if kind == "coefs" else "bias").data
                for layer in self._dense_layers()]

    def _assign_weights(self, kind, arrays):
        if "module_" not in vars(self):
            vars(self)[f"_assigned_{kind}"] = arrays
            return
        names = {id(p): name for name, p in self.module_.named_parameters()}
        targets = [getattr(layer, "weight" if kind == "coefs" else "bias")
                   for layer in self._dense_layers()]
        arrays = [np.asarray(a) for a in arrays]
        if len(arrays) != len(targets):
            raise ValueError(f"{kind}_ must hold {len(targets)} arrays (one per layer), "
                             f"got {len(arrays)}")
        for i, (a, t) in enumerate(zip(arrays, targets)):
            if a.shape != t.shape:
                raise ValueError(f"{kind}_[{i}] must have shape {t.shape}, got {a.shape}")
        self.module_.load_state_dict({names[id(t)]: a for a, t in zip(arrays, targets)},
                                     strict=False)

    def _use_assigned_weights(self):
        """Copy weights assigned before the first fit into the fresh ``module_``."""
        for kind in ("coefs", "intercepts"):
            arrays = vars(self).pop(f"_assigned_{kind}", None)
            if arrays is not None:
                self._assign_weights(kind, arrays)

    def _dense_layers(self):
        return [layer for layer in self.module_ if isinstance(layer, nn.Dense)]

    def _parameters(self):
        """Weights then biases: scikit-learn's packing order for L-BFGS."""
        layers = self._dense_layers()
        return [layer.weight for layer in layers] + [layer.bias for layer in layers]

    # ------------------------------------------------------------------ fitting
    def _fit(self, X, y, sample_weight=None, incremental=False):
        hidden = self.hidden_layer_sizes
        hidden = list(hidden) if hasattr(hidden, "__iter__") else [hidden]
        if np.any(np.array(hidden) <= 0):
            raise ValueError(f"hidden_layer_sizes must be > 0, got {hidden}.")
        first_pass = not hasattr(self, "module_") or (not self.warm_start and not incremental)
        X, y = self._validate_input(X, y, incremental, reset=first_pass)
        if sp.issparse(X):
            X = X.toarray()
        if y.ndim == 1:
            y = y.reshape(-1, 1)
        self.n_outputs_ = y.shape[1]
        self._random_state = check_random_state(self.random_state)
        if first_pass:
            self._initialize([X.shape[1], *hidden, self.n_outputs_], X.dtype)
            if incremental or self.warm_start:
                self._use_assigned_weights()
        for kind in ("coefs", "intercepts"):
            vars(self).pop(f"_assigned_{kind}", None)
        dtype = self.coefs_[0].dtype  # a warm start keeps the network's dtype
        X = X.astype(dtype, copy=False)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X, dtype=dtype)

        if self.solver == "lbfgs":
            self._fit_lbfgs(X, y, sample_weight)
        else:
            self._fit_stochastic(X, y, sample_weight, incremental)

        if not all(np.isfinite(w).all() for w in chain(self.coefs_, self.intercepts_)):
            raise ValueError(
                "Solver produced non-finite parameter weights. The input data may contain "
                "large values and need to be preprocessed."
            )
        return self

    def _initialize(self, layer_units, dtype):
        """Fresh network (scikit-learn's Glorot draws) and fitted state for a first fit."""
        self.n_iter_ = 0
        self.t_ = 0
        self.n_layers_ = len(layer_units)
        self.out_activation_ = self._output_activation()
        # factor 2 instead of 6 in sqrt(factor / (fan_in + fan_out)) for the logistic activation
        gain = np.sqrt(1 / 3) if self.activation == "logistic" else 1.0
        layers = []
        for i in range(self.n_layers_ - 1):
            layers.append(nn.Dense(layer_units[i], layer_units[i + 1], rng=self._random_state,
                                   dtype=dtype, gain=gain))
            if i < self.n_layers_ - 2:
                layers.append(self._hidden_activation())
        self.module_ = nn.Sequential(*layers)
        self._best_state = self.module_.state_dict()
        if self.solver != "lbfgs":
            self._reset_stopping_state()

    def _reset_stopping_state(self):
        """The stochastic solvers' history and stopping-rule state, as at a first fit."""
        self.loss_curve_ = []
        self._plateau = optim.Plateau("max" if self.early_stopping else "min", self.tol)
        if self.early_stopping:
            self.validation_scores_ = []
            self.best_validation_score_ = -np.inf
            self.best_loss_ = None
        else:
            self.best_loss_ = np.inf
            self.validation_scores_ = None
            self.best_validation_score_ = None

    def _hidden_activation(self):
        if callable(self.activation):
            return nn.Lambda(self.activation)
        return _hidden_activation(self.activation)

    def _objective(self, X, target, sample_weight):
        """(loss to back-propagate, the loss value as scikit-learn reports ``loss_``) on a batch.

        The data term averages the per-sample loss (weighted by ``sample_weight``); as in
        scikit-learn the reported squared error averages over outputs, its gradient sums. The
        L2 term ``0.5 * alpha * sum ||W||^2 / n`` (n: sample count or weight sum) stays out of
        the graph: its gradient ``alpha * W / n`` is written into each ``W.grad``, which
        ``backward()`` accumulates into, so the caller clears the gradients first.
        """
        z = self.module_(Tensor(X))
        kind = self.out_activation_
        if sample_weight is None:
            count = X.shape[0]
            data = F.cross_entropy(z, target) if kind == "softmax" else OUTPUTS[kind][0](z, target).mean()
        else:
            count = float(sample_weight.sum()) or 1.0  # an all-zero batch then only decays
            data = (OUTPUTS[kind][0](z, target) * (sample_weight / count)).sum()
        value = data.item() / (self.n_outputs_ if kind == "identity" else 1)
        if self.alpha:
            scale = self.alpha / count
            for layer in self._dense_layers():
                w = layer.weight.data
                layer.weight.grad = w * scale
                value += 0.5 * scale * float(np.dot(w.ravel(), w.ravel()))
        return data, value

    def _fit_lbfgs(self, X, y, sample_weight):
        """scipy's L-BFGS-B on the packed parameters, loss and gradient from the framework."""
        params = self._parameters()
        target = self._targets(y, X.dtype)

        def unpack(theta):
            start = 0
            for p in params:
                np.copyto(p.data, theta[start:start + p.data.size].reshape(p.shape), casting="unsafe")
                start += p.data.size

        def loss_and_grad(theta):
            unpack(theta)
            for p in params:
                p.grad = None
            loss, value = self._objective(X, target, sample_weight)
            loss.backward()
            return value, np.concatenate([p.grad.ravel() for p in params]).astype(np.float64)

        iprint = 1 if self.verbose is True or self.verbose >= 1 else -1
        result = scipy.optimize.minimize(
            loss_and_grad, np.concatenate([p.data.ravel() for p in params]), method="L-BFGS-B",
            jac=True,
            options={"maxfun": self.max_fun, "maxiter": self.max_iter, "gtol": self.tol,
                     **_get_additional_lbfgs_options_dict("iprint", iprint)},
        )
        self.n_iter_ = _check_optimize_result("lbfgs", result, self.max_iter)
        self.loss_ = result.fun
        unpack(result.x)

    def _make_optimizer(self):
        """scikit-learn's solver as a tinygrad_nn optimizer (its epsilon placement and velocity
        form are optimizer options), and its learning-rate schedule (None: constant, or
        adaptive, which `_stop_or_slow_down` handles together with the stopping rule)."""
        params = self.module_.parameters()
        if self.solver == "adam":
            opt = optim.Adam(params, lr=self.learning_rate_init, betas=(self.beta_1, self.beta_2),
                             eps=self.epsilon, eps_placement="raw")
            return opt, None
        opt = optim.SGD(params, lr=self.learning_rate_init, momentum=self.momentum,
                        nesterov=self.nesterovs_momentum and self.momentum > 0, velocity="step")
        schedule = optim.InverseScalingLR(opt, self.power_t) if self.learning_rate == "invscaling" else None
        return opt, schedule

    def _fit_stochastic(self, X, y, sample_weight, incremental):
        """sgd/adam: minibatch epochs through `training.fit`, with scikit-learn's epoch rules."""
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        if not incremental or not hasattr(self, "_optimizer"):
            self._optimizer, self._schedule = self._make_optimizer()
        # a warm start after lbfgs, or with early_stopping switched, starts a fresh history
        if not hasattr(self, "loss_curve_") or (self.validation_scores_ is None) == self.early_stopping:
            self._reset_stopping_state()
        self._plateau.tol = float(self.tol)
        arrays, validation = self._training_arrays(X, self._targets(y, X.dtype), y, sample_weight)
        run = _Epochs(self, arrays, validation, incremental)
        self.n_iter_ = 0
        history = training.fit(run.step_loss, self._optimizer, tuple(arrays),
                               epochs=1 if incremental else self.max_iter,
                               batch_size=self._batch_size(arrays[0].shape[0]), shuffle=False,
                               on_epoch_end=run.end_epoch, progress=bool(self.progress),
                               desc=type(self).__name__)
        if history.stop_reason == "interrupted":
            warnings.warn("Training interrupted by user.")
        if self.early_stopping:  # restore the best weights
            self.module_.load_state_dict(self._best_state)

    def _training_arrays(self, X, target, y, sample_weight):
        """The arrays `training.fit` batches (in scikit-learn's shared epoch order when
        shuffling) and the validation set (X, y, sample_weight) or None."""
        validation = None
        if self.early_stopping:
            train, val = self._validation_split(y)
            sw_val = None if sample_weight is None else sample_weight[val]
            validation = (X[val], self._score_targets(y[val]), sw_val)
            X, target = X[train], target[train]
            sample_weight = None if sample_weight is None else sample_weight[train]
        arrays = [X, target] + ([] if sample_weight is None else [sample_weight])
        if self.shuffle:
            arrays = [_Rows(a) for a in arrays]
            _reorder(arrays, self._random_state)
        return arrays, validation

    def _batch_size(self, n_samples):
        if self.batch_size == "auto":
            return min(200, n_samples)
        if self.batch_size > n_samples:
            warnings.warn("Got `batch_size` less than 1 or larger than sample size. It is "
                          "going to be clipped")
        return int(np.clip(self.batch_size, 1, n_samples))

    def _validation_split(self, y):
        """Train/validation indices, stratified by class for single-label classification."""
        stratify = None
        if is_classifier(self) and self._label_binarizer.y_type_ != "multilabel-indicator":
            # binary: the indicator column, as scikit-learn passes it; else the class labels
            stratify = self.classes_[y.argmax(axis=1)] if y.shape[1] > 1 else y
        idx = np.arange(y.shape[0])
        split = dict(random_state=self._random_state, test_size=self.validation_fraction)
        # a class too rare to stratify on raises train_test_split's error, as in scikit-learn
        train, val = train_test_split(idx, stratify=stratify, **split)
        if val.shape[0] < 2:
            raise ValueError("The validation set is too small. Increase 'validation_fraction' "
                             "or the size of your dataset.")
        return train, val

    def _update_no_improvement_count(self, validation):
        """scikit-learn's rule, counted by `optim.Plateau`: the validation score (keeping the best
        epoch's weights) under early stopping, else the training loss."""
        if validation is not None:
            score = self._score(*validation)
            self.validation_scores_.append(score)
            if self.verbose:
                print("Validation score: %f" % score)
            if self._plateau.step(score):
                self._best_state = self.module_.state_dict()
            self.best_validation_score_ = self._plateau.best
        else:
            self._plateau.step(self.loss_curve_[-1])
            self.best_loss_ = self._plateau.best

    def _stop_or_slow_down(self):
        """After too many epochs without progress: stop (True), or with sgd's adaptive rate divide
        the learning rate by 5 and go on while it is above 1e-6."""
        what = "Validation score" if self.early_stopping else "Training loss"
        msg = (f"{what} did not improve more than tol={self.tol:f} for "
               f"{self.n_iter_no_change} consecutive epochs.")
        adaptive = self.solver == "sgd" and self.learning_rate == "adaptive"
        if adaptive and self._optimizer.lr > 1e-6:
            self._optimizer.lr = self._optimizer.lr / 5.0
            self._plateau.num_bad_epochs = 0
            if self.verbose:
                print(msg + " Setting learning rate to %f" % self._optimizer.lr)
            return False
        if self.verbose:
            print(msg + (" Learning rate too small." if adaptive else "") + " Stopping.")
        return True

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the network to data X (n_samples, n_features) and targets y; returns self."""
        return self._fit(X, y, sample_weight=sample_weight, incremental=False)

    def _check_solver(self):
        if self.solver not in ("sgd", "adam"):
            raise AttributeError(
                f"partial_fit is only available for stochastic optimizers. {self.solver} is "
                "not stochastic."
            )
        return True

    # ------------------------------------------------------------------ prediction
    def _forward(self, X, check_input=True):
        """The output layer's activations for X (scikit-learn's ``_forward_pass_fast``)."""
        if check_input:
            X = validate_data(self, X, accept_sparse=["csr", "csc"], reset=False)
        if sp.issparse(X):
            X = X.toarray()
        with no_grad():
            z = self.module_(Tensor(X.astype(self.coefs_[0].dtype, copy=False))).data
        return OUTPUTS[self.out_activation_][1](z)

    def _score_with(self, X, y, sample_weight, score_function):
        y_pred = self._predict(X, check_input=False)
        if np.issubdtype(y_pred.dtype, np.floating) and not np.isfinite(y_pred).all():
            return np.nan
        return score_function(y, y_pred, sample_weight=sample_weight)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


class MLPClassifier(ClassifierMixin, BaseMLP):
    __doc__ = """Multi-layer perceptron classifier: scikit-learn's, trained by tinygrad_nn.

    Log-loss on softmax outputs (multiclass) or logistic outputs (binary, multilabel). See the
    module docstring for what matches scikit-learn exactly and what differs; the parameters and
    attributes are scikit-learn 1.9's, plus ``progress`` (tqdm bar) and ``module_``.

    Parameters
    ----------
""" + _PARAMETERS_DOC + """
    Attributes
    ----------
    classes_ : ndarray
        The class labels (for multilabel targets, one entry per label).
""" + _ATTRIBUTES_DOC

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam",
                 alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000,
                 progress=False):
        _store_params(self, locals())

    def _output_activation(self):
        return "softmax" if self._label_binarizer.y_type_ == "multiclass" else "logistic"

    def _validate_input(self, X, y, incremental, reset):
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"], multi_output=True,
                             dtype=(np.float64, np.float32), reset=reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if not hasattr(self, "classes_") or (not self.warm_start and not incremental):
            self._label_binarizer = LabelBinarizer().fit(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            classes = unique_labels(y)
            if self.warm_start:
                if set(classes) != set(self.classes_):
                    raise ValueError(
                        "warm_start can only be used where `y` has the same classes as in the "
                        f"previous call to fit. Previously got {self.classes_}, `y` has {classes}"
                    )
            elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                raise ValueError(f"`y` has classes not in `self.classes_`. `self.classes_` has "
                                 f"{self.classes_}. 'y' has {classes}.")
        return X, self._label_binarizer.transform(y).astype(bool)

    def _targets(self, Y, dtype):
        """What the loss compares the network's output with: class indices for softmax, else
        the 0/1 indicator matrix."""
        if self.out_activation_ == "softmax":
            return Y.argmax(axis=1)
        return Y.astype(dtype)

    def _score_targets(self, Y):
        return self._label_binarizer.inverse_transform(Y)

    def _score(self, X, y, sample_weight=None):
        return self._score_with(X, y, sample_weight, accuracy_score)

    def predict(self, X):
        """Class labels for X (an indicator matrix for multilabel targets)."""
        check_is_fitted(self)
        return self._predict(X)

    def _predict(self, X, check_input=True):
        y_pred = self._forward(X, check_input)
        if self.n_outputs_ == 1:
            y_pred = y_pred.ravel()
        return self._label_binarizer.inverse_transform(y_pred)

    @available_if(lambda est: est._check_solver())
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """One epoch over (X, y); ``classes`` (all labels) is required on the first call."""
        if _check_partial_fit_first_call(self, classes):
            self._label_binarizer = LabelBinarizer()
            if type_of_target(y).startswith("multilabel"):
                self._label_binarizer.fit(y)
            else:
                self._label_binarizer.fit(classes)
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)

    def predict_proba(self, X):
        """Class probabilities, columns ordered as ``classes_``."""
        check_is_fitted(self)
        y_pred = self._forward(X)
        if self.n_outputs_ == 1:
            y_pred = y_pred.ravel()
        if y_pred.ndim == 1:
            return np.vstack([1 - y_pred, y_pred]).T
        return y_pred

    def predict_log_proba(self, X):
        """``log(predict_proba(X))``."""
        y_prob = self.predict_proba(X)
        return np.log(y_prob, out=y_prob)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class MLPRegressor(RegressorMixin, BaseMLP):
    __doc__ = """Multi-layer perceptron regressor: scikit-learn's, trained by tinygrad_nn.

    Half squared error on identity outputs (``loss="squared_error"``) or half Poisson deviance
    on exponential outputs (``loss="poisson"``, y >= 0). See the module docstring for what
    matches scikit-learn exactly and what differs.

    Parameters
    ----------
    loss : {"squared_error", "poisson"}, default "squared_error"
        The training objective (Poisson: exponential outputs, non-negative targets).
""" + _PARAMETERS_DOC + """
    Attributes
    ----------
""" + _ATTRIBUTES_DOC

    _parameter_constraints: dict = {
        **BaseMLP._parameter_constraints,
        "loss": [StrOptions({"squared_error", "poisson"})],
    }

    def __init__(self, loss="squared_error", hidden_layer_sizes=(100,), activation="relu", *,
                 solver="adam", alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000,
                 progress=False):
        _store_params(self, locals())

    def _output_activation(self):
        return "exp" if self.loss == "poisson" else "identity"

    def _validate_input(self, X, y, incremental, reset):
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"], multi_output=True,
                             y_numeric=True, dtype=(np.float64, np.float32), reset=reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if self.loss == "poisson" and np.any(y < 0):
            raise ValueError("loss='poisson' requires non-negative targets y, got min(y) = "
                             f"{y.min()}")
        return X, y

    def _targets(self, y, dtype):
        return y.astype(dtype)

    def _score_targets(self, y):
        return y

    def _score(self, X, y, sample_weight=None):
        return self._score_with(X, y, sample_weight, r2_score)

    def predict(self, X):
        """Predicted targets: shape (n_samples,) for one output, else (n_samples, n_outputs)."""
        check_is_fitted(self)
        return self._predict(X)

    def _predict(self, X, check_input=True):
        y_pred = self._forward(X, check_input)
        return y_pred.ravel() if y_pred.shape[1] == 1 else y_pred

    @available_if(lambda est: est._check_solver())
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over (X, y), continuing from the current weights."""
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)
