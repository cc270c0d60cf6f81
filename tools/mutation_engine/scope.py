"""Where a mutant sits, and which lines a test must execute to be able to see it.

A mutant inside a function body is seen by the tests that execute the statement it changes
(for a compound statement, its header: ``if x > 0:``, not the block under it). A mutant in an
import-time statement (a default argument, a decorator, a module constant, a class attribute)
ran before any test; the tests that can see it are those that execute the code using what the
statement binds: the function itself for its header, the functions of the module naming a
bound name otherwise, and every function of the module when the name is used elsewhere in the
package or nothing in the module names it.
"""
import ast
import functools
import re
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
    """The statement whose changed part holds ``line`` (the smallest such span)."""
    holding = [s for s in stmts if s.first <= line <= s.last]
    if not holding:
        raise ValueError(f"line {line} is in no statement")
    return min(holding, key=lambda s: (s.last - s.first, -s.first))


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


def _names_used(node):
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} | \
           {n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute)}


@functools.lru_cache(maxsize=None)
def _used_elsewhere(name, file, package_dir):
    pattern = re.compile(rf"\b{re.escape(name)}\b")
    return any(pattern.search(p.read_text()) for p in Path(package_dir).rglob("*.py")
               if p.resolve() != Path(file).resolve())


@functools.lru_cache(maxsize=8)
def _parsed(source):
    tree = ast.parse(source)
    return tree, statements(tree)


@dataclass
class Scope:
    in_function: bool   # the mutant changes a function body (else an import-time statement)
    lines: set          # a test that executes any of these lines may see the mutant
    statement: Statement


def scope_of(mutant, source, file, package_dir):
    """The `Scope` of ``mutant`` in ``source`` (the text of ``file``)."""
    tree, stmts = _parsed(source)
    held = [innermost(stmts, n) for n, _ in mutant.changes]
    outer = min(held, key=lambda s: len(s.path))
    if all(s.in_function for s in held):
        return Scope(True, {n for s in held for n in range(s.first, s.last + 1)}, outer)
    node = outer.node
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        spans = [(node.body[0].lineno, node.end_lineno)]
    else:
        names = bound_names(node)
        users = [f for f in ast.walk(tree) if isinstance(f, FUNCTIONS) and names & _names_used(f)]
        if not names or not users or any(_used_elsewhere(n, str(file), str(package_dir)) for n in names):
            spans = function_spans(tree)
        else:
            spans = function_spans(ast.Module(body=users, type_ignores=[]))
    return Scope(False, {n for first, last in spans for n in range(first, last + 1)}, outer)
