"""tinygrad_nn.threads: the thread setting, the worker pool, BLAS held to one thread safely from
many threads at once, and results that do not depend on the thread count."""
import threading

import numpy as np
import pytest
from numba.core import config as numba_config
from threadpoolctl import threadpool_info

import tinygrad_nn as tn
import tinygrad_nn.functional as F
from tinygrad_nn import Tensor
from tinygrad_nn import threads as T
from tinygrad_nn.kernels import conv as KC
from tinygrad_nn.kernels import pool as KP


def blas_threads():
    """The thread count of every BLAS library loaded, as threadpoolctl reports it."""
    T._blas_libraries()  # numpy's and scipy's (Numba's) BLAS both loaded
    return sorted((lib["filepath"], lib["num_threads"]) for lib in threadpool_info()
                  if lib["user_api"] == "blas")


@pytest.fixture
def restore_threads():
    saved, count = T._num_threads, tn.get_num_threads()
    yield
    T.set_num_threads(count)
    T._num_threads = saved


def test_default_is_the_usable_cores_and_setting_round_trips(restore_threads):
    import os

    T._num_threads = None
    assert tn.get_num_threads() == len(os.sched_getaffinity(0))
    tn.set_num_threads(3)
    assert tn.get_num_threads() == 3
    assert {n for _, n in blas_threads()} == {3}  # numpy's and scipy's BLAS follow the setting


@pytest.mark.parametrize("bad, error", [(0, ValueError), (-2, ValueError), (1.5, ValueError),
                                        (True, ValueError), ("2", ValueError)])
def test_set_num_threads_rejects_bad_counts(bad, error, restore_threads):
    with pytest.raises(error, match=r"set_num_threads: n must be an integer >= 1, got"):
        tn.set_num_threads(bad)


def test_parallel_for_runs_every_task_once_with_distinct_slots():
    seen, lock = [], threading.Lock()

    def task(t, slot):
        with lock:
            seen.append((t, slot))

    T.parallel_for(task, 50, width=3)
    assert sorted(t for t, _ in seen) == list(range(50))
    assert {slot for _, slot in seen} <= {0, 1, 2}
    T.parallel_for(task, 0, width=3)  # nothing to do is fine


def test_parallel_for_reraises_a_task_error_in_the_caller():
    def task(t, slot):
        if t == 7:
            raise KeyError(f"task {t}")

    with pytest.raises(KeyError, match="task 7"):
        T.parallel_for(task, 20, width=2)
    T.parallel_for(lambda t, slot: None, 4, width=2)  # the pool still works afterwards


@pytest.mark.skipif(numba_config.DISABLE_JIT, reason="the wait is compiled code")
def test_await_change_sees_a_change_from_another_thread_and_gives_up_when_none_comes():
    from tinygrad_nn.kernels.wait import await_change
    flag = np.zeros(3, np.int64)
    assert await_change(flag, 1, 0, 50) is False  # unchanged: returns after its rounds
    flag[1] = 5
    assert await_change(flag, 1, 0, 1) is True
    assert await_change(flag, 1, 5, 1) is False  # compares with what it is given
    assert await_change(flag, 2, 0, 0) is False  # no rounds, no read
    assert await_change(flag, 1, 0, 1, settle=20) is True  # settling after a change: still seen
    assert await_change(flag, 1, 5, 3, settle=20) is False  # nothing to settle after
    flag[2] = 1
    assert await_change(flag, 2, 0, 0) is False
    seen = []
    waiter = threading.Thread(target=lambda: seen.append(await_change(flag, 0, 0, 1 << 40)))
    waiter.start()  # the wait releases the GIL: this thread goes on and ends it
    flag[0] = 1
    waiter.join(timeout=10)
    assert seen == [True]


def test_await_change_returns_at_once_without_the_jit(monkeypatch):
    from tinygrad_nn.kernels import wait
    monkeypatch.setattr(wait.numba.config, "DISABLE_JIT", True)
    assert wait.await_change(np.zeros(1, np.int64), 0, 0, 1 << 40) is False


@pytest.mark.parametrize("spin", [0, 400])
def test_pool_runs_jobs_posted_while_workers_poll_or_block(monkeypatch, spin):
    """Jobs back to back (workers still polling) and after a pause (workers blocked): every
    task runs once, on more than one thread when the work takes long enough."""
    import time
    monkeypatch.setattr(T, "WORKER_SPIN_ROUNDS", spin)
    monkeypatch.setattr(T, "JOIN_SPIN_ROUNDS", spin)
    slots = set()
    for pause in (0.0, 0.0, 0.01, 0.0):
        time.sleep(pause)
        seen, lock = [], threading.Lock()

        def task(t, slot):
            time.sleep(0.005)  # releases the GIL: another thread can claim the next task
            with lock:
                seen.append((t, slot))

        T.parallel_for(task, 12, width=2)
        assert sorted(t for t, _ in seen) == list(range(12))
        slots |= {slot for _, slot in seen}
    assert slots == {0, 1}


@pytest.mark.parametrize("spin", [0, 400])
@pytest.mark.parametrize("last", ["caller", "worker"])
def test_a_job_ends_when_its_last_task_does_whichever_thread_ran_it(monkeypatch, spin, last):
    """The thread that finishes a job's last task announces its end: the caller itself, or a
    worker (which does so once it has looked for its next job), to a caller polling or
    blocked. parallel_for returns after every task, not before, and the pool goes on."""
    import time
    monkeypatch.setattr(T, "JOIN_SPIN_ROUNDS", spin)
    ended = []
    main = threading.get_ident()

    def task(t, slot):
        mine = threading.get_ident() == main
        time.sleep(0.03 if mine == (last == "caller") else 0.0)
        ended.append(time.perf_counter())

    for _ in range(3):
        ended.clear()
        T.parallel_for(task, 2, width=2)
        returned = time.perf_counter()
        assert len(ended) == 2 and max(ended) <= returned
    T.parallel_for(lambda t, slot: None, 4, width=2)


def test_single_threaded_blas_nests_and_restores():
    before = blas_threads()
    with T.single_threaded_blas():
        with T.single_threaded_blas():
            assert {n for _, n in blas_threads()} == {1}
        assert {n for _, n in blas_threads()} == {1}
    assert blas_threads() == before


def test_concurrent_convolutions_leave_blas_threads_as_found(restore_threads):
    """Issue 10 item 19: threadpoolctl's save/restore per call left BLAS at one thread in 28 of
    30 runs when two threads convolved at once."""
    tn.set_num_threads(2)
    before = blas_threads()
    assert {n for _, n in blas_threads()} == {2}
    rng = np.random.default_rng(0)
    x = Tensor(rng.standard_normal((8, 4, 12, 12)).astype(np.float32))
    w = Tensor(rng.standard_normal((8, 4, 3, 3)).astype(np.float32), requires_grad=True)
    errors = []

    def run():
        try:
            for _ in range(3):
                F.conv2d(x, w, padding=1).sum().backward()
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    for _ in range(30):
        workers = [threading.Thread(target=run) for _ in range(2)]
        for thread in workers:
            thread.start()
        for thread in workers:
            thread.join()
        assert blas_threads() == before
    assert not errors


def test_set_num_threads_inside_an_open_section_applies_when_it_closes(restore_threads):
    tn.set_num_threads(2)
    with T.single_threaded_blas():
        tn.set_num_threads(3)
        assert {n for _, n in blas_threads()} == {1}
    assert {n for _, n in blas_threads()} == {3}


def run_conv_and_pools(rng):
    x = rng.standard_normal((10, 6, 18, 17)).astype(np.float32)
    w = rng.standard_normal((12, 3, 3, 3)).astype(np.float32)
    b = rng.standard_normal(12).astype(np.float32)
    geometry = dict(stride=(1, 2), padding=(1, 0, 2, 1), dilation=(1, 2), groups=2)
    out = KC.conv2d_forward(x, w, b, **geometry)
    grads = KC.conv2d_backward(x, w, out, **geometry)
    big = rng.standard_normal((16, 16, 40, 40))
    pooled, argmax = KP.max_pool2d_forward(big, (3, 3), (2, 2), (1, 1))
    return [out, *grads, pooled, argmax, KP.max_pool2d_backward(pooled, argmax, big.shape),
            KP.avg_pool2d_forward(big, (2, 3), (2, 2), (1, 1))]


def test_results_are_identical_at_every_thread_count(restore_threads):
    results = []
    for count in (1, 2, 3):
        tn.set_num_threads(count)
        results.append(run_conv_and_pools(np.random.default_rng(1)))
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_array_equal(a, b)


@pytest.fixture
def always_split(monkeypatch):
    """Every split counts as paying and products of any size over MIN_BLOCK_WORK per block are
    split, so matmul splits whatever the machine's load (the tests compare the split's bits,
    which a busy core would otherwise leave untried)."""
    monkeypatch.setattr(T, "PAYING_SHARE", float("inf"))
    monkeypatch.setattr(T, "SPLIT_MIN_WORK", 0)
    monkeypatch.setattr(T, "_split_record", T._SplitRecord())


def one_thread_product(a, b):
    """numpy's own ``a @ b`` with its BLAS on one thread: the reference bits."""
    with T.single_threaded_blas("numpy"):
        return a @ b


def operands(rng, m, k, n, dtype, layout):
    """(m, k) and (k, n) operands; "T" in ``layout`` makes that one a transposed view."""
    a = rng.standard_normal((k, m)).T if layout[0] == "T" else rng.standard_normal((m, k))
    b = rng.standard_normal((n, k)).T if layout[1] == "T" else rng.standard_normal((k, n))
    return a.astype(dtype, copy=False), b.astype(dtype, copy=False)


# The seed MLP's products (batch 100, 784-50-10), bench_mlp's (batch 200, 784-100-100), the wide
# MLP's (batch 512, 784-1024-1024-10), and shapes with ragged edges, under and over the split.
MATMUL_SHAPES = [(3, 5, 4), (100, 784, 50), (784, 100, 50), (100, 50, 784), (200, 784, 100),
                 (100, 200, 784), (512, 784, 1024), (1024, 512, 1024), (512, 1024, 10),
                 (300, 40, 500), (700, 300, 30), (20, 600, 700), (219, 118, 83), (29, 717, 210)]


@pytest.mark.parametrize("shape", MATMUL_SHAPES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("layout", ["NN", "TN", "NT"])
def test_matmul_gives_numpys_one_thread_bits_at_every_thread_count(shape, dtype, layout,
                                                                   restore_threads, always_split):
    a, b = operands(np.random.default_rng(2), *shape, dtype, layout)
    want = one_thread_product(a, b)
    tn.set_num_threads(2)
    before = blas_threads()
    for count in (1, 2, 3):
        tn.set_num_threads(count)
        got = T.matmul(a, b)
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_array_equal(got, want)
    tn.set_num_threads(2)
    assert blas_threads() == before


def test_matmul_mixed_dtypes_and_views(restore_threads, always_split):
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal((300, 40)), rng.standard_normal((40, 500)).astype(np.float32)
    want = one_thread_product(a, b)
    for count in (1, 2):
        tn.set_num_threads(count)
        assert T.matmul(a, b).dtype == np.float64
        np.testing.assert_array_equal(T.matmul(a, b), want)
        np.testing.assert_array_equal(T.matmul(a.T.copy().T, b), want)  # a Fortran-order view


def test_matmul_error_leaves_blas_threads_as_found(restore_threads):
    tn.set_num_threads(2)
    before = blas_threads()
    a, b = np.ones((400, 300), np.float32), np.ones((301, 400), np.float32)
    with pytest.raises(ValueError):
        T.matmul(a, b)
    assert blas_threads() == before


@pytest.mark.parametrize("threads", [2, 3, 8])
def test_split_plan_blocks(threads):
    """At most one block per thread, edges on the dtype's multiples, every block above
    MIN_BLOCK_WORK, cut across the dimension that repacks the smaller operand."""
    rng = np.random.default_rng(4)
    planned = 0
    for _ in range(300):
        m, k, n = (int(v) for v in np.exp(rng.uniform(np.log(8), np.log(3000), 3)))
        for dtype in (np.dtype(np.float32), np.dtype(np.float64)):
            plan = T._split_plan(m, k, n, dtype, threads)
            if plan is None:
                continue
            planned += 1
            by_rows, edges = plan
            size = m if by_rows else n
            multiple = T.EDGE_MULTIPLES[dtype][0 if by_rows else 1]
            assert 3 <= len(edges) <= threads + 1 and edges[0] == 0 and edges[-1] == size
            assert all(e % multiple == 0 for e in edges[1:-1])
            widths = np.diff(edges)
            assert widths.min() * (m * n * k // size) >= T.MIN_BLOCK_WORK
            assert m * n * k >= T.SPLIT_MIN_WORK
            assert by_rows or dtype == np.float32  # float64 column cuts change bits
    assert planned > 100


def test_split_plan_leaves_small_products_and_one_thread_whole(monkeypatch):
    f32 = np.dtype(np.float32)
    assert T._split_plan(512, 1024, 1024, f32, 1) is None
    assert T._split_plan(40, 40, 40, f32, 2) is None
    assert T._split_plan(512, 1024, 1024, np.dtype(np.int64), 2) is None
    assert T._split_plan(100, 784, 50, f32, 2) is None  # under SPLIT_MIN_WORK
    assert T._split_plan(512, 784, 1024, f32, 2) == (False, [0, 512, 1024])
    monkeypatch.setattr(T, "SPLIT_MIN_WORK", 0)
    assert T._split_plan(100, 784, 50, f32, 2) == (True, [0, 48, 100])


@pytest.mark.parametrize("shapes, parallel", [
    (((512, 1024, 1024), (1024, 512, 1024)), True),   # the wide MLP's second layer gradients
    (((100, 784, 50), (784, 100, 50)), True),
    (((512, 1024, 1024), (100, 784, 50)), False),     # unbalanced: one after the other
    (((100, 50, 10), (50, 100, 10)), False)])         # small: no threads
def test_matmul_pair_gives_each_products_one_thread_bits(shapes, parallel, monkeypatch,
                                                         restore_threads, always_split):
    rng = np.random.default_rng(6)
    (a1, b1), (a2, b2) = (operands(rng, *shape, np.float32, layout)
                          for shape, layout in zip(shapes, ("NT", "TN")))
    want = (one_thread_product(a1, b1), one_thread_product(a2, b2))
    tasks = []
    real_parallel_for = T.parallel_for
    monkeypatch.setattr(T, "parallel_for", lambda fn, n, width=None: (tasks.append(n),
                                                                      real_parallel_for(fn, n)))
    for count in (1, 2, 3):
        tn.set_num_threads(count)
        tasks.clear()
        got = T.matmul_pair(a1, b1, a2, b2)
        for g, w in zip(got, want):
            np.testing.assert_array_equal(g, w)
        assert (tasks == [2]) == (parallel and count > 1)


def test_linear_and_matmul_gradients_same_bits_at_every_thread_count(restore_threads,
                                                                     always_split):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((200, 784)).astype(np.float32)
    w = rng.standard_normal((784, 100)).astype(np.float32)
    b = rng.standard_normal(100).astype(np.float32)
    results = []
    for count in (1, 2, 3):
        tn.set_num_threads(count)
        xt, wt, bt = (Tensor(v, requires_grad=True) for v in (x, w, b))
        F.linear(xt, wt, bt).tanh().sum().backward()
        xm, wm = Tensor(x, requires_grad=True), Tensor(w, requires_grad=True)
        (xm @ wm).sigmoid().sum().backward()
        results.append([xt.grad, wt.grad, bt.grad, xm.grad, wm.grad])
    for other in results[1:]:
        for got, want in zip(other, results[0]):
            np.testing.assert_array_equal(got, want)


def test_split_record_backs_off_while_splits_do_not_pay():
    record, now = T._SplitRecord(), 100.0
    assert record.may_split(now)
    record.record(1.0, 1.0, now)  # one unpaid split alone: keep splitting
    assert record.may_split(now)
    pauses = []
    for _ in range(10):  # then each unpaid split pauses: whole for 10 ms, 20, 40, ... capped at 1 s
        record.record(1.0, 1.0, now)
        pauses.append(round(1e3 * (record.whole_until - now)))
        assert not record.may_split(now) and record.may_split(record.whole_until)
        now = record.whole_until
    assert pauses == [10, 20, 40, 80, 160, 320, 640, 1000, 1000, 1000]
    record.record(0.5, 1.0, now)  # a split that paid: keep splitting, next pause 10 ms again
    assert record.may_split(now)
    record.record(0.9, 1.0, now)  # unpaid (0.9 > PAYING_SHARE): the first strike again
    assert record.may_split(now)
    record.record(0.81, 1.0, now)
    assert not record.may_split(now) and record.may_split(now + 0.01)
    assert not record.may_split(now + 0.0099)


def test_split_record_forgives_one_unpaid_split_between_paid_ones():
    """An unpaid split between paid ones (a worker slow to wake after the process sat idle)
    never pauses splitting."""
    record, now = T._SplitRecord(), 100.0
    for _ in range(5):
        record.record(0.9, 1.0, now)
        assert record.may_split(now)
        record.record(0.8, 1.0, now)  # exactly PAYING_SHARE pays
        assert record.may_split(now)


def test_matmul_runs_whole_while_splits_do_not_pay(monkeypatch, restore_threads):
    """After two unpaid splits in a row, products run whole (on the calling thread, BLAS held at one
    thread) until the pause ends; then they are split again, with the same bits either way."""
    tn.set_num_threads(2)
    monkeypatch.setattr(T, "PAYING_SHARE", 0.0)  # no split pays
    monkeypatch.setattr(T, "SPLIT_MIN_WORK", 0)
    monkeypatch.setattr(T, "FIRST_WHOLE_SECONDS", 3600.0)  # a pause no test outlasts
    monkeypatch.setattr(T, "_split_record", T._SplitRecord())
    splits = []
    real_parallel_for = T.parallel_for
    monkeypatch.setattr(T, "parallel_for", lambda fn, n, width=None: (splits.append(n),
                                                                      real_parallel_for(fn, n)))
    a, b = operands(np.random.default_rng(5), 100, 784, 50, np.float32, "NN")
    want = one_thread_product(a, b)
    for _ in range(4):  # split, split (both unpaid), then whole, whole
        np.testing.assert_array_equal(T.matmul(a, b), want)
    assert splits == [2, 2]
    T._split_record.whole_until = 0.0  # the pause is over: one try, unpaid, pauses again
    for _ in range(2):
        np.testing.assert_array_equal(T.matmul(a, b), want)
    assert splits == [2, 2, 2]


def test_sections_opened_from_other_threads_take_effect(restore_threads):
    """threadpoolctl's OpenBLAS setter ignores every thread but the first that used it; ours
    calls the library directly, so a worker thread's section does hold BLAS at one thread."""
    tn.set_num_threads(2)  # the main thread sets first
    seen = []

    def inside():
        with T.single_threaded_blas():
            seen.append({n for _, n in blas_threads()})

    thread = threading.Thread(target=inside)
    thread.start()
    thread.join()
    assert seen == [{1}]
    assert {n for _, n in blas_threads()} == {2}


def test_large_activations_split_over_threads_give_the_same_bits(restore_threads):
    x = np.random.default_rng(3).standard_normal(300_001).astype(np.float32)  # above the split
    results = []
    for count in (1, 2, 3):
        tn.set_num_threads(count)
        t = Tensor(x, requires_grad=True)
        out = t.tanh()
        out.backward(np.cos(x))
        results.append((out.data, t.grad))
    for out, grad in results[1:]:
        np.testing.assert_array_equal(out, results[0][0])
        np.testing.assert_array_equal(grad, results[0][1])
    np.testing.assert_allclose(results[0][0], np.tanh(x), rtol=1e-6, atol=1e-7)


def test_large_batch_norm_split_over_channels_gives_the_same_bits(restore_threads):
    """BatchNorm's kernels split large inputs into channel blocks over the threads: the same
    bits at any count, and the batch statistics' gradient as in a float64 transcription."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((8, 16, 32, 32)).astype(np.float32)  # above the split size
    g = rng.standard_normal(x.shape).astype(np.float32)
    results = []
    for count in (1, 2, 3):
        tn.set_num_threads(count)
        layer = tn.nn.BatchNorm2D(16)
        t = Tensor(x, requires_grad=True)
        out = layer(t)
        out.backward(g)
        results.append((out.data, t.grad, layer.weight.grad, layer.running_var.data.copy()))
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_array_equal(a, b)
    x64, g64 = x.astype(np.float64), g.astype(np.float64)
    mean, var = x64.mean(axis=(0, 2, 3), keepdims=True), x64.var(axis=(0, 2, 3), keepdims=True)
    xhat = (x64 - mean) / np.sqrt(var + 1e-5)
    dx = (g64 - g64.mean(axis=(0, 2, 3), keepdims=True)
          - xhat * (g64 * xhat).mean(axis=(0, 2, 3), keepdims=True)) / np.sqrt(var + 1e-5)
    np.testing.assert_allclose(results[0][0], xhat, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(results[0][1], dx, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(results[0][2], (g64 * xhat).sum(axis=(0, 2, 3)), rtol=1e-4)
