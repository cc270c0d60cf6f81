"""Every ```python block of README.md runs as written, each in a fresh folder (its own process,
a temporary directory as the working directory), so the README cannot rot.

A block that defines ``test_*`` functions is a test file as a user would save it: it runs under
plain ``pytest`` (default hypothesis settings, no project conftest). Any other block runs as a
script with ``python``. Blocks added to the README later are picked up automatically.
"""
import ast
import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
# the optional extras a block may need: without them installed its test is skipped, not failed
OPTIONAL = {"dask", "distributed", "torch", "matplotlib"}
FENCE = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.S | re.M)


def readme_blocks():
    """(line number of the fence, code) of every python block."""
    text = README.read_text(encoding="utf-8")
    return [(text.count("\n", 0, m.start()) + 1, m.group(1)) for m in FENCE.finditer(text)]


BLOCKS = readme_blocks()


def imported_modules(code):
    """Top-level package names the block imports."""
    names = set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


def test_readme_has_python_blocks_and_no_unlabelled_fences():
    assert len(BLOCKS) >= 4
    text = README.read_text(encoding="utf-8")
    # a block fenced as ```py or ```Python would silently escape this test
    labels = set(re.findall(r"^```(\S*)", text, re.M)) - {"", "python", "bash", "text", "console"}
    assert not labels, f"README fences with labels this test does not know: {labels}"


@pytest.mark.parametrize("line, code", BLOCKS, ids=[f"line{line}" for line, _ in BLOCKS])
def test_readme_block_runs_as_written(line, code, tmp_path):
    missing = sorted(m for m in imported_modules(code) & OPTIONAL
                     if importlib.util.find_spec(m) is None)
    if missing:
        pytest.skip(f"README block at line {line} needs {', '.join(missing)}")
    is_test_file = re.search(r"^def test_", code, re.M) is not None
    name = f"test_readme_line{line}.py" if is_test_file else f"readme_line{line}.py"
    (tmp_path / name).write_text(code, encoding="utf-8")
    command = ([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", name]
               if is_test_file else [sys.executable, name])
    proc = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, (f"README.md block at line {line} failed when run as "
                                  f"{' '.join(command[1:])}:\n{proc.stdout[-4000:]}\n"
                                  f"{proc.stderr[-4000:]}")
    if is_test_file:
        assert re.search(r"\b\d+ passed\b", proc.stdout), proc.stdout
