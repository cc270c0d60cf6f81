"""Applying a mutant to the running interpreter, so a forked child tests it without a re-import.

Two ways, tried in order (`apply` says which one it used):

``code``        Only function bodies changed: the module and class bodies compile to the same
                code. Every live function whose ``__code__`` is an old version gets the new one,
                so every reference to it (imports by name, registries, bound methods) sees the
                mutant. Live functions are found by their code object, which compares by content.
``transplant``  An import-time statement changed (a default, a decorator, a constant, a class
                attribute). The mutated statement runs alone against a copy of the module's
                globals and what it binds is moved onto the live objects: a function keeps its
                identity and takes the new code, defaults and closure contents; a data value
                replaces the old one (in place for a dict, list or set); a removed decorator
                replaces the attribute with the rebuilt bare function.

Anything else (a statement that binds nothing, a changed class header, an opaque object) raises
`CannotApply`, and the caller runs the mutant the slow way (`reference`).
"""
import ast
import gc
import sys
import types

CO_NEWLOCALS = 0x2
_MISSING = object()
PLAIN = (type(None), bool, int, float, complex, str, bytes, type(Ellipsis), range, slice)


class CannotApply(Exception):
    """This mutant cannot be applied in memory; run it in a fresh interpreter."""


def live_functions(paths):
    """{code: [function, ...]} of every live function compiled from one of ``paths``."""
    paths = set(paths)
    out = {}
    for obj in gc.get_objects():
        if isinstance(obj, types.FunctionType) and obj.__code__.co_filename in paths:
            out.setdefault(obj.__code__, []).append(obj)
    return out


def _nested(code):
    return [c for c in code.co_consts if isinstance(c, types.CodeType)]


def _frame(code):
    """A code object without its nested code objects (they are compared one by one)."""
    consts = tuple(("<code>", c.co_qualname) if isinstance(c, types.CodeType) else (type(c), repr(c))
                   for c in code.co_consts)
    return (code.co_code, consts, code.co_names, code.co_varnames, code.co_freevars,
            code.co_cellvars, code.co_flags, code.co_argcount, code.co_kwonlyargcount)


def changed_functions(old, new):
    """[(old code, new code)] of the functions whose code differs between two compiles of a
    module, or None when the module's or a class's own code differs (an import-time change)."""
    pairs = []

    def walk(a, b, container):
        if container and _frame(a) != _frame(b):
            raise CannotApply
        if not container and a == b:
            return
        if not container:
            pairs.append((a, b))
        na, nb = _nested(a), _nested(b)
        if [c.co_qualname for c in na] != [c.co_qualname for c in nb]:
            if container:
                raise CannotApply
            return  # a nested function came or went: the enclosing function's new code has it
        for x, y in zip(na, nb):
            walk(x, y, container=not x.co_flags & CO_NEWLOCALS)

    try:
        walk(old, new, container=True)
    except CannotApply:
        return None
    return pairs


def patch_code(pairs, live):
    """Give every live function of each old code object its new code."""
    for old, new in pairs:
        functions = live.get(old, [])
        if not functions and "<locals>" not in old.co_qualname and "<lambda>" not in old.co_qualname:
            raise CannotApply(f"no live function for {old.co_qualname}")
        for f in functions:
            try:
                f.__code__ = new
            except ValueError as exc:  # the closure changed shape
                raise CannotApply(str(exc)) from exc


# ---------------------------------------------------------------- transplant
class _Transplant:
    """Moves what a re-executed statement bound in ``scratch`` onto the live module."""

    def __init__(self, module, scratch):
        self.module, self.scratch = module, scratch
        self.mapped = {}  # id(new object) -> the live object it stands for

    def translate(self, value):
        if id(value) in self.mapped:
            return self.mapped[id(value)]
        if isinstance(value, (tuple, list, set, frozenset)):
            return type(value)(self.translate(v) for v in value)
        if isinstance(value, dict):
            return {self.translate(k): self.translate(v) for k, v in value.items()}
        if isinstance(value, types.FunctionType) and value.__globals__ is self.scratch:
            return self.rebase(value)
        if isinstance(value, (staticmethod, classmethod)):
            return type(value)(self.translate(value.__func__))
        if isinstance(value, property):
            return property(*(self.translate(f) for f in (value.fget, value.fset, value.fdel)),
                            value.__doc__)
        if isinstance(value, type) and value.__module__ == self.module.__name__ \
                and getattr(self.module, value.__name__, None) is not value:
            raise CannotApply(f"a new class {value.__qualname__}")
        return value

    def rebase(self, fn):
        """``fn`` rebuilt on the live module's globals."""
        closure = None if fn.__closure__ is None else tuple(
            types.CellType(self.translate(c.cell_contents)) for c in fn.__closure__)
        out = types.FunctionType(fn.__code__, self.module.__dict__, fn.__name__,
                                 self.translate(fn.__defaults__), closure)
        out.__kwdefaults__ = self.translate(fn.__kwdefaults__)
        out.__qualname__, out.__doc__, out.__module__ = fn.__qualname__, fn.__doc__, fn.__module__
        out.__dict__.update(self.translate(fn.__dict__))
        out.__annotations__ = fn.__annotations__
        self.mapped[id(fn)] = out
        return out

    def function(self, live, new, rebind):
        if live.__code__.co_freevars != new.__code__.co_freevars:
            return rebind(self.translate(new))
        self.mapped[id(new)] = live
        if live.__code__ != new.__code__:
            live.__code__ = new.__code__
        live.__defaults__ = self.translate(new.__defaults__)
        live.__kwdefaults__ = self.translate(new.__kwdefaults__)
        for cl, cn in zip(live.__closure__ or (), new.__closure__ or ()):
            try:
                a, b = cl.cell_contents, cn.cell_contents
            except ValueError:
                continue

            def set_cell(value, cell=cl):
                cell.cell_contents = value

            self.value(a, b, set_cell)

    def value(self, live, new, rebind):
        """Make ``live`` (bound somewhere by ``rebind``) behave like ``new``."""
        if live is new:
            return
        if isinstance(live, types.FunctionType) and isinstance(new, types.FunctionType):
            return self.function(live, new, rebind)
        if type(live) is not type(new):
            return rebind(self.translate(new))
        if isinstance(live, (staticmethod, classmethod)):
            return self.value(live.__func__, new.__func__, lambda f: rebind(type(live)(f)))
        if isinstance(live, property):  # a new property object, its functions rebuilt
            return rebind(self.translate(new))
        if isinstance(live, type):
            if id(new) in self.mapped or live.__module__ != self.module.__name__:
                return
            raise CannotApply(f"class {live.__qualname__} rebound")
        if not _is_data(live):
            raise CannotApply(f"cannot compare {type(live).__name__} values")
        new = self.translate(new)
        if type(live) is type(new) and live == new:
            return
        if isinstance(live, list):  # in place: other references to it see the change
            live[:] = new
        elif isinstance(live, (dict, set)):
            live.clear()
            live.update(new)
        else:
            rebind(new)

    def _package_modules(self):
        top = self.module.__name__.split(".")[0]
        return [m for m in list(sys.modules.values())
                if getattr(m, "__name__", "").split(".")[0] == top and getattr(m, "__dict__", None) is not None]

    def bind_module_name(self, name):
        live, new = self.module.__dict__[name], self.scratch[name]

        def rebind(value):
            # a fresh import would bind the new object wherever the old one was imported
            # (same name) and, for a function or class, under every alias made after it
            alias = not _is_data(live)
            for m in self._package_modules():
                for key, old in list(m.__dict__.items()):
                    if old is live and (key == name or alias):
                        m.__dict__[key] = value
            self.module.__dict__[name] = value

        self.value(live, new, rebind)

    def bind_class_attribute(self, live_cls, new_cls, name):
        live, new = live_cls.__dict__.get(name, _MISSING), new_cls.__dict__.get(name, _MISSING)
        if live is _MISSING or new is _MISSING:
            raise CannotApply(f"{live_cls.__qualname__}.{name} appears or disappears")

        def rebind(value):
            # aliases in the class body (``cat = concatenate``) follow, as in a fresh import
            alias = not _is_data(live)
            for key, old in list(live_cls.__dict__.items()):
                if old is live and (key == name or alias):
                    setattr(live_cls, key, value)

        self.value(live, new, rebind)


def _is_data(value):
    if isinstance(value, PLAIN):
        return True
    if isinstance(value, (tuple, list, set, frozenset)):
        return all(_is_data(v) or callable(v) for v in value)
    if isinstance(value, dict):
        return all((_is_data(k) or callable(k)) and (_is_data(v) or callable(v)) for k, v in value.items())
    numpy = sys.modules.get("numpy")
    return numpy is not None and isinstance(value, (numpy.dtype, numpy.generic))


def _statement_index(body, lines):
    hits = {i for i, s in enumerate(body)
            for n in lines if min([s.lineno] + [d.lineno for d in getattr(s, "decorator_list", [])])
            <= n <= s.end_lineno}
    if len(hits) != 1:
        raise CannotApply("the change spans statements")
    return hits.pop()


def _names(stmt):
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [stmt.name]
    if isinstance(stmt, (ast.Assign, ast.AnnAssign)):
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
        names = [n for t in targets for n in ast.walk(t)]
        if all(isinstance(n, (ast.Name, ast.Tuple, ast.List, ast.Store)) for n in names):
            return [n.id for n in names if isinstance(n, ast.Name)]
    raise CannotApply(f"a {type(stmt).__name__} statement at import time")


def transplant(module, old_source, new_source, lines):
    """Apply an import-time change (in ``lines`` of ``module``'s source) to the live module."""
    old_tree, new_tree = ast.parse(old_source), ast.parse(new_source)
    i = _statement_index(old_tree.body, lines)
    old_stmt, new_stmt = old_tree.body[i], new_tree.body[i]
    if isinstance(old_stmt, ast.Expr) and isinstance(old_stmt.value, ast.Constant) and i == 0:
        module.__doc__ = new_stmt.value.value
        return
    names = _names(old_stmt)
    scratch = dict(module.__dict__)
    exec(compile(ast.Module(body=[new_stmt], type_ignores=[]), module.__file__, "exec"), scratch)
    mover = _Transplant(module, scratch)
    if not isinstance(old_stmt, ast.ClassDef):
        for name in names:
            mover.bind_module_name(name)
        return
    live_cls, new_cls = module.__dict__[old_stmt.name], scratch[old_stmt.name]
    while True:  # down to the class body statement that holds the change
        mover.mapped[id(new_cls)] = live_cls
        if old_stmt.decorator_list or any(n < old_stmt.body[0].lineno for n in lines):
            raise CannotApply("a decorated class, or a changed class header")
        j = _statement_index(old_stmt.body, lines)
        old_stmt, new_stmt = old_stmt.body[j], new_stmt.body[j]
        if not isinstance(old_stmt, ast.ClassDef):
            break
        live_cls, new_cls = live_cls.__dict__[old_stmt.name], new_cls.__dict__[old_stmt.name]
    if isinstance(old_stmt, ast.Expr) and isinstance(old_stmt.value, ast.Constant) and j == 0:
        live_cls.__doc__ = new_stmt.value.value
        return
    for name in _names(old_stmt):
        mover.bind_class_attribute(live_cls, new_cls, name)


def apply(module, old_code, old_source, new_source, lines, live):
    """Apply a mutant of ``module`` (its source ``old_source`` compiled to ``old_code``) in
    memory; ``lines`` are the changed line numbers, ``live`` `live_functions`' index. Returns
    ``"code"`` or ``"transplant"``; raises `CannotApply` otherwise."""
    try:
        new_code = compile(new_source, module.__file__, "exec", dont_inherit=True)
    except SyntaxError as exc:
        raise CannotApply(f"mutant does not compile: {exc}") from exc
    pairs = changed_functions(old_code, new_code)
    if pairs is not None:
        patch_code(pairs, live)
        return "code"
    transplant(module, old_source, new_source, lines)
    return "transplant"
