"""Every Numba kernel compiles as shipped: disk-cached, with options Numba accepts, calling only
compiled code, and no loop left to the interpreter.

A kernel loaded from Numba's disk cache is never recompiled (the cache is keyed on the kernel's
bytecode, not on its options or on what it calls), so a misspelt option, an unknown error model
or a call into a plain Python function stays hidden wherever the cache is warm, and fails on the
next fresh install. These tests check, without compiling anything, what Numba's compiler checks
when it does compile: the options through Numba's own parser, each global or closure function a
kernel calls through Numba's typing context. ``make mutation`` runs them (with the JIT on, in a
fresh process) for the mutants of a kernel module's Numba decorators and option dicts, which are
invisible under NUMBA_DISABLE_JIT.
"""
import ast
import importlib
import inspect
import textwrap
import types

import pytest
from numba import config
from numba import types as nbtypes
from numba.core.callconv import create_error_model
from numba.core.compiler import Flags
from numba.core.cpu import CPUTargetOptions
from numba.core.dispatcher import Dispatcher
from numba.core.registry import cpu_target

from tinygrad_nn import threads
from tinygrad_nn.kernels import _SafeCache

pytestmark = pytest.mark.skipif(config.DISABLE_JIT, reason="needs Numba's dispatchers")

MODULES = ["activations", "conv", "direct", "_direct_blocks", "embedding", "norm", "optim", "pool", "total", "wait",
           "softmax", "vecmath"]


def module(name):
    return importlib.import_module(f"tinygrad_nn.kernels.{name}")


def dispatchers(mod):
    """Every Numba dispatcher a kernel module holds: module attributes, the entries of its tables
    and the closures and attributes of its Python entry points."""
    found, seen = {}, set()

    def visit(value, depth):
        if id(value) in seen or depth > 4:
            return
        seen.add(id(value))
        if isinstance(value, Dispatcher):
            found[id(value)] = value
        elif isinstance(value, types.FunctionType) and value.__module__ == mod.__name__:
            for cell in value.__closure__ or ():
                visit(cell.cell_contents, depth + 1)
            for attr in vars(value).values():
                visit(attr, depth + 1)
        elif isinstance(value, dict):
            for v in value.values():
                visit(v, depth + 1)
        elif isinstance(value, (tuple, list)):
            for v in value:
                visit(v, depth + 1)

    for value in vars(mod).values():
        visit(value, 0)
    return list(found.values())


def compiled_bodies(mod):
    """The Python functions Numba compiles for a module: its dispatchers' and, for vecmath, the
    implementations its float overloads build."""
    bodies = [d.py_func for d in dispatchers(mod)]
    if mod.__name__.endswith(".vecmath"):
        for name in ("exp", "expm1", "log1p_unit", "tanh"):
            for t in (nbtypes.float32, nbtypes.float64):
                bodies.append(getattr(mod, f"_{name}_jit")(t))
    return bodies


def _callees(func):
    """The plain Python functions ``func`` reaches by global name or through its closure."""
    names, stack = set(), [func.__code__]
    while stack:
        code = stack.pop()
        names.update(code.co_names)
        stack.extend(c for c in code.co_consts if isinstance(c, types.CodeType))
    values = [func.__globals__[n] for n in names if n in func.__globals__]
    values += [c.cell_contents for c in func.__closure__ or ()]
    return [v for v in values if isinstance(v, types.FunctionType)]


@pytest.mark.parametrize("name", MODULES)
def test_kernels_are_disk_cached_with_options_numba_accepts(name):
    found = dispatchers(module(name))
    if name == "vecmath":  # overloads only: Numba compiles them inside the kernels that call them
        assert found == []
        return
    assert found, f"no Numba kernel found in kernels/{name}.py"
    threaded = any(value is threads for value in vars(module(name)).values())
    for d in found:
        where = f"kernels/{name}.py: {d.py_func.__qualname__}"
        assert isinstance(d._cache, _SafeCache), f"{where} is not cached on disk"
        # a module splitting work over tinygrad_nn.threads: kernels holding the GIL would run
        # one at a time
        assert not threaded or d.targetoptions.get("nogil") is True, f"{where} holds the GIL"
        CPUTargetOptions.parse_as_flags(Flags(), dict(d.targetoptions))  # unknown options, fastmath flags
        create_error_model(d.targetoptions.get("error_model", "python"), cpu_target.target_context)


@pytest.mark.parametrize("name", MODULES)
def test_kernels_call_only_what_numba_can_compile(name):
    """A kernel may call another kernel, a vecmath overload or a ``register_jitable`` helper;
    a plain Python function would fail nopython typing."""
    todo, done = list(compiled_bodies(module(name))), set()
    typing = cpu_target.typing_context
    typing.refresh()  # after building vecmath's implementations: their helpers register then
    assert todo
    if name == "vecmath":  # what the other kernels call: each public function has its overload
        for public in ("exp", "expm1", "log1p_unit", "tanh"):
            try:
                typing.resolve_value_type(getattr(module(name), public))
            except ValueError:
                pytest.fail(f"kernels/vecmath.py: {public} has no Numba overload")
    while todo:
        func = todo.pop()
        for callee in _callees(func):
            if id(callee) in done:
                continue
            done.add(id(callee))
            try:
                typing.resolve_value_type(callee)
            except ValueError:
                pytest.fail(f"kernels/{name}.py: {func.__qualname__} calls {callee.__qualname__}, "
                            "a plain Python function that Numba cannot compile")
            todo.append(callee)  # a jitable helper is compiled too: what it calls must be


def _loops_in_own_body(func):
    tree = ast.parse(textwrap.dedent(inspect.getsource(func)))
    fn = tree.body[0]

    def loops(node):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
                continue
            if isinstance(child, (ast.For, ast.While)):
                return True
            if loops(child):
                return True
        return False

    return loops(fn)


@pytest.mark.parametrize("name", MODULES)
def test_no_loop_of_a_kernel_module_runs_in_the_interpreter(name):
    """Every function of a kernel module with a ``for``/``while`` loop is compiled (the Python
    entry points only check arguments and dispatch)."""
    mod = module(name)
    for attr, value in vars(mod).items():
        if isinstance(value, types.FunctionType) and value.__module__ == mod.__name__:
            assert not _loops_in_own_body(value), f"kernels/{name}.py: {attr} loops in Python"
