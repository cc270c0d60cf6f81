"""The one home of argument checks: every layer, op, optimizer and model validates through here.

Each check returns the normalised value (a Python int/float/tuple) or raises with one message
shape: ``"<owner>: <name> must be <rule>, got <value!r>"`` (``owner`` is the op, layer or
estimator; omitted when empty). ValueError for a bad value, TypeError for a wrong kind.
"""
from __future__ import annotations

import functools
import math
import numbers

import numpy as np

__all__ = ["check_int", "check_ints", "check_real", "check_choice", "check_bool", "check_pair",
           "check_float_dtype", "check_padding", "check_tensors", "check_same_shape", "as_rng", "as_generator",
           "as_random_state", "accept_torch_names", "TORCH_KEYWORDS", "check_kernel_arrays",
           "check_kernel_indices", "check_indices"]


def _fail(owner, name, rule, value, error=ValueError):
    prefix = f"{owner}: " if owner else ""
    raise error(f"{prefix}{name} must be {rule}, got {value!r}")


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def check_int(name, value, low=None, high=None, owner=""):
    """An integer in [low, high] (either bound may be None)."""
    if not _is_int(value) or (low is not None and value < low) or (high is not None and value > high):
        if low is not None and high is not None:
            rule = f"an integer in [{low}, {high}]"
        elif low is not None:
            rule = f"an integer >= {low}"
        elif high is not None:
            rule = f"an integer <= {high}"
        else:
            rule = "an integer"
        _fail(owner, name, rule, value)
    return int(value)


def check_ints(name, value, low=1, owner=""):
    """An int >= low or a non-empty sequence of them (layer sizes), as a tuple of ints."""
    items = (value,) if _is_int(value) else value
    try:
        items = tuple(items)
    except TypeError:
        items = ()
    if not items or not all(_is_int(v) and v >= low for v in items):
        _fail(owner, name, f"an int >= {low} or a non-empty sequence of them", value)
    return tuple(int(v) for v in items)


def check_real(name, value, low=-math.inf, high=math.inf, closed="both", owner=""):
    """A finite real number inside the interval; ``closed`` is "both", "left", "right" or "neither".

    Returns a Python float, which numpy treats as a weak scalar (float32 arrays stay float32).
    """
    if not isinstance(value, numbers.Real) or isinstance(value, (bool, np.bool_)):
        _fail(owner, name, "a real number", value)
    v = float(value)
    left_ok = v >= low if closed in ("both", "left") else v > low
    right_ok = v <= high if closed in ("both", "right") else v < high
    if not (math.isfinite(v) and left_ok and right_ok):
        lb = "[" if closed in ("both", "left") else "("
        rb = "]" if closed in ("both", "right") else ")"
        if high == math.inf and low == -math.inf:
            rule = "a finite number"
        elif high == math.inf:
            rule = f"a finite number {'>=' if lb == '[' else '>'} {low:g}"
        elif low == -math.inf:
            rule = f"a finite number {'<=' if rb == ']' else '<'} {high:g}"
        else:
            rule = f"in {lb}{low:g}, {high:g}{rb}"
        _fail(owner, name, rule, value)
    return v


def check_choice(name, value, choices, owner=""):
    """One of ``choices`` (compared with ==, so strings and None both work)."""
    if not any(value is c or (isinstance(value, type(c)) and value == c) for c in choices):
        _fail(owner, name, "one of " + ", ".join(repr(c) for c in choices), value)
    return value


def check_bool(name, value, owner=""):
    """A bool (Python or numpy)."""
    if not isinstance(value, (bool, np.bool_)):
        _fail(owner, name, "a bool", value, TypeError)
    return bool(value)


def check_pair(name, value, minimum=1, owner=""):
    """An int >= minimum or an (h, w) pair of them, as a tuple of two ints."""
    items = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if len(items) != 2 or not all(_is_int(v) and v >= minimum for v in items):
        _fail(owner, name, f"an int >= {minimum} or a pair of them", value)
    return int(items[0]), int(items[1])


def check_float_dtype(name, value, owner=""):
    """float32 or float64 (anything ``np.dtype`` accepts), as an ``np.dtype``; TypeError for any
    other dtype, float16 included (the kernels compute in float32 and float64 only)."""
    try:
        dtype = np.dtype(value)
    except TypeError:
        dtype = None
    if dtype not in (np.float32, np.float64):
        _fail(owner, name, "float32 or float64", value if dtype is None else dtype, TypeError)
    return dtype


def check_padding(name, value, words=(), owner=""):
    """Like ``check_pair`` with minimum 0, or one of the strings in ``words`` (returned as is),
    e.g. convolution's ``"same"``/``"valid"``."""
    if isinstance(value, str) and value in words:
        return value
    items = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if len(items) != 2 or not all(_is_int(v) and v >= 0 for v in items):
        rule = "an int >= 0 or a pair of them"
        if words:
            rule += ", or one of " + ", ".join(repr(w) for w in words)
        _fail(owner, name, rule, value)
    return int(items[0]), int(items[1])


def check_indices(name, values, size, owner="", kind="indices", unit="rows"):
    """``values`` (an array, a list or a Tensor of whole numbers) as an int64 array of indices in
    [0, size); ValueError naming the offending values otherwise (``kind`` and ``unit`` word the
    message: "target must be integer class indices", "... out of range for 4 classes")."""
    prefix = f"{owner}: " if owner else ""
    raw = values.data if hasattr(values, "requires_grad") else values
    try:
        idx = np.asarray(raw)
    except (TypeError, ValueError):
        idx = np.asarray(None)
    if idx.dtype.kind == "f":
        bad = idx[~np.isfinite(idx) | (idx != np.round(idx))]
        if bad.size:
            raise ValueError(f"{prefix}{name} must be integer {kind}, got non-integer values "
                             f"{np.unique(bad)[:5].tolist()}")
    elif idx.dtype.kind not in "biu":
        raise ValueError(f"{prefix}{name} must be integer {kind}, got dtype {idx.dtype}")
    idx = idx.astype(np.int64)
    bad = idx[(idx < 0) | (idx >= size)]
    if bad.size:
        raise ValueError(f"{prefix}{name} values {np.unique(bad)[:5].tolist()} are out of range "
                         f"for {size} {unit} (valid: 0 to {size - 1})")
    return idx


def check_tensors(owner, **args):
    """TypeError unless each argument is a Tensor (``backward`` pairs gradients with them)."""
    for name, value in args.items():
        if not hasattr(value, "requires_grad"):
            raise TypeError(f"{owner}: {name} must be a Tensor, got {type(value).__name__} "
                            "(wrap arrays with tinygrad_nn.Tensor)")


def check_same_shape(owner, name, got, expected):
    """ValueError naming both shapes unless ``got == expected``."""
    if tuple(got) != tuple(expected):
        raise ValueError(f"{owner}: {name} has shape {tuple(got)}, expected {tuple(expected)}")


def as_rng(seed, name="rng", owner=""):
    """The one seed rule: a Generator or RandomState is used as given, None means the library's
    default generator (the one ``tinygrad_nn.manual_seed`` seeds), an int or SeedSequence seeds a
    new Generator. Anything else is a TypeError; a negative seed a ValueError."""
    if isinstance(seed, (np.random.Generator, np.random.RandomState)):
        return seed
    if seed is None:
        from .random import default_generator  # random.py imports this module

        return default_generator()
    if isinstance(seed, np.random.SeedSequence) or (_is_int(seed) and seed >= 0):
        return np.random.default_rng(seed)
    rule = "None, a non-negative int seed, a numpy Generator or a RandomState"
    _fail(owner, name, rule, seed, ValueError if _is_int(seed) else TypeError)


def as_generator(seed, name="rng", owner=""):
    """``as_rng`` as a Generator: a RandomState seeds a new Generator from its own stream."""
    rng = as_rng(seed, name, owner)
    if isinstance(rng, np.random.RandomState):
        return np.random.default_rng(rng.randint(0, 2**32, size=4))
    return rng


def as_random_state(seed, name="random_state", owner=""):
    """scikit-learn's rule for ``random_state``: None, an int or a RandomState."""
    from sklearn.utils import check_random_state

    try:
        return check_random_state(seed)
    except ValueError:
        _fail(owner, name, "None, an int or a numpy RandomState", seed)


# PyTorch's keyword spellings and ours: one table, applied by ``accept_torch_names``.
TORCH_KEYWORDS = {"dim": "axis", "keepdim": "keepdims", "start_dim": "start_axis"}


def accept_torch_names(fn):
    """Decorate ``fn`` so it also takes PyTorch's keywords (``dim=``, ``keepdim=``,
    ``start_dim=``) for its ``axis=``, ``keepdims=``, ``start_axis=``; giving both spellings of
    one argument is a TypeError."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if kwargs:
            for theirs, ours in TORCH_KEYWORDS.items():
                if theirs in kwargs:
                    if ours in kwargs:
                        raise TypeError(f"{fn.__qualname__}() got both {ours}= and {theirs}= "
                                        "(the same argument in two spellings)")
                    kwargs[ours] = kwargs.pop(theirs)
        return fn(*args, **kwargs)

    return wrapper


def check_kernel_arrays(owner, ndim=None, shape=None, dtype=None, **arrays):
    """A kernel's entry check: each array is a C-contiguous float32/float64 ndarray with the
    shape and dtype of the first one (or the ``shape``/``dtype`` given), and ``ndim`` axes when
    given. TypeError for a wrong kind or dtype, ValueError for a wrong shape or layout."""
    first_name, first = next(iter(arrays.items()))
    if shape is None and type(first) is np.ndarray:
        shape, shape_of = first.shape, f"{first_name} has shape {first.shape}"
    else:
        shape_of = f"expected {tuple(shape)}" if shape is not None else ""
    for name, a in arrays.items():
        if type(a) is not np.ndarray:
            raise TypeError(f"{owner}: {name} must be an ndarray, got {type(a).__name__}")
        if a.dtype.type not in (np.float32, np.float64):
            raise TypeError(f"{owner}: {name} must be float32 or float64, got {a.dtype}")
        want = first.dtype if dtype is None else np.dtype(dtype)
        if a.dtype != want:
            raise TypeError(f"{owner}: {name} has dtype {a.dtype}, expected {want}")
        if ndim is not None and a.ndim != ndim:
            raise ValueError(f"{owner}: {name} must be {ndim}-D, got shape {a.shape}")
        if a.shape != tuple(shape):
            raise ValueError(f"{owner}: {name} has shape {a.shape}, {shape_of}")
        if not a.flags.c_contiguous:
            raise ValueError(f"{owner}: {name} must be C-contiguous")


def check_kernel_indices(owner, name, index, length, bound):
    """A kernel's entry check for class indices: an int64 (length,) ndarray in [0, bound)."""
    if type(index) is not np.ndarray or index.dtype != np.int64:
        kind = index.dtype if isinstance(index, np.ndarray) else type(index).__name__
        raise TypeError(f"{owner}: {name} must be an int64 ndarray, got {kind}")
    if index.shape != (length,):
        raise ValueError(f"{owner}: {name} has shape {index.shape}, expected ({length},)")
    if length and (index.min() < 0 or index.max() >= bound):
        bad = index[(index < 0) | (index >= bound)]
        raise ValueError(f"{owner}: {name} values {np.unique(bad)[:5].tolist()} are out of "
                         f"range [0, {bound})")
