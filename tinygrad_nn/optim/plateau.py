"""No-improvement counting: the one rule behind early stopping and reduce-on-plateau.

`training.fit` (early stopping), `ReduceLROnPlateau` and the MLP estimators (scikit-learn's
``n_iter_no_change``) all count stalled epochs with `Plateau`.
"""
from __future__ import annotations

import math

from .._validation import check_choice, check_real

__all__ = ["Plateau"]


class Plateau:
    """Count consecutive epochs that fail to improve on the best value by ``tol``.

    scikit-learn's rule: with ``mode="min"`` (a loss) an epoch improves when
    ``value <= best - tol``, with ``mode="max"`` (a score) when ``value >= best + tol``; any
    other epoch adds one to ``num_bad_epochs`` and an improving one resets it to 0. Separately,
    ``best`` moves on any strict gain (so a gain smaller than ``tol`` still updates it). A NaN
    value never improves and never becomes the best.

    Parameters
    ----------
    mode : {"min", "max"}
        Whether lower (a loss) or higher (a score) is better.
    tol : float
        The margin an epoch must beat the best value by (>= 0).

    Attributes
    ----------
    best : float
        Best value seen (``inf`` for "min", ``-inf`` for "max" before the first).
    num_bad_epochs : int
        Consecutive epochs without improvement.
    """

    def __init__(self, mode="min", tol=0.0):
        self.mode = check_choice("mode", mode, ("min", "max"), owner="Plateau")
        self.tol = check_real("tol", tol, low=0.0, owner="Plateau")
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = 0

    def step(self, value) -> bool:
        """Record one epoch's value; True when it is a new best."""
        value = float(value)
        if self.mode == "min":
            stalled = not value <= self.best - self.tol
            better = value < self.best
        else:
            stalled = not value >= self.best + self.tol
            better = value > self.best
        self.num_bad_epochs = self.num_bad_epochs + 1 if stalled else 0
        if better:
            self.best = value
        return better

    def state_dict(self) -> dict:
        """``best`` and ``num_bad_epochs`` (plus the settings), to resume counting."""
        return {"mode": self.mode, "tol": self.tol, "best": self.best,
                "num_bad_epochs": self.num_bad_epochs}

    def load_state_dict(self, state_dict):
        """Restore what `state_dict` returned."""
        restored = Plateau(_item(state_dict["mode"]), _item(state_dict["tol"]))
        restored.best = float(_item(state_dict["best"]))
        restored.num_bad_epochs = int(_item(state_dict["num_bad_epochs"]))
        self.__dict__.update(restored.__dict__)

    def __repr__(self):
        return (f"Plateau(mode={self.mode!r}, tol={self.tol!r}, best={self.best!r}, "
                f"num_bad_epochs={self.num_bad_epochs})")


def _item(value):
    return value.item() if hasattr(value, "item") else value
