"""The reusable training loop: epochs over shuffled minibatches, history, early stopping.

``fit`` knows nothing about the model: the caller gives a ``step_loss(*batch) -> scalar
Tensor`` closure and an optimizer, and gets back a `History`. Models (MLPClassifier,
CNNClassifier, ...) and example scripts all train through it.

    def step_loss(xb, yb):
        return F.cross_entropy(model(Tensor(xb)), yb)

    history = fit(step_loss, SGD(model.parameters(), lr=0.1), (X, y),
                  epochs=20, batch_size=100, rng=0)
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from .tensor import Tensor

__all__ = ["History", "fit"]

STOP_REASONS = ("max_epochs", "early_stopping", "callback", "interrupted")


@dataclass
class History:
    """What `fit` recorded, one entry per completed epoch.

    ``loss``: mean training loss per epoch (batches weighted by their size). ``metrics``: the
    values `validate` returned, e.g. ``{"val_score": [...]}`` (callbacks may add their own
    lists). ``best_epoch``: index of the best monitored epoch (see `fit`). ``stop_reason``: one of
    ``"max_epochs"``, ``"early_stopping"``, ``"callback"``, ``"interrupted"``. ``best_score`` and
    ``bad_epochs`` carry the early-stopping state when a History is continued.
    """

    loss: list = field(default_factory=list)
    metrics: dict = field(default_factory=dict)
    best_epoch: int | None = None
    stop_reason: str = "max_epochs"
    best_score: float = -math.inf
    bad_epochs: int = 0

    @property
    def epochs(self) -> int:
        """Number of completed epochs recorded."""
        return len(self.loss)


def fit(step_loss, optimizer, arrays, *, epochs, batch_size, shuffle=True, rng=None,
        validate=None, early_stopping=False, patience=10, tol=0.0, module=None,
        on_batch_end=None, on_epoch_end=None, progress=True, desc=None, history=None):
    """Train for up to ``epochs`` epochs over minibatches of ``arrays``; return a `History`.

    arrays: a tuple of equal-length arrays (e.g. ``(X, y)`` or ``(X, y, sample_weight)``),
        sliced together into batches of ``batch_size`` rows (the last one may be smaller),
        in a fresh random order each epoch when ``shuffle`` (``rng``: a seed or Generator, so
        the same seed gives the same run).
    step_loss: ``step_loss(*batch) -> scalar Tensor``; per batch fit clears the gradients,
        calls it, back-propagates and steps the optimizer.
    validate: ``validate() -> float`` (higher is better) or a dict of floats, called after each
        epoch; a float is recorded in ``metrics["val_score"]``, a dict under its own keys.
    early_stopping: watch the score (validate's float, or its dict's first entry; without
        ``validate``, the negated training loss) and stop when more than ``patience``
        consecutive epochs fail to reach ``best + tol`` (scikit-learn's ``n_iter_no_change``
        counting). When ``module`` is given, its best-scoring weights are restored at the end
        (unless interrupted).
    module: the model being trained (optional): fit puts it in train mode for the epochs and
        in eval mode while ``validate`` runs, then back to the mode it had.
    on_batch_end: ``on_batch_end(epoch, batch_index, loss) -> bool``; on_epoch_end:
        ``on_epoch_end(epoch, history) -> bool``. Returning True stops training ("callback").
    KeyboardInterrupt (Ctrl-C, or raised by a callback) stops cleanly: the weights are kept as
    they are and ``stop_reason`` is ``"interrupted"``; a partial epoch is not recorded.
    progress: show a tqdm bar over epochs (``desc`` labels it). history: continue a previous
    History (warm start): its lists grow and epoch numbers carry on.
    """
    arrays, n = _check_arrays(arrays)
    epochs = _check_int("epochs", epochs, 0)
    batch_size = _check_int("batch_size", batch_size, 1)
    patience = _check_int("patience", patience, 0)
    if not (isinstance(tol, (int, float, np.number)) and math.isfinite(tol)):
        raise ValueError(f"tol must be a finite number, got {tol!r}")
    rng = _generator(rng)
    history = History() if history is None else history
    history.stop_reason = "max_epochs"
    best_state = None
    first = history.epochs

    was_training = module.training if module is not None else None
    if module is not None:
        module.train()
    bar = _progress_bar(epochs, desc, progress)
    try:
        for epoch in range(first, first + epochs):
            order = rng.permutation(n) if shuffle else None
            loss = _train_epoch(step_loss, optimizer, arrays, n, batch_size, order, epoch, on_batch_end)
            if loss is None:
                history.stop_reason = "callback"
                break
            history.loss.append(loss)
            score = _record_validation(history, validate, module)
            if _update_best(history, -loss if score is None else score, tol, epoch) \
                    and early_stopping and module is not None:
                best_state = {k: np.array(v, copy=True) for k, v in module.state_dict().items()}
            bar.update(1)
            if progress:
                bar.set_postfix(_postfix(history), refresh=False)
            if early_stopping and history.bad_epochs > patience:
                history.stop_reason = "early_stopping"
                break
            if on_epoch_end is not None and on_epoch_end(epoch, history):
                history.stop_reason = "callback"
                break
    except KeyboardInterrupt:
        history.stop_reason = "interrupted"
    finally:
        bar.close()
        if module is not None and not was_training:
            module.eval()
    if best_state is not None and history.stop_reason != "interrupted":
        module.load_state_dict(best_state)
    return history


def _train_epoch(step_loss, optimizer, arrays, n, batch_size, order, epoch, on_batch_end):
    """One pass over the rows (in ``order``, or as they are): the sample-weighted mean loss,
    or None when ``on_batch_end`` asked to stop."""
    total = 0.0
    for b, start in enumerate(range(0, n, batch_size)):
        idx = slice(start, start + batch_size) if order is None else order[start:start + batch_size]
        batch = [a[idx] for a in arrays]
        optimizer.zero_grad()
        loss = step_loss(*batch)
        if not isinstance(loss, Tensor):
            raise TypeError(f"step_loss must return a scalar Tensor, got {type(loss).__name__}")
        loss.backward()
        optimizer.step()
        value = loss.item()
        total += value * len(batch[0])
        if on_batch_end is not None and on_batch_end(epoch, b, value):
            return None
    return total / n


def _update_best(history, score, tol, epoch):
    """scikit-learn's bookkeeping: an epoch improves when ``score >= best + tol`` (a NaN never
    does); the best score and epoch move on any strict gain. True when this epoch is the best."""
    history.bad_epochs = 0 if score >= history.best_score + tol else history.bad_epochs + 1
    if score > history.best_score:
        history.best_score, history.best_epoch = score, epoch
        return True
    return False


def _record_validation(history, validate, module):
    """Call ``validate`` (module in eval mode), record its value(s); return the monitored score."""
    if validate is None:
        return None
    if module is not None:
        module.eval()
        try:
            out = validate()
        finally:
            module.train()
    else:
        out = validate()
    scores = dict(out) if isinstance(out, Mapping) else {"val_score": out}
    if not scores:
        raise ValueError("validate() returned an empty dict")
    for key, value in scores.items():
        history.metrics.setdefault(key, []).append(float(value))
    return float(next(iter(scores.values())))


def _postfix(history):
    post = {"loss": f"{history.loss[-1]:.4g}"}
    for key, values in history.metrics.items():
        if values:
            post[key] = f"{values[-1]:.4g}"
    return post


class _NoBar:
    def update(self, n=1):
        pass

    def close(self):
        pass


def _progress_bar(epochs, desc, progress):
    if not progress:
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=epochs, desc=desc or "fit", unit="epoch", leave=False)


def _check_arrays(arrays):
    if isinstance(arrays, np.ndarray) or not isinstance(arrays, (tuple, list)):
        raise TypeError("arrays must be a tuple of arrays, e.g. (X, y), got "
                        f"{type(arrays).__name__}")
    if not arrays:
        raise ValueError("arrays is empty: give at least the inputs, e.g. (X,) or (X, y)")
    arrays = [a if hasattr(a, "__getitem__") and hasattr(a, "shape") else np.asarray(a) for a in arrays]
    lengths = [a.shape[0] if a.ndim else None for a in arrays]
    if None in lengths or len(set(lengths)) != 1:
        shapes = ", ".join(str(a.shape) for a in arrays)
        raise ValueError(f"arrays must have the same number of rows, got shapes {shapes}")
    if lengths[0] == 0:
        raise ValueError("arrays have no rows: nothing to train on")
    return arrays, lengths[0]


def _check_int(name, value, low):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


def _generator(rng):
    if isinstance(rng, (np.random.Generator, np.random.RandomState)):
        return rng
    try:
        return np.random.default_rng(rng)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"rng must be None, an int seed or a numpy Generator, got {rng!r}") from exc
