"""The slow, plain way to test a mutant: a fresh ``pytest -x`` process importing the mutated
source. The campaign uses it for the mutants `patching` cannot apply in memory, and
``--verify`` uses it to check the fast path's verdicts.

As a pytest plugin (``-p mutation_engine.reference``, ``MUTATION_REFERENCE`` = JSON
``{"module": dotted name, "path": its file, "source": file holding the mutated text}``) it puts
an import hook first on ``sys.meta_path`` that serves the mutated text for that one module,
under its real file name (so every other module, and Numba's cache of every kernel elsewhere,
is untouched; the checked-out file is never edited, so campaigns can run side by side).
"""
import importlib.abc
import importlib.util
import json
import os
import resource
import subprocess
import sys
import tempfile

from mutation_engine.server import quiet_hypothesis


class _MutatedSource(importlib.abc.MetaPathFinder, importlib.abc.SourceLoader):
    def __init__(self, module, path, source):
        self.module, self.path, self.source = module, path, source

    def find_spec(self, fullname, path=None, target=None):
        if fullname != self.module:
            return None
        is_package = os.path.basename(self.path) == "__init__.py"
        return importlib.util.spec_from_file_location(
            fullname, self.path, loader=self,
            submodule_search_locations=[os.path.dirname(self.path)] if is_package else None)

    def get_filename(self, fullname):
        return self.path

    def get_data(self, path):
        with open(self.source, "rb") as f:
            return f.read()

    def path_stats(self, path):  # no bytecode cache for the mutant
        raise OSError


if os.environ.get("MUTATION_REFERENCE"):
    _spec = json.loads(os.environ["MUTATION_REFERENCE"])
    sys.meta_path.insert(0, _MutatedSource(_spec["module"], _spec["path"], _spec["source"]))


def pytest_collection_modifyitems(config, items):
    quiet_hypothesis(items)


def run(root, env, module, path, source, tests, cpu):
    """Test the mutant (``source`` for ``module`` at ``path``; None: unmutated) with ``tests``
    in a fresh process; returns ``{"verdict": ..., "by": ..., "how": "reference"}``."""
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(source if source is not None else open(path).read())
    env = dict(env, MUTATION_REFERENCE=json.dumps({"module": module, "path": path, "source": f.name}))
    limit = int(cpu) + 30  # the process's imports and collection come on top of the tests

    def limit_cpu():
        resource.setrlimit(resource.RLIMIT_CPU, (limit, limit + 5))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:randomly", "-p", "no:cacheprovider",
           "-p", "mutation_engine.reference", "--rootdir", root, *tests]
    try:
        proc = subprocess.run(cmd, cwd=root, env=env, preexec_fn=limit_cpu, capture_output=True, text=True)
    finally:
        os.unlink(f.name)
    if proc.returncode == 0:
        return {"verdict": "survived", "by": None, "how": "reference"}
    if proc.returncode < 0:
        return {"verdict": "timeout", "by": f"signal {-proc.returncode}", "how": "reference"}
    if proc.returncode == 4 and "found no collectors" in proc.stdout + proc.stderr:
        return {"verdict": "killed", "by": "collection failed (the mutated module does not import)",
                "how": "reference"}
    if proc.returncode not in (1, 2):  # 1: a test failed; 2: collection failed (the import)
        return {"verdict": "error", "by": f"pytest exit {proc.returncode}: {proc.stderr[-500:]}",
                "how": "reference"}
    failed = [line.split(" ", 2)[1] for line in proc.stdout.splitlines() if line.startswith(("FAILED ", "ERROR "))]
    return {"verdict": "killed", "by": failed[0] if failed else f"exit {proc.returncode}", "how": "reference"}
