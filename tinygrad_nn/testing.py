"""Gradient checking and hypothesis strategies, public for users' own property tests.

A property test of a user's own op::

    from hypothesis import given
    from tinygrad_nn.testing import gradcheck, tensors

    @given(tensors(shape=(3, 4)))
    def test_my_op(x):
        gradcheck(lambda t: (t * t).tanh().sum(axis=0), x)
"""
from __future__ import annotations

import numpy as np

from .tensor import Tensor

__all__ = ["GradcheckError", "CheckError", "gradcheck", "numerical_jacobian", "same_layout_copy",
           "shapes", "tensors", "broadcastable_shapes", "warm_up", "PROFILE", "check_module",
           "check_function"]


class GradcheckError(AssertionError):
    """Analytic and numerical gradients disagree; the message names the input and element."""


_MAX_SPAN = 1 << 20  # elements a layout-keeping copy may span before falling back to compact


def same_layout_copy(data, dtype=np.float64):
    """A writable copy of ``data`` in ``dtype`` whose strides follow ``data``'s.

    Transposed, strided (``x[::2]``) and reversed (``x[::-1]``) views stay so, as far as the
    element sizes allow, so an op under test sees the caller's layout in ``forward`` and
    ``backward``. Broadcast (stride-0) or self-overlapping views, and views spread over more
    than a million elements, come back as compact copies in the same axis order.
    """
    data = np.asarray(data)
    itemsize = data.itemsize
    out_item = np.dtype(dtype).itemsize
    if data.ndim == 0 or data.size == 0 or any(s % itemsize for s in data.strides):
        return np.array(data, dtype=dtype, order="K")
    steps = [s // itemsize for s in data.strides]
    lo = sum((n - 1) * st for n, st in zip(data.shape, steps) if st < 0)
    hi = sum((n - 1) * st for n, st in zip(data.shape, steps) if st > 0)
    span = hi - lo + 1
    if span > max(_MAX_SPAN, data.size) or any(st == 0 and n > 1 for n, st in zip(data.shape, steps)):
        return np.array(data, dtype=dtype, order="K")
    offsets = np.lib.stride_tricks.as_strided(np.arange(lo, hi + 1)[-lo:], data.shape,
                                              [st * 8 for st in steps])
    if np.unique(offsets).size != data.size:  # overlapping view: writes would alias
        return np.array(data, dtype=dtype, order="K")
    buffer = np.zeros(span, dtype=dtype)
    out = np.lib.stride_tricks.as_strided(buffer[-lo:], data.shape, [st * out_item for st in steps])
    out[...] = data
    return out


def _as_float64_leaf(x):
    data = x.data if isinstance(x, Tensor) else np.asarray(x)
    return Tensor(same_layout_copy(data), requires_grad=True)


def _outputs(fn, inputs):
    out = fn(*inputs)
    if not isinstance(out, Tensor):
        raise TypeError(f"gradcheck: fn must return a Tensor, got {type(out).__name__}")
    return out


def numerical_jacobian(fn, inputs, eps=1e-6):
    """Central-difference Jacobians d out / d input, one (out.size, input.size) array per input."""
    jacobians = []
    for x in inputs:
        data = x.data
        n_out = _outputs(fn, inputs).data.size
        jac = np.zeros((n_out, data.size))
        for i in range(data.size):
            idx = np.unravel_index(i, data.shape) if data.ndim else ()
            orig = data[idx]
            data[idx] = orig + eps
            plus = _outputs(fn, inputs).data.reshape(-1).astype(np.float64)
            data[idx] = orig - eps
            minus = _outputs(fn, inputs).data.reshape(-1).astype(np.float64)
            data[idx] = orig
            jac[:, i] = (plus - minus) / (2 * eps)
        jacobians.append(jac)
    return jacobians


def _analytic_jacobian(fn, inputs):
    n_out = _outputs(fn, inputs).data.size
    jacobians = [np.zeros((n_out, x.data.size)) for x in inputs]
    for j in range(n_out):
        for x in inputs:
            x.grad = None
        out = _outputs(fn, inputs)
        if not out.requires_grad:
            break
        seed = np.zeros(out.data.size)
        seed[j] = 1.0
        out.backward(seed.reshape(out.shape))
        for jac, x in zip(jacobians, inputs):
            if x.grad is not None:
                if x.grad.shape != x.shape:
                    raise GradcheckError(
                        f"gradient of input {inputs.index(x)} has shape {x.grad.shape}, "
                        f"the input has shape {x.shape}"
                    )
                jac[j] = x.grad.reshape(-1)
    for x in inputs:
        x.grad = None
    return jacobians


def gradcheck(fn, *inputs, eps=1e-6, atol=1e-5, rtol=1e-3):
    """Compare ``fn``'s backward pass with float64 central differences over the full Jacobian.

    ``inputs`` are Tensors or arrays; they are copied to float64 leaves that keep each input's
    memory layout (a transposed or strided view reaches ``fn``, and so the op's ``forward`` and
    ``backward``, as such); the caller's tensors are never modified. Returns True, or raises
    ``GradcheckError`` naming the input and the worst element.
    """
    leaves = [_as_float64_leaf(x) for x in inputs]
    return _check_jacobians(fn, leaves, [f"input {k}" for k in range(len(leaves))],
                            eps=eps, atol=atol, rtol=rtol)


def _check_jacobians(fn, leaves, labels, eps=1e-6, atol=1e-5, rtol=1e-3, n_args=None):
    """gradcheck on ready float64 leaves; ``fn`` takes the first ``n_args`` of them (all by
    default: the rest, such as a module's parameters, are used by ``fn`` directly)."""
    args = leaves if n_args is None else leaves[:n_args]
    call = (lambda *_: _outputs(fn, args)) if n_args is not None else fn
    analytic = _analytic_jacobian(call, leaves)
    numeric = numerical_jacobian(call, leaves, eps=eps)
    out_shape = _outputs(call, leaves).shape
    for k, (a, n) in enumerate(zip(analytic, numeric)):
        label = labels[k]
        short = label.replace("input ", "input").replace("parameter ", "").strip("'")
        finite = np.isfinite(a)
        if not np.all(np.isfinite(n)) and not np.array_equal(finite, np.isfinite(n)):
            raise GradcheckError(f"{label}: numerical gradient is not finite; is fn smooth here?")
        # a NaN or inf analytic element where the numerical one is finite is the worst element
        # (a NaN difference would compare as no excess at all); elements non-finite in both are
        # skipped
        with np.errstate(invalid="ignore"):
            excess = np.where(finite, np.abs(a - n) - (atol + rtol * np.abs(n)),
                              np.where(np.isfinite(n), np.inf, -np.inf))
        if excess.size and excess.max() > 0:
            j, i = np.unravel_index(np.argmax(excess), excess.shape)
            out_idx = [int(v) for v in np.unravel_index(j, out_shape)] if out_shape else []
            in_idx = [int(v) for v in np.unravel_index(i, leaves[k].shape)] if leaves[k].shape else []
            raise GradcheckError(
                f"gradcheck failed for {label} (shape {leaves[k].shape}): worst element "
                f"d out{out_idx} / d {short}{in_idx}: analytic {a[j, i]:.6g}, "
                f"numerical {n[j, i]:.6g} (|diff| {abs(a[j, i] - n[j, i]):.3g}, "
                f"allowed {atol + rtol * abs(n[j, i]):.3g})"
            )
    return True


# ---------------------------------------------------------------- hypothesis: warm-up, profile
_WARM = set()


def warm_up(dtypes=(np.float32, np.float64), max_ndim=4):
    """Load (or, on a fresh install, compile) the Numba kernels the built-in ops use.

    Numba specialises a kernel per dtype and number of dimensions and loads each one on its
    first call: hundreds of milliseconds, which a hypothesis test under the default settings
    reports as a missed 200 ms deadline. ``tensors()`` calls this when the strategy is made (at
    test collection, outside any timed example), once per process and dtype; call it yourself,
    e.g. in ``conftest.py``, when your tests build their Tensors some other way. It runs every
    activation, the softmax family, ``logsumexp``, ``cross_entropy``, ``conv2d`` and
    ``max_pool2d`` forward and backward on tiny inputs of 0 to ``max_ndim`` dimensions.
    """
    from . import functional as F

    for dtype in dtypes:
        key = (np.dtype(dtype), max_ndim)
        if key in _WARM:
            continue
        _WARM.add(key)
        for ndim, side in [(n, s) for n in range(max_ndim + 1) for s in (1, 2)]:
            # size 1: sum()'s backward hands a read-only broadcast view on, which is contiguous
            # then, and read-only arrays are a separate Numba specialisation
            x = Tensor(np.full((side,) * ndim, 0.5, dtype=dtype), requires_grad=True)
            outs = [x.relu(), x.sigmoid(), x.tanh(), x.leaky_relu(), x.elu(), x.softplus(),
                    x.logsumexp()]
            if ndim:
                outs += [x.softmax(), x.log_softmax(), x.logsumexp(axis=-1)]
            for out in outs:
                out.sum().backward()
        x = Tensor(np.full((1, 1, 2, 2), 0.5, dtype=dtype), requires_grad=True)
        w = Tensor(np.full((1, 1, 2, 2), 0.5, dtype=dtype), requires_grad=True)
        for out in (F.conv2d(x, w, padding=1), F.max_pool2d(x, 2),
                    F.cross_entropy(x.reshape(2, 2), np.array([0, 1]))):
            out.sum().backward()


PROFILE = "tinygrad_nn"
"""A hypothesis profile for tests of this library's code: no deadline, slow-data health check off.

``settings.load_profile(tinygrad_nn.testing.PROFILE)`` in a ``conftest.py`` is an alternative to
``warm_up`` (a first call that compiles or loads a kernel then cannot fail a test on time)."""


def _register_profile():
    import warnings

    from hypothesis import HealthCheck, settings

    with warnings.catch_warnings():  # registering inside a running @settings test warns
        warnings.simplefilter("ignore")
        settings.register_profile(PROFILE, deadline=None,
                                  suppress_health_check=[HealthCheck.too_slow])


try:  # hypothesis is an optional dependency of the library (a test one)
    _register_profile()
except ImportError:  # pragma: no cover
    pass


# ---------------------------------------------------------------- hypothesis strategies
def shapes(min_dims=0, max_dims=3, min_side=0, max_side=4):
    """Array shapes, including 0-d, size-1 and (with the default ``min_side=0``) empty axes.

    Pass ``min_side=1`` for ops that reject empty input, such as ``max``.
    """
    from hypothesis.extra import numpy as hnp

    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side,
                            max_side=max_side)


def broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, min_side=0, max_side=4):
    """Tuples of ``num_shapes`` shapes that broadcast together under numpy rules, including
    0-d, size-1 and (unless ``min_side=1``) empty axes."""
    from hypothesis.extra import numpy as hnp

    return hnp.mutually_broadcastable_shapes(
        num_shapes=num_shapes, min_dims=min_dims, max_dims=max_dims, min_side=min_side,
        max_side=max_side,
    ).map(lambda b: b.input_shapes)


def tensors(shape=None, dtype=np.float64, min_value=-3.0, max_value=3.0, requires_grad=True,
            allow_noncontiguous=True, unique=False):
    """Tensors with finite values in [min_value, max_value]; ``shape`` is a tuple, a strategy or
    None (any small shape). Some draws are non-contiguous views (transposed or strided);
    ``unique=True`` gives distinct values (no ties for max/maximum)."""
    from hypothesis import strategies as st
    from hypothesis.extra import numpy as hnp

    warm_up(dtypes=(dtype, np.float64))  # here, not in the test: see warm_up
    shape_st = shapes() if shape is None else (shape if isinstance(shape, st.SearchStrategy)
                                               else st.just(tuple(shape)))
    elements = st.floats(min_value, max_value, allow_nan=False, allow_infinity=False, width=64)

    @st.composite
    def build(draw):
        shp = draw(shape_st)
        layout = draw(st.sampled_from(["c", "t", "s"])) if allow_noncontiguous and shp else "c"
        if layout == "t":  # a transposed view of the reversed shape
            arr = draw(hnp.arrays(np.float64, shp[::-1], elements=elements, unique=unique)).T
        elif layout == "s":  # every other element along the first axis
            big = (shp[0] * 2,) + tuple(shp[1:])
            arr = draw(hnp.arrays(np.float64, big, elements=elements, unique=unique))[::2]
        else:
            arr = draw(hnp.arrays(np.float64, shp, elements=elements, unique=unique))
        return Tensor(arr.astype(dtype, copy=False), requires_grad=requires_grad)

    return build()


# ---------------------------------------------------------------- check_module / check_function
class CheckError(AssertionError):
    """``check_module`` or ``check_function`` found problems; the message lists every one.

    ``failures`` holds ``(check name, message)`` pairs, one per failed check (the first
    example that failed it).
    """

    def __init__(self, subject, failures, n_examples):
        self.failures = list(failures)
        lines = [f"{subject}: {len(self.failures)} check(s) failed over {n_examples} example(s):"]
        lines += [f"  - {name}: {message}" for name, message in self.failures]
        super().__init__("\n".join(lines))


class _Report:
    """Failures by check name, the first example of each kept (examples run in order)."""

    def __init__(self):
        self.failures = {}
        self.examples = 0

    def fail(self, name, message, where=""):
        if name not in self.failures:
            self.failures[name] = f"{message}{' [' + where + ']' if where else ''}"

    def run(self, name, check, where=""):
        """Run ``check()``; an exception is this check's failure. Returns check's result or None."""
        try:
            return check()
        except Exception as exc:  # noqa: BLE001 - every failure is reported, none stops the rest
            text = str(exc).strip().splitlines()
            self.fail(name, f"{type(exc).__name__}: {text[0] if text else ''}"
                      + (" ..." if len(text) > 1 else ""), where)
            return None

    def raise_if_failed(self, subject):
        if self.failures:
            raise CheckError(subject, self.failures.items(), self.examples)


def _array_of(value, owner):
    """A drawn input as an array: floats as float64 in their own layout, integers (indices) and
    bools (masks) as they are."""
    if isinstance(value, Tensor):
        value = value.data
    if isinstance(value, np.ndarray) and value.dtype.kind == "f":
        return same_layout_copy(value)
    if isinstance(value, np.ndarray) and value.dtype.kind in "biu":
        return value
    raise TypeError(f"{owner}: an input strategy must draw shapes, Tensors or arrays, "
                    f"got {type(value).__name__}")


def _is_float(a):
    return a.dtype.kind == "f"


def _differentiable(arrays, constants):
    """Positions of the inputs that become Tensors: float arrays not listed in ``constants``."""
    return [k for k, a in enumerate(arrays) if _is_float(a) and k not in constants]


def _wrap_inputs(arrays, positions, requires_grad=True):
    """The arrays at ``positions`` become Tensors (``requires_grad`` a bool or one per input);
    the rest (indices, masks, constant targets) are passed as they are."""
    flags = requires_grad if isinstance(requires_grad, (list, tuple)) else [requires_grad] * len(arrays)
    return [Tensor(a, requires_grad=flags[k]) if k in positions else a
            for k, a in enumerate(arrays)]


def _merge(arrays, tensors, positions):
    """``arrays`` with the entries at ``positions`` replaced, in order, by ``tensors``."""
    it = iter(tensors)
    return [next(it) if k in positions else a for k, a in enumerate(arrays)]


def _check_constants(constants, owner):
    from ._validation import check_int

    if not isinstance(constants, (tuple, list, set, frozenset)):
        raise TypeError(f"{owner}: constants must be a sequence of input positions, got "
                        f"{type(constants).__name__}")
    return frozenset(check_int("constants", c, low=0, owner=owner) for c in constants)


def _cast_floats(arrays, dtype):
    return [a.astype(dtype) if _is_float(a) else a for a in arrays]


def _is_shape(value):
    return isinstance(value, tuple) and all(isinstance(v, (int, np.integer)) and v >= 0 for v in value)


def _example_strategy(specs, owner, batch_sizes=None):
    """A strategy of (list of float64 arrays, description) from per-input ``specs``.

    A spec is a shape tuple (values: standard normal from a drawn seed, so no ties or exact
    zeros), or a strategy drawing shapes, Tensors/arrays or tuples of them (integer arrays are
    indices, passed as they are). With ``batch_sizes`` (a strategy), axis 0 of every literal
    shape-tuple spec is replaced by a drawn size.
    """
    from hypothesis import strategies as st

    parts, literal = [], []
    for k, spec in enumerate(specs):
        if isinstance(spec, st.SearchStrategy):
            parts.append(spec)
            literal.append(False)
        elif _is_shape(tuple(spec) if isinstance(spec, (list, tuple)) else spec):
            parts.append(st.just(tuple(int(v) for v in spec)))
            literal.append(True)
        else:
            raise TypeError(f"{owner}: input {k} must be a shape tuple or a hypothesis strategy, "
                            f"got {spec!r}")

    @st.composite
    def build(draw):
        batch = draw(batch_sizes) if batch_sizes is not None else None
        seed = draw(st.integers(0, 2**32 - 1))
        rng = np.random.default_rng(seed)
        arrays, notes = [], []
        for k, part in enumerate(parts):
            value = draw(part)
            if _is_shape(value):
                batched = batch is not None and literal[k] and value
                shape = (batch,) + value[1:] if batched else value
                arrays.append(rng.standard_normal(shape))
                notes.append(f"shape {shape}")
            elif isinstance(value, (tuple, list)) and len(parts) == 1:
                arrays += [_array_of(v, owner) for v in value]
                notes += [f"shape {a.shape}" for a in arrays]
            elif isinstance(value, (tuple, list)):
                raise TypeError(f"{owner}: input {k}'s strategy drew a {type(value).__name__}; "
                                "only a single strategy (for all inputs) may draw several")
            else:
                arrays.append(_array_of(value, owner))
                notes.append(f"shape {arrays[-1].shape}")
        return arrays, f"inputs {', '.join(notes)}; values seed {seed}"

    return build()


def _run_examples(strategy, body, max_examples):
    """Run ``body(example)`` on ``max_examples`` hypothesis draws; ``body`` never raises."""
    from hypothesis import HealthCheck, given, settings

    @settings(max_examples=max_examples, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def run(example):
        body(example)

    run()


def _layouts(arr):
    """(name, array) pairs: the same values as ``arr`` in other memory layouts."""
    out = [("contiguous", np.array(arr, order="C"))]
    if arr.ndim >= 1 and arr.size > 1:
        big = np.zeros((arr.shape[0] * 2,) + arr.shape[1:], dtype=arr.dtype)
        big[::2] = arr
        out.append(("strided", big[::2]))
        if arr.ndim >= 2:
            out.append(("transposed", np.asfortranarray(arr)))
    return out


def _broadcast_variant(arr):
    """A read-only stride-0 view with ``arr``'s shape (its first row repeated), or None."""
    if arr.ndim == 0 or arr.shape[0] < 2:
        return None
    return np.broadcast_to(arr[:1], arr.shape)


def _same(a, b):
    return a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True)


def _close(a, b, rtol=1e-9, atol=1e-12):
    return a.shape == b.shape and np.allclose(a, b, rtol=rtol, atol=atol, equal_nan=True)


def _leaked_functions(before):
    """Function nodes created since ``before`` (ids) that are still alive."""
    import gc

    from .autograd import Function

    # type(), not isinstance(): isinstance() on a dead weakref.proxy raises ReferenceError
    return [o for o in gc.get_objects() if issubclass(type(o), Function) and id(o) not in before]


def _function_ids():
    import gc

    from .autograd import Function

    return {id(o) for o in gc.get_objects() if issubclass(type(o), Function)}


def _describe_leak(alive):
    import gc

    names = sorted({type(o).__name__ for o in alive})
    gc.collect()
    held = [o for o in alive if any(o is x for x in gc.get_objects())]
    how = ("still referenced after gc.collect(): something (often the module, e.g. a Tensor kept "
           "for logging; keep .item() or .detach() instead) holds it" if held else
           "only a reference cycle keeps it, until the garbage collector runs")
    return f"{len(alive)} graph node(s) ({', '.join(names)}) survive backward(): {how}"


def _float_state(module):
    """Every float ndarray a module tree holds directly (parameters, buffers), by (module, attr)."""
    out = []
    for m in module.modules():
        for name, value in vars(m).items():
            if isinstance(value, Tensor) and value.data.dtype.kind == "f":
                out.append((m, name, value))
            elif isinstance(value, np.ndarray) and value.dtype.kind == "f":
                out.append((m, name, value))
    return out


def _cast_module(module, dtype):
    """A deep copy of ``module`` with every float parameter and buffer cast to ``dtype``."""
    import copy

    twin = copy.deepcopy(module)
    for m, name, value in _float_state(twin):
        if isinstance(value, Tensor):
            value.data = value.data.astype(dtype)
        else:
            setattr(m, name, value.astype(dtype))
    return twin


def _states_equal(a, b):
    return a.keys() == b.keys() and all(_same(np.asarray(a[k]), np.asarray(b[k])) for k in a)


def check_module(module, inputs, *, batchwise=False, constants=(), max_examples=10, eps=1e-6,
                 atol=1e-5, rtol=1e-3):
    """Run a battery of property checks on a Module; raise one ``CheckError`` listing every failure.

    Parameters
    ----------
    module : Module or callable
        The module, or a zero-argument factory returning one (then two builds must agree bit
        for bit, and the state_dict round trip loads into a fresh build). The module is not
        changed: every check runs on deep copies.
    inputs : tuple of int, hypothesis strategy, or list of them
        What to call the module with: a shape (values drawn standard normal from a seed), a
        strategy drawing shapes, Tensors or float arrays, or a list of such specs for a module
        taking several inputs (a single strategy may also draw a tuple of them).
    batchwise : bool
        The module treats axis 0 as a batch of independent samples (in eval mode). Then the
        batch size of a shape spec varies (1 to 4), and each sample's output must not depend
        on the others.
    constants : sequence of int
        Positions of float inputs passed as plain arrays, without gradient (a loss's target).
        Integer and bool inputs (indices, masks) are always passed as they are.
    max_examples : int
        Hypothesis examples to run (the settings of the current profile apply otherwise,
        without a deadline).
    eps, atol, rtol : float
        As in ``gradcheck``.

    The checks, each on every example unless noted:

    - ``forward``: the call returns a Tensor;
    - ``gradcheck (eval)`` / ``(train)``: the gradient of every input and parameter against
      float64 central differences (train mode only when train-mode calls are deterministic);
    - ``dtype``: float32 in (module and inputs) gives float32 out and float32 gradients; float64
      gives float64;
    - ``layout``: strided, transposed and read-only broadcast inputs give the values and
      gradients of contiguous ones;
    - ``input mutation``: forward and backward leave the inputs' values alone;
    - ``determinism``: the same call twice in eval mode is bit-identical (and, for a factory, two
      builds give the same state and train-mode output);
    - ``batch independence`` (with ``batchwise``): each sample's output, alone and in reversed
      batch order, equals its row of the batched output;
    - ``state_dict`` (first example): a round trip through ``state_dict``/``load_state_dict``
      restores state and outputs, and the returned arrays are copies;
    - ``train/eval`` (first example): ``train()``/``eval()`` return the module, reach every
      submodule, and an eval-mode call changes no state;
    - ``graph freed`` (first example): no graph node outlives ``backward()``.

    Raises
    ------
    CheckError
        Listing every failed check with its first failing example.
    """
    from hypothesis import strategies as st

    from ._validation import check_bool, check_int, check_real
    from .autograd import no_grad
    from .nn import Module

    check_bool("batchwise", batchwise, owner="check_module")
    constants = _check_constants(constants, "check_module")
    check_int("max_examples", max_examples, low=1, owner="check_module")
    for name, value in (("eps", eps), ("atol", atol), ("rtol", rtol)):
        check_real(name, value, low=0.0, closed="neither" if name == "eps" else "both",
                   owner="check_module")
    factory = None
    if not isinstance(module, Module):
        if not callable(module):
            raise TypeError(f"check_module: module must be a Module or a factory returning one, "
                            f"got {type(module).__name__}")
        factory = module
        module = factory()
        if not isinstance(module, Module):
            raise TypeError(f"check_module: the factory returned {type(module).__name__}, "
                            "not a Module")
    specs = list(inputs) if isinstance(inputs, list) else [inputs]
    strategy = _example_strategy(specs, "check_module",
                                 st.integers(1, 4) if batchwise else None)
    subject = f"check_module({type(module).__name__})"
    report = _Report()
    state = {"first": True}

    def build(dtype):
        return _cast_module(module, dtype)

    def call(m, arrays, requires_grad=True):
        xs = _wrap_inputs(arrays, _differentiable(arrays, constants), requires_grad)
        out = m(*xs)
        if not isinstance(out, Tensor):
            raise TypeError(f"forward returned {type(out).__name__}, not a Tensor")
        return xs, out

    def grads_of(m, arrays, seed):
        """Output and the gradients of inputs then parameters for upstream gradient ``seed``."""
        m.zero_grad()
        xs, out = call(m, arrays)
        if out.requires_grad:
            out.backward(seed(out))
        return out.data, [x.grad for x in xs if isinstance(x, Tensor)] + \
            [p.grad for p in m.parameters()]

    def body(example):
        arrays64, where = example
        report.examples += 1
        first, state["first"] = state["first"], False
        m64 = build(np.float64)
        m64.eval()
        out = report.run("forward", lambda: call(m64, arrays64)[1], where)
        if out is None:
            return
        rng = np.random.default_rng(0)
        upstream = rng.standard_normal(out.shape)

        def seed(o):
            return upstream.astype(o.dtype)

        # determinism (eval): the same call twice, bit for bit
        def deterministic():
            a, b = grads_of(m64, arrays64, seed), grads_of(m64, arrays64, seed)
            if not _same(a[0], b[0]):
                raise AssertionError("two eval-mode calls on the same input differ")
            for k, (g, h) in enumerate(zip(a[1], b[1])):
                if (g is None) != (h is None) or (g is not None and not _same(g, h)):
                    raise AssertionError(f"two eval-mode backward passes differ (gradient {k})")
        report.run("determinism", deterministic, where)

        # input mutation: values before == after forward and backward, in both modes
        def unmutated():
            before = [a.copy() for a in arrays64]
            for mode in (False, True):
                grads_of(m64.train(mode), arrays64, seed)
            m64.eval()
            for k, (a, b) in enumerate(zip(arrays64, before)):
                if not _same(a, b):
                    raise AssertionError(f"input {k} was changed by forward/backward")
        report.run("input mutation", unmutated, where)

        # gradcheck of inputs and parameters, eval mode and (if deterministic) train mode
        def gradchecks(mode):
            m = build(np.float64).train(mode)
            if mode:
                with no_grad():
                    a = call(m, arrays64, False)[1].data
                    b = call(m, arrays64, False)[1].data
                if not _same(a, b):
                    return  # random in train mode (dropout): only eval mode is checkable
            params = m.named_parameters()
            floats = _differentiable(arrays64, constants)
            leaves = [_as_float64_leaf(arrays64[k]) for k in floats] + [p for _, p in params]
            labels = [f"input {k}" for k in floats] + [f"parameter '{n}'" for n, _ in params]
            _check_jacobians(lambda *xs: m(*_merge(arrays64, xs, floats)), leaves, labels, eps=eps,
                             atol=atol, rtol=rtol, n_args=len(floats))
        report.run("gradcheck (eval)", lambda: gradchecks(False), where)
        report.run("gradcheck (train)", lambda: gradchecks(True), where)

        # dtype: float32 stays float32, float64 stays float64
        def dtypes():
            for dtype in (np.float32, np.float64):
                m = build(dtype).eval()
                m.zero_grad()
                xs, o = call(m, _cast_floats(arrays64, dtype))
                if o.dtype != dtype:
                    raise AssertionError(f"{np.dtype(dtype).name} module and inputs gave a "
                                         f"{o.dtype} output")
                if o.requires_grad:
                    o.backward(seed(o))
                for label, t in [(f"input {k}", x) for k, x in enumerate(xs) if isinstance(x, Tensor)] + \
                        [(f"parameter '{n}'", p) for n, p in m.named_parameters()]:
                    if t.grad is not None and (t.grad.dtype != dtype or t.grad.shape != t.shape):
                        raise AssertionError(f"{label} ({np.dtype(dtype).name}, shape {t.shape}) "
                                             f"got a {t.grad.dtype} gradient of shape "
                                             f"{t.grad.shape}")
        report.run("dtype", dtypes, where)

        # layout: other layouts (and read-only broadcast views) give the same values
        def layouts():
            ref_out, ref_grads = grads_of(m64, [np.array(a, order="C") for a in arrays64], seed)
            for k, a in enumerate(arrays64):
                for name, variant in _layouts(a)[1:]:
                    arrays = list(arrays64)
                    arrays[k] = variant
                    o, g = grads_of(m64, arrays, seed)
                    if not _close(o, ref_out) or not all(
                            (x is None and y is None) or _close(x, y) for x, y in zip(g, ref_grads)):
                        raise AssertionError(f"a {name} input {k} gives other values or "
                                             "gradients than a contiguous one")
                view = _broadcast_variant(a)
                if view is not None:
                    arrays = list(arrays64)
                    arrays[k] = view
                    o, g = grads_of(m64, arrays, seed)
                    arrays[k] = np.array(view)
                    o2, g2 = grads_of(m64, arrays, seed)
                    if not _close(o, o2) or not all(
                            (x is None and y is None) or _close(x, y) for x, y in zip(g, g2)):
                        raise AssertionError(f"a broadcast (stride-0, read-only) input {k} gives "
                                             "other values or gradients than its copy")
        report.run("layout", layouts, where)

        # batch independence (eval): sample i's output depends on sample i only
        if batchwise:
            def independent():
                with no_grad():
                    full = call(m64, arrays64, False)[1].data
                    n = arrays64[0].shape[0] if arrays64[0].ndim else 0
                    for i in range(n):
                        one = call(m64, [a[i:i + 1] for a in arrays64], False)[1].data
                        if not _close(one, full[i:i + 1]):
                            raise AssertionError(f"sample {i} alone gives another output than "
                                                 f"in a batch of {n}")
                    rev = call(m64, [a[::-1] for a in arrays64], False)[1].data
                    if not _close(rev, full[::-1]):
                        raise AssertionError("reversing the batch does not just reverse the output")
            report.run("batch independence", independent, where)

        if not first:
            return

        # determinism across builds (a factory)
        if factory is not None:
            def builds_agree():
                a, b = factory(), factory()
                if not _states_equal(a.state_dict(), b.state_dict()):
                    raise AssertionError("two builds from the factory have different state; "
                                         "seed every layer (rng=...)")
                a64, b64 = _cast_module(a, np.float64), _cast_module(b, np.float64)
                with no_grad():
                    if not _same(call(a64, arrays64, False)[1].data,
                                 call(b64, arrays64, False)[1].data):
                        raise AssertionError("two builds from the factory give different "
                                             "train-mode outputs; seed every random layer")
            report.run("determinism", builds_agree, where)

        # state_dict round trip
        def round_trip():
            m = build(np.float64).eval()
            sd = m.state_dict()
            names = [n for n, _ in m.named_parameters()]
            missing = [n for n in names if n not in sd]
            if missing:
                raise AssertionError(f"state_dict lacks parameters {missing}")
            for k, v in sd.items():
                arr = np.asarray(v)
                if arr.size:
                    arr.reshape(-1)[0] += 1
                    if _states_equal(m.state_dict(), sd):
                        raise AssertionError(f"state_dict()[{k!r}] is not a copy: writing to it "
                                             "changed the module")
                    arr.reshape(-1)[0] -= 1
            sd = m.state_dict()
            with no_grad():
                want = call(m, arrays64, False)[1].data
            other = _cast_module(factory() if factory is not None else module, np.float64).eval()
            for _, _, value in _float_state(other):  # make sure loading has work to do
                if isinstance(value, Tensor):
                    value.data = value.data + 1.0
                else:
                    value += 1.0
            if other.load_state_dict(sd) is not other:
                raise AssertionError("load_state_dict did not return the module")
            if not _states_equal(other.state_dict(), sd):
                raise AssertionError("after load_state_dict the state differs from what was loaded")
            with no_grad():
                got = call(other, arrays64, False)[1].data
            if not _same(got, want):
                raise AssertionError("a module loaded from the state_dict gives other outputs")
        report.run("state_dict", round_trip, where)

        # train / eval
        def modes():
            m = build(np.float64)
            if m.eval() is not m or m.train() is not m:
                raise AssertionError("train()/eval() must return the module itself")
            m.eval()
            off = [type(s).__name__ for s in m.modules() if s.training]
            if off:
                raise AssertionError(f"eval() left training=True on {off}")
            before = m.state_dict()
            with no_grad():
                call(m, arrays64, False)
            call(m, arrays64)[1]
            if not _states_equal(m.state_dict(), before):
                raise AssertionError("an eval-mode call changed the module's state")
            m.train()
            on = [type(s).__name__ for s in m.modules() if not s.training]
            if on:
                raise AssertionError(f"train() left training=False on {on}")
            with no_grad():
                o = call(m, arrays64, True)[1]
            if getattr(o, "_ctx", None) is not None:
                raise AssertionError("a call under no_grad() recorded a graph")
        report.run("train/eval", modes, where)

        # graph freed after backward (train mode, float64)
        def freed():
            m = build(np.float64).train()
            before = _function_ids()
            xs, o = call(m, arrays64)
            if o.requires_grad:
                o.backward(seed(o))
            del xs, o
            alive = _leaked_functions(before)
            if alive:
                raise AssertionError(_describe_leak(alive))
        report.run("graph freed", freed, where)

    _run_examples(strategy, body, max_examples)
    report.raise_if_failed(subject)
    return True


def check_function(function, inputs, *, kwargs=None, keeps_dtype=True, constants=(),
                   max_examples=10, eps=1e-6, atol=1e-5, rtol=1e-3):
    """Run a battery of property checks on a ``Function`` subclass (a user's own op); raise one
    ``CheckError`` listing every failure.

    Parameters
    ----------
    function : type
        A subclass of ``tinygrad_nn.autograd.Function``; it is called as
        ``function.apply(*tensors, **kwargs)``.
    inputs : list of specs, or one strategy
        One spec per Tensor input: a shape (values standard normal from a drawn seed) or a
        hypothesis strategy drawing shapes, Tensors or float arrays; or a single strategy
        drawing a tuple of Tensors/arrays (for inputs whose shapes depend on each other).
    kwargs : dict, optional
        Keyword arguments for ``apply`` (the op's options).
    keeps_dtype : bool
        The output has the inputs' float dtype (False for a cast).
    constants : sequence of int
        Positions of float inputs passed as plain arrays (``apply`` makes them constants).
    max_examples, eps, atol, rtol
        As in ``check_module``.

    The checks, on every example: ``forward`` returns a Tensor; ``gradient count`` and
    ``gradient shapes``: ``backward`` returns one gradient per input (a bare array for one
    input), each of its input's shape and dtype, and ``Tensor.backward()`` accepts them;
    ``gradcheck`` of every input in float64; ``dtype`` (float32 kept, float64 kept);
    ``needs_input_grad``: backward works when only one input requires grad, and only that one
    gets a gradient; ``layout`` (strided, transposed, read-only broadcast inputs);
    ``input mutation``; ``determinism``; ``graph freed``: the Function node is released after
    ``backward()``.

    Raises
    ------
    CheckError
        Listing every failed check with its first failing example.
    """
    import weakref

    from ._validation import check_bool, check_int, check_real
    from .autograd import Function

    if not (isinstance(function, type) and issubclass(function, Function)):
        raise TypeError(f"check_function: function must be a subclass of "
                        f"tinygrad_nn.autograd.Function, got {function!r}")
    check_int("max_examples", max_examples, low=1, owner="check_function")
    check_bool("keeps_dtype", keeps_dtype, owner="check_function")
    constants = _check_constants(constants, "check_function")
    for name, value in (("eps", eps), ("atol", atol), ("rtol", rtol)):
        check_real(name, value, low=0.0, closed="neither" if name == "eps" else "both",
                   owner="check_function")
    if kwargs is not None and not isinstance(kwargs, dict):
        raise TypeError(f"check_function: kwargs must be a dict, got {type(kwargs).__name__}")
    kwargs = dict(kwargs or {})
    specs = list(inputs) if isinstance(inputs, list) else [inputs]
    strategy = _example_strategy(specs, "check_function")
    name = function.__name__
    report = _Report()

    def apply(arrays, requires=None):
        xs = _wrap_inputs(arrays, _differentiable(arrays, constants),
                          True if requires is None else requires)
        out = function.apply(*xs, **kwargs)
        if not isinstance(out, Tensor):
            raise TypeError(f"apply returned {type(out).__name__}, not a Tensor")
        return xs, out

    def run_backward(arrays, seed, requires=None):
        xs, out = apply(arrays, requires)
        if out.requires_grad:
            out.backward(seed(out))
        return out.data, [x.grad if isinstance(x, Tensor) else None for x in xs]

    def body(example):
        arrays64, where = example
        report.examples += 1
        out = report.run("forward", lambda: apply(arrays64)[1], where)
        if out is None:
            return
        upstream = np.random.default_rng(0).standard_normal(out.shape)
        floats = _differentiable(arrays64, constants)

        def seed(o):
            return upstream.astype(o.dtype)

        def count_and_shapes():
            xs, o = apply(arrays64)
            ctx = o._ctx
            if ctx is None:
                raise AssertionError("apply recorded no graph node although inputs require grad")
            grads = ctx.backward(seed(o))
            if isinstance(grads, list):
                grads = tuple(grads)
            if not isinstance(grads, tuple):
                grads = (grads,)
            if len(grads) != len(xs):
                report.fail("gradient count", f"{name}.backward returned {len(grads)} "
                            f"gradient(s) for {len(xs)} input(s)", where)
                return
            for k, (x, g) in enumerate(zip(xs, grads)):
                if not isinstance(x, Tensor):  # an index or mask: no gradient needed
                    continue
                if g is None:
                    report.fail("gradient count", f"{name}.backward returned None for input "
                                f"{k}, which requires grad", where)
                elif np.shape(g) != x.shape:
                    report.fail("gradient shapes", f"{name}.backward returned a gradient of "
                                f"shape {np.shape(g)} for input {k} of shape {x.shape}", where)
            _, engine = run_backward(arrays64, seed)  # the engine's own errors count too
            for k, (a, g) in enumerate(zip(arrays64, engine)):
                if k in floats and (g is None or g.shape != a.shape):
                    report.fail("gradient shapes", f"after backward() input {k} (shape "
                                f"{a.shape}) has gradient "
                                f"{'None' if g is None else 'of shape ' + str(g.shape)}", where)
        report.run("gradient count", count_and_shapes, where)

        report.run("gradcheck", lambda: gradcheck(
            lambda *xs: function.apply(*_merge(arrays64, xs, floats), **kwargs),
            *[arrays64[k] for k in floats], eps=eps, atol=atol, rtol=rtol), where)

        def dtypes():
            for dtype in (np.float32, np.float64):
                xs, o = apply(_cast_floats(arrays64, dtype))
                if keeps_dtype and o.dtype != dtype:
                    raise AssertionError(f"{np.dtype(dtype).name} inputs gave a {o.dtype} output")
                grads = o._ctx.backward(seed(o)) if o._ctx is not None else ()
                for k, g in enumerate(grads if isinstance(grads, (tuple, list)) else (grads,)):
                    if g is not None and np.asarray(g).dtype != dtype:
                        raise AssertionError(f"{np.dtype(dtype).name} input {k} got a "
                                             f"{np.asarray(g).dtype} gradient from backward")
                xs, o = apply(_cast_floats(arrays64, dtype))
                if o.requires_grad:
                    o.backward(seed(o))
                for k, x in enumerate(xs):
                    if isinstance(x, Tensor) and x.grad is not None and x.grad.dtype != dtype:
                        raise AssertionError(f"{np.dtype(dtype).name} input {k} got a "
                                             f"{x.grad.dtype} gradient")
        report.run("dtype", dtypes, where)

        if len(floats) > 1:
            def partial_needs():
                for k in floats:
                    requires = [i == k for i in range(len(arrays64))]
                    _, grads = run_backward(arrays64, seed, requires)
                    extra = [i for i, g in enumerate(grads) if i != k and g is not None]
                    if grads[k] is None or extra:
                        raise AssertionError(f"with only input {k} requiring grad, gradients "
                                             f"went to inputs {[i for i, g in enumerate(grads) if g is not None]}")
            report.run("needs_input_grad", partial_needs, where)

        def layouts():
            ref_out, ref_grads = run_backward([np.array(a, order="C") for a in arrays64], seed)
            for k, a in enumerate(arrays64):
                variants = _layouts(a)[1:]
                view = _broadcast_variant(a)
                if view is not None:
                    variants.append(("broadcast (stride-0, read-only)", view))
                for kind, variant in variants:
                    arrays = list(arrays64)
                    arrays[k] = variant
                    o, g = run_backward(arrays, seed)
                    arrays[k] = np.array(variant)
                    o2, g2 = run_backward(arrays, seed) if kind.startswith("broadcast") else \
                        (ref_out, ref_grads)
                    if not _close(o, o2) or not all(
                            (x is None and y is None) or (x is not None and y is not None and _close(x, y))
                            for x, y in zip(g, g2)):
                        raise AssertionError(f"a {kind} input {k} gives other values or "
                                             "gradients than a contiguous one")
        report.run("layout", layouts, where)

        def unmutated():
            before = [a.copy() for a in arrays64]
            run_backward(arrays64, seed)
            for k, (a, b) in enumerate(zip(arrays64, before)):
                if not _same(a, b):
                    raise AssertionError(f"input {k} was changed by forward/backward")
        report.run("input mutation", unmutated, where)

        def deterministic():
            a, b = run_backward(arrays64, seed), run_backward(arrays64, seed)
            if not _same(a[0], b[0]):
                raise AssertionError("two calls on the same input differ")
            if not all((g is None and h is None) or _same(g, h) for g, h in zip(a[1], b[1])):
                raise AssertionError("two backward passes on the same input differ")
        report.run("determinism", deterministic, where)

        def freed():
            before = _function_ids()
            xs, o = apply(arrays64)
            try:
                ref = weakref.ref(o._ctx)
            except TypeError:  # a Function with __slots__ and no __weakref__
                ref = None
            o.backward(seed(o))
            del xs, o
            if ref is not None and ref() is not None:
                raise AssertionError(_describe_leak([ref()]))
            alive = _leaked_functions(before)
            if alive:
                raise AssertionError(_describe_leak(alive))
        report.run("graph freed", freed, where)

    _run_examples(strategy, body, max_examples)
    report.raise_if_failed(f"check_function({name})")
    return True
