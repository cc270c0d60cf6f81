"""The autodiff machinery: ``Function`` nodes, grad mode, the backward engine and ``grad``.

An op is one ``Function`` subclass with ``forward`` and ``backward`` on raw ndarrays; the
instance itself is the context that carries whatever ``forward`` saves for ``backward``.
``Function.apply`` wraps the result in a Tensor and records the node only when some input
requires a gradient and grad mode is on. The engine (``backprop``) walks the recorded graph
once, in reverse topological order, without recursion.

Safety checks, all raising ``RuntimeError`` before or while gradients flow:

- a graph already freed by an earlier ``backward()`` (use ``retain_graph=True`` to keep it);
- an input (or output) a Function saved that was mutated since forward: assignment to
  ``.data``, optimizer steps and ``load_state_dict`` stamp the Tensor with the next value of a
  global mutation clock (``bump_version``), and each node remembers the clock at its forward;
- a ``backward`` returning the wrong number of gradients, or one of the wrong shape.
"""
from __future__ import annotations

import functools
import threading

import numpy as np

from ._interrupt import reraise_interrupt
from ._validation import check_bool, check_tensors

_state = threading.local()


# ---------------------------------------------------------------- grad mode
def is_grad_enabled() -> bool:
    """True unless grad mode was switched off (``no_grad``, ``set_grad_enabled(False)``)."""
    return getattr(_state, "enabled", True)


class _GradMode:
    """A context manager (and decorator) that sets grad mode on entry and restores it on exit."""

    mode = True

    def __enter__(self):
        self._previous = is_grad_enabled()
        _state.enabled = self.mode
        return self

    def __exit__(self, *exc):
        _state.enabled = self._previous
        return False

    def __call__(self, fn):
        """Use as a decorator: ``fn`` runs in this grad mode."""
        mode = self.mode

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            previous = is_grad_enabled()
            _state.enabled = mode
            try:
                return fn(*args, **kwargs)
            finally:
                _state.enabled = previous

        return wrapper


class no_grad(_GradMode):
    """Context (or decorator) in which operations record no graph: inference, optimizer steps."""

    mode = False


class enable_grad(_GradMode):
    """Context (or decorator) that switches graph recording back on, e.g. inside ``no_grad``."""

    mode = True


class set_grad_enabled(_GradMode):
    """Switch grad mode on or off: at once as a call, or for a ``with`` block.

    ``set_grad_enabled(False)`` alone sets the mode until changed; ``with
    set_grad_enabled(False): ...`` restores the previous mode on exit, as PyTorch's does.
    """

    def __init__(self, mode: bool):
        self.mode = check_bool("mode", mode, owner="set_grad_enabled")
        self._previous = is_grad_enabled()
        _state.enabled = self.mode

    def __enter__(self):
        return self

    def __call__(self, fn):
        _state.enabled = self._previous  # as a decorator it must not switch the mode now
        return super().__call__(fn)


def unbroadcast(grad: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum ``grad`` down to ``shape``, undoing numpy broadcasting."""
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra:
        grad = grad.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    return grad.reshape(shape)


_Tensor = None  # set by tensor.py, which imports this module


# ---------------------------------------------------------------- Function
_clock = [0]  # the mutation clock: bumped by every tracked change of a Tensor's data


def bump_version(tensor):
    """Record that ``tensor``'s data changed in place (stamps it with the next clock value)."""
    _clock[0] += 1
    tensor._version = _clock[0]


class Function:
    """One differentiable op. Subclasses define ``forward(*arrays, **kw)`` and ``backward(grad)``.

    ``forward`` receives the ``.data`` of the Tensor inputs (ndarrays count as constant Tensors;
    other arguments, such as a ``None`` bias, pass through unchanged) and returns an ndarray.
    ``backward`` returns one gradient per Tensor input, in order (a bare array when there is
    one input), each of its input's shape; ``None`` where ``needs_input_grad`` is False.

    Class attributes say what ``forward`` keeps for ``backward``, so that mutating it in between
    is caught: ``saves_inputs`` (default True) and ``saves_output`` (default False).
    """

    __slots__ = ("parents", "needs_input_grad", "epoch", "__dict__")
    saves_inputs = True
    saves_output = False

    def forward(self, *args, **kwargs):  # pragma: no cover - abstract
        raise NotImplementedError

    def backward(self, grad):  # pragma: no cover - abstract
        raise NotImplementedError

    @classmethod
    def apply(cls, *args, **kwargs):
        """Run ``forward`` on the inputs' data and return the result as a Tensor (graph-linked)."""
        Tensor = _Tensor
        ctx = cls()
        parents, raw = [], []
        for a in args:
            if isinstance(a, Tensor):
                parents.append(a)
                raw.append(a._data)
            else:
                if type(a) is np.ndarray:  # a raw array is a constant input
                    parents.append(Tensor._wrap(a, False))
                raw.append(a)
        try:
            out = ctx.forward(*raw, **kwargs)
        except SystemError as exc:  # Ctrl-C while a Numba kernel returned: see _interrupt.py
            reraise_interrupt(exc)
            raise
        if type(out) is not np.ndarray:  # numpy returns scalars from 0-d arithmetic
            out = np.asarray(out)
        if not getattr(_state, "enabled", True):
            return Tensor._wrap(out, False)
        needs = tuple([p.requires_grad for p in parents])
        if True not in needs:
            return Tensor._wrap(out, False)
        ctx.parents = parents
        ctx.needs_input_grad = needs
        ctx.epoch = _clock[0]
        result = Tensor._wrap(out, True)
        result._ctx = ctx
        return result

    def __repr__(self):
        return f"<{type(self).__name__}>"


class _FreedGraph:
    """Stands in for a node's Function once ``backward()`` has freed it."""

    __slots__ = ()

    def __repr__(self):
        return "<freed graph>"


FREED = _FreedGraph()


# ---------------------------------------------------------------- the backward engine
def _freed_error(node):
    return RuntimeError(
        f"backward() reached a tensor of shape {node.shape} whose graph was already freed by an "
        "earlier backward() (a second backward(), or a second loss sharing an intermediate); "
        "call the first backward(retain_graph=True) to keep the graph"
    )


def _check_mutation(node, ctx):
    """RuntimeError if an input or output that ``ctx`` saved changed after its forward pass."""
    name, epoch = type(ctx).__name__, ctx.epoch
    if ctx.saves_inputs:
        for i, p in enumerate(ctx.parents):
            if p._version > epoch:
                raise RuntimeError(
                    f"input {i} (shape {p.shape}) of {name} was modified after the forward pass "
                    "(by an assignment to .data, an optimizer step or load_state_dict), and its "
                    "backward needs the old values; recompute the forward pass after the change"
                )
    if ctx.saves_output and node._version > epoch:
        raise RuntimeError(
            f"the output (shape {node.shape}) of {name} was modified after the forward pass, "
            "and its backward needs it; recompute the forward pass after the change"
        )


def graph(roots):
    """Nodes reachable from ``roots`` that require grad, parents before children.

    Iterative (deep graphs never hit the recursion limit). Raises ``RuntimeError`` for a freed
    graph or a mutated saved value before any gradient is computed.
    """
    order, seen, clock = [], set(), _clock[0]
    stack = [(r, False) for r in roots]
    while stack:
        node, done = stack.pop()
        if done:
            order.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))
        ctx = node._ctx
        if ctx is not None:
            if ctx is FREED:
                raise _freed_error(node)
            if ctx.epoch != clock:  # something changed since this node's forward: look closer
                _check_mutation(node, ctx)
            for parent in ctx.parents:
                if parent.requires_grad and id(parent) not in seen:
                    stack.append((parent, False))
    return order


def _checked_grad(ctx, grads, i):
    """``grads[i]`` as an ndarray of its input's shape, or a RuntimeError naming both shapes."""
    g, shape = np.asarray(grads[i]), ctx.parents[i]._data.shape
    if g.shape != shape:
        raise RuntimeError(
            f"{type(ctx).__name__}.backward returned a gradient of shape {g.shape} for input {i}, "
            f"whose shape is {shape}"
        )
    return g


def _input_grads(ctx, grad):
    """``ctx.backward(grad)`` as a tuple with one entry per input (count checked)."""
    try:
        grads = ctx.backward(grad)
    except SystemError as exc:  # Ctrl-C while a Numba kernel returned: see _interrupt.py
        reraise_interrupt(exc)
        raise
    if type(grads) is not tuple:
        grads = tuple(grads) if type(grads) is list else (grads,)
    if len(grads) != len(ctx.parents):
        raise RuntimeError(
            f"{type(ctx).__name__}.backward returned {len(grads)} gradient(s) for "
            f"{len(ctx.parents)} input(s); return one per Tensor input (None where not needed)"
        )
    return grads


def _owned(grad, dtype, owned):
    """``grad`` as an array no one else holds (views, shared or cast arrays are copied)."""
    if grad.base is not None or id(grad) in owned or grad.dtype != dtype:
        grad = grad.astype(dtype, copy=True)
    owned.add(id(grad))
    return grad


def _sum(a, b):
    """``a + b`` as an ndarray: numpy adds two 0-d arrays into a scalar, which kernels and
    ``.grad`` (always an ndarray) must not see."""
    total = a + b
    return total if type(total) is np.ndarray else np.asarray(total)


def backprop(roots, root_grads, retain_graph=False, inputs=None):
    """Propagate ``root_grads`` (arrays, one per root) back through the graph.

    With ``inputs=None`` the gradients accumulate into every leaf's ``.grad``; otherwise they
    are returned as a list, one per tensor of ``inputs`` (None where none arrived), and no
    ``.grad`` is touched. The graph is freed as it is walked unless ``retain_graph``.
    """
    order = graph(roots)
    grads, owned = {}, set()
    for r, g in zip(roots, root_grads):
        owned.add(id(g))  # the caller's array: a leaf must get its own copy
        prev = grads.get(id(r))
        grads[id(r)] = g if prev is None else _sum(prev, g)
    wanted = None if inputs is None else {id(t): None for t in inputs}
    for node in reversed(order):
        g = grads.pop(id(node), None)
        ctx = node._ctx
        if wanted is not None and g is not None and id(node) in wanted:
            wanted[id(node)] = _owned(g, node._data.dtype, owned)
        if ctx is None:  # a leaf
            if g is not None and wanted is None:
                g = _owned(g, node._data.dtype, owned)
                node.grad = g if node.grad is None else _sum(node.grad, g)
            continue
        if not retain_graph:
            node._ctx = FREED
        if g is None:
            continue
        parent_grads = _input_grads(ctx, g)
        for i, parent in enumerate(ctx.parents):
            pg = parent_grads[i]
            if pg is None or not parent.requires_grad:
                continue
            if type(pg) is not np.ndarray or pg.shape != parent._data.shape:
                pg = _checked_grad(ctx, parent_grads, i)
            key = id(parent)
            prev = grads.get(key)
            grads[key] = pg if prev is None else _sum(prev, pg)
    return None if wanted is None else [wanted[id(t)] for t in inputs]


def _as_list(tensors, name):
    items = [tensors] if hasattr(tensors, "requires_grad") else list(tensors)
    for i, t in enumerate(items):
        check_tensors("grad", **{f"{name}[{i}]": t})
    return items


def grad(outputs, inputs, grad_outputs=None, retain_graph=False, allow_unused=False):
    """Gradients of ``outputs`` with respect to ``inputs``, returned without touching ``.grad``.

    Parameters
    ----------
    outputs, inputs : Tensor or sequence of Tensors
    grad_outputs : array or sequence of arrays, optional
        The gradient to seed each output with; None for a one-element output (seed 1).
    retain_graph : bool
        Keep the graph for another backward pass (it is freed otherwise).
    allow_unused : bool
        Give None for an input the outputs do not depend on, instead of raising.

    Returns
    -------
    tuple of np.ndarray
        One gradient per input, with its shape and dtype.
    """
    outputs, inputs = _as_list(outputs, "outputs"), _as_list(inputs, "inputs")
    if grad_outputs is None or hasattr(grad_outputs, "shape"):
        grad_outputs = [grad_outputs] * len(outputs) if grad_outputs is None else [grad_outputs]
    grad_outputs = list(grad_outputs)
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"grad: {len(grad_outputs)} grad_outputs for {len(outputs)} outputs")
    for i, t in enumerate(inputs):
        if not t.requires_grad:
            raise RuntimeError(f"grad: inputs[{i}] does not require grad")
    seeds = [seed_grad(o, g, "grad") for o, g in zip(outputs, grad_outputs)]
    result = backprop(outputs, seeds, retain_graph=retain_graph, inputs=inputs)
    for i, (t, g) in enumerate(zip(inputs, result)):
        if g is None:
            if not allow_unused:
                raise RuntimeError(f"grad: the outputs do not depend on inputs[{i}] (shape "
                                   f"{t.shape}); pass allow_unused=True to get None for it")
    return tuple(result)


def seed_grad(output, grad, owner="backward()"):
    """The gradient that starts backpropagation from ``output``, checked against its shape."""
    if not output.requires_grad:
        raise RuntimeError(
            f"{owner} called on a tensor that does not require grad: no input of the "
            "computation had requires_grad=True (or it ran under no_grad())"
        )
    data = output._data
    if grad is None:
        if data.size != 1:
            raise RuntimeError(
                f"{owner} without a gradient needs a scalar output, got shape {data.shape}; "
                "pass grad= with the output's shape"
            )
        return np.ones_like(data)
    grad = np.asarray(grad.data if hasattr(grad, "requires_grad") else grad)
    if grad.dtype.kind not in "biuf":
        raise TypeError(f"{owner}: grad must be numeric, got dtype {grad.dtype}")
    grad = grad.astype(data.dtype, copy=False)
    if grad.shape != data.shape:
        raise ValueError(f"{owner} grad has shape {grad.shape}, the tensor has shape {data.shape}")
    return grad
