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


# ---------------------------------------------------------------- kernels/pool.py
nojit_only = pytest.mark.skipif(not __import__("numba").config.DISABLE_JIT,
                                reason="spies on the kernels' Python calls (NUMBA_DISABLE_JIT=1)")


def _max_reference(x, k, s):
    """Window maxima (a NaN wins), no padding, and the flat offset of the first maximum."""
    (kh, kw), (sh, sw) = k, s
    N, C, H, W = x.shape
    Ho, Wo = (H - kh) // sh + 1, (W - kw) // sw + 1
    out, arg = np.empty((N, C, Ho, Wo), x.dtype), np.empty((N, C, Ho, Wo), np.int64)
    for n, c, i, j in np.ndindex(N, C, Ho, Wo):
        win = x[n, c, i * sh:i * sh + kh, j * sw:j * sw + kw].reshape(-1)
        nan = np.flatnonzero(win != win)
        q = nan[-1] if nan.size else int(np.argmax(win))  # PyTorch: the last NaN, else the first max
        out[n, c, i, j], arg[n, c, i, j] = win[q], (i * sh + q // kw) * W + j * sw + q % kw
    return out, arg


@pytest.mark.parametrize("kernel", [(2, 2), (1, 3), (3, 2)])
def test_max_pool_nan_anywhere_in_a_plane_wins_its_window_and_ties_go_first(kernel):
    """The fast pass cannot see a NaN: the check sum of every value must send the plane to the
    exact pass wherever the NaN or infinity sits; there, ties still go to the first maximum."""
    from tinygrad_nn.kernels import pool as P

    x = np.arange(48, dtype=np.float64).reshape(1, 3, 4, 4) % 5  # ties in every window
    x[0, 0, 1, 0] = np.nan        # early in plane 0 (the last windows are clean)
    x[0, 1, 0, 1] = np.inf        # an infinity in plane 1
    x[0, 2, 3, 3] = -np.inf
    with np.errstate(invalid="ignore"):  # inf * 0 in the check sum (numpy scalars without the JIT)
        out, arg = P.max_pool2d_forward(x, kernel, kernel)  # default padding: none
    want, want_arg = _max_reference(x, kernel, kernel)
    np.testing.assert_array_equal(out, want)
    np.testing.assert_array_equal(arg, want_arg)


@nojit_only
@pytest.mark.parametrize("kernel, fast", [((2, 2), "_max_plane_2x2"), ((3, 2), "_max_plane")])
def test_max_pool_runs_the_exact_pass_only_on_planes_holding_a_nan_or_inf(monkeypatch, kernel, fast):
    from tinygrad_nn.kernels import pool as P

    calls = []
    for name in ("_max_plane", "_max_plane_2x2"):
        real = getattr(P, name)
        monkeypatch.setattr(P, name, lambda *a, _real=real, _name=name: calls.append(
            (_name, a[7] if _name == "_max_plane" else False, a[0][0, 0])) or _real(*a))
    x = np.random.default_rng(0).standard_normal((1, 3, 6, 6))
    x[0, 1, 2, 2] = np.nan
    with np.errstate(invalid="ignore"):
        P.max_pool2d_forward(x, kernel, kernel, (0, 0))
    firsts = [(name, exact) for name, exact, _ in calls]
    assert firsts == [(fast, False), (fast, False), ("_max_plane", True), (fast, False)]
    assert [v for *_, v in calls] == [x[0, 0, 0, 0], x[0, 1, 0, 0], x[0, 1, 0, 0], x[0, 2, 0, 0]]


@nojit_only
def test_pool_work_is_split_into_runs_of_planes_and_small_calls_stay_serial(monkeypatch):
    from tinygrad_nn import threads as T
    from tinygrad_nn.kernels import pool as P

    widths, runs = [], []
    real = T.parallel_for
    monkeypatch.setattr(T, "parallel_for", lambda fn, n, width=None: widths.append((n, width)) or real(fn, n, width))
    T_before = T.get_num_threads()
    T.set_num_threads(3)
    try:
        for planes, size in [(1, 10), (5, P.SERIAL_SIZE - 1), (40, P.SERIAL_SIZE)]:
            runs.clear()
            P._run(lambda p0, p1: runs.append((p0, p1)), planes, size)
            tasks = min(planes, P.MAX_TASKS)
            assert len(runs) == tasks
            assert sorted(runs)[0][0] == 0 and sorted(runs)[-1][1] == planes
            assert all(a[1] == b[0] for a, b in zip(sorted(runs), sorted(runs)[1:]))  # contiguous
            assert all(p1 - p0 in (planes // tasks, planes // tasks + 1) for p0, p1 in runs)
    finally:
        T.set_num_threads(T_before)
    assert widths == [(1, 1), (5, 1), (P.MAX_TASKS, 3)]


def test_pool_kernels_default_to_no_padding():
    from tinygrad_nn.kernels import pool as P

    x = np.arange(32.0).reshape(1, 2, 4, 4)
    out, arg = P.max_pool2d_forward(x, (2, 2), (2, 2))
    np.testing.assert_array_equal(out, x.reshape(1, 2, 2, 2, 2, 2).max(axis=(3, 5)))
    avg = P.avg_pool2d_forward(x, (2, 2), (2, 2))
    np.testing.assert_array_equal(avg, x.reshape(1, 2, 2, 2, 2, 2).mean(axis=(3, 5)))
    g = np.ones((1, 2, 2, 2))
    np.testing.assert_array_equal(P.avg_pool2d_backward(g, x.shape, (2, 2), (2, 2)), np.full(x.shape, 0.25))


def test_pool_kernels_refuse_bad_geometry_naming_themselves():
    from tinygrad_nn.kernels import pool as P

    x = np.ones((1, 1, 1, 4))
    for name, call in [("max_pool2d_forward", lambda k, p: P.max_pool2d_forward(x, k, (1, 1), p)),
                       ("avg_pool2d_forward", lambda k, p: P.avg_pool2d_forward(x, k, (1, 1), p)),
                       ("avg_pool2d_backward",
                        lambda k, p: P.avg_pool2d_backward(np.ones((1, 1, 1, 1)), x.shape, k, (1, 1), p))]:
        # 1 + 2*1 rows cannot hold a 4-row window (with 3 rows of padding they could)
        with _raises(rf"{name}: cannot pool x \(1, 1, 1, 4\) with kernel \(4, 2\), stride \(1, 1\), "
                     r"padding \(1, 0\) \(padding at most half the kernel\)"):
            call((4, 2), (1, 0))
    with _raises(r"max_pool2d_forward: cannot pool x \(1, 1, 4, 1\) with kernel \(2, 4\), stride \(1, 1\), "
                 r"padding \(0, 1\) \(padding at most half the kernel\)"):
        P.max_pool2d_forward(np.ones((1, 1, 4, 1)), (2, 4), (1, 1), (0, 1))
    with _raises(r"avg_pool2d_backward: cannot pool x \(1, 1, 4\) with kernel \(1, 1\), stride \(1, 1\), "
                 r"padding \(0, 0\) \(padding at most half the kernel\)"):
        P.avg_pool2d_backward(np.ones((1, 1, 4, 1)), (1, 1, 4), (1, 1), (1, 1), (0, 0))
    with _raises(r"max_pool2d_forward: x must be 4-D, got shape \(4,\)"):
        P.max_pool2d_forward(np.ones(4), (1, 1), (1, 1))
    with _raises(r"avg_pool2d_forward: x must be 4-D, got shape \(4,\)"):
        P.avg_pool2d_forward(np.ones(4), (1, 1), (1, 1))


def test_max_pool_backward_refuses_what_would_write_outside_dx():
    from tinygrad_nn.kernels import pool as P

    g = np.ones((1, 1, 2, 2))
    arg = np.zeros((1, 1, 2, 2), np.int32)
    with _raises(r"max_pool2d_backward: grad must be 4-D, got shape \(4,\)"):
        P.max_pool2d_backward(np.ones(4), arg, (1, 1, 4, 4))
    with _raises(r"max_pool2d_backward: argmax has shape \(1, 1, 2, 1\), expected \(1, 1, 2, 2\)"):
        P.max_pool2d_backward(g, arg[..., :1], (1, 1, 4, 4))
    with _raises(r"max_pool2d_backward: grad \(1, 1, 2, 2\) does not pool x \(1, 1, 4\)"):
        P.max_pool2d_backward(g, arg, (1, 1, 4))
    with _raises(r"max_pool2d_backward: grad \(1, 1, 2, 2\) does not pool x \(1, 2, 4, 4\)"):
        P.max_pool2d_backward(g, arg, (1, 2, 4, 4))
    for bad in (16, -1):  # one past the last pixel of a 4x4 plane, or before the first
        with _raises(r"max_pool2d_backward: argmax offsets fall outside the input planes"):
            P.max_pool2d_backward(g, np.full((1, 1, 2, 2), bad, np.int32), (1, 1, 4, 4))
    dx = P.max_pool2d_backward(g, np.full((1, 1, 2, 2), 15, np.int32), (1, 1, 4, 4))  # the last pixel
    assert dx[0, 0, 3, 3] == 4 and dx.sum() == 4
    with pytest.raises(TypeError, match=r"^max_pool2d_backward: argmax must be a C-contiguous int32 array$"):
        P.max_pool2d_backward(g, arg.astype(np.int64), (1, 1, 4, 4))
    with pytest.raises(TypeError, match=r"^max_pool2d_backward: argmax must be a C-contiguous int32 array$"):
        P.max_pool2d_backward(g, np.zeros((1, 1, 2, 4), np.int32)[..., ::2], (1, 1, 4, 4))


def test_max_pool_refuses_planes_of_2_to_the_31_pixels(tmp_path):
    """int32 offsets cannot address such a plane; the check comes before any work. The 8 GB
    plane is a sparse file mapped into memory: nothing is read."""
    import mmap

    from tinygrad_nn.kernels import pool as P

    wide = np.zeros((1, 1, 1, 46341))  # 46341**2 >= 2**31 but the plane is small: accepted
    assert P.max_pool2d_forward(wide, (1, 46341), (1, 1))[0].shape == (1, 1, 1, 1)
    size = 2 ** 31 * 4
    with open(tmp_path / "plane", "wb+") as f:
        f.truncate(size)
        m = mmap.mmap(f.fileno(), size)
        try:
            x = np.frombuffer(m, np.float32).reshape(1, 1, 2 ** 16, 2 ** 15)
            with _raises(r"max_pool2d_forward: planes must hold under 2\*\*31 pixels"):
                P.max_pool2d_forward(x, (2 ** 16, 2 ** 15), (1, 1))
            del x
        finally:
            m.close()
