"""The optimizer base class: parameter groups, per-parameter state, checked gradients, state_dict.

Every optimizer keeps its parameters in ``param_groups``, as PyTorch does: a list of dicts, each
holding ``"params"`` (a list of Tensors) and that group's hyperparameters (``"lr"``, ...).
Hyperparameters not given for a group take the constructor's values (``optimizer.defaults``).
A group is a `ParamGroup`, a dict that validates every hyperparameter assigned to it, so
``optimizer.param_groups[0]["lr"] = -1`` fails at once rather than at the next ``step()``.

``state[i]`` holds parameter ``i``'s state (numbered across the groups in order); `step` checks
every gradient against its parameter before any update runs, so a wrong gradient changes nothing.
"""
from __future__ import annotations

import re

import numpy as np

from .._validation import check_real
from ..tensor import Tensor

__all__ = ["Optimizer", "ParamGroup"]


class ParamGroup(dict):
    """One parameter group: ``"params"`` plus hyperparameters, validated whenever one is set.

    Keys are fixed: the optimizer's hyperparameter names and ``"params"`` (which cannot be
    reassigned; use `Optimizer.add_param_group` for new parameters).
    """

    __slots__ = ("_owner",)

    def __init__(self, owner, items):
        super().__init__(items)
        self._owner = owner  # the optimizer class: its _check_group validates

    def __setitem__(self, key, value):
        self.update({key: value})

    def update(self, other=(), **kwargs):
        """Set several hyperparameters at once (validated together)."""
        changes = dict(other, **kwargs)
        if "params" in changes:
            raise TypeError("a group's 'params' cannot be reassigned; build a new optimizer or "
                            "call add_param_group")
        unknown = [k for k in changes if k not in self]
        if unknown:
            raise KeyError(f"{self._owner.__name__} param groups have no key {unknown[0]!r}; "
                           f"valid keys: {sorted(k for k in self if k != 'params')}")
        checked = self._owner._check_group({**self, **changes})
        for key in changes:
            dict.__setitem__(self, key, checked[key])

    def setdefault(self, key, default=None):
        """Return ``self[key]`` (every key exists already; new keys are refused)."""
        if key not in self:
            self.update({key: default})
        return self[key]

    def _refuse(self, *args, **kwargs):
        """Refused: a group's keys are fixed (TypeError)."""
        raise TypeError("param group keys cannot be removed")

    __delitem__ = pop = popitem = clear = _refuse

    def __reduce__(self):
        return _rebuild_group, (self._owner, dict(self))


def _rebuild_group(owner, items):
    return ParamGroup(owner, items)


def _scalar(value):
    """A saved value back to Python: 0-d arrays to scalars, 1-d arrays to tuples (``.npz``)."""
    if isinstance(value, np.ndarray):
        return value.item() if value.ndim == 0 else tuple(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    return value


class Optimizer:
    """Base class: parameter groups, per-parameter state and their (de)serialisation.

    Subclasses define ``_defaults`` (hyperparameter name -> nothing; the constructor gives the
    values), ``_check_group(group)`` returning the group's hyperparameters validated and
    normalised, ``_required_state(group)``/``_optional_state`` naming per-parameter state, and
    ``_update(group, state, i, param, grad)`` doing one parameter's in-place update.

    Parameters
    ----------
    params : iterable of Tensor, or iterable of dict
        The Tensors to optimise, or parameter groups: dicts with a ``"params"`` list and any
        hyperparameters that differ from the defaults for that group.
    defaults : dict
        The constructor's hyperparameters, used where a group does not set its own.
    """

    _required_state: tuple = ()  # per-parameter state names present after the first step
    _optional_state: tuple = ()  # names a configuration may add (e.g. momentum_buffer)

    def __init__(self, params, defaults):
        if isinstance(params, (Tensor, dict)):
            what = "Tensor" if isinstance(params, Tensor) else "dict"
            raise TypeError(f"params must be an iterable of Tensors or of param-group dicts "
                            f"(e.g. module.parameters()), got a single {what}; wrap it in a list")
        self.defaults = type(self)._check_group(dict(defaults))
        self.param_groups = []
        self.params = []  # every parameter, numbered across the groups in order
        self.state = []
        self._scratch = []
        groups = list(params)
        if not groups:
            raise ValueError(f"{type(self).__name__} got an empty parameter list")
        if all(isinstance(g, dict) for g in groups):
            for group in groups:
                self.add_param_group(group)
        elif any(isinstance(g, dict) for g in groups):
            raise TypeError("params must be all Tensors or all param-group dicts, not a mix")
        else:
            self.add_param_group({"params": groups})

    # ------------------------------------------------------------------ groups
    def add_param_group(self, param_group):
        """Append a group: ``{"params": [...], <hyperparameter>: value, ...}``."""
        if not isinstance(param_group, dict) or "params" not in param_group:
            raise TypeError(f"a param group must be a dict with a 'params' list, got {param_group!r}")
        name = type(self).__name__
        params = param_group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        k = len(self.param_groups)
        if not params:
            raise ValueError(f"{name}: param group {k} has an empty 'params' list")
        unknown = [key for key in param_group if key != "params" and key not in self.defaults]
        if unknown:
            raise ValueError(f"{name}: param group {k} has unknown key {unknown[0]!r}; valid "
                             f"keys: {sorted(self.defaults)}")
        seen = {id(p) for p in self.params}
        for j, p in enumerate(params):
            where = f"params[{j}]" if len(self.param_groups) == 0 else f"param group {k} params[{j}]"
            if not isinstance(p, Tensor):
                raise TypeError(f"{where} must be a Tensor, got {type(p).__name__}")
            if id(p) in seen:
                raise ValueError(f"{where} appears more than once in the parameter list")
            seen.add(id(p))
        hyper = type(self)._check_group({**self.defaults, **param_group})
        group = ParamGroup(type(self), {"params": params, **hyper})
        self.param_groups.append(group)
        self.params.extend(params)
        self.state.extend({} for _ in params)
        self._scratch.extend([] for _ in params)

    @classmethod
    def _check_group(cls, group):  # pragma: no cover - abstract
        raise NotImplementedError

    @classmethod
    def _check_lr(cls, group):
        return check_real("lr", group["lr"], low=0.0, owner=cls.__name__)

    @property
    def lr(self) -> float:
        """The learning rate of every group (settable: sets every group; schedules use it).

        Reading it when the groups have different rates raises ValueError: read
        ``param_groups[k]["lr"]`` instead.
        """
        lrs = {g["lr"] for g in self.param_groups}
        if len(lrs) > 1:
            raise ValueError(f"{type(self).__name__}'s param groups have different learning "
                             f"rates {[g['lr'] for g in self.param_groups]}; read "
                             "optimizer.param_groups[k]['lr']")
        return lrs.pop()

    @lr.setter
    def lr(self, value):
        value = check_real("lr", value, low=0.0, owner=type(self).__name__)
        for group in self.param_groups:
            group["lr"] = value

    def _groups_with_index(self):
        """(group, flat index of its first parameter) for every group."""
        start = 0
        for group in self.param_groups:
            yield group, start
            start += len(group["params"])

    # ------------------------------------------------------------------ stepping
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

    def _checked_updates(self):
        """[(group, i, param, grad)] for the parameters that have a gradient, after checking
        every gradient's type, shape and dtype against its parameter (nothing runs before)."""
        updates = []
        for group, start in self._groups_with_index():
            for j, p in enumerate(group["params"]):
                g = p.grad
                if g is None:
                    continue
                i = start + j
                if type(g) is not np.ndarray:
                    raise TypeError(f"{type(self).__name__}.step: the gradient of parameter {i} "
                                    f"must be an ndarray, got {type(g).__name__}")
                if g.shape != p.data.shape or g.dtype != p.data.dtype:
                    raise ValueError(
                        f"{type(self).__name__}.step: the gradient of parameter {i} has shape "
                        f"{g.shape} and dtype {g.dtype}, but the parameter has shape "
                        f"{p.data.shape} and dtype {p.data.dtype}")
                updates.append((group, i, p, g))
        return updates

    def step(self):
        """Update every parameter that has a gradient, in place."""
        for group, i, p, g in self._checked_updates():
            self._update(group, self.state[i], i, p, g)
            p._bump_version()  # graphs that saved the old values must not backpropagate

    def _update(self, group, state, i, param, grad):  # pragma: no cover - abstract
        raise NotImplementedError

    # ------------------------------------------------------------------ state_dict
    def state_dict(self) -> dict:
        """A flat dict of copies, saveable with ``np.savez``: ``"param_groups.<k>.<name>"`` for
        every group's hyperparameters and ``"param_groups.<k>.params"`` (the parameter numbers
        in that group), and ``"<state name>.<i>"`` per parameter (e.g. ``exp_avg.0``).
        `load_state_dict` resumes the identical trajectory."""
        out = {}
        for k, (group, start) in enumerate(self._groups_with_index()):
            out[f"param_groups.{k}.params"] = np.arange(start, start + len(group["params"]))
            for key, value in group.items():
                if key != "params":
                    out[f"param_groups.{k}.{key}"] = value
        for i, st in enumerate(self.state):
            for key, value in st.items():
                out[f"{key}.{i}"] = value.copy() if isinstance(value, np.ndarray) else value
        return out

    def load_state_dict(self, state_dict):
        """Restore what `state_dict` returned, hyperparameters included.

        Everything is checked before anything changes: the same groups holding the same
        parameters, every hyperparameter present and valid, no unknown key, state arrays shaped
        like their parameters, and each parameter's state complete (all of it or none).
        """
        name = type(self).__name__
        sd = dict(state_dict)
        groups = []
        for k, (group, start) in enumerate(self._groups_with_index()):
            prefix = f"param_groups.{k}."
            want = np.arange(start, start + len(group["params"]))
            got = sd.pop(prefix + "params", None)
            if got is None:
                raise ValueError(f"{name}.load_state_dict: missing key {prefix + 'params'!r}")
            if np.asarray(got).shape != want.shape or not np.array_equal(got, want):
                raise ValueError(f"{name}.load_state_dict: param group {k} holds parameters "
                                 f"{np.asarray(got).tolist()}, this optimizer's holds "
                                 f"{want.tolist()}")
            missing = [prefix + key for key in self.defaults if prefix + key not in sd]
            if missing:
                raise ValueError(f"{name}.load_state_dict: missing key {missing[0]!r}")
            groups.append(type(self)._check_group(
                {key: _scalar(sd.pop(prefix + key)) for key in self.defaults}))
        extra = [key for key in sd if str(key).startswith("param_groups.")]
        if extra:
            raise ValueError(f"{name}.load_state_dict: unexpected key {extra[0]!r} (this "
                             f"optimizer has {len(self.param_groups)} param groups)")
        state = self._parse_state(sd, groups)
        for group, hyper in zip(self.param_groups, groups):
            dict.update(group, hyper)
        self.state = state

    def _parse_state(self, sd, groups):
        """Per-parameter state from the remaining ``"<name>.<i>"`` keys, checked."""
        name = type(self).__name__
        known = self._required_state + self._optional_state
        state = [{} for _ in self.params]
        for key, value in sd.items():
            match = re.fullmatch(r"(\w+)\.(\d+)", str(key))
            if match is None or match.group(1) not in known:
                raise ValueError(f"{name}.load_state_dict: unexpected key {key!r}")
            what, i = match.group(1), int(match.group(2))
            if i >= len(self.params):
                raise ValueError(f"{name}.load_state_dict: key {key!r} refers to parameter {i}, "
                                 f"but the optimizer has {len(self.params)}")
            if what == "step":
                step = _scalar(value)
                if isinstance(step, float) and step.is_integer():
                    step = int(step)
                if not isinstance(step, int) or isinstance(step, bool) or step < 1:
                    raise ValueError(f"{name}.load_state_dict: {key!r} must be an integer >= 1, "
                                     f"got {value!r}")
                state[i][what] = step
                continue
            p = self.params[i].data
            arr = np.asarray(value)
            if arr.shape != p.shape:
                raise ValueError(f"{name}.load_state_dict: {key!r} has shape {arr.shape}, "
                                 f"parameter {i} has shape {p.shape}")
            if not np.issubdtype(arr.dtype, np.floating):
                raise ValueError(f"{name}.load_state_dict: {key!r} must hold floats, got dtype "
                                 f"{arr.dtype}")
            state[i][what] = np.array(arr, dtype=p.dtype, order="C")
        group_of = [g for g, (grp, _) in zip(groups, self._groups_with_index())
                    for _ in grp["params"]]
        for i, (st, group) in enumerate(zip(state, group_of)):
            needed = self._state_needed(group)
            missing = [k for k in needed if k not in st]
            if st and missing:
                raise ValueError(f"{name}.load_state_dict: the state of parameter {i} is "
                                 f"incomplete: it has {sorted(st)} but not {missing}")
        return state

    def _state_needed(self, group):
        """State names a parameter's non-empty state must hold under ``group``'s settings."""
        return self._required_state

    def __repr__(self):
        groups = len(self.param_groups)
        try:
            lr = f"lr={self.lr!r}"
        except ValueError:
            lr = "lr=per group"
        hyper = ", ".join(f"{k}={v!r}" for k, v in self.param_groups[0].items()
                          if k not in ("params", "lr"))
        where = f"{len(self.params)} params" + (f" in {groups} groups" if groups > 1 else "")
        return f"{type(self).__name__}({where}, {lr}, {hyper})"


def check_eps(owner, value):
    """``eps`` > 0: it keeps the denominators of the adaptive methods away from zero."""
    return check_real("eps", value, low=0.0, closed="right", owner=owner)

