"""SGD, Adam, AdamW, RMSprop and Adagrad with PyTorch's update rules.

Each ``_update`` follows its ``torch.optim`` single-tensor code path operation for operation, so
trajectories match PyTorch step for step up to float rounding (1e-12 in float64). The arithmetic
runs on the raw ndarrays through preallocated buffers (no graph, no allocation after the first
step); Adam and AdamW go through one fused Numba kernel (`kernels.optim.adam_step`).

Two options reproduce scikit-learn's MLP solvers, whose rules differ from PyTorch's in where the
learning rate and epsilon sit: ``SGD(velocity="step")`` and ``Adam(eps_placement="raw")``.
"""
from __future__ import annotations

import math

import numpy as np

from .._validation import check_bool, check_choice, check_real
from ..kernels.optim import adam_step
from .optimizer import Optimizer, check_eps

__all__ = ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad"]


def _check_fraction(name, value, owner):
    """A number in [0, 1) (betas, alpha)."""
    return check_real(name, value, low=0.0, high=1.0, closed="left", owner=owner)


def _nonnegative(name, value, owner):
    return check_real(name, value, low=0.0, owner=owner)


def _add_weight_decay(opt, i, data, grad, weight_decay):
    """``grad + weight_decay * data`` in parameter ``i``'s first scratch buffer (PyTorch's L2)."""
    tmp = opt._buffer(i)
    np.multiply(data, weight_decay, out=tmp)
    np.add(grad, tmp, out=tmp)
    return tmp


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, Nesterov momentum and L2 weight decay.

    PyTorch's rule (``velocity="gradient"``, dampening 0): ``g = grad + weight_decay * p``; with
    momentum, ``buf = g`` on a parameter's first step, else ``buf = momentum * buf + g``, then
    ``g = g + momentum * buf`` (Nesterov) or ``g = buf``; finally ``p -= lr * g``.

    ``velocity="step"`` keeps learning-rate-scaled steps in the buffer instead (Sutskever et
    al.'s form, scikit-learn's MLP): ``buf = momentum * buf - lr * g`` (from zero), then
    ``p += momentum * buf - lr * g`` (Nesterov) or ``p += buf``. With a constant lr both forms
    give the same trajectory; when the lr changes, the "step" buffer keeps the old rate's steps.

    Parameters
    ----------
    params : iterable of Tensor or of dict
        Parameters, or param groups (dicts with ``"params"`` and per-group hyperparameters).
    lr : float
        Learning rate (>= 0).
    momentum : float
        Momentum factor (>= 0).
    nesterov : bool
        Nesterov momentum (needs ``momentum > 0``).
    weight_decay : float
        L2 penalty added to the gradient.
    velocity : {"gradient", "step"}
        What the momentum buffer accumulates (see above).
    """

    _optional_state = ("momentum_buffer",)

    def __init__(self, params, lr=0.01, momentum=0.0, nesterov=False, weight_decay=0.0, *,
                 velocity="gradient"):
        super().__init__(params, dict(lr=lr, momentum=momentum, nesterov=nesterov,
                                      weight_decay=weight_decay, velocity=velocity))

    @classmethod
    def _check_group(cls, group):
        owner = cls.__name__
        out = dict(lr=cls._check_lr(group),
                   momentum=_nonnegative("momentum", group["momentum"], owner),
                   nesterov=check_bool("nesterov", group["nesterov"], owner),
                   weight_decay=_nonnegative("weight_decay", group["weight_decay"], owner),
                   velocity=check_choice("velocity", group["velocity"], ("gradient", "step"), owner))
        if out["nesterov"] and out["momentum"] == 0:
            raise ValueError(f"{owner}: nesterov=True needs a momentum > 0")
        return out

    def _update(self, group, state, i, param, grad):
        lr, momentum, wd = group["lr"], group["momentum"], group["weight_decay"]
        data = param.data
        g = _add_weight_decay(self, i, data, grad, wd) if wd else grad
        tmp = self._buffer(i)
        if not momentum:
            np.multiply(g, lr, out=tmp)
            np.subtract(data, tmp, out=data)
        elif group["velocity"] == "step":
            self._step_velocity(state, i, data, g, lr, momentum, group["nesterov"])
        else:
            self._gradient_velocity(state, i, data, g, lr, momentum, group["nesterov"])

    def _gradient_velocity(self, state, i, data, g, lr, momentum, nesterov):
        tmp = self._buffer(i)
        buf = state.get("momentum_buffer")
        if buf is None:
            buf = state["momentum_buffer"] = g.copy()
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

    def _step_velocity(self, state, i, data, g, lr, momentum, nesterov):
        buf = state.get("momentum_buffer")
        if buf is None:
            buf = state["momentum_buffer"] = np.zeros_like(data)
        scaled = self._buffer(i, 1)
        np.multiply(g, lr, out=scaled)               # lr * g (g may live in buffer 0)
        buf *= momentum
        buf -= scaled                                # buf = momentum * buf - lr * g
        if nesterov:
            step = self._buffer(i, 2)
            np.multiply(buf, momentum, out=step)
            step -= scaled                           # momentum * buf - lr * g
            data += step
        else:
            data += buf


class Adam(Optimizer):
    """Adam (Kingma & Ba) with bias correction and optional L2 weight decay (see `AdamW`).

    PyTorch's rule: ``g = grad + weight_decay * p``; ``m = b1 m + (1 - b1) g``;
    ``v = b2 v + (1 - b2) g^2``; ``p -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)``,
    with ``t`` counted per parameter (steps where it had a gradient).

    Parameters
    ----------
    params : iterable of Tensor or of dict
        Parameters, or param groups.
    lr : float
        Learning rate (>= 0).
    betas : (float, float)
        Decay rates of the first and second moments, each in [0, 1).
    eps : float
        Added to the denominator (> 0).
    weight_decay : float
        L2 penalty added to the gradient.
    eps_placement : {"corrected", "raw"}
        ``"corrected"`` (PyTorch, the paper's Algorithm 1) adds ``eps`` to
        ``sqrt(v / (1 - b2^t))``; ``"raw"`` adds it to ``sqrt(v)`` (scikit-learn's MLP, the
        paper's "more efficient" form), i.e. runs step t with ``eps / sqrt(1 - b2^t)``.
    """

    _required_state = ("step", "exp_avg", "exp_avg_sq")
    _decoupled = False  # AdamW: weight decay multiplies the parameter instead

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, *,
                 eps_placement="corrected"):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      eps_placement=eps_placement))

    @classmethod
    def _check_group(cls, group):
        owner = cls.__name__
        betas = group["betas"]
        if isinstance(betas, np.ndarray):
            betas = tuple(betas.tolist())
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"{owner}: betas must be a pair (beta1, beta2), got {betas!r}")
        return dict(lr=cls._check_lr(group),
                    betas=(_check_fraction("betas[0]", betas[0], owner),
                           _check_fraction("betas[1]", betas[1], owner)),
                    eps=check_eps(owner, group["eps"]),
                    weight_decay=_nonnegative("weight_decay", group["weight_decay"], owner),
                    eps_placement=check_choice("eps_placement", group["eps_placement"],
                                               ("corrected", "raw"), owner))

    def _update(self, group, state, i, param, grad):
        lr, (b1, b2), eps, wd = group["lr"], group["betas"], group["eps"], group["weight_decay"]
        data = param.data
        if not state:
            state["step"] = 0
            state["exp_avg"] = np.zeros(data.shape, data.dtype)  # C order: the kernel's layout
            state["exp_avg_sq"] = np.zeros(data.shape, data.dtype)
        t = state["step"] = state["step"] + 1
        if group["eps_placement"] == "raw":
            eps = eps / math.sqrt(1.0 - b2 ** t)
        flat = data if data.flags.c_contiguous else np.ascontiguousarray(data)
        cast = data.dtype.type  # numpy's rule for Python scalars: computed in the array dtype
        weight = cast(1.0 - b1)  # torch.lerp(m, g, weight) and its 1 - weight
        adam_step(flat.reshape(-1), np.ascontiguousarray(grad).reshape(-1),
                  state["exp_avg"].reshape(-1), state["exp_avg_sq"].reshape(-1),
                  beta1=cast(1) - weight, one_minus_beta1=weight,
                  beta2=cast(b2), one_minus_beta2=cast(1.0 - b2),
                  bias2_sqrt=cast((1.0 - b2 ** t) ** 0.5), eps=cast(eps),
                  step_size=cast(lr / (1.0 - b1 ** t)),
                  weight_decay=cast(0.0 if self._decoupled else wd),
                  decay_factor=cast(1.0 - lr * wd if self._decoupled else 1.0),
                  lerp_small=bool(1.0 - b1 < 0.5))
        if flat is not data:  # a non-contiguous parameter: write the update back
            data[...] = flat


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter), PyTorch's ``AdamW``.

    Each step first shrinks the parameter, ``p *= 1 - lr * weight_decay``, then runs `Adam`'s
    update without an L2 term. Parameters as `Adam`, but ``weight_decay`` defaults to 1e-2.
    """

    _decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, *,
                 eps_placement="corrected"):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         eps_placement=eps_placement)


class RMSprop(Optimizer):
    """RMSprop (Hinton), PyTorch's rule.

    ``g = grad + weight_decay * p``; ``s = alpha s + (1 - alpha) g^2``; centered:
    ``a = lerp(a, g, 1 - alpha)`` and ``avg = sqrt(s - a^2) + eps``, else ``avg = sqrt(s) + eps``;
    with momentum ``buf = momentum * buf + g / avg`` and ``p -= lr * buf``, else
    ``p -= lr * g / avg``.

    Parameters
    ----------
    params : iterable of Tensor or of dict
        Parameters, or param groups.
    lr : float
        Learning rate (>= 0).
    alpha : float
        Smoothing constant of the squared-gradient average, in [0, 1).
    eps : float
        Added to the denominator (> 0).
    weight_decay : float
        L2 penalty added to the gradient.
    momentum : float
        Momentum factor (>= 0).
    centered : bool
        Normalise by the estimated variance of the gradient instead of its second moment.
    """

    _required_state = ("step", "square_avg")
    _optional_state = ("momentum_buffer", "grad_avg")

    def __init__(self, params, lr=0.01, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                 centered=False):
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=centered))

    @classmethod
    def _check_group(cls, group):
        owner = cls.__name__
        return dict(lr=cls._check_lr(group),
                    alpha=_check_fraction("alpha", group["alpha"], owner),
                    eps=check_eps(owner, group["eps"]),
                    weight_decay=_nonnegative("weight_decay", group["weight_decay"], owner),
                    momentum=_nonnegative("momentum", group["momentum"], owner),
                    centered=check_bool("centered", group["centered"], owner))

    def _state_needed(self, group):
        return (self._required_state + (("momentum_buffer",) if group["momentum"] > 0 else ())
                + (("grad_avg",) if group["centered"] else ()))

    def _update(self, group, state, i, param, grad):
        lr, alpha, eps, wd = group["lr"], group["alpha"], group["eps"], group["weight_decay"]
        momentum = group["momentum"]
        data = param.data
        if not state:
            state["step"] = 0
            state["square_avg"] = np.zeros_like(data)
        state["step"] += 1
        g = _add_weight_decay(self, i, data, grad, wd) if wd else grad
        avg = self._buffer(i, 1)
        square_avg = state["square_avg"]
        square_avg *= alpha
        np.multiply(g, 1.0 - alpha, out=avg)
        avg *= g
        square_avg += avg                                   # s = alpha s + ((1 - alpha) g) g
        if group["centered"]:
            grad_avg = state.get("grad_avg")
            if grad_avg is None:
                grad_avg = state["grad_avg"] = np.zeros_like(data)
            _lerp(grad_avg, g, 1.0 - alpha, avg)
            np.multiply(grad_avg, grad_avg, out=avg)
            np.subtract(square_avg, avg, out=avg)
            np.sqrt(avg, out=avg)                           # sqrt(s - a a)
        else:
            np.sqrt(square_avg, out=avg)
        avg += eps
        if momentum > 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = np.zeros_like(data)
            buf *= momentum
            np.divide(g, avg, out=avg)
            buf += avg                                      # buf = momentum buf + g / avg
            np.multiply(buf, -lr, out=avg)
            data += avg                                     # p += -lr buf
        else:
            tmp = self._buffer(i, 2)
            np.multiply(g, -lr, out=tmp)
            np.divide(tmp, avg, out=tmp)
            data += tmp                                     # p += (-lr g) / avg


def _lerp(a, b, weight, tmp):
    """``a = torch.lerp(a, b, weight)`` in place, with torch's two formulas (tmp: scratch)."""
    np.subtract(b, a, out=tmp)
    if weight < 0.5:
        tmp *= weight
        a += tmp                                            # a + weight (b - a)
    else:
        tmp *= 1.0 - weight
        np.subtract(b, tmp, out=a)                          # b - (b - a)(1 - weight)


class Adagrad(Optimizer):
    """Adagrad (Duchi et al.), PyTorch's rule.

    ``g = grad + weight_decay * p``; ``clr = lr / (1 + (t - 1) * lr_decay)``;
    ``s = s + g^2`` (``s`` starts at ``initial_accumulator_value``); ``p -= clr * g / (sqrt(s) + eps)``.

    Parameters
    ----------
    params : iterable of Tensor or of dict
        Parameters, or param groups.
    lr : float
        Learning rate (>= 0).
    lr_decay : float
        Learning-rate decay per step (>= 0).
    weight_decay : float
        L2 penalty added to the gradient.
    initial_accumulator_value : float
        Starting value of the squared-gradient sum (>= 0).
    eps : float
        Added to the denominator (> 0).
    """

    _required_state = ("step", "sum")

    def __init__(self, params, lr=0.01, lr_decay=0.0, weight_decay=0.0,
                 initial_accumulator_value=0.0, eps=1e-10):
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value,
                                      eps=eps))

    @classmethod
    def _check_group(cls, group):
        owner = cls.__name__
        return dict(lr=cls._check_lr(group),
                    lr_decay=_nonnegative("lr_decay", group["lr_decay"], owner),
                    weight_decay=_nonnegative("weight_decay", group["weight_decay"], owner),
                    initial_accumulator_value=_nonnegative(
                        "initial_accumulator_value", group["initial_accumulator_value"], owner),
                    eps=check_eps(owner, group["eps"]))

    def _update(self, group, state, i, param, grad):
        data = param.data
        if not state:
            state["step"] = 0
            state["sum"] = np.full_like(data, group["initial_accumulator_value"])
        t = state["step"] = state["step"] + 1
        g = _add_weight_decay(self, i, data, grad, group["weight_decay"]) \
            if group["weight_decay"] else grad
        clr = group["lr"] / (1 + (t - 1) * group["lr_decay"])
        std = self._buffer(i, 1)
        np.multiply(g, g, out=std)
        state["sum"] += std                                 # s = s + g g
        np.sqrt(state["sum"], out=std)
        std += group["eps"]
        tmp = self._buffer(i, 2)
        np.multiply(g, -clr, out=tmp)
        np.divide(tmp, std, out=tmp)
        data += tmp                                         # p += (-clr g) / (sqrt(s) + eps)


