"""The test suite itself: no statement in it that looks like a check but cannot fail.

Each pattern here once hid a real gap (a bare ``assert_array_equal(...) and ...`` expression in
the MLP tests asserted nothing): the result of a comparison or of a boolean expression thrown
away, an ``assert`` of a non-empty tuple or of a constant."""
import ast
from pathlib import Path

import pytest

TESTS = sorted(Path(__file__).resolve().parent.glob("test_*.py"))


def _expects_an_error(with_node):
    """Whether a ``with`` block is ``pytest.raises(...)``: a bare comparison in it is the call
    that must raise."""
    return any(isinstance(item.context_expr, ast.Call)
               and getattr(item.context_expr.func, "attr", getattr(item.context_expr.func, "id", ""))
               == "raises" for item in with_node.items)


def discarded_checks(tree):
    """(line, why) for every statement in ``tree`` that checks nothing."""
    found = []

    def visit(node, raising):
        if isinstance(node, ast.Expr) and isinstance(node.value, (ast.Compare, ast.BoolOp)):
            if not raising:
                found.append((node.lineno, "a comparison or and/or whose result is thrown away"))
        elif isinstance(node, ast.Assert):
            test = node.test
            if isinstance(test, ast.Tuple) and test.elts:
                found.append((node.lineno, "assert of a non-empty tuple (always true)"))
            elif isinstance(test, ast.Constant) and test.value:
                found.append((node.lineno, "assert of a true constant"))
        raising = raising or isinstance(node, ast.With) and _expects_an_error(node)
        for child in ast.iter_child_nodes(node):
            visit(child, raising and not isinstance(child, (ast.FunctionDef, ast.Lambda)))

    visit(tree, False)
    return found


@pytest.mark.parametrize("path", TESTS, ids=lambda p: p.name)
def test_no_check_that_cannot_fail(path):
    found = discarded_checks(ast.parse(path.read_text(), filename=str(path)))
    assert not found, "\n".join(f"{path.name}:{line}: {why}" for line, why in found)


@pytest.mark.parametrize("source", [
    "assert_array_equal(a, b) and check(c)",
    "x == y",
    "assert (x == y, 'message')",
    "assert True",
    "def f():\n    if x:\n        a < b\n",
    "with open(p):\n    a < b\n",
])
def test_the_checker_flags_each_pattern(source):
    assert discarded_checks(ast.parse(source))


@pytest.mark.parametrize("source", ["assert x == y, 'message'", "ok = a == b", "assert not found",
                                    "f(a == b)", "assert False, 'unreachable'",
                                    "with pytest.raises(ValueError):\n    a < b\n"])
def test_the_checker_passes_real_checks(source):
    assert not discarded_checks(ast.parse(source))
