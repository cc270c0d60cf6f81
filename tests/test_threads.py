"""tinygrad_nn.threads: the thread setting, the worker pool, BLAS held to one thread safely from
many threads at once, and results that do not depend on the thread count."""
import threading

import numpy as np
import pytest
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


@pytest.mark.parametrize("shape", [(3, 5, 4), (300, 40, 500), (700, 300, 30), (20, 600, 700)])
def test_matmul_equals_numpy(shape, restore_threads):
    m, k, n = shape
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal((m, k)), rng.standard_normal((k, n)).astype(np.float32)
    before = blas_threads()
    for count in (1, 2):
        tn.set_num_threads(count)
        got = T.matmul(a, b)
        assert got.dtype == np.float64 and got.shape == (m, n)
        np.testing.assert_allclose(got, a @ b, rtol=1e-12, atol=1e-12)
    tn.set_num_threads(1)
    np.testing.assert_array_equal(T.matmul(a, b), a @ b)  # one thread: numpy's own product
    np.testing.assert_array_equal(T.matmul(a.T[:k].T, b), a @ b)  # views work too
    tn.set_num_threads(2)
    assert blas_threads() == before


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
