"""Where a mutant sits, and which lines a test must execute to be able to see it.

A mutant inside a function body is seen by the tests that execute the statement it changes
(for a compound statement, its header: ``if x > 0:``, not the block under it). A mutant in an
import-time statement (a default argument, a decorator, a module constant, a class attribute)
ran before any test; the tests that can see it are those that execute the code reading what the
statement binds: the function's body for its header; for a class attribute, the class's own
methods (the tests using an instance run them); for a constant, or the attribute of a class
without methods of its own, every function body in the package that reads the name; for a dunder
(read by Python itself) or a name nothing reads, every method of the class, or every function of
the module. ``__slots__`` only acts when the class is created: ``fresh``.

A mutant in a function that import-time code calls (a factory, a decorator: ``njit``,
``_elementwise``) is ``fresh``: what the function made at import shows it, so only a fresh
import of the mutated module does; it runs the tests of every function of the module.
"""
import ast
import functools
from dataclasses import dataclass
from pathlib import Path

FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
COMPOUND = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.If, ast.For, ast.AsyncFor,
            ast.While, ast.With, ast.AsyncWith, ast.Try, ast.ExceptHandler, ast.Match)


@dataclass
class Statement:
    node: ast.AST
    first: int          # first line of the part a mutant on it changes (decorators included)
    last: int           # last line of that part (the header of a compound statement)
    in_function: bool   # inside a function body: runs when that function is called
    path: tuple         # the enclosing module-level/class-level statements, outermost first


def _header_span(node):
    first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
    if isinstance(node, COMPOUND):
        body = node.body if not isinstance(node, ast.Match) else node.cases
        return first, max(first, body[0].lineno - 1 if body else node.end_lineno)
    return first, node.end_lineno


def statements(tree):
    """Every statement of ``tree`` (an ``ast.Module``) as a `Statement`."""
    out = []

    def visit(node, in_function, path):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.stmt, ast.ExceptHandler)):
                first, last = _header_span(child)
                out.append(Statement(child, first, last, in_function, path))
                inner = in_function or isinstance(child, FUNCTIONS)
                visit(child, inner, path if in_function else path + (child,))
            else:
                visit(child, in_function or isinstance(child, FUNCTIONS), path)

    visit(tree, False, ())
    return out


def innermost(stmts, line):
    """The statement whose changed part holds ``line`` (the smallest such span), or None for a
    comment or blank line (a removed decorator takes the comment above it along)."""
    holding = [s for s in stmts if s.first <= line <= s.last]
    return min(holding, key=lambda s: (s.last - s.first, -s.first)) if holding else None


def function_spans(tree):
    """(first, last) line of every function body in the module (lambdas included)."""
    spans = []
    for node in ast.walk(tree):
        if isinstance(node, FUNCTIONS):
            body = node.body if isinstance(node.body, list) else [node.body]
            spans.append((body[0].lineno, node.end_lineno))
    return spans


def bound_names(node):
    """The names (and class attribute names) an import-time statement binds."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {node.name}
    targets = {ast.Assign: lambda n: n.targets, ast.AnnAssign: lambda n: [n.target],
               ast.AugAssign: lambda n: [n.target]}.get(type(node), lambda n: [])(node)
    return {t.id for target in targets for t in ast.walk(target) if isinstance(t, ast.Name)}


def _loads(node):
    """Every name and attribute name read inside ``node``."""
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)} | \
           {n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute) and isinstance(n.ctx, ast.Load)}


def _called(node):
    """The names called (or applied as decorators) inside ``node``."""
    out = set()
    for n in ast.walk(node):
        funcs = [n.func] if isinstance(n, ast.Call) else list(getattr(n, "decorator_list", []))
        for f in funcs:
            out.update({f.id} if isinstance(f, ast.Name) else {f.attr} if isinstance(f, ast.Attribute) else set())
    return out


class PackageIndex:
    """Who reads what in a package: per name, the function bodies that read it (file, first
    line, last line), and the names read or called by import-time code (outside any function)."""

    def __init__(self, package_dir):
        self.readers = {}
        self.import_reads, self.import_calls = {}, set()
        for path in sorted(Path(package_dir).rglob("*.py")):
            tree = ast.parse(path.read_text())
            for node in ast.walk(tree):
                if isinstance(node, FUNCTIONS):
                    body = node.body if isinstance(node.body, list) else [node.body]
                    span = (str(path), body[0].lineno, node.end_lineno)
                    for name in _loads(node):
                        self.readers.setdefault(name, set()).add(span)
            for stmt in _import_time_nodes(tree):
                self.import_calls |= _called(stmt)
                for name in _loads(stmt):
                    self.import_reads.setdefault(name, set()).add((str(path), stmt.lineno))


def _import_time_nodes(tree):
    """The parts of a module that run at import: statements outside functions (a function's
    decorators and defaults included, its body not)."""
    out = []

    def visit(body):
        for stmt in body:
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                out.extend(stmt.decorator_list + stmt.args.defaults
                           + [d for d in stmt.args.kw_defaults if d is not None])
            elif isinstance(stmt, ast.ClassDef):
                out.extend(stmt.decorator_list + stmt.bases + stmt.keywords)
                visit(stmt.body)
            else:
                out.append(stmt)

    visit(tree.body)
    return out


@functools.lru_cache(maxsize=8)
def package_index(package_dir):
    return PackageIndex(package_dir)


@functools.lru_cache(maxsize=8)
def _parsed(source):
    tree = ast.parse(source)
    return tree, statements(tree)


@dataclass
class Scope:
    in_function: bool   # the mutant changes a function body (else an import-time statement)
    lines: dict         # {file: {line, ...}}: a test that executes one of them may see the mutant
    statement: Statement
    fresh: bool = False  # only a fresh import shows it: import-time code calls what it changes


def _enclosing_functions(tree, line):
    """The names of the functions (defs) whose bodies hold ``line``."""
    return {node.name for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and node.body[0].lineno <= line <= node.end_lineno}


def _constructed_at_import(tree, line):
    """Whether ``line`` is in the ``__init__``/``__new__`` of a class of this module that the
    module's own import-time code instantiates (``_PRECISIONS = {32: _Precision(...)}``): the
    instance was built before any test, so only a fresh import shows a mutant there."""
    made = set().union(*(_called(n) for n in _import_time_nodes(tree)))
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name in made:
            for method in node.body:
                if isinstance(method, (ast.FunctionDef, ast.AsyncFunctionDef)) \
                        and method.name in ("__init__", "__new__") \
                        and method.body[0].lineno <= line <= method.end_lineno:
                    return True
    return False


def _functions_of(node, file):
    return {file: {n for a, b in function_spans(ast.Module(body=[node], type_ignores=[]))
                   for n in range(a, b + 1)}}


def scope_of(mutant, source, file, package_dir):
    """The `Scope` of ``mutant`` in ``source`` (the text of ``file``)."""
    file = str(file)
    tree, stmts = _parsed(source)
    index = package_index(str(package_dir))
    held = [s for s in (innermost(stmts, n) for n, _ in mutant.changes) if s is not None]
    if not held:
        raise ValueError(f"{file}:{mutant.line}: the mutant changes no statement")
    outer = min(held, key=lambda s: len(s.path))
    every_function = {file: {n for a, b in function_spans(tree) for n in range(a, b + 1)}}
    if all(s.in_function for s in held):
        lines = {file: {n for s in held for n in range(s.first, s.last + 1)}}
        if _enclosing_functions(tree, mutant.changes[0][0]) & index.import_calls \
                or _constructed_at_import(tree, mutant.changes[0][0]):
            # a factory or decorator run at import, or the constructor of an instance made at
            # import: what it made then shows the mutant, anywhere
            return Scope(True, {file: lines[file] | every_function[file]}, outer, fresh=True)
        return Scope(True, lines, outer)
    node = outer.node
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        if node.name in index.import_calls:
            return Scope(False, every_function, outer, fresh=True)
        return Scope(False, {file: set(range(node.body[0].lineno, node.end_lineno + 1))}, outer)
    names = bound_names(node)
    spans = {span for n in names for span in index.readers.get(n, ())}
    own = _functions_of(outer.path[-1], file) if outer.path else {file: set()}
    if outer.path and own[file] and not any(n.startswith("__") and n.endswith("__") for n in names):
        # a class attribute: only an instance of the class (or of a subclass) can show it, and
        # the tests that use one run the class's own methods
        return Scope(False, own, outer)
    if not names or not spans or any(n.startswith("__") and n.endswith("__") for n in names):
        # read implicitly (a dunder) or by nothing we can see: the tests of the enclosing class's
        # methods, or of the module's functions; __slots__ only acts when the class is created
        return Scope(False, _functions_of(outer.path[-1], file) if outer.path else every_function, outer,
                     fresh="__slots__" in names)
    lines = {}
    for path, first, last in spans:
        lines.setdefault(path, set()).update(range(first, last + 1))
    return Scope(False, lines, outer)
