"""What every benchmark shares: best-of timing with the contenders taking turns, and PyTorch
when it is importable (it is not a dependency)."""
import time


def timed(fn):
    """(seconds, result) of one call of ``fn``."""
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def best_of(runs, repeat, number=1, warmup=True, settle=0.0, gap=0.0):
    """{name: (best seconds per call, last result)} of the callables in ``runs`` over ``repeat``
    rounds; a round times ``number`` calls and keeps their mean.

    The contenders take turns within each round, so a burst of background load hits them all
    alike. ``warmup`` first calls each once untimed (Numba loads or compiles its kernels, PyTorch
    picks its own); ``gap`` seconds of sleep open every turn, long enough for another library's
    threads to go idle (PyTorch's OpenMP workers keep a core busy for about 10 ms after its call
    returns, measured here); then ``settle`` seconds of untimed calls of the same contender (if
    given: at least one) come before the timed ones, so that they run at the machine's steady pace: after
    sitting idle for 30-300 ms, this VM ran two-thread work at about one-thread speed for the
    next 10-50 ms (the strided convolution's step: 2.1-2.3 ms, against 1.3 ms after 50 ms of
    calls), whichever library ran it."""
    last = {name: fn() for name, fn in runs.items()} if warmup else dict.fromkeys(runs)
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(repeat):
        for name, fn in runs.items():
            time.sleep(gap)
            if settle:
                until = time.perf_counter() + settle
                fn()
                while time.perf_counter() < until:
                    fn()
            start = time.perf_counter()
            for _ in range(number):
                last[name] = fn()
            best[name] = min(best[name], (time.perf_counter() - start) / number)
    return {name: (best[name], last[name]) for name in runs}


def import_torch(threads=None):
    """The ``torch`` module, held to ``threads`` threads when given, or None if not importable."""
    try:
        import torch
    except ImportError:
        return None
    if threads:
        torch.set_num_threads(threads)
    return torch
