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
core simply takes fewer tasks, and every wait ends blocked in the kernel (futex), so an idle
worker costs nothing. Before blocking, an idle worker (and a caller waiting for its job's last
task) polls a flag for at most about 0.2 ms, without the GIL and yielding the core between
reads (``kernels/wait.py``): a training step's operations follow each other that closely, and a
futex wake-up took 25-125 us here. A worker that finishes a job's last task announces it only
once it has looked for its next job, just before it gives up the GIL to wait: the caller, which
needs the GIL back as soon as it sees the end, then rarely finds it held (from 10-40 us to 7-17
us between the last task's end and the caller's return, splitting a 78 us BatchNorm pass).
Convolution and pooling results never depend on the thread
count: their split into tasks depends only on the shapes, and partial sums (a convolution's
weight gradient) are added in task order.

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
import time

import numpy as np

from ._validation import check_int

__all__ = ["get_num_threads", "set_num_threads", "single_threaded_blas", "parallel_for",
           "matmul", "matmul_pair", "blas_paths"]

# OpenBLAS runs a GEMM on one thread by itself below m*n*k = 65536*4 (SMP_THRESHOLD_MIN *
# GEMM_MULTITHREAD_THRESHOLD in its interface/gemm.c): such products need no limit at all.
BLAS_SELF_SINGLE = 65536 * 4
# Each block of a split product gets at least this many multiply-adds. Smaller blocks would run
# OpenBLAS's small-matrix kernels (M*N*K <= 1e6), which round differently from the whole
# product's, and the hand-off to a worker (about 10 us) would no longer be small beside them.
MIN_BLOCK_WORK = 1 << 20
# Products under this many multiply-adds are not split at all. The seed MLP's 100x784 @ 784x50
# (3.9M) split in two measured 103-155 us against 96-105 us whole on this machine under the
# load we had (a worker wake-up and the join cost about as much as half the product), and
# unpaid tries of such splits made the seed MLP loop 25-30% slower under contention.
SPLIT_MIN_WORK = 1 << 22
# Block edges fall on multiples of these (rows, columns) of the product, per dtype; None: never
# cut that way. OpenBLAS computes a product in tiles (SkylakeX: 16 rows for float32, 24 for
# float64); a cut between tiles leaves every tile, and so every bit, as in the whole product.
# Measured with numpy's OpenBLAS 0.3.31: such cuts (blocks above MIN_BLOCK_WORK) gave the whole
# product's bits in all of 2,700 random products split at 2-4 threads (shapes 8-1500, both
# dtypes, transposed operands); float64 cuts across columns, even at multiples of 192, did not. Other dtypes are not split. (Keyed by dtype:
# ``dtype.name`` costs a microsecond, a dict lookup a tenth of that.)
EDGE_MULTIPLES = {np.dtype(np.float32): (16, 16), np.dtype(np.float64): (48, None)}
# A split pays when it takes at most this share of the time the calling thread would take for
# the whole product. ``UNPAID_STRIKES`` unpaid splits in a row (the worker was held back by a
# busy core) make products run whole for a while: 10 ms after the first such run, doubling with
# each later one up to 1 s, so that under lasting contention a split is tried about once a
# second (a failed try can cost a millisecond: under a load average of 4, unpaid tries every
# 1-100 ms made the seed MLP loop 995 ms against 746 ms with none) and a quiet machine is
# noticed within a second. One unpaid split alone is not evidence: the first split after the
# process sat idle, or right after another library's threads ran, routinely finds the worker
# slow to wake or woken onto the caller's core (measured here on the wide MLP step: pausing on
# the first one kept it whole, 39 ms a step, against 23 ms split).
PAYING_SHARE = 0.8
UNPAID_STRIKES = 2
FIRST_WHOLE_SECONDS, MAX_WHOLE_SECONDS = 0.01, 1.0
# How many times (a sched_yield apart, about 0.5 us each) an idle worker re-reads the count of
# jobs handed out before it blocks, and the calling thread the end of its job's last task (see
# kernels/wait.py): a waker's futex took 25-125 us to reach a blocked thread on this VM.
WORKER_SPIN_ROUNDS = 400
JOIN_SPIN_ROUNDS = 400
# ... and how many more times a worker that saw a job posted yields before it takes the GIL: the
# caller holds the GIL a few microseconds more, until its own first task enters compiled code,
# and a thread that finds the GIL held sleeps in the kernel (see kernels/wait.py). Splitting a
# 78 us BatchNorm pass, the worker started 23-36 us after the call with none, 11 us with 10.
HANDOFF_ROUNDS = 10

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

    __slots__ = ("fn", "ntasks", "next", "slots", "pending", "lock", "done", "finished", "error")

    def __init__(self, fn, ntasks):
        self.fn, self.ntasks = fn, ntasks
        self.next = self.slots = 0
        self.pending = ntasks
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.finished = np.zeros(1, np.int64)  # 1 with ``done``: what the caller polls
        self.error = None

    def work(self):
        """Claim and run tasks until none is left; True if this thread ran the job's last
        task to finish (it then owes the waiting caller ``finish()``)."""
        with self.lock:
            slot = self.slots
            self.slots += 1
        last = False
        while True:
            with self.lock:
                task = self.next
                if task >= self.ntasks:
                    return last
                self.next += 1
            try:
                if self.error is None:
                    self.fn(task, slot)
            except BaseException as error:  # handed to the caller, which re-raises it
                self.error = error
            finally:
                with self.lock:
                    self.pending -= 1
                    last = self.pending == 0

    def finish(self):
        """Tell the caller the job is over: the event for a blocked caller, then the flag a
        polling one reads."""
        self.done.set()
        self.finished[0] = 1


_queue = queue.SimpleQueue()
_posted = np.zeros(1, np.int64)  # jobs put on the queue so far: what idle workers poll
_workers = []
_workers_lock = threading.Lock()


def _worker_loop(jobs):
    from .kernels.wait import await_change

    ended = None  # a job whose last task this thread finished, not yet announced
    while True:
        seen = int(_posted[0])  # read before looking at the queue: a job put after it shows
        try:
            job = jobs.get_nowait()
        except queue.Empty:
            job = None
        if ended is not None:
            # announced as late as possible: a caller polling for it next needs the GIL, which
            # this thread gives up just below (a caller that finds it held blocks, and waking
            # a blocked thread took 25-125 us on this VM)
            ended.finish()
            ended = None
        if job is None:
            await_change(_posted, 0, seen, WORKER_SPIN_ROUNDS, HANDOFF_ROUNDS)  # a short poll,
            job = jobs.get()  # then block in the kernel: an idle worker costs nothing
        if job.work():
            ended = job


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
    _posted[0] += 1
    if job.work():
        job.finish()
    _wait_for(job)
    if job.error is not None:
        raise job.error


def _wait_for(job):
    """Wait until the other threads' tasks of ``job`` have finished: first by polling without
    the GIL (``JOIN_SPIN_ROUNDS``), then blocking. Blocking alone costs the caller a kernel
    wake-up when the last task ends."""
    if not job.done.is_set():
        from .kernels.wait import await_change

        await_change(job.finished, 0, 0, JOIN_SPIN_ROUNDS)
    job.done.wait()


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


def _split_plan(m, k, n, dtype, threads):
    """How ``matmul`` cuts an (m, k) @ (k, n) product over ``threads`` threads: ``(by_rows,
    edges)``, or None to leave it whole.

    At most one block per thread (a block that a descheduled thread has not claimed is taken by
    the next free one, so a busy core costs at most the split's gain), cut across the dimension
    whose blocks repack the smaller shared operand (a block of rows packs all of b, a block of
    columns all of a), the other one when the first has no room; edges on ``EDGE_MULTIPLES``,
    every block at least ``MIN_BLOCK_WORK`` multiply-adds, none for products under
    ``SPLIT_MIN_WORK``.
    """
    multiples = EDGE_MULTIPLES.get(dtype)
    if threads < 2 or multiples is None or m * n * k < SPLIT_MIN_WORK:
        return None
    for by_rows in ((True, False) if n <= m else (False, True)):
        size, multiple = (m, multiples[0]) if by_rows else (n, multiples[1])
        if multiple is None:
            continue
        per_unit = m * n * k // size  # multiply-adds per row (or column) of the product
        for blocks in range(min(threads, size // multiple), 1, -1):
            edges = _block_edges(size, blocks, multiple)
            if min(hi - lo for lo, hi in zip(edges, edges[1:])) * per_unit >= MIN_BLOCK_WORK:
                return by_rows, edges
    return None


def _block_edges(size, blocks, multiple):
    """``blocks + 1`` edges from 0 to ``size``, the inner ones the multiples of ``multiple``
    nearest to an even cut (needs ``size >= blocks * multiple``)."""
    inner = [round(size * i / blocks / multiple) * multiple for i in range(1, blocks)]
    return [0, *inner, size]


class _SplitRecord:
    """Whether splitting products has been paying lately (see ``PAYING_SHARE``): until
    ``whole_until`` (a ``time.perf_counter`` reading) products run whole; ``next_pause`` is
    how long the next pause lasts; ``unpaid`` counts the unpaid splits since the last one that
    paid (after a pause one more unpaid split starts the next, longer pause)."""

    __slots__ = ("whole_until", "next_pause", "unpaid")

    def __init__(self):
        self.whole_until, self.next_pause, self.unpaid = 0.0, FIRST_WHOLE_SECONDS, 0

    def may_split(self, now):
        return now >= self.whole_until

    def record(self, seconds, whole_seconds, now):
        """A split ending at ``now`` took ``seconds``; on one thread it would have taken
        ``whole_seconds``."""
        if seconds <= PAYING_SHARE * whole_seconds:
            self.next_pause, self.unpaid = FIRST_WHOLE_SECONDS, 0
            return
        self.unpaid += 1
        if self.unpaid >= UNPAID_STRIKES:
            self.whole_until = now + self.next_pause
            self.next_pause = min(2 * self.next_pause, MAX_WHOLE_SECONDS)
            self.unpaid = UNPAID_STRIKES - 1


_split_record = _SplitRecord()


def matmul(a, b):
    """``a @ b`` for 2-D float arrays, on :func:`get_num_threads` threads when large enough.

    Every product of ``BLAS_SELF_SINGLE`` multiply-adds or more runs with BLAS held to one
    thread; at two threads or more it is cut into one block of rows or columns per thread
    (``_split_plan``), each a single-threaded GEMM run by the pool, unless recent splits did
    not pay (``_SplitRecord``: a busy core). Whole or split, the result is numpy's ``a @ b``
    on one BLAS thread bit for bit, so neither the thread count nor the load changes it.

    Why not BLAS's own threads (numpy's OpenBLAS 0.3.31 on this 2-core machine): their results
    differ from the one-thread product in the last bits for many shapes (51 of 128 shapes,
    dtypes and layouts tried, the seed MLP's 100x784 @ 784x50 among them), so the thread count
    would change results; and their spinning workers collapse under a busy neighbour (5-100x,
    see above).
    """
    m, k = a.shape
    n = b.shape[1]
    if m * n * k < BLAS_SELF_SINGLE:
        return a @ b
    threads = get_num_threads()
    plan = _split_plan(m, k, n, np.result_type(a, b), threads) if threads > 1 else None
    with _NUMPY_SECTION:
        if plan is None or not _split_record.may_split(time.perf_counter()):
            return a @ b
        return _split_product(a, b, *plan)


def matmul_pair(a1, b1, a2, b2):
    """``(a1 @ b1, a2 @ b2)`` for two independent 2-D products (a layer's input and weight
    gradients).

    At two threads or more, when each product is large enough to be split and neither has more
    than twice the other's work, each runs whole on a thread of its own: no operand is packed
    twice, as in a split (which costs 1-10% more work, measured on the wide MLP's products).
    Otherwise one :func:`matmul` after the other. The same bits either way, and the same
    back-off when running in parallel does not pay.
    """
    pairs = ((a1, b1), (a2, b2))
    works = [a.shape[0] * a.shape[1] * b.shape[1] for a, b in pairs]
    large = max(SPLIT_MIN_WORK, 2 * MIN_BLOCK_WORK)
    if (get_num_threads() < 2 or min(works) < large or max(works) > 2 * min(works)
            or not _split_record.may_split(time.perf_counter())):
        return matmul(a1, b1), matmul(a2, b2)
    outs = [None, None]

    def product(i):
        outs[i] = pairs[i][0] @ pairs[i][1]

    with _NUMPY_SECTION:
        _run_judged([lambda: product(0), lambda: product(1)], [w / sum(works) for w in works])
    return tuple(outs)


def _split_product(a, b, by_rows, edges):
    """``a @ b`` by blocks of rows (or columns) between ``edges``, run by the pool."""
    out = np.empty((a.shape[0], b.shape[1]), dtype=np.result_type(a, b))

    def block(lo, hi):
        if by_rows:
            np.matmul(a[lo:hi], b, out=out[lo:hi])
        else:
            np.matmul(a, b[:, lo:hi], out=out[:, lo:hi])

    cuts = list(zip(edges, edges[1:]))
    _run_judged([lambda lo=lo, hi=hi: block(lo, hi) for lo, hi in cuts],
                [(hi - lo) / edges[-1] for lo, hi in cuts])
    return out


def _run_judged(tasks, shares):
    """Run ``tasks`` (callables; ``shares``: each one's fraction of the work) on the pool, and
    record whether that paid against the calling thread doing it all. That thread's time for
    everything is judged from the wall time of its own first task, which a busy neighbour
    stretches as it would stretch the whole. A run whose threads all worked on one CPU (a
    worker woken onto the caller's core while the other core was busy) never pays: it only
    stretched the caller's task."""
    caller, caller_seconds, cpus = threading.get_ident(), [], set()

    def run(task, slot):
        cpus.add(_current_cpu())  # at the task's start: a thread may move, rarely
        mine = not caller_seconds and threading.get_ident() == caller
        start = time.perf_counter() if mine else 0.0
        tasks[task]()
        if mine:
            caller_seconds.append((time.perf_counter() - start) / shares[task])

    start = time.perf_counter()
    parallel_for(run, len(tasks))
    end = time.perf_counter()
    if caller_seconds:
        seconds = end - start if len(cpus) > 1 else float("inf")  # one CPU: nothing gained
        _split_record.record(seconds, caller_seconds[0], end)


def _cpu_reader():
    """``sched_getcpu`` from the C library (a fraction of a microsecond), or a stand-in that
    reports a distinct CPU each call where there is none (no same-CPU runs are detected)."""
    try:
        import ctypes

        getcpu = ctypes.CDLL(None).sched_getcpu
        getcpu.restype, getcpu.argtypes = ctypes.c_int, []
        getcpu()
        return getcpu
    except (AttributeError, OSError):  # pragma: no cover - not glibc
        import itertools

        return itertools.count().__next__


_current_cpu = _cpu_reader()
