"""Core benchmarks: per-op overhead, fused activation kernels, import and compile times.

Every figure is measured in this run, beside the peers (PyTorch CPU when importable, plain numpy),
and printed as a ratio. Run: python benchmarks/bench_core.py
"""
import os
import subprocess
import sys
import tempfile

import numpy as np

from tinygrad_nn import Tensor
from timing import best_of, import_torch

STEPS = 100


def best_seconds(fn, repeat=30):
    """Best time of one call of ``fn`` (after a warm-up call that compiles its kernels)."""
    return best_of({"fn": fn}, repeat)["fn"][0]


# ---------------------------------------------------------------- per-op overhead
def overhead_ours():
    rng = np.random.default_rng(0)
    a = Tensor(rng.random(10, dtype=np.float32), requires_grad=True)
    b = Tensor(rng.random(10, dtype=np.float32), requires_grad=True)

    def run():
        c = Tensor(np.zeros(10, dtype=np.float32), requires_grad=True)
        for _ in range(STEPS):
            c = (c * b + a).tanh()
        c.sum().backward()

    return run


def overhead_torch(torch):
    a = torch.rand(10, requires_grad=True)
    b = torch.rand(10, requires_grad=True)

    def run():
        c = torch.zeros(10, requires_grad=True)
        for _ in range(STEPS):
            c = (c * b + a).tanh()
        c.sum().backward()

    return run


# ---------------------------------------------------------------- activations
def numpy_activations():
    """The plain numpy expressions a user would write, forward then backward."""
    def sigmoid(x, g):
        y = 1 / (1 + np.exp(-x))
        return y, g * y * (1 - y)

    def tanh(x, g):
        y = np.tanh(x)
        return y, g * (1 - y * y)

    def relu(x, g):
        return np.maximum(x, 0), g * (x > 0)

    one, slope = np.float32(1), np.float32(0.01)  # float32 constants: no float64 promotion

    def leaky_relu(x, g):
        return np.where(x > 0, x, slope * x), g * np.where(x > 0, one, slope)

    def elu(x, g):
        y = np.where(x > 0, x, np.expm1(x))
        return y, g * np.where(x > 0, one, y + one)

    def softplus(x, g):
        y = np.logaddexp(np.float32(0), x)
        return y, g / (one + np.exp(-x))

    return {"sigmoid": sigmoid, "tanh": tanh, "relu": relu, "leaky_relu": leaky_relu,
            "elu": elu, "softplus": softplus}


def activation_table():
    from tinygrad_nn.kernels.activations import ACTIVATIONS

    rng = np.random.default_rng(0)
    x = rng.standard_normal(1_000_000).astype(np.float32)
    g = rng.standard_normal(1_000_000).astype(np.float32)
    params = {"leaky_relu": 0.01, "elu": 1.0}
    rows = []
    for name, ref in numpy_activations().items():
        fwd, bwd = ACTIVATIONS[name]
        p = params.get(name, 0.0)

        def ours(fwd=fwd, bwd=bwd, p=p):
            y = fwd(x, p)
            bwd(x, y, g, p)

        timings = best_of({"ours": ours, "numpy": lambda ref=ref: ref(x, g)}, 15)
        t_ours, t_np = timings["ours"][0], timings["numpy"][0]
        rows.append((name, t_ours * 1e3, t_np * 1e3, t_np / t_ours))
    return rows


# ---------------------------------------------------------------- import and compile
PROBE = """
import time
t0 = time.perf_counter()
import tinygrad_nn
t1 = time.perf_counter()
import numpy as np
x = tinygrad_nn.Tensor(np.ones((4, 5), np.float32), requires_grad=True)
(x.tanh().sigmoid().relu() * 2).log_softmax().sum().backward()
t2 = time.perf_counter()
print(t1 - t0, t2 - t1)
"""


def import_and_compile_times():
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        runs = []
        for _ in range(2):  # first: empty cache, second: warm cache
            out = subprocess.run([sys.executable, "-c", PROBE], env=env, check=True,
                                 capture_output=True, text=True).stdout.split()
            runs.append([float(v) for v in out])
    return runs


def main():
    torch = import_torch(threads=2)
    print("tinygrad_nn core benchmarks (best of N, 2-core CPU)")
    print(f"PyTorch: {'torch ' + torch.__version__ if torch else 'not importable - ours only'}")

    n_ops = 3 * STEPS + 1
    ours = best_seconds(overhead_ours()) / n_ops * 1e6
    print(f"\nper-op overhead, `c = (c * b + a).tanh()` x{STEPS} on 10 float32, fwd+bwd:")
    print(f"  tinygrad_nn {ours:6.2f} us/op")
    if torch:
        theirs = best_seconds(overhead_torch(torch)) / n_ops * 1e6
        print(f"  PyTorch     {theirs:6.2f} us/op   ratio ours/torch = {ours / theirs:.2f}x "
              "(target <= 1.2x)")

    print("\nfused activation kernels, fwd+bwd on 1e6 float32 (target: >= 1.5x faster than numpy):")
    print(f"  {'activation':<11} {'ours ms':>8} {'numpy ms':>9} {'speed-up':>9}")
    for name, t_ours, t_np, ratio in activation_table():
        print(f"  {name:<11} {t_ours:8.2f} {t_np:9.2f} {ratio:8.2f}x")

    (imp_cold, compile_cold), (imp_warm, compile_warm) = import_and_compile_times()
    print("\nimport and first-call compile (fresh processes, own Numba cache dir):")
    print(f"  import tinygrad_nn: {imp_warm * 1e3:.0f} ms")
    print(f"  first fwd+bwd through tanh/sigmoid/relu/log_softmax: empty cache {compile_cold:.2f} s,"
          f" warm cache {compile_warm:.2f} s")


if __name__ == "__main__":
    main()
