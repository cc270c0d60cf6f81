"""Mutation campaign behind ``make mutation``: mutmut 2.5's mutants, run by our own engine.

Every mutant of the modules below runs only the tests of that module's test files (``TESTS``)
that execute its lines (one coverage pass finds them), fastest first, up to the first failure,
in a child forked from a pytest session that imported everything and collected the tests once;
the mutant is applied in memory. ``kernels/`` modules run under ``NUMBA_DISABLE_JIT=1`` (their
kernels are plain Python there, so a mutant takes effect without a recompile). See
docs/mutation.md.

Usage::

    python tools/mutation.py                       # every module in TESTS, in that order
    python tools/mutation.py tinygrad_nn/ops/matmul.py tinygrad_nn/autograd.py
    python tools/mutation.py --jobs 2              # two workers (default: 2)
    python tools/mutation.py --report              # the table and survivors file from the cache
    python tools/mutation.py --verify 20 MODULE    # also re-run 20 decided mutants the slow way
"""
import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

from mutation_engine.campaign import Campaign, Target  # noqa: E402
from mutation_engine.report import format_header, format_row, read_verdicts, write_survivors  # noqa: E402

SURVIVORS = ROOT / "docs" / "mutation-survivors.md"
VERDICTS = ROOT / "docs" / "mutation-verdicts.toml"

# the engine and the Tensor: their own tests (check_module's gradchecks of every op are the ops')
CORE = ["tests/test_tensor_ops.py", "tests/test_tensor_api.py", "tests/test_autograd.py",
        "tests/test_mutation_kills.py", "tests/test_random_graphs.py", "tests/test_kills_ops.py"]
OPS = CORE + ["tests/test_check_module.py"]
NN = ["tests/test_nn.py", "tests/test_module_api.py", "tests/test_norm_layers.py", "tests/test_losses.py",
      "tests/test_check_module.py", "tests/test_mutation_kills.py", "tests/test_serialization.py",
      "tests/test_kills_nn.py"]
OPTIM = ["tests/test_optim.py", "tests/test_mutation_kills.py", "tests/test_kills_optim.py"]
# the kernels' own kill files (one per group of kernel modules)
KCONV = "tests/test_kills_kernels_conv.py"
KMATH = "tests/test_kills_kernels_math.py"
KOPS = "tests/test_kills_ops.py"
KNORM = "tests/test_kills_norm_activations.py"  # kernels/norm, ops/norm, kernels/activations
# what the kernels' Numba decorators and option dicts must give (JIT on): a kernel module's
# mutants there are invisible under NUMBA_DISABLE_JIT and run these instead (see `targets`)
OPTIONS = "tests/test_kernel_options.py"
OPTION_TESTS = ("test_kernels_are_disk_cached_with_options_numba_accepts",
                "test_kernels_call_only_what_numba_can_compile",
                "test_no_loop_of_a_kernel_module_runs_in_the_interpreter")

# module -> the test files whose tests may be run against its mutants (coverage picks, within
# them, the tests that execute each mutant's lines), in the campaign's order.
TESTS = {
    "tinygrad_nn/autograd.py": CORE,
    "tinygrad_nn/tensor.py": CORE,
    "tinygrad_nn/ops/matmul.py": OPS + ["tests/test_nn.py"],
    "tinygrad_nn/ops/pool.py": ["tests/test_ops_nn.py", "tests/test_mutation_kills.py",
                                "tests/test_check_module.py", KOPS],
    "tinygrad_nn/ops/embedding.py": ["tests/test_norm_layers.py", "tests/test_nn.py",
                                     "tests/test_check_module.py", "tests/test_mutation_kills.py", KOPS],
    "tinygrad_nn/ops/movement.py": OPS,
    "tinygrad_nn/ops/reduce.py": OPS,
    "tinygrad_nn/ops/elementwise.py": OPS,
    "tinygrad_nn/ops/loss.py": OPS + ["tests/test_losses.py"],
    "tinygrad_nn/optim/clip.py": OPTIM,
    "tinygrad_nn/optim/plateau.py": OPTIM,
    "tinygrad_nn/optim/schedules.py": OPTIM,
    "tinygrad_nn/optim/optimizer.py": OPTIM,
    "tinygrad_nn/optim/optimizers.py": OPTIM,
    "tinygrad_nn/training.py": ["tests/test_training.py", "tests/test_kills_optim.py"],
    "tinygrad_nn/nn/activations.py": NN,
    "tinygrad_nn/nn/containers.py": NN,
    "tinygrad_nn/nn/embedding.py": NN,
    "tinygrad_nn/nn/init.py": NN,
    "tinygrad_nn/nn/layers.py": NN + ["tests/test_ops_nn.py"],
    "tinygrad_nn/nn/losses.py": NN,
    "tinygrad_nn/nn/module.py": NN,
    "tinygrad_nn/nn/normalization.py": NN,
    "tinygrad_nn/kernels/__init__.py": ["tests/test_kernels.py", KCONV],
    "tinygrad_nn/kernels/embedding.py": ["tests/test_kernels.py", "tests/test_norm_layers.py", KCONV],
    "tinygrad_nn/kernels/optim.py": ["tests/test_kernels.py", "tests/test_optim.py", KCONV],
    "tinygrad_nn/kernels/pool.py": ["tests/test_kernels.py", "tests/test_ops_nn.py", KMATH],
    "tinygrad_nn/kernels/softmax.py": ["tests/test_kernels.py", "tests/test_losses.py", KMATH],
    "tinygrad_nn/kernels/vecmath.py": ["tests/test_kernels.py", KMATH],
    # the convolution and normalisation kernels and ops, and the activation kernels
    "tinygrad_nn/kernels/conv.py": ["tests/test_kernels.py", "tests/test_ops_nn.py", KCONV],
    "tinygrad_nn/kernels/direct.py": ["tests/test_kernels.py", "tests/test_ops_nn.py"],
    "tinygrad_nn/kernels/norm.py": ["tests/test_kernels.py", "tests/test_norm_layers.py", KCONV, KNORM],
    "tinygrad_nn/ops/norm.py": ["tests/test_norm_layers.py", "tests/test_check_module.py", KOPS, KNORM],
    "tinygrad_nn/ops/conv.py": ["tests/test_ops_nn.py", "tests/test_mutation_kills.py",
                                "tests/test_check_module.py", KOPS],
    "tinygrad_nn/kernels/activations.py": ["tests/test_kernels.py", "tests/test_tensor_ops.py", KMATH, KNORM],
}


def jit(module):
    """Kernel modules run under NUMBA_DISABLE_JIT=1, except kernels/__init__.py: its njit wrapper
    only does anything (the cache guard) with the JIT on."""
    return "/kernels/" not in module or module.endswith("kernels/__init__.py")


def option_tests(module):
    """The node ids of `OPTIONS` for a kernel module run without the JIT (its stem is the id)."""
    if jit(module):
        return ()
    stem = Path(module).stem
    return tuple(f"{OPTIONS}::{test}[{stem}]" for test in OPTION_TESTS)


def targets(modules):
    return [Target(m, [t for t in TESTS[m] + ([OPTIONS] if option_tests(m) else []) if (ROOT / t).exists()],
                   jit=jit(m), option_tests=option_tests(m)) for m in modules]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", help="source files (default: every module in TESTS)")
    parser.add_argument("--jobs", type=int, default=2, help="parallel workers (default 2)")
    parser.add_argument("--report", action="store_true", help="print the cached table and exit")
    parser.add_argument("--verify", type=int, default=0, metavar="N",
                        help="also run N decided mutants in a fresh process and compare")
    ns = parser.parse_args()
    modules = ns.modules or list(TESTS)
    unknown = [m for m in modules if m not in TESTS]
    if unknown:
        parser.error(f"no test mapping for {unknown}; known modules: {sorted(TESTS)}")
    verdicts = read_verdicts(VERDICTS)
    campaign = Campaign(ROOT, targets(modules), jobs=ns.jobs, log=lambda s: print(s, flush=True),
                        universe=targets(list(TESTS)), verdicts=verdicts)
    print(format_header(), flush=True)
    if ns.report:
        rows = [campaign.row(t) for t in campaign.targets]
        for r in rows:
            print(format_row(r))
    else:
        rows = campaign.run(verify=ns.verify)
    everything = Campaign(ROOT, campaign.universe, jobs=ns.jobs, verdicts=verdicts)  # the file covers every module
    write_survivors(everything, [everything.row(t) for t in everything.targets], SURVIVORS, VERDICTS)
    print(f"survivors: {os.path.relpath(SURVIVORS, ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
