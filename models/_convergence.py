"""How the framework-trained estimators report a training run that failed.

Two signals, the same for every model (MLPClassifier raises the same ValueError):

- a non-finite weight (inf or NaN) after training is a ``ValueError``: the model could only
  predict garbage or a constant;
- a finite model whose last training epoch scored no better than the best constant prediction
  (the class frequencies) gets a ``ConvergenceWarning``: the learning rate was too large, the
  inputs too badly scaled, or training too short to learn anything.
"""
from __future__ import annotations

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning

__all__ = ["check_finite_weights", "warn_if_no_better_than_constant", "class_entropy",
           "one_hot_constant_mse"]


def check_finite_weights(estimator, parameters):
    """ValueError naming the estimator unless every parameter array is finite."""
    if not all(np.isfinite(p.data).all() for p in parameters):
        raise ValueError(
            f"{type(estimator).__name__}: training produced non-finite parameter weights "
            "(training diverged): use a smaller learning rate, or preprocess the input data "
            "(it may contain large values).")


def warn_if_no_better_than_constant(estimator, loss, constant_loss, what="loss"):
    """ConvergenceWarning when ``loss`` (the last epoch's training loss) is NaN or not below
    ``constant_loss`` (the same loss of the best constant prediction)."""
    if not loss < constant_loss:
        warnings.warn(
            f"{type(estimator).__name__}: the last epoch's training {what} ({loss:.6g}) is no "
            f"better than predicting the class frequencies ({constant_loss:.6g}): training "
            "diverged or has not converged; use a smaller learning rate, scale the inputs, or "
            "train longer.", ConvergenceWarning, stacklevel=4)  # the caller of fit


def _frequencies(y_idx, n_classes):
    return np.bincount(y_idx, minlength=n_classes) / len(y_idx)


def class_entropy(y_idx, n_classes):
    """Mean cross-entropy of predicting the class frequencies for every sample."""
    p = _frequencies(y_idx, n_classes)
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())


def one_hot_constant_mse(y_idx, n_classes):
    """Mean squared error per output of predicting the class frequencies against one-hot rows."""
    p = _frequencies(y_idx, n_classes)
    return float((p * (1 - p)).mean())
