"""Kill tests for the math kernels (vecmath, softmax, pool, activations): see docs/mutation.md.

vecmath's polynomial exp/expm1/log1p/tanh only exist inside Numba overloads: ``_exp_jit(c)``
builds the ``impl`` Numba compiles for the float type ``c``. Those builders are plain Python, and
so is what they return, so the tests here call them with Numba's float types and run the
returned implementations as Python on numpy float32/float64 scalars (what Numba compiles, with
the same constants and operation order), checked against numpy in long double to a few ulp.
That runs with or without the JIT; under ``NUMBA_DISABLE_JIT=1`` (where ``vecmath.exp`` is
numpy's) it is the only way these implementations run at all.
"""
import math

import numpy as np
import pytest
from numba import types

from tinygrad_nn.kernels import vecmath

FLOATS = [np.float32, np.float64]
NUMBA_TYPE = {np.float32: types.float32, np.float64: types.float64}
# the normal range of each type's exp: e**x is a normal number for ln(tiny) <= x < ln(2**emax)
NORMAL_EXP = {np.float32: (math.log(2.0 ** -126), 127 * math.log(2.0)),
              np.float64: (math.log(2.0 ** -1022), 1023 * math.log(2.0))}
MAX_ULP = {"exp": 2, "expm1": 3, "tanh": 6, "log1p_unit": 4}  # as tests/test_kernels.py (jitted)


def impl(name, dtype):
    """The implementation vecmath's overload of ``name`` gives Numba for ``dtype``."""
    return getattr(vecmath, f"_{name}_jit")(NUMBA_TYPE[dtype])


def apply(name, dtype, x):
    f = impl(name, dtype)
    out = [f(v) for v in np.asarray(x, dtype)]
    assert all(np.asarray(v).dtype == dtype for v in out), {type(v) for v in out}  # no promotion
    return np.array(out, dtype)


def ulps(got, want, dtype):
    """|got - want| in units of the last place of ``want`` (``want`` in long double)."""
    spacing = np.spacing(np.abs(want).astype(dtype)).astype(np.longdouble)
    return np.abs(got.astype(np.longdouble) - want) / spacing


def reference(name, x):
    x = np.asarray(x, np.longdouble)
    return {"exp": np.exp, "expm1": np.expm1, "tanh": np.tanh, "log1p_unit": np.log1p}[name](x)


def samples(name, dtype, n=300):
    rng = np.random.default_rng(7)
    if name == "log1p_unit":
        split = math.sqrt(2) - 1  # where the implementation switches to ln2 + log1p((x-1)/2)
        x = [rng.uniform(0, 1, n), [0.0, 1.0, 1e-30, 1e-8, split, np.nextafter(split, 0), 0.5]]
    elif name == "tanh":
        x = [rng.uniform(-12, 12, n), rng.uniform(-1e-3, 1e-3, n // 4), [0.0, 1e-30, -1e-20, 8.9, -9.1]]
    else:
        lo, hi = NORMAL_EXP[dtype]
        x = [rng.uniform(lo + 0.01, hi - 0.01, n), rng.uniform(-1e-3, 1e-3, n // 4),
             rng.uniform(-1, 1, n // 4), [0.0, 1e-30, -1e-30, lo + 0.01, hi - 0.01, 0.5, -0.5]]
    return np.concatenate([np.asarray(a, np.float64) for a in x]).astype(dtype)


@pytest.mark.parametrize("dtype", FLOATS, ids=["f32", "f64"])
@pytest.mark.parametrize("name", ["exp", "expm1", "log1p_unit", "tanh"])
def test_vecmath_implementations_match_numpy_in_ulps(name, dtype):
    x = samples(name, dtype)
    err = ulps(apply(name, dtype, x), reference(name, x), dtype)
    assert err.max() <= MAX_ULP[name], (x[err.argmax()], err.max())


@pytest.mark.parametrize("dtype", FLOATS, ids=["f32", "f64"])
def test_vecmath_exp_family_flushes_below_the_normal_range_and_overflows_above(dtype):
    lo, hi = NORMAL_EXP[dtype]
    below, above = dtype(lo - 0.05), dtype(hi + 0.05)
    inside_lo, inside_hi = dtype(lo + 0.05), dtype(hi - 0.05)
    e, em1 = impl("exp", dtype), impl("expm1", dtype)
    assert e(below) == 0 and em1(below) == -1
    assert e(above) == np.inf and em1(above) == np.inf
    tiny = np.finfo(dtype).tiny
    assert tiny <= e(inside_lo) < 2 * tiny * math.e  # still a normal number just inside
    assert ulps(np.array([e(inside_hi)]), reference("exp", [inside_hi]), dtype)[0] <= MAX_ULP["exp"]
    assert ulps(np.array([em1(inside_hi)]), reference("expm1", [inside_hi]), dtype)[0] <= MAX_ULP["expm1"]
    assert em1(inside_lo) == -1  # e**x - 1 rounds to -1 there


@pytest.mark.parametrize("dtype", FLOATS, ids=["f32", "f64"])
def test_vecmath_edges_saturate_and_keep_nan_and_signed_zero(dtype):
    x = np.array([np.nan, np.inf, -np.inf, 1e4, -1e4, 0.0], dtype)
    with np.errstate(under="ignore", over="ignore"):  # numpy scalars warn where compiled code is silent
        e, em1, t = (apply(n, dtype, x) for n in ("exp", "expm1", "tanh"))
    np.testing.assert_array_equal(e, [np.nan, np.inf, 0, np.inf, 0, 1])
    np.testing.assert_array_equal(em1, [np.nan, np.inf, -1, np.inf, -1, 0])
    np.testing.assert_array_equal(t, [np.nan, 1, -1, 1, -1, 0])
    for value in (-0.0, -1e-30):
        assert np.signbit(impl("tanh", dtype)(dtype(value)))
    assert impl("log1p_unit", dtype)(dtype(0)) == 0 and impl("expm1", dtype)(dtype(0)) == 0


@pytest.mark.parametrize("dtype", FLOATS, ids=["f32", "f64"])
def test_vecmath_tanh_is_odd_and_saturates_exactly(dtype):
    t = impl("tanh", dtype)
    x = np.linspace(0, 12, 97).astype(dtype)
    pos = np.array([t(v) for v in x])
    neg = np.array([t(-v) for v in x])
    np.testing.assert_array_equal(neg, -pos)
    assert t(dtype(20)) == 1 and t(dtype(-20)) == -1
    # float32's rational fit reaches 1 + eps for a few x in (8, 9): within its ulp bound
    assert np.all(pos[1:] > 0) and np.all(pos <= 1 + np.finfo(dtype).eps)


@pytest.mark.parametrize("dtype", FLOATS, ids=["f32", "f64"])
def test_vecmath_log1p_unit_is_continuous_across_its_split(dtype):
    f = impl("log1p_unit", dtype)
    split = dtype(math.sqrt(2) - 1)
    x = np.array([np.nextafter(split, dtype(0)), split, np.nextafter(split, dtype(1))], dtype)
    got = np.array([f(v) for v in x])
    assert np.all(ulps(got, reference("log1p_unit", x), dtype) <= MAX_ULP["log1p_unit"])


def test_vecmath_overloads_only_specialise_floats():
    for name in ("exp", "expm1", "log1p_unit", "tanh"):
        builder = getattr(vecmath, f"_{name}_jit")
        assert builder(types.int64) is None and builder(types.complex128) is None
        assert callable(builder(types.float32)) and callable(builder(types.float64))


def test_vecmath_python_forms_are_numpys():
    """Without the JIT (and from Python) the public functions are numpy's."""
    x = np.array([-2.0, 0.0, 0.5, 1.0, 3.0])
    np.testing.assert_array_equal(vecmath.exp(x), np.exp(x))
    np.testing.assert_array_equal(vecmath.expm1(x), np.expm1(x))
    np.testing.assert_array_equal(vecmath.tanh(x), np.tanh(x))
    np.testing.assert_array_equal(vecmath.log1p_unit(x[1:4]), np.log1p(x[1:4]))


# ---------------------------------------------------------------- kernels/softmax.py
def _raises(message):
    return pytest.raises(ValueError, match="^" + message + "$")


def test_softmax_kernel_entries_serve_the_ops_and_reject_bad_arrays_by_name():
    """logsumexp's forward and backward go through the softmax kernels' checked entries; each
    entry is named as exported and names itself and its arguments when it refuses an array."""
    from scipy.special import logsumexp, softmax

    import tinygrad_nn as tn
    from tinygrad_nn.kernels import softmax as K

    x = np.array([[0.5, -1.0, 2.0], [3.0, 3.0, -4.0]])
    t = tn.Tensor(x, requires_grad=True)
    out = t.logsumexp(axis=1)
    np.testing.assert_allclose(out.data, logsumexp(x, axis=1), rtol=1e-14)
    out.sum().backward()
    np.testing.assert_allclose(t.grad, softmax(x, axis=1), rtol=1e-14)

    grid = np.ones((2, 3))
    for name in ("softmax_forward", "log_softmax_forward", "logsumexp_forward"):
        entry = getattr(K, name)
        assert entry.__name__ == entry.__qualname__ == name
        with _raises(rf"{name}: x must be 2-D, got shape \(3,\)"):
            entry(np.ones(3))
    for name in ("softmax_backward", "log_softmax_backward"):
        entry = getattr(K, name)
        assert entry.__name__ == entry.__qualname__ == name
        with _raises(rf"{name}: y must be 2-D, got shape \(3,\)"):
            entry(np.ones(3), grid)
        with _raises(rf"{name}: grad has shape \(2, 2\), y has shape \(2, 3\)"):
            entry(grid, np.ones((2, 2)))


def test_cross_entropy_kernels_reject_bad_arrays_by_name():
    from tinygrad_nn.kernels import softmax as K

    x = np.ones((2, 3))
    with _raises(r"cross_entropy_forward: logits must be 2-D, got shape \(3,\)"):
        K.cross_entropy_forward(np.ones(3), np.array([0]))
    with _raises(r"cross_entropy_forward: target values \[3\] are out of range \[0, 3\)"):
        K.cross_entropy_forward(x, np.array([0, 3]))
    with _raises(r"cross_entropy_backward: probs must be 2-D, got shape \(3,\)"):
        K.cross_entropy_backward(np.ones(3), np.array([0]), np.ones(1))
    with _raises(r"cross_entropy_backward: target values \[3\] are out of range \[0, 3\)"):
        K.cross_entropy_backward(x, np.array([0, 3]), np.ones(2))
    with _raises(r"cross_entropy_backward: grad has shape \(3,\), expected \(2,\)"):
        K.cross_entropy_backward(x, np.array([0, 1]), np.ones(3))
