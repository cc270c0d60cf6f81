"""A short, bounded wait for a flag to change, run without the GIL: how the worker pool's idle
threads and its joining caller notice new work or a finished job without a kernel wake-up.

Waking a thread blocked in the kernel (a futex) took 25-125 us on this 2-core VM, a large
part of an operation that takes 100-500 us on two threads (a BatchNorm pass, a ReLU, a small
convolution). ``await_change`` instead re-reads the flag with an acquire load (so the compiler
cannot hoist the read out of the loop) and calls ``sched_yield`` between reads: on a busy core
the other process runs, on an idle one the thread sees the change within a microsecond. It
gives up after ``rounds`` reads (the caller then blocks as before), so an idle pool stops
polling a fraction of a millisecond after its last job: no unbounded spinning, unlike
OpenMP's or OpenBLAS's threads.

With ``NUMBA_DISABLE_JIT=1``, or on Windows (no ``sched_yield``), the wait returns at once and
the pool always blocks.
"""
import sys

import numba
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from . import njit  # numba.njit with a cache that degrades safely

__all__ = ["await_change"]


@intrinsic
def _load_acquire(typingctx, array, index):
    """array[index], read with an acquire load (never merged with earlier reads)."""

    def codegen(context, builder, signature, args):
        array_type = signature.args[0]
        view = context.make_array(array_type)(context, builder, args[0])
        pointer = cgutils.get_item_pointer(context, builder, array_type, view, [args[1]])
        return builder.load_atomic(pointer, "acquire", array_type.dtype.bitwidth // 8)

    return array.dtype(array, index), codegen


@intrinsic
def _yield_cpu(typingctx):
    """sched_yield(): let another runnable thread on this core run."""

    def codegen(context, builder, signature, args):
        function = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.IntType(32), []), "sched_yield")
        return builder.call(function, [])

    return types.int32(), codegen


@njit(cache=True, nogil=True)
def _await_change(flag, index, seen, rounds, settle):
    for _ in range(rounds):
        if _load_acquire(flag, index) != seen:
            for _ in range(settle):
                _yield_cpu()
            return True
        _yield_cpu()
    return False


def await_change(flag, index, seen, rounds, settle=0):
    """Whether ``flag[index]`` (a 1-D int64 array) differed from ``seen`` within ``rounds``
    reads, a ``sched_yield`` apart (about 0.5 us each here). Releases the GIL while waiting.

    After seeing a change it yields ``settle`` more times before returning (and taking the GIL
    back): the thread that made the change usually still holds the GIL for a few microseconds,
    and a thread that finds the GIL held sleeps in the kernel, which here costs a wake-up."""
    if numba.config.DISABLE_JIT or sys.platform == "win32":
        return False
    return _await_change(flag, index, seen, rounds, settle)
