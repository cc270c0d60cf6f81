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

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from ._interrupt import interrupt_in
from ._validation import as_rng, check_int, check_real
from .optim.plateau import Plateau
from .tensor import Tensor

__all__ = ["History", "fit"]

STOP_REASONS = ("max_epochs", "early_stopping", "callback", "interrupted")


@dataclass
class History:
    """What `fit` recorded, one entry per completed epoch.

    ``loss``: mean training loss per epoch (batches weighted by their size). ``metrics``: the
    values `validate` returned, e.g. ``{"val_score": [...]}`` (callbacks may add their own
    lists). ``best_epoch``: index of the best monitored epoch (see `fit`). ``stop_reason``: one of
    ``"max_epochs"``, ``"early_stopping"``, ``"callback"``, ``"interrupted"``. ``plateau``: the
    early-stopping count (`optim.Plateau` on the monitored score), carried on when a History
    is continued; ``best_score`` and ``bad_epochs`` read it.
    """

    loss: list = field(default_factory=list)
    metrics: dict = field(default_factory=dict)
    best_epoch: int | None = None
    stop_reason: str = "max_epochs"
    plateau: Plateau = field(default_factory=lambda: Plateau("max"))

    def __setstate__(self, state):
        """Unpickle, also a History saved before ``plateau`` existed (``best_score`` and
        ``bad_epochs`` fields)."""
        if "plateau" not in state:
            plateau = Plateau("max")
            plateau.best = state.pop("best_score", -float("inf"))
            plateau.num_bad_epochs = state.pop("bad_epochs", 0)
            state["plateau"] = plateau
        self.__dict__.update(state)

    @property
    def epochs(self) -> int:
        """Number of completed epochs recorded."""
        return len(self.loss)

    @property
    def best_score(self) -> float:
        """Best monitored score so far (``-inf`` before the first epoch)."""
        return self.plateau.best

    @property
    def bad_epochs(self) -> int:
        """Consecutive epochs that failed to improve the best score by ``tol``."""
        return self.plateau.num_bad_epochs


def fit(step_loss, optimizer, arrays, *, epochs, batch_size, shuffle=True, rng=None,
        validate=None, early_stopping=False, patience=10, tol=0.0, module=None,
        on_batch_end=None, before_step=None, on_epoch_end=None, progress=True, desc=None,
        history=None):
    """Train for up to ``epochs`` epochs over minibatches of ``arrays``; return a `History`.

    Parameters
    ----------
    step_loss : callable
        ``step_loss(*batch) -> scalar Tensor``; per batch fit clears the gradients, calls it,
        back-propagates, calls ``before_step`` and steps the optimizer.
    optimizer : optim.Optimizer
    arrays : tuple of arrays
        Equal-length arrays (e.g. ``(X, y)`` or ``(X, y, sample_weight)``), sliced together
        into batches of ``batch_size`` rows (the last one may be smaller).
    epochs, batch_size : int
    shuffle : bool
        A fresh random order each epoch (``rng``: a seed or Generator, so the same seed gives
        the same run).
    validate : callable, optional
        ``validate() -> float`` (higher is better) or a dict of floats, called after each
        epoch; a float is recorded in ``metrics["val_score"]``, a dict under its own keys.
    early_stopping : bool
        Watch the score (validate's float, or its dict's first entry; without ``validate``,
        the negated training loss) and stop when more than ``patience`` consecutive epochs
        fail to reach ``best + tol`` (`optim.Plateau`, scikit-learn's ``n_iter_no_change``
        counting; a NaN score never improves). When ``module`` is given, its best-scoring
        weights are restored at the end (unless interrupted).
    module : nn.Module, optional
        The model being trained: fit puts it in train mode for the epochs and in eval mode
        while ``validate`` runs, then back to the mode it had.
    on_batch_end : callable, optional
        ``on_batch_end(epoch, batch_index, loss) -> bool``; True stops training ("callback").
    before_step : callable, optional
        ``before_step()``, called after ``backward()`` and before ``optimizer.step()``, e.g.
        ``lambda: optim.clip_grad_norm_(model.parameters(), 1.0)``.
    on_epoch_end : callable, optional
        ``on_epoch_end(epoch, history) -> bool``; True stops training ("callback").
    progress : bool
        Show a tqdm bar over epochs (``desc`` labels it).
    history : History, optional
        Continue a previous History (warm start): its lists grow and epoch numbers carry on.

    KeyboardInterrupt (Ctrl-C, also when it arrives inside a Numba kernel, or raised by a
    callback) stops cleanly: the weights are kept as they are and ``stop_reason`` is
    ``"interrupted"``; a partial epoch is not recorded.
    """
    arrays, n = _check_arrays(arrays)
    epochs = check_int("epochs", epochs, low=0, owner="fit")
    batch_size = check_int("batch_size", batch_size, low=1, owner="fit")
    patience = check_int("patience", patience, low=0, owner="fit")
    for name, fn in (("before_step", before_step), ("on_batch_end", on_batch_end),
                     ("on_epoch_end", on_epoch_end), ("validate", validate)):
        if fn is not None and not callable(fn):
            raise TypeError(f"fit: {name} must be callable or None, got {fn!r}")
    history = History() if history is None else history
    history.plateau.tol = check_real("tol", tol, low=0.0, owner="fit")
    history.stop_reason = "max_epochs"
    rng = as_rng(rng, owner="fit")
    batches = _Batches(arrays, n, batch_size, shuffle, rng)
    step = _Step(step_loss, optimizer, before_step)
    keep_best = module if early_stopping else None
    best_state = None
    with _training_mode(module), _Bar(epochs, desc, progress) as bar:
        try:
            for epoch in range(history.epochs, history.epochs + epochs):
                loss = _train_epoch(step, batches, epoch, on_batch_end)
                if loss is None:
                    history.stop_reason = "callback"
                    break
                if _end_epoch(history, loss, validate, module, epoch) and keep_best is not None:
                    best_state = keep_best.state_dict()
                bar.update(1, history)
                if early_stopping and history.bad_epochs > patience:
                    history.stop_reason = "early_stopping"
                    break
                if on_epoch_end is not None and on_epoch_end(epoch, history):
                    history.stop_reason = "callback"
                    break
        except (KeyboardInterrupt, SystemError) as exc:
            if interrupt_in(exc) is None:  # a SystemError not caused by Ctrl-C
                raise
            history.stop_reason = "interrupted"
    if best_state is not None and history.stop_reason != "interrupted":
        module.load_state_dict(best_state)
    return history


class _Batches:
    """The rows of ``arrays`` in minibatches, in a fresh random order per epoch if shuffling."""

    def __init__(self, arrays, n, batch_size, shuffle, rng):
        self.arrays, self.n, self.batch_size, self.shuffle, self.rng = arrays, n, batch_size, shuffle, rng

    def epoch(self):
        order = self.rng.permutation(self.n) if self.shuffle else None
        for start in range(0, self.n, self.batch_size):
            idx = (slice(start, start + self.batch_size) if order is None
                   else order[start:start + self.batch_size])
            yield [a[idx] for a in self.arrays]


class _Step:
    """One optimisation step on a batch: clear, loss, backward, ``before_step``, step."""

    def __init__(self, step_loss, optimizer, before_step):
        self.step_loss, self.optimizer, self.before_step = step_loss, optimizer, before_step

    def __call__(self, batch) -> float:
        self.optimizer.zero_grad()
        loss = self.step_loss(*batch)
        if not isinstance(loss, Tensor):
            raise TypeError(f"step_loss must return a scalar Tensor, got {type(loss).__name__}")
        loss.backward()
        if self.before_step is not None:
            self.before_step()
        self.optimizer.step()
        return loss.item()


def _train_epoch(step, batches, epoch, on_batch_end):
    """One pass over the rows: the sample-weighted mean loss, or None when ``on_batch_end``
    asked to stop."""
    total = 0.0
    for b, batch in enumerate(batches.epoch()):
        value = step(batch)
        total += value * len(batch[0])
        if on_batch_end is not None and on_batch_end(epoch, b, value):
            return None
    return total / batches.n


def _end_epoch(history, loss, validate, module, epoch):
    """Record the epoch's loss and validation, count it on the plateau; True if it is the best."""
    history.loss.append(loss)
    score = _record_validation(history, validate, module)
    if history.plateau.step(-loss if score is None else score):
        history.best_epoch = epoch
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


@contextlib.contextmanager
def _training_mode(module):
    """``module`` in train mode inside, back to its own mode after (nothing when None)."""
    if module is None:
        yield
        return
    was_training = module.training
    module.train()
    try:
        yield
    finally:
        if not was_training:
            module.eval()


class _Bar:
    """A tqdm bar over epochs showing the last loss and metrics (or nothing when off)."""

    def __init__(self, epochs, desc, progress):
        self.bar = None
        if progress:
            from tqdm import tqdm

            self.bar = tqdm(total=epochs, desc=desc or "fit", unit="epoch", leave=False)

    def update(self, n, history):
        if self.bar is None:
            return
        self.bar.update(n)
        post = {"loss": f"{history.loss[-1]:.4g}"}
        for key, values in history.metrics.items():
            if values:
                post[key] = f"{values[-1]:.4g}"
        self.bar.set_postfix(post, refresh=False)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.close()


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
