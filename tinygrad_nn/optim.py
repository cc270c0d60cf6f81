"""Optimizers (SGD, Adam) with PyTorch's update rules, and learning-rate schedules.

An optimizer holds a list of parameter Tensors and updates their ``.data`` in place from their
``.grad`` (parameters whose grad is None are skipped, as in PyTorch). The arithmetic runs on the
raw ndarrays, so no graph is recorded, and it goes through preallocated buffers so a step
allocates nothing after the first one. The order of operations follows ``torch.optim``'s
single-tensor code path, so trajectories match PyTorch step for step up to float rounding.

Schedules change ``optimizer.lr`` between epochs: `ConstantLR`, `InverseScalingLR` and
`ReduceLROnPlateau` (scikit-learn's ``constant``, ``invscaling`` and ``adaptive`` rates). Every
schedule's ``step(...)`` returns True while training may go on.
"""
from __future__ import annotations

import math
import re

import numpy as np

from .kernels.optim import adam_step
from .tensor import Tensor

__all__ = ["Optimizer", "SGD", "Adam", "ConstantLR", "InverseScalingLR", "ReduceLROnPlateau"]


def _check_number(name, value, low=0.0, high=math.inf, high_open=False):
    """A finite float in [low, high] (or [low, high)), else a ValueError naming ``name``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a number, got {value!r}")
    value = float(value)  # a Python float: numpy treats it as weak, so float32 stays float32
    too_high = value >= high if high_open else value > high
    if not math.isfinite(value) or value < low or too_high:
        if high == math.inf:
            raise ValueError(f"{name} must be a finite number >= {low:g}, got {value!r}")
        bracket = ")" if high_open else "]"
        raise ValueError(f"{name} must be in [{low:g}, {high:g}{bracket}, got {value!r}")
    return value


class Optimizer:
    """Base class: parameter list, validated ``lr``, per-parameter state and its (de)serialisation.

    Subclasses list their hyperparameter names in ``_hyper`` (validated by ``_set_hyper``) and
    implement ``step``. ``state[i]`` is a dict of arrays/ints for parameter ``i``.
    """

    _hyper: tuple = ()
    _state_names: tuple = ()

    def __init__(self, params, lr, **hyper):
        if isinstance(params, Tensor):
            raise TypeError("params must be an iterable of Tensors (e.g. module.parameters()), "
                            "got a single Tensor; wrap it in a list")
        self.params = list(params)
        if not self.params:
            raise ValueError(f"{type(self).__name__} got an empty parameter list")
        seen = set()
        for i, p in enumerate(self.params):
            if not isinstance(p, Tensor):
                raise TypeError(f"params[{i}] must be a Tensor, got {type(p).__name__}")
            if id(p) in seen:
                raise ValueError(f"params[{i}] appears more than once in the parameter list")
            seen.add(id(p))
        self.lr = lr
        self._set_hyper(**hyper)
        self.state = [{} for _ in self.params]
        self._scratch = [[] for _ in self.params]

    @property
    def lr(self) -> float:
        """The learning rate used by the next ``step()``; settable (schedules set it)."""
        return self._lr

    @lr.setter
    def lr(self, value):
        self._lr = _check_number("lr", value)

    def _set_hyper(self, **hyper):  # pragma: no cover - abstract
        raise NotImplementedError

    def _buffer(self, i, k=0):
        """Parameter ``i``'s ``k``-th scratch array (allocated on first use, reused every step)."""
        bufs = self._scratch[i]
        while len(bufs) <= k:
            bufs.append(np.empty_like(self.params[i].data))
        return bufs[k]

    def zero_grad(self):
        """Clear every parameter's gradient (set it to None)."""
        for p in self.params:
            p.grad = None

    def step(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def state_dict(self) -> dict:
        """A flat dict of copies: ``lr``, the hyperparameters and ``"<name>.<i>"`` per-parameter
        state (e.g. ``momentum_buffer.0``). Flat and made of numbers and arrays, so it saves
        to ``.npz``; `load_state_dict` resumes the identical trajectory."""
        out = {"lr": self._lr}
        out.update({name: getattr(self, name) for name in self._hyper})
        for i, st in enumerate(self.state):
            for key, value in st.items():
                out[f"{key}.{i}"] = value.copy() if isinstance(value, np.ndarray) else value
        return out

    def load_state_dict(self, state_dict):
        """Restore what `state_dict` returned (hyperparameters included), checking names and shapes."""
        sd = dict(state_dict)
        hyper = {name: _scalar(sd.pop(name)) for name in self._hyper if name in sd}
        lr = _scalar(sd.pop("lr")) if "lr" in sd else self._lr
        state = [{} for _ in self.params]
        for key, value in sd.items():
            match = re.fullmatch(r"(\w+)\.(\d+)", str(key))
            if match is None or match.group(1) not in self._state_names:
                raise ValueError(f"{type(self).__name__}.load_state_dict: unexpected key {key!r}")
            name, i = match.group(1), int(match.group(2))
            if i >= len(self.params):
                raise ValueError(f"{type(self).__name__}.load_state_dict: key {key!r} refers to "
                                 f"parameter {i}, but the optimizer has {len(self.params)}")
            if name == "step":
                state[i][name] = int(value)
                continue
            p = self.params[i].data
            arr = np.asarray(value)
            if arr.shape != p.shape:
                raise ValueError(f"{type(self).__name__}.load_state_dict: {key!r} has shape "
                                 f"{arr.shape}, parameter {i} has shape {p.shape}")
            state[i][name] = np.array(arr, dtype=p.dtype, order="C")
        lr = _check_number("lr", lr)  # validate everything before changing anything
        self._set_hyper(**{name: hyper.get(name, getattr(self, name)) for name in self._hyper})
        self._lr, self.state = lr, state

    def __repr__(self):
        hyper = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._hyper)
        return f"{type(self).__name__}({len(self.params)} params, lr={self._lr!r}, {hyper})"


def _scalar(value):
    """A saved hyperparameter back to a Python scalar (``.npz`` turns them into 0-d arrays)."""
    return value.item() if isinstance(value, (np.ndarray, np.generic)) else value


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, Nesterov momentum and L2 weight decay.

    PyTorch's rule (dampening 0): ``g = grad + weight_decay * p``; with momentum,
    ``buf = g`` on a parameter's first step, else ``buf = momentum * buf + g``, then
    ``g = g + momentum * buf`` (Nesterov) or ``g = buf``; finally ``p -= lr * g``.
    """

    _hyper = ("momentum", "nesterov", "weight_decay")
    _state_names = ("momentum_buffer",)

    def __init__(self, params, lr=0.01, momentum=0.0, nesterov=False, weight_decay=0.0):
        super().__init__(params, lr, momentum=momentum, nesterov=nesterov, weight_decay=weight_decay)

    def _set_hyper(self, momentum, nesterov, weight_decay):
        momentum = _check_number("momentum", momentum)
        weight_decay = _check_number("weight_decay", weight_decay)
        if nesterov and momentum == 0:
            raise ValueError("nesterov=True needs a momentum > 0")
        self.momentum, self.nesterov, self.weight_decay = momentum, bool(nesterov), weight_decay

    def step(self):
        """Update every parameter that has a gradient, in place."""
        lr, momentum, nesterov, wd = self._lr, self.momentum, self.nesterov, self.weight_decay
        for i, p in enumerate(self.params):
            g = p.grad
            if g is None:
                continue
            data = p.data
            tmp = self._buffer(i)
            if wd:
                np.multiply(data, wd, out=tmp)
                np.add(g, tmp, out=tmp)
                g = tmp
            if momentum:
                st = self.state[i]
                buf = st.get("momentum_buffer")
                if buf is None:
                    buf = st["momentum_buffer"] = g.copy()
                else:
                    buf *= momentum
                    buf += g
                if nesterov:  # g + momentum * buf, into a buffer g does not occupy
                    out = self._buffer(i, 1) if g is tmp else tmp
                    np.multiply(buf, momentum, out=out)
                    np.add(g, out, out=tmp)
                    g = tmp
                else:
                    g = buf
            np.multiply(g, lr, out=tmp)
            np.subtract(data, tmp, out=data)
            p._bump_version()  # graphs that saved the old values must not backpropagate


class Adam(Optimizer):
    """Adam (Kingma & Ba) with bias correction and optional L2 weight decay (not AdamW).

    PyTorch's rule: ``g = grad + weight_decay * p``; ``m = b1 m + (1 - b1) g``;
    ``v = b2 v + (1 - b2) g^2``; ``p -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)``,
    with ``t`` counted per parameter (steps where it had a gradient).
    """

    _hyper = ("beta1", "beta2", "eps", "weight_decay")
    _state_names = ("step", "exp_avg", "exp_avg_sq")

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        try:
            beta1, beta2 = betas
        except (TypeError, ValueError):
            raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}") from None
        super().__init__(params, lr, beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay)

    @property
    def betas(self):
        return (self.beta1, self.beta2)

    def _set_hyper(self, beta1, beta2, eps, weight_decay):
        values = (_check_number("betas[0]", beta1, high=1.0, high_open=True),
                  _check_number("betas[1]", beta2, high=1.0, high_open=True),
                  _check_number("eps", eps), _check_number("weight_decay", weight_decay))
        self.beta1, self.beta2, self.eps, self.weight_decay = values

    def step(self):
        """Update every parameter that has a gradient, in place."""
        lr, b1, b2, eps, wd = self._lr, self.beta1, self.beta2, self.eps, self.weight_decay
        for i, p in enumerate(self.params):
            g = p.grad
            if g is None:
                continue
            data = p.data
            st = self.state[i]
            if not st:
                st["step"] = 0
                st["exp_avg"] = np.zeros(data.shape, data.dtype)  # C order: the kernel's layout
                st["exp_avg_sq"] = np.zeros(data.shape, data.dtype)
            t = st["step"] = st["step"] + 1
            m, v = st["exp_avg"], st["exp_avg_sq"]
            flat = data if data.flags.c_contiguous else np.ascontiguousarray(data)
            cast = data.dtype.type  # numpy's rule for Python scalars: computed in the array dtype
            # PyTorch's order: m = lerp(m, g, 1 - b1); v = b2 v + ((1 - b2) g) g;
            # p -= (lr / (1 - b1^t)) m / (sqrt(v) / sqrt(1 - b2^t) + eps)
            adam_step(flat.reshape(-1), np.ascontiguousarray(g).reshape(-1), m.reshape(-1),
                      v.reshape(-1),
                      cast(1.0 - b1), cast(b1), cast(b2), cast(1.0 - b2),
                      cast((1.0 - b2 ** t) ** 0.5), cast(eps), cast(lr / (1.0 - b1 ** t)),
                      cast(wd), 1.0 - b1 < 0.5)
            if flat is not data:  # a non-contiguous parameter: write the update back
                data[...] = flat
            p._bump_version()  # graphs that saved the old values must not backpropagate


# ------------------------------------------------------------------------------------ schedules
class _Schedule:
    """A learning-rate schedule bound to one optimizer; ``step(...)`` returns True to go on."""

    def __init__(self, optimizer):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(self).__name__} needs an Optimizer, got {type(optimizer).__name__}")
        self.optimizer = optimizer

    @property
    def lr(self):
        return self.optimizer.lr

    def state_dict(self) -> dict:
        return {k: v for k, v in vars(self).items() if k != "optimizer"}

    def load_state_dict(self, state_dict):
        for key, value in state_dict.items():
            if key not in vars(self) or key == "optimizer":
                raise ValueError(f"{type(self).__name__}.load_state_dict: unexpected key {key!r}")
            setattr(self, key, _scalar(value))


class ConstantLR(_Schedule):
    """Keep the optimizer's learning rate as it is (scikit-learn's ``'constant'``)."""

    def step(self, *_):
        return True


class InverseScalingLR(_Schedule):
    """``lr = lr0 / (samples_seen + 1) ** power_t`` (scikit-learn's ``'invscaling'``).

    ``lr0`` is the optimizer's lr when the schedule is made; call ``step(samples_seen)`` after
    each epoch with the total number of training samples processed so far.
    """

    def __init__(self, optimizer, power_t=0.5):
        super().__init__(optimizer)
        self.power_t = _check_number("power_t", power_t)
        self.lr0 = optimizer.lr

    def step(self, samples_seen):
        samples_seen = _check_number("samples_seen", samples_seen)
        self.optimizer.lr = self.lr0 / (samples_seen + 1) ** self.power_t
        return True


class ReduceLROnPlateau(_Schedule):
    """Divide the lr by ``1/factor`` (5 by default) when the metric stops improving
    (scikit-learn's ``'adaptive'`` rate).

    ``step(metric)`` once per epoch. With ``mode="min"`` (a loss) an epoch improves when
    ``metric < best - tol``; with ``mode="max"`` (a score) when ``metric > best + tol``. When more
    than ``patience`` consecutive epochs fail to improve (scikit-learn's ``n_iter_no_change``
    counting), the lr is reduced and the count restarts; if the lr is already ``<= min_lr`` it
    cannot be reduced and ``step`` returns False (scikit-learn stops training there).
    """

    def __init__(self, optimizer, factor=0.2, patience=10, tol=1e-4, min_lr=1e-6, mode="min"):
        super().__init__(optimizer)
        self.factor = _check_number("factor", factor, high=1.0, high_open=True)
        if self.factor == 0.0:
            raise ValueError("factor must be in (0, 1), got 0.0")
        if isinstance(patience, bool) or not isinstance(patience, (int, np.integer)) or patience < 0:
            raise ValueError(f"patience must be an integer >= 0, got {patience!r}")
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        self.patience, self.mode = int(patience), mode
        self.tol = _check_number("tol", tol)
        self.min_lr = _check_number("min_lr", min_lr)
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = 0

    def step(self, metric):
        metric = float(metric)
        if math.isnan(metric):
            raise ValueError(f"{type(self).__name__}.step: the metric is NaN (training diverged?)")
        if self.mode == "min":
            improved = not metric > self.best - self.tol
            better = metric < self.best
        else:
            improved = not metric < self.best + self.tol
            better = metric > self.best
        self.num_bad_epochs = 0 if improved else self.num_bad_epochs + 1
        if better:
            self.best = metric
        if self.num_bad_epochs > self.patience:
            if self.optimizer.lr <= self.min_lr:
                return False
            # divide by 1/factor: for factor 0.2 that is exactly scikit-learn's ``lr /= 5.0``
            self.optimizer.lr = self.optimizer.lr / (1.0 / self.factor)
            self.num_bad_epochs = 0
        return True
