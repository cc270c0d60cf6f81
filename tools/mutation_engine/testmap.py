"""The coverage pass, as a pytest plugin: which test executes which line, and its CPU time.

Loaded with ``-p mutation_engine.testmap``; ``MUTATION_TESTMAP`` names the JSON file to write
and ``MUTATION_TESTMAP_FILES`` (os.pathsep-separated absolute paths) the sources to measure.
coverage.py records one dynamic context per test (its node id), switched around each test's
setup, call and teardown; lines run at import time (collection) belong to no test. Written::

    {"tests": {node id: {"cpu": seconds, "passed": bool}},
     "lines": {path: {line: [node id, ...]}},
     "files": {test file: sha1 of its text}}   # the tests this map was made with
"""
import hashlib
import json
import os
import time

import coverage
import pytest

_cov = None
_tests = {}


def pytest_sessionstart(session):
    global _cov
    files = os.environ["MUTATION_TESTMAP_FILES"].split(os.pathsep)
    _cov = coverage.Coverage(data_file=None, include=files, branch=False, config_file=False)
    _cov.start()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    _cov.switch_context(item.nodeid)
    _tests[item.nodeid] = {"cpu": 0.0, "passed": True}
    start = time.process_time()
    yield
    _tests[item.nodeid]["cpu"] = time.process_time() - start
    _cov.switch_context("")


def pytest_runtest_logreport(report):
    if report.failed or (report.skipped and report.when != "teardown"):
        _tests[report.nodeid]["passed"] = False


def pytest_sessionfinish(session):
    _cov.stop()
    data = _cov.get_data()
    lines = {}
    for path in data.measured_files():
        by_line = data.contexts_by_lineno(path)
        lines[path] = {n: sorted(c for c in ctx if c) for n, ctx in by_line.items() if any(ctx)}
    files = {}
    for nodeid in _tests:
        path = nodeid.split("::")[0]
        if path not in files:
            with open(os.path.join(str(session.config.rootpath), path), "rb") as f:
                files[path] = hashlib.sha1(f.read()).hexdigest()
    with open(os.environ["MUTATION_TESTMAP"], "w") as f:
        json.dump({"tests": _tests, "lines": lines, "files": files}, f)
