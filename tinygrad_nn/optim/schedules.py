"""Learning-rate schedules: PyTorch's per-epoch ones and scikit-learn's three.

Every schedule derives from `LRScheduler` and is bound to one optimizer; ``step(...)`` sets the
learning rate of every param group for what follows and returns True while training may go on.

PyTorch's (``torch.optim.lr_scheduler`` semantics): `StepLR`, `MultiStepLR`, `ExponentialLR`,
`CosineAnnealingLR`, `LambdaLR`, `OneCycleLR`. Making one sets epoch 0's rate at once, and each
``step()`` (no argument; call it after the epoch's optimizer steps -- per batch for `OneCycleLR`)
moves to the next epoch. The rates are computed with PyTorch's own recurrences, so the sequence
is PyTorch's to the last bit.

scikit-learn's (the MLP's ``learning_rate`` options): `ConstantLR` (``"constant"``; not
PyTorch's ConstantLR, which scales the rate for some epochs), `InverseScalingLR`
(``"invscaling"``), `ReduceLROnPlateau` (``"adaptive"``; scikit-learn's rule, not PyTorch's
relative threshold).
"""
from __future__ import annotations

import math
from collections import Counter

import numpy as np

from .._validation import check_bool, check_choice, check_int, check_real
from .optimizer import Optimizer, _scalar
from .plateau import Plateau

__all__ = ["LRScheduler", "StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR",
           "LambdaLR", "OneCycleLR", "ConstantLR", "InverseScalingLR", "ReduceLROnPlateau"]


class LRScheduler:
    """Base class: one optimizer, its groups' starting rates, an epoch counter, state_dict.

    Epoch-based subclasses implement ``_next_lrs()``: the rates for epoch ``last_epoch`` given
    the groups' current rates (PyTorch's chainable form). Others override `step`.

    Attributes
    ----------
    optimizer : Optimizer
        The optimizer whose ``param_groups[k]["lr"]`` the schedule sets.
    base_lrs : list of float
        Each group's rate when the schedule was made.
    last_epoch : int
        Index of the current epoch (0 right after construction for epoch-based schedules).
    """

    def __init__(self, optimizer):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(self).__name__} needs an Optimizer, got {type(optimizer).__name__}")
        self.optimizer = optimizer
        self.base_lrs = [g["lr"] for g in optimizer.param_groups]
        self.last_epoch = -1

    def _initial_step(self):
        """Set epoch 0's rates (PyTorch schedules do this when they are made)."""
        self._initial = True
        try:
            self.step()
        finally:
            self._initial = False

    @property
    def lr(self):
        """The optimizer's learning rate (one value; see `get_last_lr` for every group)."""
        return self.optimizer.lr

    def get_last_lr(self) -> list:
        """The rate of every param group, as the last ``step`` set it."""
        return [g["lr"] for g in self.optimizer.param_groups]

    def step(self):
        """Move to the next epoch and set its rates; returns True."""
        self.last_epoch += 1
        lrs = self._next_lrs()
        for group, lr in zip(self.optimizer.param_groups, lrs):
            group["lr"] = lr
        return True

    def _next_lrs(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def _current(self):
        return [g["lr"] for g in self.optimizer.param_groups]

    # ------------------------------------------------------------------ state_dict
    def state_dict(self) -> dict:
        """The schedule's settings and counters (not the optimizer, not functions): a flat
        dict of numbers and arrays, saveable with ``np.savez``."""
        out = {}
        for key, value in vars(self).items():
            if key in ("optimizer", "_initial") or callable(value) or (
                    isinstance(value, list) and any(callable(v) for v in value)):
                continue
            if isinstance(value, Plateau):
                out.update({f"{key}.{k}": v for k, v in value.state_dict().items()})
            elif isinstance(value, (list, tuple)):
                out[key] = np.asarray(value)
            else:
                out[key] = value
        return out

    def load_state_dict(self, state_dict):
        """Restore what `state_dict` returned: every key must be present and known."""
        name = type(self).__name__
        own = self.state_dict()
        unknown = [k for k in state_dict if k not in own]
        missing = [k for k in own if k not in state_dict]
        if unknown or missing:
            problem = (f"unexpected key {unknown[0]!r}" if unknown else f"missing key {missing[0]!r}")
            raise ValueError(f"{name}.load_state_dict: {problem}")
        plateaus = {}
        for key, value in state_dict.items():
            attr, _, sub = str(key).partition(".")
            if sub:
                plateaus.setdefault(attr, {})[sub] = value
            elif isinstance(getattr(self, attr), list):
                setattr(self, attr, [_scalar(v) for v in np.asarray(value).tolist()])
            else:
                setattr(self, attr, type(getattr(self, attr))(_scalar(value)))
        for attr, sd in plateaus.items():
            getattr(self, attr).load_state_dict(sd)


# ---------------------------------------------------------------------------------- PyTorch's
class StepLR(LRScheduler):
    """Multiply the rate by ``gamma`` every ``step_size`` epochs.

    Parameters
    ----------
    optimizer : Optimizer
    step_size : int
        Epochs between decays (>= 1).
    gamma : float
        Decay factor (>= 0).
    """

    def __init__(self, optimizer, step_size, gamma=0.1):
        super().__init__(optimizer)
        self.step_size = check_int("step_size", step_size, low=1, owner="StepLR")
        self.gamma = check_real("gamma", gamma, low=0.0, owner="StepLR")
        self._initial_step()

    def _next_lrs(self):
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._current()
        return [lr * self.gamma for lr in self._current()]


class MultiStepLR(LRScheduler):
    """Multiply the rate by ``gamma`` at each epoch listed in ``milestones``.

    Parameters
    ----------
    optimizer : Optimizer
    milestones : iterable of int
        Epochs at which to decay (a repeated epoch decays by ``gamma`` that many times).
    gamma : float
        Decay factor (>= 0).
    """

    def __init__(self, optimizer, milestones, gamma=0.1):
        super().__init__(optimizer)
        if isinstance(milestones, (int, np.integer)) or not hasattr(milestones, "__iter__"):
            raise TypeError(f"MultiStepLR: milestones must be a list of epochs, got {milestones!r}")
        self.milestones = sorted(check_int("milestones[]", m, low=0, owner="MultiStepLR")
                                 for m in milestones)
        self.gamma = check_real("gamma", gamma, low=0.0, owner="MultiStepLR")
        self._initial_step()

    def _next_lrs(self):
        count = Counter(self.milestones)[self.last_epoch]
        if not count:
            return self._current()
        return [lr * self.gamma ** count for lr in self._current()]


class ExponentialLR(LRScheduler):
    """Multiply the rate by ``gamma`` every epoch.

    Parameters
    ----------
    optimizer : Optimizer
    gamma : float
        Decay factor (>= 0).
    """

    def __init__(self, optimizer, gamma):
        super().__init__(optimizer)
        self.gamma = check_real("gamma", gamma, low=0.0, owner="ExponentialLR")
        self._initial_step()

    def _next_lrs(self):
        if self._initial:
            return self._current()
        return [lr * self.gamma for lr in self._current()]


class CosineAnnealingLR(LRScheduler):
    """Cosine from the starting rate down to ``eta_min`` over ``T_max`` epochs (then back up).

    ``lr = eta_min + (base_lr - eta_min) (1 + cos(pi epoch / T_max)) / 2``, computed with
    PyTorch's recurrence from the previous epoch's rate (SGDR without restarts).

    Parameters
    ----------
    optimizer : Optimizer
    T_max : int
        Epochs of one half period (>= 1).
    eta_min : float
        Lowest rate (>= 0).
    """

    def __init__(self, optimizer, T_max, eta_min=0.0):
        super().__init__(optimizer)
        self.T_max = check_int("T_max", T_max, low=1, owner="CosineAnnealingLR")
        self.eta_min = check_real("eta_min", eta_min, low=0.0, owner="CosineAnnealingLR")
        self._initial_step()

    def _next_lrs(self):
        epoch, T, low = self.last_epoch, self.T_max, self.eta_min
        if self._initial:
            return self._current()
        if (epoch - 1 - T) % (2 * T) == 0:  # at the bottom of a period: start back up
            return [lr + (base - low) * (1 - math.cos(math.pi / T)) / 2
                    for base, lr in zip(self.base_lrs, self._current())]
        return [(1 + math.cos(math.pi * epoch / T)) / (1 + math.cos(math.pi * (epoch - 1) / T))
                * (lr - low) + low for lr in self._current()]


class LambdaLR(LRScheduler):
    """``lr = base_lr * lr_lambda(epoch)``; one function for every group or one per group.

    Parameters
    ----------
    optimizer : Optimizer
    lr_lambda : callable or list of callables
        ``epoch -> factor``. Functions are not saved by `state_dict`.
    """

    def __init__(self, optimizer, lr_lambda):
        super().__init__(optimizer)
        groups = len(optimizer.param_groups)
        lambdas = list(lr_lambda) if isinstance(lr_lambda, (list, tuple)) else [lr_lambda] * groups
        if len(lambdas) != groups:
            raise ValueError(f"LambdaLR: expected {groups} lr_lambdas (one per param group), "
                             f"got {len(lambdas)}")
        if not all(callable(f) for f in lambdas):
            raise TypeError(f"LambdaLR: lr_lambda must be callable(s), got {lr_lambda!r}")
        self.lr_lambdas = lambdas
        self._initial_step()

    def _next_lrs(self):
        return [base * f(self.last_epoch) for base, f in zip(self.base_lrs, self.lr_lambdas)]


class OneCycleLR(LRScheduler):
    """The 1cycle policy (Smith & Topin): warm up to ``max_lr``, then anneal far below the start.

    Stepped once per batch. The rate starts at ``max_lr / div_factor``, rises to ``max_lr`` over
    the first ``pct_start`` of ``total_steps``, then falls to ``start / final_div_factor``
    (``three_phase``: back to the start first, then down). With ``cycle_momentum`` the momentum
    (SGD, RMSprop) or ``betas[0]`` (Adam, AdamW) moves the other way, between ``max_momentum``
    and ``base_momentum``. Stepping past ``total_steps`` raises ValueError, as in PyTorch. The
    rate after the last step extrapolates the last phase, as in PyTorch, except that it is
    clipped at 0 where PyTorch's linear annealing goes negative.

    Parameters
    ----------
    optimizer : Optimizer
    max_lr : float or list of float
        Peak rate, for every group or per group.
    total_steps : int, optional
        Number of steps in the cycle; or give ``epochs`` and ``steps_per_epoch``.
    epochs, steps_per_epoch : int, optional
        ``total_steps = epochs * steps_per_epoch``.
    pct_start : float
        Fraction of the cycle spent increasing the rate, in [0, 1].
    anneal_strategy : {"cos", "linear"}
    cycle_momentum : bool
    base_momentum, max_momentum : float or list of float
    div_factor, final_div_factor : float
    three_phase : bool
    """

    def __init__(self, optimizer, max_lr, total_steps=None, epochs=None, steps_per_epoch=None,
                 pct_start=0.3, anneal_strategy="cos", cycle_momentum=True, base_momentum=0.85,
                 max_momentum=0.95, div_factor=25.0, final_div_factor=1e4, three_phase=False):
        super().__init__(optimizer)
        name = "OneCycleLR"
        if total_steps is not None:
            self.total_steps = check_int("total_steps", total_steps, low=1, owner=name)
        elif epochs is not None and steps_per_epoch is not None:
            self.total_steps = (check_int("epochs", epochs, low=1, owner=name)
                                * check_int("steps_per_epoch", steps_per_epoch, low=1, owner=name))
        else:
            raise ValueError(f"{name}: give either total_steps or both epochs and steps_per_epoch")
        self.pct_start = check_real("pct_start", pct_start, 0.0, 1.0, owner=name)
        self.anneal_strategy = check_choice("anneal_strategy", anneal_strategy, ("cos", "linear"),
                                            owner=name)
        self.three_phase = check_bool("three_phase", three_phase, owner=name)
        div_factor = check_real("div_factor", div_factor, low=0.0, closed="right", owner=name)
        final_div_factor = check_real("final_div_factor", final_div_factor, low=0.0,
                                      closed="right", owner=name)
        self.max_lrs = self._per_group("max_lr", max_lr)
        self.initial_lrs = [m / div_factor for m in self.max_lrs]
        self.min_lrs = [lr / final_div_factor for lr in self.initial_lrs]
        self.cycle_momentum = check_bool("cycle_momentum", cycle_momentum, owner=name)
        if self.cycle_momentum:
            keys = optimizer.defaults
            if "momentum" not in keys and "betas" not in keys:
                raise ValueError(f"{name}: cycle_momentum=True needs an optimizer with a momentum "
                                 f"or betas, and {type(optimizer).__name__} has neither; pass "
                                 "cycle_momentum=False")
            self.max_momentums = self._per_group("max_momentum", max_momentum)
            self.base_momentums = self._per_group("base_momentum", base_momentum)
            for k, m in enumerate(self.max_momentums):
                self._set_momentum(k, m)
        self._initial_step()

    def _per_group(self, name, value):
        groups = len(self.optimizer.param_groups)
        values = list(value) if isinstance(value, (list, tuple, np.ndarray)) else [value] * groups
        if len(values) != groups:
            raise ValueError(f"OneCycleLR: expected {groups} values of {name} (one per param "
                             f"group), got {len(values)}")
        return [check_real(name, v, low=0.0, owner="OneCycleLR") for v in values]

    def _set_momentum(self, k, value):
        group = self.optimizer.param_groups[k]
        if "betas" in group:
            group["betas"] = (value, group["betas"][1])
        else:
            group["momentum"] = value

    def _phases(self):
        """[(last step, (rates start, end), (momenta start, end))] of the cycle's phases."""
        total, pct = self.total_steps, self.pct_start
        up = ("initial_lrs", "max_lrs"), ("max_momentums", "base_momentums")
        if self.three_phase:
            return [(float(pct * total) - 1, *up),
                    (float(2 * pct * total) - 2, ("max_lrs", "initial_lrs"),
                     ("base_momentums", "max_momentums")),
                    (total - 1, ("initial_lrs", "min_lrs"), ("max_momentums", "max_momentums"))]
        return [(float(pct * total) - 1, *up),
                (total - 1, ("max_lrs", "min_lrs"), ("base_momentums", "max_momentums"))]

    def _anneal(self, start, end, pct):
        if self.anneal_strategy == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def _next_lrs(self):
        step = self.last_epoch
        if step > self.total_steps:
            raise ValueError(f"OneCycleLR: tried to step {step} times, but total_steps is "
                             f"{self.total_steps}")
        phases = self._phases()
        lrs = []
        for k in range(len(self.optimizer.param_groups)):
            start_step = 0.0
            for n, (end_step, lr_keys, momentum_keys) in enumerate(phases):
                if step <= end_step or n == len(phases) - 1:
                    pct = (step - start_step) / (end_step - start_step)
                    lr = self._anneal(getattr(self, lr_keys[0])[k], getattr(self, lr_keys[1])[k], pct)
                    lrs.append(max(lr, 0.0))  # step total_steps extrapolates; linear can go < 0
                    if self.cycle_momentum:
                        self._set_momentum(k, self._anneal(getattr(self, momentum_keys[0])[k],
                                                           getattr(self, momentum_keys[1])[k], pct))
                    break
                start_step = end_step
        return lrs


# ------------------------------------------------------------------------------ scikit-learn's
class ConstantLR(LRScheduler):
    """Keep the optimizer's learning rate as it is (scikit-learn's ``'constant'``).

    Not PyTorch's ``ConstantLR`` (which multiplies the rate by a factor for some epochs).
    """

    def step(self, *_):
        """Nothing changes; returns True."""
        return True


class InverseScalingLR(LRScheduler):
    """``lr = lr0 / (samples_seen + 1) ** power_t`` (scikit-learn's ``'invscaling'``).

    ``lr0`` is the optimizer's lr when the schedule is made; call ``step(samples_seen)`` after
    each epoch with the total number of training samples processed so far.

    Parameters
    ----------
    optimizer : Optimizer
    power_t : float
        Exponent (>= 0).
    """

    def __init__(self, optimizer, power_t=0.5):
        super().__init__(optimizer)
        self.power_t = check_real("power_t", power_t, low=0.0, owner="InverseScalingLR")
        self.lr0 = optimizer.lr

    def step(self, samples_seen):
        """Set the rate for ``samples_seen`` samples processed; returns True."""
        samples_seen = check_real("samples_seen", samples_seen, low=0.0, owner="InverseScalingLR")
        self.optimizer.lr = self.lr0 / (samples_seen + 1) ** self.power_t
        return True


class ReduceLROnPlateau(LRScheduler):
    """Divide the lr by ``1/factor`` (5 by default) when the metric stops improving
    (scikit-learn's ``'adaptive'`` rate).

    ``step(metric)`` once per epoch. Epochs are counted by `Plateau` (``mode="min"`` for a loss,
    ``"max"`` for a score, margin ``tol``): when more than ``patience`` consecutive epochs fail
    to improve, the lr is reduced and the count restarts; if the lr is already ``<= min_lr`` it
    cannot be reduced and ``step`` returns False (scikit-learn stops training there).

    Parameters
    ----------
    optimizer : Optimizer
    factor : float
        Multiplier of the rate, in (0, 1).
    patience : int
        Stalled epochs tolerated (>= 0).
    tol : float
        Improvement margin (>= 0).
    min_lr : float
        The rate below which it is not reduced any more (>= 0).
    mode : {"min", "max"}

    Attributes
    ----------
    plateau : Plateau
        The epoch counter (``plateau.best``, ``plateau.num_bad_epochs``).
    """

    def __init__(self, optimizer, factor=0.2, patience=10, tol=1e-4, min_lr=1e-6, mode="min"):
        super().__init__(optimizer)
        name = "ReduceLROnPlateau"
        self.factor = check_real("factor", factor, 0.0, 1.0, closed="neither", owner=name)
        self.patience = check_int("patience", patience, low=0, owner=name)
        self.min_lr = check_real("min_lr", min_lr, low=0.0, owner=name)
        self.plateau = Plateau(mode, tol)

    @property
    def best(self):
        """Best metric seen so far."""
        return self.plateau.best

    @property
    def num_bad_epochs(self):
        """Consecutive epochs without improvement."""
        return self.plateau.num_bad_epochs

    def step(self, metric):
        """Record one epoch's metric; False when the rate is stuck at ``min_lr`` (stop)."""
        metric = float(metric)
        if math.isnan(metric):
            raise ValueError(f"{type(self).__name__}.step: the metric is NaN (training diverged?)")
        self.plateau.step(metric)
        if self.plateau.num_bad_epochs > self.patience:
            if self.optimizer.lr <= self.min_lr:
                return False
            # divide by 1/factor: for factor 0.2 that is exactly scikit-learn's ``lr /= 5.0``
            self.optimizer.lr = self.optimizer.lr / (1.0 / self.factor)
            self.plateau.num_bad_epochs = 0
        return True
