"""Threads: how many cores the kernels use, a blocking worker pool, and BLAS kept to one thread.

``set_num_threads(n)`` / ``get_num_threads()`` (default: the cores this process may run on)
set how many threads convolution, pooling and large matrix products use. Work is split by this
module's own pool, never by the BLAS library's: each worker runs *single-threaded* GEMMs on its
share (a chunk of images, or a block of rows). Why not let OpenBLAS thread its GEMMs:

* its worker threads spin between and inside calls; when another process takes a core, the
  GEMM waits for a descheduled spinner, and many small GEMMs (a convolution's per-image ones)
  collapse 5-100x (measured here: a 64x288x286 sgemm took 150 us on one thread, 22 ms on two
  while a neighbour was busy);
* concurrent calls from several threads serialise on its server lock.

Our pool instead hands out tasks one at a time from a shared counter; a thread that loses its
core simply takes fewer tasks, and every wait blocks in the kernel (futex), so an idle worker
costs nothing. Convolution and pooling results never depend on the thread count: their split
into tasks depends only on the shapes, and partial sums (a convolution's weight gradient) are
added in task order.

BLAS itself is held at one thread while our workers call it (``single_threaded_blas``). Its
thread count is a process-wide setting, so the limit is reference-counted under a lock: the
first of any number of concurrent users saves the count it found, the last one restores it
(threadpoolctl's ``threadpool_limits`` saves and restores per call, which is not thread-safe:
two overlapping calls leave the process at one thread). Python threads of the user's own that
call BLAS while a convolution runs see one BLAS thread for that time.
"""
from __future__ import annotations

import os
import queue
import threading

from ._validation import check_int

__all__ = ["get_num_threads", "set_num_threads", "single_threaded_blas", "parallel_for",
           "matmul", "blas_paths"]

# OpenBLAS runs a GEMM on one thread by itself below m*n*k = 65536*4 (SMP_THRESHOLD_MIN *
# GEMM_MULTITHREAD_THRESHOLD in its interface/gemm.c): such products need no limit at all.
BLAS_SELF_SINGLE = 65536 * 4
# Below this much work (multiply-adds) a product stays on the calling thread: splitting it costs
# more (a wake-up, packing the shared operand again per block) than the second core returns.
PARALLEL_MIN_WORK = 1 << 22

_lock = threading.Lock()
_num_threads = None        # set by set_num_threads; None: the usable cores
_cores = None
_blas = None               # {"numpy": (...), "numba": (...), "all": (...)} of _Blas


def _usable_cores():
    global _cores
    if _cores is None:
        try:
            _cores = len(os.sched_getaffinity(0))
        except (AttributeError, OSError):  # pragma: no cover - not Linux
            _cores = os.cpu_count() or 1
    return _cores


def get_num_threads():
    """Number of threads the kernels use.

    Returns
    -------
    int
        The value given to :func:`set_num_threads`, by default the number of cores this
        process may run on (its CPU affinity), as PyTorch does.
    """
    return _num_threads or _usable_cores()


def set_num_threads(n):
    """Use ``n`` threads in convolution, pooling and large matrix products.

    Also sets the thread count of the BLAS libraries numpy and scipy loaded (as
    ``torch.set_num_threads`` does for PyTorch's own pool), so matrix products made directly
    with numpy follow the same setting.

    Parameters
    ----------
    n : int
        Number of threads, at least 1. More threads than cores is allowed (useful to test).
    """
    global _num_threads
    n = check_int("n", n, low=1, owner="set_num_threads")
    libs = _blas_libraries()["all"]
    with _lock:
        _num_threads = n
        for lib in libs:
            if lib.depth:  # a section holds it at 1: restore to the new count when it closes
                lib.saved = n
            else:
                lib.set(n)


class _Blas:
    """One loaded BLAS library: its thread-count getter and setter, called directly (threadpoolctl's
    OpenBLAS setter silently ignores every thread but the first one that used it), and how many
    ``single_threaded_blas`` sections hold it at one thread."""

    __slots__ = ("get", "set", "depth", "saved", "path")

    def __init__(self, controller):
        self.path = controller.filepath
        get = set_ = None
        if controller.internal_api == "openblas":
            get = controller._get_symbol("openblas_get_num_threads")
            set_ = controller._get_symbol("openblas_set_num_threads")
        self.get = get or controller.get_num_threads
        self.set = set_ or getattr(controller, "_real_set_num_threads", controller.set_num_threads)
        self.depth, self.saved = 0, None


def _blas_libraries():
    """The BLAS libraries loaded, by user: numpy's matmul calls its own, Numba's ``np.dot``
    calls scipy's (loaded here first so that it is found); "all" is both."""
    global _blas
    if _blas is None:
        import numpy  # noqa: F401
        import scipy.linalg.cython_blas  # noqa: F401
        from threadpoolctl import ThreadpoolController

        controllers = ThreadpoolController().select(user_api="blas").lib_controllers
        libs = tuple(_Blas(c) for c in controllers)
        paths = [c.filepath for c in controllers]
        numba = tuple(lib for lib, path in zip(libs, paths) if "scipy.libs" in path) or libs
        numpy_ = tuple(lib for lib, path in zip(libs, paths) if "scipy.libs" not in path) or libs
        with _lock:
            if _blas is None:
                _blas = {"all": libs, "numba": numba, "numpy": numpy_}
    return _blas


def blas_paths(users="numpy"):
    """File paths of the BLAS libraries that ``users`` ("numpy", "numba" or "all") call."""
    return [lib.path for lib in _blas_libraries()[users]]


class single_threaded_blas:
    """Context manager: the BLAS libraries of ``users`` ("numpy": numpy's matmul, "numba": the
    kernels' ``np.dot``, or "all") run on one thread while any thread is inside.

    Reference-counted across threads, per library: the first to enter saves the library's
    thread count and sets it to 1, the last to leave restores what the first one found. Nested
    and concurrent use is safe.
    """

    __slots__ = ("users",)

    def __init__(self, users="all"):
        self.users = users

    def __enter__(self):
        libs = _blas_libraries()[self.users]
        with _lock:
            for lib in libs:
                if lib.depth == 0:
                    lib.saved = lib.get()
                    if lib.saved != 1:
                        lib.set(1)
                lib.depth += 1
        return self

    def __exit__(self, *exc):
        libs = _blas[self.users]
        with _lock:
            for lib in libs:
                lib.depth -= 1
                if lib.depth == 0 and lib.saved != 1:
                    lib.set(lib.saved)
        return False


# ------------------------------------------------------------------ the worker pool


class _Job:
    """``ntasks`` calls ``fn(task, slot)``, claimed one at a time by up to ``width`` threads;
    ``slot`` in [0, width) is unique among the threads working on the job at once (for
    per-thread scratch buffers)."""

    __slots__ = ("fn", "ntasks", "next", "slots", "pending", "lock", "done", "error")

    def __init__(self, fn, ntasks):
        self.fn, self.ntasks = fn, ntasks
        self.next = self.slots = 0
        self.pending = ntasks
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.error = None

    def work(self):
        with self.lock:
            slot = self.slots
            self.slots += 1
        while True:
            with self.lock:
                task = self.next
                if task >= self.ntasks:
                    return
                self.next += 1
            try:
                if self.error is None:
                    self.fn(task, slot)
            except BaseException as error:  # handed to the caller, which re-raises it
                self.error = error
            finally:
                with self.lock:
                    self.pending -= 1
                    if self.pending == 0:
                        self.done.set()


_queue = queue.SimpleQueue()
_workers = []
_workers_lock = threading.Lock()


def _worker_loop(jobs):
    while True:
        jobs.get().work()  # blocks in the kernel while idle: no spinning


def _ensure_workers(count):
    if len(_workers) >= count:
        return
    with _workers_lock:
        while len(_workers) < count:
            thread = threading.Thread(target=_worker_loop, args=(_queue,), daemon=True,
                                      name=f"tinygrad_nn-worker-{len(_workers)}")
            thread.start()
            _workers.append(thread)


def parallel_for(fn, ntasks, width=None):
    """Call ``fn(task, slot)`` for every task in ``range(ntasks)``, on up to ``width`` threads.

    The calling thread works too and returns when every task has finished; the first exception
    raised by a task is re-raised here (the remaining tasks are skipped). ``slot`` numbers the
    threads working on this call from 0 (the caller) to ``width - 1``, so ``fn`` can index
    per-thread scratch space. ``width`` defaults to :func:`get_num_threads`.
    """
    width = min(get_num_threads() if width is None else width, ntasks)
    if width <= 1:
        for task in range(ntasks):
            fn(task, 0)
        return
    job = _Job(fn, ntasks)
    _ensure_workers(width - 1)
    for _ in range(width - 1):
        _queue.put(job)
    job.work()
    job.done.wait()
    if job.error is not None:
        raise job.error


def _after_fork_in_child():
    """A forked child has none of the parent's threads: start a fresh pool and lock."""
    global _queue, _workers, _workers_lock, _lock
    _queue, _workers, _workers_lock, _lock = queue.SimpleQueue(), [], threading.Lock(), threading.Lock()
    for lib in (_blas or {}).get("all", ()):
        lib.depth = 0


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


# ------------------------------------------------------------------ matrix products


_NUMPY_SECTION = single_threaded_blas("numpy")


def matmul(a, b):
    """``a @ b`` for 2-D float arrays, split over the pool's threads when large.

    Products under ``BLAS_SELF_SINGLE`` multiply-adds go straight to BLAS, which keeps them on
    one thread by itself. Larger ones run with BLAS held to one thread: on the calling thread
    when :func:`get_num_threads` is 1 or the product is under ``PARALLEL_MIN_WORK`` (no idle
    BLAS thread is woken for it), otherwise cut into ``2 * get_num_threads()`` blocks of rows
    (or of columns, whichever repacks the smaller operand), each a single-threaded GEMM taken
    by the next free thread. At one thread the result is numpy's ``a @ b`` bit for bit.
    """
    import numpy as np

    m, k = a.shape
    n = b.shape[1]
    work = m * n * k
    if work < BLAS_SELF_SINGLE:
        return a @ b
    threads = get_num_threads()
    by_rows = n <= m          # a row block repacks b (k x n), a column block repacks a (m x k)
    size = m if by_rows else n
    blocks = min(2 * threads, size // 32)
    with _NUMPY_SECTION:
        if threads == 1 or work < PARALLEL_MIN_WORK or blocks < 2:
            return a @ b
        out = np.empty((m, n), dtype=np.result_type(a, b))
        edges = [size * i // blocks for i in range(blocks + 1)]

        def block(task, slot):
            lo, hi = edges[task], edges[task + 1]
            if by_rows:
                np.matmul(a[lo:hi], b, out=out[lo:hi])
            else:
                np.matmul(a, b[:, lo:hi], out=out[:, lo:hi])

        parallel_for(block, blocks, threads)
        return out
