"""Numba kernels: arrays in, arrays out (no Tensor here). Compiled lazily, cached on disk.

activations  fused elementwise activations, forward and backward
softmax      row-wise softmax, log-softmax, logsumexp and fused cross-entropy
conv         2-D convolution (strides, dilation, groups: im2col over phase planes + BLAS GEMMs,
             images split over tinygrad_nn.threads) and its gradients
pool         2-D max and average pooling (with padding) and their gradients
optim        fused in-place optimizer updates (Adam)
norm         per-channel normalisation statistics, affine and backward (batch/layer norm)
embedding    scatter-add of embedding gradients
blas         numpy's BLAS gemm called from inside kernels (views, transposes, accumulation)
vecmath      exp/expm1/log1p/tanh that SIMD-vectorise inside Numba loops

Every kernel is compiled through `njit` below: Numba's own, with a disk cache that cannot break
the library. Where Numba finds nowhere writable to cache (a read-only install and a read-only
home), kernels compile in memory each process, with one `KernelCacheWarning`; a damaged cache
file (a truncated or foreign index or data file) is recompiled and rewritten, with a warning,
instead of raising Numba's ``UnpicklingError``/``EOFError``.
"""
import contextlib
import warnings

import numba
from numba.core.compiler_lock import global_compiler_lock
from numba.core.dispatcher import Dispatcher

__all__ = ["njit", "KernelCacheWarning"]


class KernelCacheWarning(RuntimeWarning):
    """Numba's on-disk kernel cache could not be used: kernels compile in memory instead."""


_warned_no_cache = False


def _warn_no_cache(func, exc):
    global _warned_no_cache
    if not _warned_no_cache:
        _warned_no_cache = True
        warnings.warn(
            f"tinygrad_nn: Numba has nowhere writable to cache compiled kernels ({exc}); they "
            "compile in memory in every process instead (slower first calls). Set "
            "NUMBA_CACHE_DIR to a writable folder to cache them.", KernelCacheWarning,
            stacklevel=4)


class _SafeCache:
    """Numba's per-function cache, with any failure to read or write it turned into a warning
    and a fresh compile (Numba calls ``load_overload``/``save_overload`` from
    ``Dispatcher.compile``; everything else is delegated)."""

    def __init__(self, cache, name):
        self._cache, self._name = cache, name

    def __getattr__(self, attr):
        return getattr(self._cache, attr)

    def load_overload(self, sig, target_context):
        try:
            return self._cache.load_overload(sig, target_context)
        except Exception as exc:  # a damaged index or data file: pickle/EOF/OS/... errors
            warnings.warn(
                f"tinygrad_nn: the cached Numba kernel {self._name} in {self._cache.cache_path} "
                f"is damaged ({type(exc).__name__}: {exc}); recompiling it", KernelCacheWarning,
                stacklevel=2)
            try:
                self._cache.flush()  # an empty index: the recompiled kernel is saved afresh
            except Exception:
                self._cache.disable()
            return None

    def save_overload(self, sig, data):
        try:
            self._cache.save_overload(sig, data)
        except Exception as exc:  # the folder became read-only, the disk is full, ...
            self._cache.disable()
            _warn_no_cache(self._name, exc)


@contextlib.contextmanager
def _slp_vectorize():
    """LLVM's SLP vectoriser switched on for the compiles inside, under Numba's compiler lock.
    Numba keeps it off by default (numba#8852: miscompilations seen in 2023). Only the config
    attribute is set: a compile re-reads the config only when a NUMBA_ environment variable
    changed since the last read, and then compiles without it (slower code, never wrong)."""
    with global_compiler_lock:
        saved = numba.core.config.SLP_VECTORIZE
        numba.core.config.SLP_VECTORIZE = 1
        try:
            yield
        finally:
            numba.core.config.SLP_VECTORIZE = saved


def _compiled_with_slp(dispatcher):
    """``dispatcher``, every compile of it (a first call, a caller typing a call to it, a cache
    load) run with the SLP vectoriser on. Only for kernels written for it: straight-line code
    whose independent lanes it packs into vector registers."""
    compile_ = dispatcher.compile

    def compile(sig):
        with _slp_vectorize():
            return compile_(sig)

    dispatcher.compile = compile
    return dispatcher


def njit(*args, slp=False, **options):
    """``numba.njit`` (same arguments), whose ``cache=True`` degrades to an in-memory compile
    with a `KernelCacheWarning` when the disk cache is unusable, instead of raising; ``slp=True``
    compiles with LLVM's SLP vectoriser (off in Numba by default)."""
    cache = options.pop("cache", False)

    def decorate(func):
        dispatcher = numba.njit(**options)(func)
        if not isinstance(dispatcher, Dispatcher):  # NUMBA_DISABLE_JIT=1: plain Python
            return dispatcher
        if cache:
            try:
                dispatcher.enable_caching()
            except RuntimeError as exc:  # "cannot cache function ...: no locator available"
                _warn_no_cache(func.__qualname__, exc)
            else:
                dispatcher._cache = _SafeCache(dispatcher._cache, func.__qualname__)
        return _compiled_with_slp(dispatcher) if slp else dispatcher

    if args:  # bare @njit
        return decorate(*args)
    return decorate
