"""Kill tests for the kernel package's own code (kernels/__init__.py: the cache-guarding njit) and
the convolution, normalisation, embedding and optimizer kernels: see docs/mutation.md.

The kernel-cache tests of tests/test_kernels.py run in fresh processes (what a user sees on
import); the ones here drive the same code in-process, with Numba's cache folder set to a
temporary one and stand-ins for a cache that fails, so each branch is exercised directly.
"""
import re
import warnings

import numba
import numpy as np
import pytest
from numba import config
from numba.core.dispatcher import Dispatcher

from tinygrad_nn import kernels
from tinygrad_nn.kernels import KernelCacheWarning, _SafeCache

jit_only = pytest.mark.skipif(config.DISABLE_JIT, reason="needs compiled kernels")


# ---------------------------------------------------------------- kernels/__init__.py: njit
def _twice(x):
    return 2 * x


def _plus_one(x):
    return x + 1


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    """Numba caches in a fresh temporary folder, and the one-time warning is re-armed."""
    monkeypatch.setattr(numba.config, "CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(kernels, "_warned_no_cache", False)
    return tmp_path


@jit_only
def test_njit_with_cache_writes_then_loads_the_disk_cache(cache_dir):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a working cache warns about nothing
        first = kernels.njit(cache=True, error_model="numpy")(_twice)
        assert isinstance(first, Dispatcher) and isinstance(first._cache, _SafeCache)
        assert first._cache._name == "_twice"
        assert str(cache_dir) in first._cache.cache_path  # delegated to Numba's own cache
        assert first.targetoptions["error_model"] == "numpy" and "cache" not in first.targetoptions
        assert first(np.float64(3.0)) == 6.0
        assert sum(first.stats.cache_misses.values()) == 1
        assert list(cache_dir.rglob("*_twice*.nbi")) and list(cache_dir.rglob("*_twice*.nbc"))
        second = kernels.njit(cache=True, error_model="numpy")(_twice)  # as a new process would
        assert second(np.float64(4.0)) == 8.0
        assert sum(second.stats.cache_hits.values()) == 1 and not second.stats.cache_misses


@jit_only
def test_njit_without_cache_and_bare_njit_compile_in_memory(cache_dir):
    for made in (kernels.njit(_plus_one), kernels.njit()(_plus_one), kernels.njit(cache=False)(_plus_one)):
        assert isinstance(made, Dispatcher)
        assert not isinstance(made._cache, _SafeCache)
        assert made(np.int64(1)) == 2
    assert not list(cache_dir.rglob("*"))


@jit_only
def test_njit_of_a_function_nowhere_cacheable_warns_once_and_compiles(cache_dir):
    # a module body decorating a kernel, run by exec: no source file, so no cache locator
    namespace = {"njit": kernels.njit}
    body = "@njit(cache=True)\ndef made_by_exec(x):\n    return x - 1\n"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        exec(body, namespace)  # this line imports the "module"
        made = namespace["made_by_exec"]
        again = kernels.njit(cache=True)(made.py_func)
    warned = [w for w in caught if w.category is KernelCacheWarning]
    messages = [str(w.message) for w in warned]
    assert len(messages) == 1, messages
    # the warning names the code importing the module that holds the kernel, not the library
    assert warned[0].filename == __file__
    assert re.fullmatch(
        r"tinygrad_nn: Numba has nowhere writable to cache compiled kernels \(cannot cache function "
        r"'made_by_exec': no locator available for file '<string>'\); they compile in memory in every "
        r"process instead \(slower first calls\)\. Set NUMBA_CACHE_DIR to a writable folder to cache "
        r"them\.", messages[0])
    assert isinstance(made, Dispatcher) and made(np.int64(5)) == 4 and again(np.int64(1)) == 0


class _Cache:
    """A stand-in for Numba's cache whose reads and writes fail as told."""
    cache_path = "/nowhere/cache"

    def __init__(self, load=None, flush=None, save=None):
        self.errors = {"load": load, "flush": flush, "save": save}
        self.calls = []

    def _do(self, what, value=None):
        self.calls.append(what)
        if self.errors.get(what):
            raise self.errors[what]
        return value

    def load_overload(self, sig, target_context):
        return self._do("load", ("loaded", sig, target_context))

    def save_overload(self, sig, data):
        return self._do("save")

    def flush(self):
        return self._do("flush")

    def disable(self):
        self.calls.append("disable")


def test_safe_cache_passes_working_loads_and_saves_through():
    inner = _Cache()
    cache = _SafeCache(inner, "kern")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert cache.load_overload("sig", "ctx") == ("loaded", "sig", "ctx")
        assert cache.save_overload("sig", "data") is None
    assert inner.calls == ["load", "save"]
    assert cache.cache_path == "/nowhere/cache"  # anything else is the wrapped cache's


@pytest.mark.parametrize("error", [EOFError("Ran out of input"), ValueError("bad pickle")])
def test_safe_cache_damaged_entry_warns_flushes_and_recompiles(error):
    inner = _Cache(load=error)
    with pytest.warns(KernelCacheWarning) as caught:
        assert _SafeCache(inner, "mod.kern").load_overload("sig", "ctx") is None
    assert len(caught) == 1
    assert str(caught[0].message) == (
        f"tinygrad_nn: the cached Numba kernel mod.kern in /nowhere/cache is damaged "
        f"({type(error).__name__}: {error}); recompiling it")
    assert caught[0].filename == __file__  # stacklevel=2: the caller of load_overload
    assert inner.calls == ["load", "flush"]  # flushed, not disabled: the recompile is saved


def test_safe_cache_that_cannot_even_flush_is_disabled():
    inner = _Cache(load=EOFError(), flush=PermissionError("read-only"))
    with pytest.warns(KernelCacheWarning, match=r"is damaged \(EOFError: \); recompiling it$"):
        assert _SafeCache(inner, "kern").load_overload("sig", "ctx") is None
    assert inner.calls == ["load", "flush", "disable"]


def test_safe_cache_failed_save_disables_the_cache_and_warns_once(monkeypatch):
    monkeypatch.setattr(kernels, "_warned_no_cache", False)
    first, second = _Cache(save=OSError("disk full")), _Cache(save=PermissionError("read-only"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert _SafeCache(first, "a").save_overload("sig", "data") is None
        assert _SafeCache(second, "b").save_overload("sig", "data") is None
    assert first.calls == ["save", "disable"] and second.calls == ["save", "disable"]
    messages = [str(w.message) for w in caught if w.category is KernelCacheWarning]
    assert messages == ["tinygrad_nn: Numba has nowhere writable to cache compiled kernels (disk full); "
                        "they compile in memory in every process instead (slower first calls). Set "
                        "NUMBA_CACHE_DIR to a writable folder to cache them."]
    assert kernels._warned_no_cache is True


def test_kernel_cache_warning_is_a_runtime_warning():
    assert issubclass(KernelCacheWarning, RuntimeWarning)
    assert kernels.__all__ == ["njit", "KernelCacheWarning"]


# ---------------------------------------------------------------- kernels/optim.py
ADAM = dict(beta1=0.9, one_minus_beta1=0.1, beta2=0.999, one_minus_beta2=0.001, bias2_sqrt=0.05,
            eps=1e-8, step_size=0.01, lerp_small=True)


@pytest.mark.parametrize("weight_decay, decay_factor", [(1.0, 1.0), (0.0, 2.0), (1.0, 2.0), (0.5, 0.25)])
def test_adam_kernel_applies_any_decay_exactly_as_its_reference(weight_decay, decay_factor):
    """The kernel skips the multiply for decay_factor == 1 and the add for weight_decay == 0
    only: every other value (1 and 2 included) is applied as in the numpy reference."""
    from tinygrad_nn.kernels.optim import adam_step, adam_step_reference

    rng = np.random.default_rng(5)
    arrays = [rng.standard_normal(7), rng.standard_normal(7), rng.standard_normal(7), rng.random(7)]
    got, want = [a.copy() for a in arrays], [a.copy() for a in arrays]
    adam_step(*got, weight_decay=weight_decay, decay_factor=decay_factor, **ADAM)
    adam_step_reference(*want, weight_decay=weight_decay, decay_factor=decay_factor, **ADAM)
    for x, y in zip(got, want):
        np.testing.assert_array_equal(x, y)
    p, g = arrays[0] * decay_factor, arrays[1] + arrays[0] * decay_factor * weight_decay
    m = arrays[2] + 0.1 * (g - arrays[2])
    v = arrays[3] * 0.999 + 0.001 * g * g
    np.testing.assert_allclose(got[0], p - 0.01 * m / (np.sqrt(v) / 0.05 + 1e-8), rtol=1e-12)


def test_adam_kernel_size_message_is_exact():
    from tinygrad_nn.kernels.optim import adam_step

    a = np.zeros(4)
    with pytest.raises(ValueError, match=r"^adam_step: p, g, m and v must have the same size$"):
        adam_step(a, a.copy(), np.zeros(3), a.copy(), weight_decay=0.0, decay_factor=1.0, **ADAM)


# ---------------------------------------------------------------- kernels/embedding.py
def test_embedding_backward_checks_grad_by_name():
    from tinygrad_nn.kernels.embedding import embedding_backward

    with pytest.raises(ValueError, match=r"^embedding_backward: grad must be 2-D, got shape \(2,\)$"):
        embedding_backward(np.array([0, 1]), np.ones(2), 3, -1)
