"""Mutation campaign driver behind ``make mutation`` (mutmut 2.5, the ``mutation`` extra).

Each source module is mutated on its own, and every mutant runs only the tests that exercise that
module (``TESTS`` below), with ``-x`` and the derandomised hypothesis profile ``ci``, so one
campaign stays within an hour on two cores. Results accumulate in ``.mutmut-cache`` (a mutant
already killed is not re-run; survivors are re-run when the tests change).

Numba: a mutant inside an ``@njit`` kernel is only seen if the kernel is recompiled. With
``cache=True`` and the source edited in place numba would recompile every kernel of the file on
every mutant (slow); instead ``kernels/`` modules run their tests under ``NUMBA_DISABLE_JIT=1``,
where the kernels are plain Python and every mutant is exercised directly. Every other module runs
with the JIT on (its kernels load from numba's on-disk cache).

Usage::

    python tools/mutation.py                 # every module in TESTS
    python tools/mutation.py tinygrad_nn/ops/matmul.py tinygrad_nn/autograd.py
    python tools/mutation.py --report        # the table of the cache's results, no run

Survivors are listed with ``mutmut show <id>``; docs/mutation.md records each one. mutmut edits
the source in place: never run ``mutmut results``/``show`` (they re-read the source and rewrite
the cache's line table) or a commit/rebase in the same checkout while a campaign runs; ``--report``
only reads the cache. Running the campaign in a scratch worktree keeps the working one free.
"""
import argparse
import os
import shlex
import sqlite3
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# module -> pytest arguments (files, optionally narrowed with -k) that exercise it.
TESTS = {
    "tinygrad_nn/autograd.py": ["tests/test_autograd.py", "tests/test_mutation_kills.py"],
    "tinygrad_nn/ops/matmul.py": ["tests/test_tensor_ops.py", "tests/test_mutation_kills.py",
                                  "-k", "matmul or linear or Linear or dense"],
    "tinygrad_nn/ops/conv.py": ["tests/test_ops_nn.py", "tests/test_mutation_kills.py", "-k", "conv2d"],
    "tinygrad_nn/ops/pool.py": ["tests/test_ops_nn.py", "tests/test_mutation_kills.py", "-k", "pool"],
    "tinygrad_nn/ops/embedding.py": ["tests/test_norm_layers.py", "-k", "mbedding"],
    "tinygrad_nn/ops/movement.py": ["tests/test_tensor_ops.py", "tests/test_mutation_kills.py"],
    "tinygrad_nn/ops/reduce.py": ["tests/test_tensor_ops.py", "tests/test_mutation_kills.py"],
    "tinygrad_nn/ops/elementwise.py": ["tests/test_tensor_ops.py", "tests/test_kernels.py",
                                       "tests/test_mutation_kills.py"],
    "tinygrad_nn/ops/loss.py": ["tests/test_losses.py", "tests/test_tensor_ops.py"],
    "tinygrad_nn/ops/norm.py": ["tests/test_norm_layers.py"],
    "tinygrad_nn/optim/clip.py": ["tests/test_optim.py", "-k", "clip"],
    "tinygrad_nn/optim/plateau.py": ["tests/test_optim.py", "-k", "lateau"],
    "tinygrad_nn/optim/schedules.py": ["tests/test_optim.py", "-k", "LR or schedul or lr"],
    "tinygrad_nn/optim/optimizer.py": ["tests/test_optim.py"],
    "tinygrad_nn/optim/optimizers.py": ["tests/test_optim.py"],
    "tinygrad_nn/tensor.py": ["tests/test_tensor_api.py", "tests/test_tensor_ops.py",
                              "tests/test_autograd.py"],
    "tinygrad_nn/training.py": ["tests/test_training.py"],
    "tinygrad_nn/nn/activations.py": ["tests/test_nn.py", "tests/test_norm_layers.py"],
    "tinygrad_nn/nn/containers.py": ["tests/test_nn.py", "tests/test_module_api.py"],
    "tinygrad_nn/nn/embedding.py": ["tests/test_norm_layers.py"],
    "tinygrad_nn/nn/init.py": ["tests/test_nn.py"],
    "tinygrad_nn/nn/layers.py": ["tests/test_nn.py", "tests/test_ops_nn.py"],
    "tinygrad_nn/nn/losses.py": ["tests/test_losses.py"],
    "tinygrad_nn/nn/module.py": ["tests/test_module_api.py", "tests/test_nn.py"],
    "tinygrad_nn/nn/normalization.py": ["tests/test_norm_layers.py"],
    "tinygrad_nn/kernels/activations.py": ["tests/test_kernels.py", "tests/test_tensor_ops.py"],
    "tinygrad_nn/kernels/conv.py": ["tests/test_kernels.py", "tests/test_ops_nn.py"],
    "tinygrad_nn/kernels/embedding.py": ["tests/test_norm_layers.py", "-k", "mbedding"],
    "tinygrad_nn/kernels/norm.py": ["tests/test_kernels.py", "tests/test_norm_layers.py"],
    "tinygrad_nn/kernels/optim.py": ["tests/test_kernels.py", "tests/test_optim.py"],
    "tinygrad_nn/kernels/pool.py": ["tests/test_kernels.py", "tests/test_ops_nn.py"],
    "tinygrad_nn/kernels/softmax.py": ["tests/test_kernels.py", "tests/test_losses.py"],
    "tinygrad_nn/kernels/vecmath.py": ["tests/test_kernels.py"],
}

STATUSES = ("ok_killed", "bad_survived", "bad_timeout", "ok_suspicious", "skipped", "untested")


def runner(module):
    """The shell-free command mutmut runs for each mutant of ``module``."""
    args = [a for a in TESTS[module] if a == "-k" or os.path.exists(os.path.join(ROOT, a))
            or not a.startswith("tests/")]
    return " ".join([shlex.quote(sys.executable), "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
                     "-p", "no:randomly"] + [shlex.quote(a) for a in args])


def environment(module):
    # PYTHONPATH: the tests import the (mutated) tree this script sits in, whatever checkout the
    # virtualenv's editable install points to, so a campaign can run in a scratch worktree.
    env = dict(os.environ, HYPOTHESIS_PROFILE="ci", PYTHONPATH=ROOT)
    if "/kernels/" in module:
        env["NUMBA_DISABLE_JIT"] = "1"
    return env


def counts():
    """{filename: {status: n}} from mutmut's cache."""
    path = os.path.join(ROOT, ".mutmut-cache")
    if not os.path.exists(path):
        return {}
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    rows = con.execute("SELECT s.filename, m.status, COUNT(*) FROM mutant m JOIN line l ON m.line = l.id "
                       "JOIN sourcefile s ON l.sourcefile = s.id GROUP BY s.filename, m.status").fetchall()
    out = {}
    for filename, status, n in rows:
        out.setdefault(filename, dict.fromkeys(STATUSES, 0))[status] = n
    return out


def report(times=None):
    times = times or {}
    print(f"{'module':40s} {'mutants':>7s} {'killed':>6s} {'survived':>8s} {'timeout':>7s} "
          f"{'untested':>8s} {'kill %':>6s} {'wall s':>7s}")
    for filename, c in sorted(counts().items()):
        total = sum(c.values())
        killed = c["ok_killed"] + c["bad_timeout"] + c["ok_suspicious"]
        tested = total - c["untested"] - c["skipped"]
        rate = f"{100 * killed / tested:.1f}" if tested else "-"
        wall = f"{times[filename]:.0f}" if filename in times else ""
        print(f"{filename:40s} {total:7d} {killed:6d} {c['bad_survived']:8d} {c['bad_timeout']:7d} "
              f"{c['untested'] + c['skipped']:8d} {rate:>6s} {wall:>7s}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", help="source files (default: every module in TESTS)")
    parser.add_argument("--report", action="store_true", help="print the cache's table and exit")
    ns = parser.parse_args()
    os.chdir(ROOT)
    if ns.report:
        report()
        return 0
    modules = ns.modules or list(TESTS)
    unknown = [m for m in modules if m not in TESTS]
    if unknown:
        parser.error(f"no test mapping for {unknown}; known modules: {sorted(TESTS)}")
    mutmut = os.path.join(os.path.dirname(sys.executable), "mutmut")
    times = {}
    for module in modules:
        start = time.perf_counter()
        # -b: a generous fixed timeout base, so a loaded machine does not turn slow runs into
        # "timeout" verdicts; mutmut exits non-zero when mutants survive, which is not an error here.
        cmd = [mutmut, "run", "--paths-to-mutate", module, "--runner", runner(module),
               "--tests-dir", "tests", "-b", "120", "--simple-output", "--no-progress"]
        print(f"== {module}: {runner(module)}", flush=True)
        proc = subprocess.run(cmd, env=environment(module))
        times[module] = time.perf_counter() - start
        if proc.returncode & 1:
            print(f"mutmut failed on {module} (exit {proc.returncode})", file=sys.stderr)
            return 1
    report(times)
    return 0


if __name__ == "__main__":
    sys.exit(main())
