"""Numba kernels against numpy/scipy references and finite differences.

``make test`` also runs this file under NUMBA_DISABLE_JIT=1 (pure-Python loops), so every
array here stays small.
"""
import os
import subprocess
import sys
from pathlib import Path
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, arrays
from numba import config, njit
from scipy.special import expit, log_softmax, logsumexp, softmax

from tinygrad_nn.kernels import softmax as K
from tinygrad_nn.kernels import vecmath
from tinygrad_nn.kernels.activations import ACTIVATIONS

FLOATS = [np.float32, np.float64]
RTOL = {np.float32: 2e-6, np.float64: 1e-13}
KINKED = {"relu", "leaky_relu", "elu"}  # derivative jumps at 0
PARAM = {"leaky_relu": 0.1, "elu": 0.7}

REFERENCE = {  # float64 numpy/scipy forms of each activation
    "sigmoid": lambda x, p: expit(x),
    "tanh": lambda x, p: np.tanh(x),
    "relu": lambda x, p: np.maximum(x, 0.0),
    "leaky_relu": lambda x, p: np.where(x > 0, x, p * x),
    "elu": lambda x, p: np.where(x > 0, x, p * np.expm1(np.minimum(x, 0.0))),
    "softplus": lambda x, p: np.logaddexp(0.0, x),
}

jit_only = pytest.mark.skipif(config.DISABLE_JIT, reason="needs compiled kernels")


def close(got, want, dtype):
    np.testing.assert_allclose(got, want, rtol=RTOL[dtype], atol=1e-30)


def float_arrays(dtype, lo=-30.0, hi=30.0, max_dims=3):
    return arrays(dtype, array_shapes(min_dims=0, max_dims=max_dims, min_side=0, max_side=4),
                  elements=st.floats(lo, hi, width=np.dtype(dtype).itemsize * 8))


# ---------------------------------------------------------------- vecmath


def _map(fn, x):
    """Apply a vecmath scalar function elementwise inside a jitted loop (its overload)."""
    if fn not in _LOOPS:
        @njit(error_model="numpy")
        def loop(x):
            out = np.empty_like(x)
            for i in range(x.size):
                out[i] = fn(x[i])
            return out
        _LOOPS[fn] = loop
    return _LOOPS[fn](x)


_LOOPS = {}


def ulps(got, want, dtype):
    """Error in units of the last place of ``want`` (computed in long double)."""
    want64 = want.astype(np.float64)
    spacing = np.spacing(np.abs(want64).astype(dtype)).astype(np.float64)
    return np.abs(got.astype(np.float64) - want64) / spacing


@jit_only  # without the JIT these are numpy's functions
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("name, lo, hi, max_ulp", [
    ("exp", -80.0, 80.0, 2), ("expm1", -80.0, 80.0, 3), ("tanh", -12.0, 12.0, 6),
    ("log1p_unit", 0.0, 1.0, 4),
])
def test_vecmath_accuracy_in_ulps(name, lo, hi, max_ulp, dtype):
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.uniform(lo, hi, 1500), rng.uniform(max(lo, -1e-3), 1e-3, 300),
                        [lo, hi, 0.0, 1e-30]]).astype(dtype)
    want = getattr(np, name.replace("_unit", ""))(x.astype(np.longdouble))
    assert ulps(_map(getattr(vecmath, name), x), want, dtype).max() <= max_ulp


@jit_only
@pytest.mark.parametrize("dtype", FLOATS)
def test_vecmath_edges_flush_saturate_and_keep_nan(dtype):
    x = np.array([np.nan, np.inf, -np.inf, 1e4, -1e4, 0.0], dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        e, em1, t = (_map(f, x) for f in (vecmath.exp, vecmath.expm1, vecmath.tanh))
    np.testing.assert_array_equal(e, [np.nan, np.inf, 0, np.inf, 0, 1])
    np.testing.assert_array_equal(em1, [np.nan, np.inf, -1, np.inf, -1, 0])
    np.testing.assert_array_equal(t, [np.nan, 1, -1, 1, -1, 0])
    assert e.dtype == em1.dtype == t.dtype == dtype
    assert np.signbit(_map(vecmath.tanh, np.array([-0.0], dtype)))[0]


@jit_only
@pytest.mark.parametrize("dtype", FLOATS)
def test_vecmath_tanh_never_leaves_minus_one_to_one(dtype):
    """float32's rational fit rounded to 1 + eps for about 1.4% of x in (7, 10)."""
    x = np.linspace(7, 10, 200_001).astype(dtype)
    t = _map(vecmath.tanh, np.concatenate([x, -x]))
    assert t.max() <= 1 and t.min() >= -1


# ---------------------------------------------------------------- activations


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
@pytest.mark.parametrize("dtype", FLOATS)
@settings(max_examples=15)
@given(data=st.data())
def test_activation_forward_matches_reference(name, dtype, data):
    x = data.draw(float_arrays(dtype))
    forward, _ = ACTIVATIONS[name]
    y = forward(x, PARAM.get(name, 0.0))
    assert y.shape == x.shape and y.dtype == dtype
    close(y, REFERENCE[name](x.astype(np.float64), PARAM.get(name, 0.0)), dtype)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
@settings(max_examples=15)
@given(data=st.data())
def test_activation_backward_matches_finite_differences(name, data):
    x = data.draw(float_arrays(np.float64, -8.0, 8.0, max_dims=2))
    if name in KINKED:
        x = np.where(np.abs(x) < 1e-3, 0.5, x)  # keep away from the kink
    grad = data.draw(arrays(np.float64, x.shape, elements=st.floats(-2, 2)))
    p = PARAM.get(name, 0.0)
    forward, backward = ACTIVATIONS[name]
    got = backward(x, forward(x, p), grad, p)
    h = 1e-6
    numeric = (forward(np.asarray(x + h), p) - forward(np.asarray(x - h), p)) / (2 * h)
    assert got.shape == x.shape and got.dtype == np.float64
    np.testing.assert_allclose(got, grad * numeric, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
@pytest.mark.parametrize("dtype", FLOATS)
def test_activation_float32_gradient_matches_float64(name, dtype):
    x = np.linspace(-6, 6, 25).astype(dtype).reshape(5, 5)
    grad = np.full_like(x, 0.5)
    forward, backward = ACTIVATIONS[name]
    p = PARAM.get(name, 0.0)
    got = backward(x, forward(x, p), grad, p)
    x64 = x.astype(np.float64)
    want = backward(x64, forward(x64, p), grad.astype(np.float64), p)
    assert got.dtype == dtype
    # atol: 1 - y*y from a float32 y near +-1 keeps only absolute accuracy (as numpy's would)
    np.testing.assert_allclose(got, want, rtol=10 * RTOL[dtype], atol=1e-6)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
@pytest.mark.parametrize("dtype", FLOATS)
def test_activation_extreme_inputs_are_finite_and_silent(name, dtype):
    x = np.array([-1e4, -100.0, -30.0, 30.0, 100.0, 1e4], dtype)
    forward, backward = ACTIVATIONS[name]
    p = PARAM.get(name, 0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            y = forward(x, p)
            g = backward(x, y, np.ones_like(x), p)
    assert np.isfinite(y).all() and np.isfinite(g).all()
    close(y, REFERENCE[name](x.astype(np.float64), p), dtype)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_propagates_nan(name):
    forward, _ = ACTIVATIONS[name]
    assert np.isnan(forward(np.array([np.nan, 1.0], np.float32), PARAM.get(name, 0.0))[0])


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
@pytest.mark.parametrize("shape", [(0,), (3, 0), (2, 0, 4)])
def test_activation_empty_arrays(name, shape):
    forward, backward = ACTIVATIONS[name]
    x = np.zeros(shape, np.float32)
    y = forward(x, 0.1)
    g = backward(x, y, x, 0.1)
    assert y.shape == g.shape == shape and y.dtype == g.dtype == np.float32


def test_activation_param_is_used():
    x = np.array([-2.0, 3.0])
    np.testing.assert_allclose(ACTIVATIONS["leaky_relu"][0](x, 0.25), [-0.5, 3.0])
    np.testing.assert_allclose(ACTIVATIONS["leaky_relu"][1](x, x, np.ones(2), 0.25), [0.25, 1.0])
    np.testing.assert_allclose(ACTIVATIONS["elu"][0](x, 2.0), [2 * np.expm1(-2.0), 3.0])


@jit_only
def test_activation_kernels_load_from_cache_in_a_fresh_process(tmp_path):
    """Closures made by the factory must hit Numba's on-disk cache (closures over jitted
    dispatchers would not: they recompile in every process)."""
    script = (
        "import numpy as np\n"
        "from tinygrad_nn.kernels.activations import ACTIVATIONS\n"
        "f = ACTIVATIONS['softplus'][0]\n"
        "f(np.ones(3, np.float32), 0.0)\n"
        "s = f.kernel.stats\n"
        "print(sum(s.cache_hits.values()), sum(s.cache_misses.values()))\n"
    )
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))
    runs = [subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                           text=True, check=True).stdout.split() for _ in range(2)]
    assert runs[0] == ["0", "1"]  # compiled and saved
    assert runs[1] == ["1", "0"]  # loaded
    assert len(list(tmp_path.rglob("activations*.nbc"))) == 1  # no new entry per process


CACHE_PROBE = """
import json, warnings
import numpy as np
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    import tinygrad_nn
    from tinygrad_nn.kernels.activations import ACTIVATIONS
    f = ACTIVATIONS["softplus"][0]
    y = f(np.array([0.0, 1.0]), 0.0)
s = f.kernel.stats
print(json.dumps(dict(file=tinygrad_nn.__file__, y=y.tolist(), hits=sum(s.cache_hits.values()),
                      misses=sum(s.cache_misses.values()),
                      warnings=[str(w.message) for w in caught
                                if w.category.__name__ == "KernelCacheWarning"])))
"""


def probe_kernel_cache(cwd, **env):
    """Import tinygrad_nn and run one kernel in a fresh process: what it reports as JSON."""
    import json

    done = subprocess.run([sys.executable, "-c", CACHE_PROBE], env=dict(os.environ, **env),
                          capture_output=True, text=True, cwd=cwd)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout)
    np.testing.assert_allclose(out["y"], np.logaddexp(0, [0.0, 1.0]), rtol=1e-12)
    return out


@jit_only
def test_import_and_kernels_work_with_nowhere_to_cache(tmp_path):
    """A read-only install and a read-only home: kernels compile in memory, one warning.

    Every folder Numba may cache in (the package's __pycache__, NUMBA_CACHE_DIR, ~/.cache) is
    made a plain file, so creating or writing it fails with an OSError as in a read-only
    location; permission bits alone would not stop a test that runs as root."""
    import shutil
    from pathlib import Path

    import tinygrad_nn

    site = tmp_path / "site"
    shutil.copytree(Path(tinygrad_nn.__file__).parent, site / "tinygrad_nn",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for folder in [site / "tinygrad_nn", *(site / "tinygrad_nn").rglob("*")]:
        if folder.is_dir():
            (folder / "__pycache__").write_text("not a folder")
    blocked = tmp_path / "blocked"
    blocked.write_text("not a folder")
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / ".cache").write_text("not a folder")
    out = probe_kernel_cache(tmp_path, PYTHONPATH=str(site), PYTHONDONTWRITEBYTECODE="1",
                             HOME=str(tmp_path / "home"), XDG_CACHE_HOME=str(blocked / "xdg"),
                             NUMBA_CACHE_DIR=str(blocked / "numba"))
    assert out["file"] == str(site / "tinygrad_nn" / "__init__.py")
    assert len(out["warnings"]) == 1, out["warnings"]
    assert "nowhere writable to cache" in out["warnings"][0]
    assert "NUMBA_CACHE_DIR" in out["warnings"][0]
    assert out["hits"] == 0 and out["misses"] == 1


def _garbage_index(path):
    import pickle

    import numba
    path.write_bytes(pickle.dumps(numba.__version__) + b"not a pickle")


@jit_only
@pytest.mark.parametrize("pattern, damage", [
    ("*.nbi", _garbage_index),                           # UnpicklingError from the index
    ("*.nbi", lambda path: path.write_bytes(b"")),       # EOFError: an empty index
    ("*.nbc", lambda path: path.write_bytes(b"\x80\x04junk")),  # a damaged data file
], ids=["index-garbage", "index-empty", "data-garbage"])
def test_damaged_cache_files_are_recompiled_with_a_warning(tmp_path, pattern, damage):
    cache = tmp_path / "cache"
    first = probe_kernel_cache(tmp_path, NUMBA_CACHE_DIR=str(cache))
    assert first["misses"] == 1 and first["warnings"] == []
    files = [p for p in cache.rglob(pattern) if p.name.startswith("activations")]
    assert files
    for path in files:
        damage(path)
    second = probe_kernel_cache(tmp_path, NUMBA_CACHE_DIR=str(cache))
    assert second["misses"] == 1 and len(second["warnings"]) == 1, second
    assert "is damaged" in second["warnings"][0] and "recompiling" in second["warnings"][0]
    third = probe_kernel_cache(tmp_path, NUMBA_CACHE_DIR=str(cache))  # the recompiled kernel was saved
    assert third["hits"] == 1 and third["warnings"] == [], third


# ---------------------------------------------------------------- softmax family


def rows(dtype, lo=-30.0, hi=30.0):
    shapes = st.tuples(st.integers(0, 4), st.integers(1, 6))
    return shapes.flatmap(lambda s: arrays(dtype, s, elements=st.floats(
        lo, hi, width=np.dtype(dtype).itemsize * 8)))


@pytest.mark.parametrize("dtype", FLOATS)
@settings(max_examples=20)
@given(data=st.data())
def test_softmax_family_matches_scipy(dtype, data):
    x = data.draw(rows(dtype))
    x64 = x.astype(np.float64)
    for got, want in [(K.softmax_forward(x), softmax(x64, axis=1)),
                      (K.log_softmax_forward(x), log_softmax(x64, axis=1)),
                      (K.logsumexp_forward(x), logsumexp(x64, axis=1))]:
        assert got.dtype == dtype
        np.testing.assert_allclose(got, want, rtol=4 * RTOL[dtype], atol=8 * RTOL[dtype])


def _numeric_vjp(fn, x, grad, h=1e-6):
    """d/dx sum(grad * fn(x)) by central differences."""
    out = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[idx] = h
        out[idx] = np.sum(grad * (fn(x + step) - fn(x - step))) / (2 * h)
    return out


@settings(max_examples=15)
@given(x=rows(np.float64, -5, 5), seed=st.integers(0, 2**16))
def test_softmax_family_backward_matches_finite_differences(x, seed):
    rng = np.random.default_rng(seed)
    g = rng.standard_normal(x.shape)
    y = K.softmax_forward(x)
    np.testing.assert_allclose(K.softmax_backward(y, g), _numeric_vjp(K.softmax_forward, x, g),
                               rtol=1e-5, atol=1e-8)
    ly = K.log_softmax_forward(x)
    np.testing.assert_allclose(K.log_softmax_backward(ly, g),
                               _numeric_vjp(K.log_softmax_forward, x, g), rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("dtype", FLOATS)
@settings(max_examples=20)
@given(data=st.data())
def test_cross_entropy_matches_log_softmax_nll(dtype, data):
    x = data.draw(rows(dtype))
    target = np.array(data.draw(st.lists(st.integers(0, x.shape[1] - 1), min_size=x.shape[0],
                                         max_size=x.shape[0])), dtype=np.int64)
    loss, probs = K.cross_entropy_forward(x, target)
    ls = log_softmax(x.astype(np.float64), axis=1)
    assert loss.dtype == probs.dtype == dtype and loss.shape == (x.shape[0],)
    tol = dict(rtol=4 * RTOL[dtype], atol=8 * RTOL[dtype])
    np.testing.assert_allclose(loss, -ls[np.arange(x.shape[0]), target], **tol)
    np.testing.assert_allclose(probs, np.exp(ls), **tol)


@settings(max_examples=15)
@given(x=rows(np.float64, -5, 5), seed=st.integers(0, 2**16))
def test_cross_entropy_backward_matches_finite_differences(x, seed):
    rng = np.random.default_rng(seed)
    target = rng.integers(0, x.shape[1], x.shape[0])
    g = rng.standard_normal(x.shape[0])
    _, probs = K.cross_entropy_forward(x, target)
    numeric = _numeric_vjp(lambda z: K.cross_entropy_forward(z, target)[0], x, g)
    np.testing.assert_allclose(K.cross_entropy_backward(probs, target, g), numeric,
                               rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("dtype", FLOATS)
def test_softmax_family_extreme_logits_are_finite_and_silent(dtype):
    x = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4], [1e4, 1e4, -1e4]], dtype)
    target = np.array([1, 0, 2])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            y, ly, lse = K.softmax_forward(x), K.log_softmax_forward(x), K.logsumexp_forward(x)
            loss, probs = K.cross_entropy_forward(x, target)
            grads = [K.softmax_backward(y, x), K.log_softmax_backward(ly, x),
                     K.cross_entropy_backward(probs, target, np.ones(3, dtype))]
    for a in (y, ly, lse, loss, probs, *grads):
        assert np.isfinite(a).all() and a.dtype == dtype
    np.testing.assert_allclose(y, softmax(x.astype(np.float64), axis=1), atol=1e-6)
    np.testing.assert_allclose(ly[1], np.full(3, -np.log(3)), rtol=RTOL[dtype])
    np.testing.assert_allclose(loss, [2e4, np.log(3), 2e4 + np.log(2)], rtol=RTOL[dtype])
    # the gradients and logsumexp against float64 scipy references, not only "finite"
    x64 = x.astype(np.float64)
    p, lp = softmax(x64, axis=1), log_softmax(x64, axis=1)
    np.testing.assert_allclose(lse, logsumexp(x64, axis=1), rtol=RTOL[dtype])
    refs = [p * (x64 - (x64 * p).sum(axis=1, keepdims=True)),
            x64 - np.exp(lp) * x64.sum(axis=1, keepdims=True),
            p - np.eye(3)[target]]
    for got, want in zip(grads, refs):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6 * np.abs(x64).max())


@pytest.mark.parametrize("dtype", FLOATS)
def test_softmax_family_non_finite_rows_follow_scipy(dtype):
    # +inf makes the softmax and log-softmax NaN (no limit taken) and logsumexp +inf; a NaN
    # anywhere makes the whole row NaN, wherever it sits; -inf entries are probability 0
    inf, nan = np.inf, np.nan
    x = np.array([[-inf, -inf, -inf], [inf, 0.0, 1.0], [0.0, 1.0, inf], [inf, inf, 0.0],
                  [nan, 0.0, 1.0], [0.0, 1.0, nan], [inf, nan, 0.0], [-inf, 0.0, 1.0]], dtype)
    target = np.zeros(len(x), np.int64)
    with np.errstate(all="ignore"):
        # scipy's log_softmax keeps -inf beside a +inf ([nan, -inf, -inf]); PyTorch's and ours
        # make the whole row NaN, as every softmax family member does for such a row
        ref_lp = log_softmax(x.astype(np.float64), axis=1)
        ref_lp[~np.isfinite(x.max(axis=1)) & ~(x.max(axis=1) == -inf)] = nan
        np.testing.assert_allclose(K.logsumexp_forward(x), logsumexp(x, axis=1), rtol=RTOL[dtype])
        np.testing.assert_allclose(K.softmax_forward(x), softmax(x, axis=1), rtol=RTOL[dtype])
        np.testing.assert_allclose(K.log_softmax_forward(x), ref_lp, rtol=RTOL[dtype])
        loss, _ = K.cross_entropy_forward(x, target)
    np.testing.assert_allclose(loss, -ref_lp[:, 0], rtol=RTOL[dtype])


@pytest.mark.parametrize("shape", [(0, 3), (2, 0)])
def test_softmax_family_empty(shape):
    x = np.zeros(shape, np.float32)
    with np.errstate(divide="ignore"):  # empty rows: sum 0 (NUMBA_DISABLE_JIT runs numpy scalars)
        assert K.softmax_forward(x).shape == shape
        lse = K.logsumexp_forward(x)
    assert K.log_softmax_backward(x, x).shape == shape
    np.testing.assert_array_equal(lse, np.full(shape[0], -np.inf, np.float32))


# ---------------------------------------------------------------- max pooling
# ``make test`` runs this file once more with NUMBA_BOUNDSCHECK=1: an index past an array in a
# kernel (a wrong stride, an off-by-one) then raises IndexError and fails a test here, instead of
# writing over memory that belongs to someone else.


def pool_reference(x, k, s, p):
    """Window maxima and flat (H, W) offsets of the first maximum, padding never winning."""
    (kh, kw), (sh, sw), (ph, pw) = k, s, p
    N, C, H, W = x.shape
    Ho, Wo = (H + 2 * ph - kh) // sh + 1, (W + 2 * pw - kw) // sw + 1
    out, arg = np.empty((N, C, Ho, Wo), x.dtype), np.empty((N, C, Ho, Wo), np.int64)
    for i in range(Ho):
        for j in range(Wo):
            rows = [r for r in range(i * sh - ph, i * sh - ph + kh) if 0 <= r < H]
            cols = [c for c in range(j * sw - pw, j * sw - pw + kw) if 0 <= c < W]
            win = x[:, :, rows][:, :, :, cols].reshape(N, C, -1)
            first = win.argmax(axis=-1)
            out[:, :, i, j] = win.max(axis=-1)
            arg[:, :, i, j] = (np.array(rows)[first // len(cols)] * W
                               + np.array(cols)[first % len(cols)])
    return out, arg


@st.composite
def pool_cases(draw):
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    ph, pw = draw(st.integers(0, kh // 2)), draw(st.integers(0, kw // 2))
    H = draw(st.integers(max(1, kh - 2 * ph), 7))
    W = draw(st.integers(max(1, kw - 2 * pw), 7))
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 3)), H, W)
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    seed = draw(st.integers(0, 2**16))
    return shape, (kh, kw), stride, (ph, pw), seed


@pytest.mark.parametrize("dtype", FLOATS)
@settings(max_examples=25)
@given(case=pool_cases())
def test_max_pool_kernels_match_numpy(dtype, case):
    from tinygrad_nn.kernels import pool as P

    shape, k, s, p, seed = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(dtype)  # no ties
    out, arg = P.max_pool2d_forward(x, k, s, p)
    ref_out, ref_arg = pool_reference(x, k, s, p)
    np.testing.assert_array_equal(out, ref_out)
    np.testing.assert_array_equal(arg, ref_arg)
    grad = rng.standard_normal(out.shape).astype(dtype)
    dx = P.max_pool2d_backward(grad, arg, x.shape)
    ref_dx = np.zeros(x.shape, np.float64)
    n, c = np.indices(shape[:2])
    for i, j in np.ndindex(*grad.shape[2:]):  # overlapping windows add up
        np.add.at(ref_dx.reshape(*shape[:2], -1), (n, c, ref_arg[:, :, i, j]), grad[:, :, i, j])
    np.testing.assert_allclose(dx, ref_dx, rtol=RTOL[dtype], atol=1e-6)


# ---------------------------------------------------------------- BLAS inside kernels

from tinygrad_nn.kernels import blas as B  # noqa: E402
from tinygrad_nn.kernels import conv as KC  # noqa: E402


@pytest.mark.parametrize("use_numpy_blas", [True, False], ids=["numpy-blas", "cfunc-fallback"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matmul_into_handles_views_transposes_and_accumulation(use_numpy_blas, dtype):
    """The kernels' GEMM on row blocks, column blocks and transposed views of bigger arrays:
    the values numpy gives, beta=1 adds to what ``out`` held, and nothing outside the view of
    ``out`` is written."""
    rng = np.random.default_rng(0)
    gemm = B.gemm_function(dtype, use_numpy_blas)
    big_a, big_b = rng.standard_normal((9, 30)).astype(dtype), rng.standard_normal((30, 40)).astype(dtype)
    tol = dict(rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-5 if dtype == np.float32 else 1e-12)
    cases = [(big_a[2:7, 3:20], big_b[5:22, 4:29]),        # strided row views
             (big_b[:17, 2:7].T, big_a[:, 1:18].T[:17, 1:8]),  # transposed (column-major) views
             (big_a[:5, :1], big_b[:1, :25])]               # an inner dimension of 1
    for a, b in cases:
        frame = np.full((a.shape[0] + 2, b.shape[1] + 3), 7.0, dtype)
        out = frame[1:-1, 2:-1]
        B.matmul_into(gemm, a, b, out, 0.0)
        np.testing.assert_allclose(out, a.astype(np.float64) @ b, **tol)
        B.matmul_into(gemm, a, b, out, 1.0)
        np.testing.assert_allclose(out, 2 * (a.astype(np.float64) @ b), **tol)
        untouched = frame.copy()
        untouched[1:-1, 2:-1] = 7.0
        assert (untouched == 7.0).all() and (frame[0] == 7.0).all() and (frame[:, :2] == 7.0).all()


def test_matmul_into_refuses_mismatched_shapes():
    gemm = B.gemm_function(np.float64)
    with pytest.raises(ValueError, match="shapes do not match"):
        B.matmul_into(gemm, np.ones((2, 3)), np.ones((4, 2)), np.empty((2, 2)), 0.0)


@pytest.mark.parametrize("limit", [0, 1 << 62], ids=["columns", "rows"])
@pytest.mark.parametrize("stride, groups", [((1, 1), 1), ((2, 3), 1), ((2, 1), 2)])
def test_conv_paths_match_float64(monkeypatch, limit, stride, groups):
    """Both convolution paths (``ROW_TAPS`` and ``ROW_PIXELS`` pick one by the size of an
    image's im2col matrix: batched GEMMs over im2col columns, or image by image on exact
    matrices with the weight gradient from pixel-major rows), with strides, padding and groups:
    the output, weight and bias gradients against float64 sums over every tap."""
    monkeypatch.setattr(KC, "ROW_TAPS", limit)
    monkeypatch.setattr(KC, "ROW_PIXELS", limit)
    rng = np.random.default_rng(7)
    x = rng.standard_normal((5, 4, 9, 8))
    w = rng.standard_normal((6, 4 // groups, 3, 2))
    (sh, sw), pads = stride, (1, 0, 2, 1)
    xp = np.pad(x, ((0, 0), (0, 0), pads[:2], pads[2:]))
    Ho, Wo = (xp.shape[2] - 3) // sh + 1, (xp.shape[3] - 2) // sw + 1
    g = rng.standard_normal((5, 6, Ho, Wo))
    _, dw, db = KC.conv2d_backward(x.astype(np.float32), w.astype(np.float32),
                                   g.astype(np.float32), stride=stride, padding=pads,
                                   groups=groups, need_dx=False)
    b = rng.standard_normal(6)
    out = KC.conv2d_forward(x.astype(np.float32), w.astype(np.float32), b.astype(np.float32),
                            stride=stride, padding=pads, groups=groups)
    ref, ref_out = np.zeros(w.shape), np.zeros(g.shape) + b[:, None, None]
    Og, Cg = 6 // groups, 4 // groups
    for o in range(6):
        channels = xp[:, o // Og * Cg:(o // Og + 1) * Cg]
        for i in range(3):
            for j in range(2):
                taps = channels[:, :, i:i + sh * Ho:sh, j:j + sw * Wo:sw]
                ref[o, :, i, j] = np.einsum("nhw,nchw->c", g[:, o], taps)
                ref_out[:, o] += np.einsum("c,nchw->nhw", w[o, :, i, j], taps)
    np.testing.assert_allclose(out, ref_out, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(dw, ref, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(db, g.sum(axis=(0, 2, 3)), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("channels, size, stride, rows", [
    (7, 16, 1, True),     # 63 taps, 256 pixels: both limits met
    (8, 16, 1, False),    # 72 taps
    (7, 17, 1, False),    # 289 pixels
    (1, 32, 2, True),     # 9 taps, 256 pixels of a stride-2 output
    (7, 31, 2, True),     # 63 taps, 256 pixels (31x31 in, stride 2, padding 1)
])
def test_conv_takes_the_row_path_exactly_within_its_limits(channels, size, stride, rows):
    """Image by image on exact matrices when an image's im2col matrix has at most ROW_TAPS
    (64) rows and ROW_PIXELS (256) columns; batched GEMMs over columns otherwise. Where the
    rows path is taken, the offsets are where each (c, di, dj) row reads the phase planes."""
    x = np.zeros((2, channels, size, size), np.float32)
    w = np.zeros((4, channels, 3, 3), np.float32)
    geo, _, width = KC._plan(x, w, (stride, stride), (1, 1, 1, 1), (1, 1), 1, "test")
    xq, _ = KC._scratch(x, w, geo, width)
    offs = KC._small_image_offsets(x, w, geo, xq)
    assert (offs.size > 0) == rows
    if rows:
        hq, wq = int(geo[KC.HQ]), int(geo[KC.WQ])
        planes = stride * stride * hq * wq
        expected = [c * planes + ((di % stride) * stride + dj % stride) * hq * wq
                    + (di // stride) * wq + dj // stride
                    for c in range(channels) for di in range(3) for dj in range(3)]
        assert offs.tolist() == expected


@pytest.mark.parametrize("stride", [1, 2])
def test_im2row_is_the_transpose_of_the_exact_im2col_matrix(stride):
    """``_im2row`` (pixel-major) and ``_im2col_exact`` (tap-major) read the same taps: each is
    the other transposed, and both equal the padded image sampled directly."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((1, 2, 7, 6)).astype(np.float32)
    w = np.zeros((3, 2, 3, 3), np.float32)
    geo, _, _ = KC._plan(x, w, (stride, stride), (1, 1, 1, 1), (1, 1), 1, "test")
    xq, cols = KC._scratch(x, w, geo, 1)
    KC._split(x, 0, geo, xq[0, 0])
    offs = KC._tap_offsets(2, xq.shape[-1], geo)
    ho, wo = int(geo[KC.HO]), int(geo[KC.WO])
    rows = np.full((ho * wo, offs.size), np.nan, np.float32)
    exact = np.full((offs.size, ho * wo), np.nan, np.float32)
    KC._im2row(xq[0, 0].reshape(-1), offs, geo, rows)
    KC._im2col_exact(xq[0, 0].reshape(-1), offs, geo, exact)
    xp = np.pad(x[0], ((0, 0), (1, 1), (1, 1)))
    direct = np.stack([xp[c, di:di + stride * ho:stride, dj:dj + stride * wo:stride].reshape(-1)
                       for c in range(2) for di in range(3) for dj in range(3)])
    np.testing.assert_array_equal(exact, direct)
    np.testing.assert_array_equal(rows, direct.T)


@pytest.mark.parametrize("n", [101, 37])
@pytest.mark.parametrize("path", ["columns", "rows"])
def test_conv_backward_with_a_partial_last_batch_matches_float64(monkeypatch, path, n):
    """7x7 maps batch five images per GEMM; with n % 5 != 0 the last GEMM of a task is
    narrower than the buffers, whose dropped columns must still hold zeros. With 101 images
    (21 batches in 16 tasks) some tasks add two batches' weight gradients. Both paths: batched
    im2col columns, and image by image from pixel-major rows (``ROW_TAPS``)."""
    if path == "columns":
        monkeypatch.setattr(KC, "ROW_TAPS", 0)
    rng = np.random.default_rng(n)
    x = rng.standard_normal((n, 4, 7, 7))
    w = rng.standard_normal((6, 4, 3, 3))
    g = rng.standard_normal((n, 6, 7, 7))
    geometry = dict(padding=(1, 1, 1, 1))
    dx, dw, db = KC.conv2d_backward(x.astype(np.float32), w.astype(np.float32),
                                    g.astype(np.float32), **geometry)
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    windows = np.lib.stride_tricks.sliding_window_view(xp, (3, 3), axis=(2, 3))  # n,c,7,7,3,3
    dw_ref = np.einsum("nohw,nchwij->ocij", g, windows)
    dxp = np.zeros_like(xp)
    for i in range(3):
        for j in range(3):
            dxp[:, :, i:i + 7, j:j + 7] += np.einsum("nohw,oc->nchw", g, w[:, :, i, j])
    np.testing.assert_allclose(dw, dw_ref, rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(dx, dxp[:, :, 1:-1, 1:-1], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(db, g.sum(axis=(0, 2, 3)), rtol=1e-4, atol=1e-4)


# ---------------------------------------------------------------- direct stride-1 convolution
from tinygrad_nn.kernels import direct as KD  # noqa: E402


def direct_reference(x, w, b, g, padding, dilation, stride=(1, 1)):
    """(out, dx, dw, db) in float64 by summing over the taps one at a time."""
    (pt, pb, pl, pr), (dh, dw_), (sh, sw) = padding, dilation, stride
    O, C, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    Ho = (xp.shape[2] - dh * (kh - 1) - 1) // sh + 1
    Wo = (xp.shape[3] - dw_ * (kw - 1) - 1) // sw + 1
    out = np.zeros((x.shape[0], O, Ho, Wo)) + b[:, None, None]
    dxp, dw = np.zeros_like(xp), np.zeros(w.shape)
    for dy in range(kh):
        for dx in range(kw):
            window = (slice(None), slice(None), slice(dy * dh, dy * dh + sh * (Ho - 1) + 1, sh),
                      slice(dx * dw_, dx * dw_ + sw * (Wo - 1) + 1, sw))
            out += np.einsum("oc,nchw->nohw", w[:, :, dy, dx], xp[window])
            if g is not None:
                dxp[window] += np.einsum("oc,nohw->nchw", w[:, :, dy, dx], g)
                dw[:, :, dy, dx] = np.einsum("nohw,nchw->oc", g, xp[window])
    dx = dxp[:, :, pt:pt + x.shape[2], pl:pl + x.shape[3]]
    return out, dx, dw, (None if g is None else g.sum(axis=(0, 2, 3)))


@pytest.mark.parametrize("C, O, kernel, padding, dilation, stride", [
    (3, 5, (3, 3), (1, 1, 1, 1), (1, 1), (1, 1)),  # O past a forward block of 8, grad block of 4
    (1, 17, (3, 3), (0, 2, 1, 0), (1, 1), (1, 1)),  # one input channel, asymmetric padding
    (2, 4, (5, 4), (1, 2, 0, 3), (1, 1), (1, 1)),   # 20 taps: not a multiple of the grad group's 3
    (3, 8, (3, 2), (2, 2, 1, 2), (2, 3), (1, 1)),   # dilation
    (4, 9, (1, 1), (0, 0, 0, 0), (1, 1), (1, 1)),
    # strided: phase planes; with dilation, uneven strides, a stride past the kernel
    (3, 5, (3, 3), (1, 1, 1, 1), (1, 1), (2, 2)),
    (2, 9, (5, 4), (1, 2, 0, 3), (1, 1), (2, 3)),
    (3, 8, (3, 2), (2, 2, 1, 2), (2, 3), (3, 2)),
    (4, 6, (1, 1), (0, 0, 0, 0), (1, 1), (2, 2)),
    # channel-lane blocks (O >= 32 and C*kh*kw >= 64): forward and weight gradient; the last
    # stride-1 one also for the input gradient (its forward has C = 35 output channels)
    (8, 33, (3, 3), (1, 1, 1, 1), (1, 1), (1, 1)),
    (5, 40, (5, 4), (1, 2, 0, 3), (1, 1), (1, 1)),
    (35, 32, (3, 3), (2, 1, 1, 2), (2, 1), (1, 1)),
    (8, 33, (3, 3), (1, 1, 1, 1), (1, 1), (2, 2)),
    (35, 32, (3, 3), (2, 1, 1, 2), (2, 1), (2, 1)),
])
def test_direct_conv_matches_float64(C, O, kernel, padding, dilation, stride, size=(9, 7)):
    """Output, input, weight and bias gradients of the (float32) direct kernels against float64
    sums over the taps; 3 images of odd sizes, so the flat rows end mid-block."""
    dtype = np.float32
    rng = np.random.default_rng(C * O)
    x, w = rng.standard_normal((3, C) + size), rng.standard_normal((O, C) + kernel)
    b = rng.standard_normal(O)
    out_ref, _, _, _ = direct_reference(x, w, b, None, padding, dilation, stride)
    g = rng.standard_normal(out_ref.shape)
    _, dx_ref, dw_ref, db_ref = direct_reference(x, w, b, g, padding, dilation, stride)
    f = lambda a: a.astype(dtype)  # noqa: E731
    out = KD.direct_forward(f(x), f(w), f(b), padding, dilation, stride)
    dx, dw, db = KD.direct_backward(f(x), f(w), f(g), padding, dilation, stride=stride)
    tol = dict(rtol=1e-4, atol=1e-4)
    for got, want in ((out, out_ref), (dx, dx_ref), (dw, dw_ref), (db, db_ref)):
        assert got.dtype == dtype
        np.testing.assert_allclose(got, want, **tol)
    none_dx, only_dw, _ = KD.direct_backward(f(x), f(w), f(g), padding, dilation, need_dx=False,
                                             stride=stride)
    dx_only, no_dw, db_alone = KD.direct_backward(f(x), f(w), f(g), padding, dilation,
                                                  need_dw=False, stride=stride)
    assert none_dx is None and no_dw is None
    np.testing.assert_array_equal(only_dw, dw)
    np.testing.assert_array_equal(dx_only, dx)
    np.testing.assert_allclose(db_alone, db_ref, **tol)


@pytest.mark.parametrize("C, O, kernel, padding, dilation, stride, size, in_place", [
    (3, 8, (3, 3), (1, 1, 1, 1), (1, 1), (1, 1), (7, 16), True),     # one block per row
    (2, 16, (3, 2), (0, 2, 1, 0), (1, 1), (1, 1), (7, 32), True),    # two, asymmetric padding
    (8, 16, (3, 3), (1, 1, 1, 1), (1, 1), (1, 1), (7, 16), True),    # dx in place too (C = 8)
    (3, 64, (3, 3), (1, 1, 1, 1), (1, 1), (2, 2), (13, 32), True),   # strided, 27 taps
    (3, 8, (3, 3), (2, 2, 2, 2), (2, 2), (2, 2), (16, 32), True),    # strided and dilated
    (3, 12, (3, 3), (1, 1, 1, 1), (1, 1), (1, 1), (7, 16), False),   # 12 channels: flat rows
    (3, 8, (3, 3), (1, 1, 1, 1), (1, 1), (1, 1), (7, 17), False),    # 17 columns: flat rows
])
def test_direct_conv_in_the_outputs_layout_matches_float64(C, O, kernel, padding, dilation,
                                                           stride, size, in_place):
    """Rows of whole blocks and whole forward blocks of channels: the blocks write the output
    and read the output gradient where they lie (``_in_place``); otherwise flat rows."""
    plan = KD._plan(np.zeros((1, C) + size, np.float32), np.zeros((O, C) + kernel, np.float32),
                    padding, dilation, stride, "test")
    assert plan.in_place == in_place
    assert KD.applies((1, C) + size, (O, C) + kernel, stride, padding, dilation, 1)
    test_direct_conv_matches_float64(C, O, kernel, padding, dilation, stride, size)


@jit_only
@pytest.mark.parametrize("W", [16, 15])  # in the output's layout, flat rows
def test_direct_conv_bits_do_not_depend_on_the_thread_count(W):
    """Tasks are fixed runs of images and their weight-gradient sums are added in task order."""
    import tinygrad_nn as tn
    rng = np.random.default_rng(3)
    x = rng.standard_normal((8, 16, 16, W)).astype(np.float32)  # > SERIAL_WORK: threads split
    w = rng.standard_normal((16, 16, 3, 3)).astype(np.float32)
    g = rng.standard_normal((8, 16, 16, W)).astype(np.float32)
    b, pads = np.zeros(16, np.float32), (1, 1, 1, 1)
    saved = tn.get_num_threads()
    try:
        results = []
        for threads in (1, 2, 3):
            tn.set_num_threads(threads)
            results.append((KD.direct_forward(x, w, b, pads), *KD.direct_backward(x, w, g, pads)))
    finally:
        tn.set_num_threads(saved)
    for other in results[1:]:
        for a, b_ in zip(results[0], other):
            np.testing.assert_array_equal(a, b_)


@pytest.mark.parametrize("C, O, stride", [(3, 5, (1, 1)), (8, 33, (1, 1)),  # pixel, channel lanes
                                          (3, 5, (2, 1)), (8, 33, (2, 2))])
def test_direct_conv_reuses_its_layouts_with_the_same_results(monkeypatch, C, O, stride):
    """A second call with the same shapes reuses the first one's buffers (their padding must
    still be zero): its results equal a call that built everything afresh; the cache keeps the
    CACHED_LAYOUTS most recent layouts per thread, and none past CACHED_BYTES."""
    import threading
    rng = np.random.default_rng(5)
    f32 = lambda *shape: rng.standard_normal(shape).astype(np.float32)  # noqa: E731
    w, b, pads = f32(O, C, 3, 3), f32(O), (1, 1, 1, 1)
    first, second = f32(3, C, 9, 7), f32(3, C, 9, 7)
    g = f32(3, O, (9 - 1) // stride[0] + 1, (7 - 1) // stride[1] + 1)
    monkeypatch.setattr(KD, "_local", threading.local())
    KD.direct_forward(first, w, b, pads, (1, 1), stride)
    KD.direct_backward(first, w, g, pads, (1, 1), stride=stride)
    # forward, weight gradient and (stride 1) the input gradient's forward
    assert len(KD._local.layouts) == (3 if stride == (1, 1) else 2)
    again = (KD.direct_forward(second, w, b, pads, (1, 1), stride),
             *KD.direct_backward(second, w, g, pads, (1, 1), stride=stride))
    monkeypatch.setattr(KD, "_local", threading.local())
    fresh = (KD.direct_forward(second, w, b, pads, (1, 1), stride),
             *KD.direct_backward(second, w, g, pads, (1, 1), stride=stride))
    for a, b_ in zip(again, fresh):
        np.testing.assert_array_equal(a, b_)
    kinds = {key[0]: lay["by_channels"] for key, lay in KD._local.layouts.items()
             if key[0] == "weight gradient"}
    assert kinds == {"weight gradient": O == 33}  # the blocks the shape calls for
    monkeypatch.setattr(KD, "CACHED_LAYOUTS", 2)
    for H in (9, 10, 11):
        KD.direct_forward(f32(1, C, H, 7), w, b, pads)
    assert [key[1][2] for key in KD._local.layouts] == [10, 11]  # the most recent two
    other = []
    thread = threading.Thread(target=lambda: other.append(
        KD.direct_forward(f32(1, C, 9, 7), w, b, pads) is not None
        and len(getattr(KD._local, "layouts", {}))))
    thread.start()
    thread.join()
    assert other == [1] and len(KD._local.layouts) == 2  # per thread
    monkeypatch.setattr(KD, "CACHED_BYTES", 0)
    KD.direct_forward(f32(1, C, 12, 7), w, b, pads)
    assert list(KD._local.layouts) == []


def test_direct_layout_cache_returns_the_same_buffers_and_keeps_them_to_the_byte(monkeypatch):
    """A layout is built once per key; the newest layouts are kept while their buffers hold at
    most CACHED_BYTES together (to the byte)."""
    import threading
    monkeypatch.setattr(KD, "_local", threading.local())
    built = []

    def build():
        built.append(1)
        return {"buffer": np.zeros(4), "size": 4}  # 32 bytes of arrays

    monkeypatch.setattr(KD, "CACHED_BYTES", 64)
    first = KD._cached("a", build)
    assert KD._cached("a", build) is first and len(built) == 1 and first["bytes"] == 32
    second = KD._cached("b", build)
    assert KD._cached("a", build) is first and KD._cached("b", build) is second
    assert list(KD._local.layouts) == ["a", "b"] and len(built) == 2  # 64 bytes: both kept
    KD._cached("c", build)
    assert list(KD._local.layouts) == ["b", "c"]  # the oldest goes
    monkeypatch.setattr(KD, "CACHED_BYTES", 31)
    assert KD._cached("d", build) is not KD._cached("d", build)
    assert list(KD._local.layouts) == []  # one layout alone is past the limit


def test_direct_conv_applies_only_where_it_can():
    x, w = (64, 16, 28, 28), (32, 16, 3, 3)
    assert KD.applies(x, w, (1, 1), (1, 1, 1, 1), (1, 1), 1)
    assert KD.applies(x, (32, 16, 5, 5), (1, 1), (2, 2, 0, 4), (1, 1), 1)
    assert KD.applies(x, w, (2, 1), (1, 1, 1, 1), (1, 1), 1)            # strided, 144 taps
    assert KD.applies((64, 8, 28, 28), (16, 8, 3, 3), (2, 2), (1, 1, 1, 1), (1, 1), 1)  # 72
    assert not KD.applies((64, 7, 28, 28), (16, 7, 3, 3), (2, 2), (1, 1, 1, 1), (1, 1), 1)  # 63
    # fewer taps when the blocks work in the output's layout: 16 columns, 8k channels
    assert KD.applies((64, 3, 32, 32), (64, 3, 3, 3), (2, 2), (1, 1, 1, 1), (1, 1), 1)
    assert not KD.applies((64, 3, 32, 32), (60, 3, 3, 3), (2, 2), (1, 1, 1, 1), (1, 1), 1)
    assert not KD.applies((64, 3, 32, 30), (64, 3, 3, 3), (2, 2), (1, 1, 1, 1), (1, 1), 1)
    assert KD.applies((64, 7, 28, 28), (16, 7, 3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 1)
    assert not KD.applies(x, (32, 8, 3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 2)  # grouped
    assert not KD.applies(x, w, (1, 1), (3, 1, 1, 1), (1, 1), 1)        # padded past the reach
    # small maps: channel-lane blocks (O >= 32, C*kh*kw >= 64), else not (49 < MIN_PIXELS)
    assert KD.applies((64, 16, 7, 7), w, (1, 1), (1, 1, 1, 1), (1, 1), 1)
    assert not KD.applies((64, 16, 7, 7), (16, 16, 3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 1)
    assert not KD.applies((64, 3, 7, 7), (32, 3, 3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 1)
    assert not KD.applies(x, w, (1, 1), (1, 1, 1, 1), (1, 1), 1, dtype=np.float64)
    ones = lambda *shape: np.ones(shape, np.float32)  # noqa: E731
    with pytest.raises(ValueError, match=r"direct_forward: inconsistent arguments x \(1, 2, 5, 5\)"):
        KD.direct_forward(ones(1, 2, 5, 5), ones(3, 4, 3, 3), ones(3))
    with pytest.raises(ValueError, match="grad"):
        KD.direct_backward(ones(1, 2, 5, 5), ones(3, 2, 3, 3), ones(1, 3, 4, 4))
    with pytest.raises(TypeError, match="direct_forward: x has dtype float64, expected float32"):
        KD.direct_forward(np.ones((1, 2, 5, 5)), np.ones((3, 2, 3, 3)), np.ones(3))


@jit_only
@pytest.mark.skipif(config.BOUNDSCHECK, reason="vectorising is the shipped build's property")
def test_direct_blocks_are_vectorised_and_the_slp_switch_is_scoped():
    """Blocks compile to packed FMAs with ``njit(slp=True)`` (fresh compiles of the two quickest
    blocks' source, one per lane kind: Numba cannot show the code of cached kernels, and the
    unrolled blocks take seconds each to compile); Numba's own SLP setting is back to what it
    was afterwards."""
    import re
    import numba
    from tinygrad_nn.kernels import _direct_blocks as DB, njit
    before = numba.core.config.SLP_VECTORIZE
    options = dict(nogil=True, error_model="numpy", fastmath={"contract"}, slp=True)
    by_pixels = njit(**options)(DB.forward_blocks.py_func)
    by_channels = njit(**options)(DB.forward_pixel_blocks.py_func)
    f32, offsets = np.float32, np.zeros(1, np.int64)  # one tap at offset 0, one block
    by_pixels(np.ones((2, 48), f32), np.ones((2, 1, 8), f32), offsets, np.zeros(8, f32),
              np.empty((8, 16), f32), np.zeros((1, 2), np.int64))
    by_channels(np.ones((2, 16), f32), np.ones((2, 1, 32), f32), offsets, np.arange(8),
                np.empty((8, 32), f32))
    assert numba.core.config.SLP_VECTORIZE == before
    for kernel in (by_pixels, by_channels):
        packed = re.findall(r"vfmadd\w*ps\s[^\n]*%[yz]mm", kernel.inspect_asm(kernel.signatures[0]))
        assert len(packed) >= 8, kernel.__name__  # scalar code has none


def test_generated_direct_blocks_are_up_to_date():
    import subprocess
    tool = Path(__file__).resolve().parents[1] / "tools" / "gen_direct_conv.py"
    assert subprocess.run([sys.executable, str(tool), "--check"]).returncode == 0


@pytest.mark.parametrize("C, O, kernel, dilation, W", [
    (2, 5, (3, 3), (1, 1), 6),     # pixel lanes
    (2, 8, (3, 3), (1, 1), 15),    # pixel lanes in the output's layout (16 columns)
    (11, 33, (2, 3), (1, 2), 6)])  # channel lanes
@pytest.mark.parametrize("per_pass", [1, 2])
def test_direct_weight_gradient_over_tasks_and_passes(monkeypatch, C, O, kernel, dilation, W,
                                                      per_pass):
    """37 images make 16 runs of 2-3 images; with one or two images per weight-gradient pass a
    run takes several passes (the last one partial): every image's gradient counts once."""
    rng = np.random.default_rng(per_pass)
    x, w = rng.standard_normal((37, C, 5, W)), rng.standard_normal((O, C) + kernel)
    padding = (1, 0, 2, 1)
    out_ref, _, _, _ = direct_reference(x, w, np.zeros(O), None, padding, dilation)
    plan = KD._plan(x.astype(np.float32), w.astype(np.float32), padding, dilation, (1, 1), "test")
    (Ho, Wo) = plan.out_size
    assert list(plan.edges) == [37 * r // 16 for r in range(17)]
    assert KD._by_channels(C, O, w[0].size // C) == (O == 33)
    assert plan.in_place == (O == 8)
    monkeypatch.setattr(KD, "GRAD_BLOCKS", per_pass * len(plan.starts))  # images per pass
    monkeypatch.setattr(KD, "GRAD_PIXELS", per_pass * Ho * Wo)
    g = rng.standard_normal(out_ref.shape)
    _, dx_ref, dw_ref, db_ref = direct_reference(x, w, np.zeros(O), g, padding, dilation)
    f32 = lambda a: a.astype(np.float32)  # noqa: E731
    dx, dw, db = KD.direct_backward(f32(x), f32(w), f32(g), padding, dilation)
    for got, want in ((dx, dx_ref), (dw, dw_ref), (db, db_ref)):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_direct_conv_defaults_boundaries_and_messages():
    """Defaults (no padding, no dilation), the exact limits of ``applies``, aligned buffers and
    each argument named in its error."""
    rng = np.random.default_rng(5)
    x, w = rng.standard_normal((2, 3, 6, 5)), rng.standard_normal((4, 3, 2, 3))
    f32 = lambda a: a.astype(np.float32)  # noqa: E731
    valid = direct_reference(x, w, np.zeros(4), None, (0, 0, 0, 0), (1, 1))[0]
    out = KD.direct_forward(f32(x), f32(w), np.zeros(4, np.float32))
    np.testing.assert_allclose(out, valid, rtol=1e-4, atol=1e-4)
    g = rng.standard_normal(valid.shape)
    _, _, dw_ref, _ = direct_reference(x, w, np.zeros(4), g, (0, 0, 0, 0), (1, 1))
    np.testing.assert_allclose(KD.direct_backward(f32(x), f32(w), f32(g))[1], dw_ref,
                               rtol=1e-4, atol=1e-4)
    # MIN_PIXELS output pixels exactly (10 x 10 from 12 x 11 with asymmetric padding), one fewer
    w3 = (16, 16, 3, 3)
    assert KD.MIN_PIXELS == 100
    assert KD.applies((1, 16, 12, 11), w3, (1, 1), (0, 0, 0, 1), (1, 1), 1)
    assert not KD.applies((1, 16, 12, 11), w3, (1, 1), (0, 0, 0, 0), (1, 1), 1)  # 10 x 9
    assert not KD.applies((1, 16, 11, 12), w3, (1, 1), (0, 0, 0, 0), (1, 1), 1)  # 9 x 10
    assert KD.applies((1, 16, 10, 12), w3, (1, 1), (1, 1, 0, 0), (1, 1), 1)
    assert not KD.applies((1, 16, 10, 12), w3, (1, 1), (1, 0, 0, 0), (1, 1), 1)
    assert KD.applies((1, 16, 11, 10), w3, (1, 1), (0, 1, 1, 1), (1, 1), 1)
    assert not KD.applies((1, 16, 11, 10), w3, (1, 1), (0, 1, 1, 0), (1, 1), 1)
    assert KD.applies((1, 16, 11, 12), w3, (1, 1), (1, 0, 0, 0), (1, 1), 1)  # the top counts
    assert KD.applies((1, 16, 12, 11), w3, (1, 1), (0, 0, 1, 0), (1, 1), 1)  # so does the left
    # channel lanes from C*kh*kw = 64 on (any map size)
    assert KD.applies((1, 16, 4, 4), (32, 16, 2, 2), (1, 1), (0, 1, 1, 0), (1, 1), 1)
    assert not KD.applies((1, 21, 4, 4), (32, 21, 1, 3), (1, 1), (0, 0, 1, 1), (1, 1), 1)  # 63
    assert not KD.applies((1, 16, 4, 4), (31, 16, 2, 2), (1, 1), (0, 1, 1, 0), (1, 1), 1)
    buffer = KD._aligned_zeros((3, 5, 7), np.float32)
    assert buffer.shape == (3, 5, 7) and buffer.ctypes.data % 64 == 0 and not buffer.any()
    assert KD._aligned_zeros((9,), np.float64).ctypes.data % 64 == 0
    ones = lambda *shape: np.ones(shape, np.float32)  # noqa: E731
    with pytest.raises(ValueError, match=r"direct_forward: b has shape \(3,\), expected \(4,\)"):
        KD.direct_forward(ones(1, 2, 5, 5), ones(4, 2, 3, 3), ones(3))
    with pytest.raises(ValueError, match=r"direct_backward: grad .*\(1, 4, 3, 3\)"):
        KD.direct_backward(ones(1, 2, 5, 5), ones(4, 2, 3, 3), ones(1, 4, 4, 4))
    with pytest.raises(TypeError, match="direct_backward: grad has dtype float64"):
        KD.direct_backward(ones(1, 2, 5, 5), ones(4, 2, 3, 3), np.ones((1, 4, 3, 3)))
    with pytest.raises(ValueError, match=r"direct_backward: inconsistent arguments x \(1, 2, 5, 5\), "
                                         r"w \(4, 3, 3, 3\), padding \(0, 0, 0, 0\), dilation \(1, 1\)"):
        KD.direct_backward(ones(1, 2, 5, 5), ones(4, 3, 3, 3), ones(1, 4, 3, 3))
    with pytest.raises(TypeError, match="direct_backward: x has dtype float64, expected float32"):
        KD.direct_backward(np.ones((1, 2, 5, 5)), ones(4, 2, 3, 3), ones(1, 4, 3, 3))
    # a (dilated) kernel exactly as tall or as wide as the padded input leaves no output
    for x_shape, w_shape, dilation in [((1, 2, 2, 5), (4, 2, 3, 3), (1, 1)),
                                       ((1, 2, 5, 2), (4, 2, 3, 3), (1, 1)),
                                       ((1, 2, 4, 9), (4, 2, 3, 3), (2, 1)),
                                       ((1, 2, 9, 4), (4, 2, 3, 3), (1, 2))]:
        with pytest.raises(ValueError, match="direct_forward: inconsistent arguments"):
            KD.direct_forward(ones(*x_shape), ones(*w_shape), ones(4), dilation=dilation)
    # strided: from STRIDED_MIN_TAPS taps exactly; output pixels counted whole (9 x 11 = 99 from
    # 20 x 24 with stride 2: fewer than MIN_PIXELS), 10 x 11 from 21 x 23
    assert KD.STRIDED_MIN_TAPS == 64
    assert KD.applies((1, 16, 28, 28), (16, 16, 2, 2), (2, 2), (0, 1, 0, 1), (1, 1), 1)
    assert not KD.applies((1, 21, 28, 28), (16, 21, 1, 3), (2, 2), (0, 0, 1, 1), (1, 1), 1)
    assert not KD.applies((1, 16, 20, 24), w3, (2, 2), (0, 0, 0, 0), (1, 1), 1)
    assert KD.applies((1, 16, 21, 23), w3, (2, 2), (0, 0, 0, 0), (1, 1), 1)


# ---------------------------------------------------------------- whole-array float64 total
from tinygrad_nn.kernels import total as KT  # noqa: E402


@given(arrays(st.sampled_from([np.float32, np.float64]), array_shapes(min_dims=1, max_dims=3),
              elements=st.floats(-1e6, 1e6, width=32)))
def test_total_is_the_float64_sum(a):
    import math
    want = math.fsum(a.astype(np.float64).ravel())
    assert abs(KT.total(a) - want) <= 1e-12 * max(1.0, np.abs(a).astype(np.float64).sum())


def test_total_checks_its_array():
    with pytest.raises(TypeError, match="total: a must be float32 or float64, got int64"):
        KT.total(np.arange(4))
    with pytest.raises(ValueError, match="total: a must be C-contiguous"):
        KT.total(np.ones((4, 4))[:, ::2])
