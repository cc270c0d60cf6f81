"""A pytest session that collects the tests once and then serves mutants, one forked child each.

Loaded with ``-p mutation_engine.server`` and ``MUTATION_SERVER_FDS="<read fd>,<write fd>"``:
instead of running the tests, ``pytest_runtestloop`` imports the target modules
(``MUTATION_SERVER_MODULES``), indexes their live functions, and reads one JSON job a line::

    {"module": dotted name, "source": mutated text or null (the unmutated baseline),
     "lines": [changed line numbers], "tests": [node ids, fastest first], "cpu": seconds}

For each job it forks. The child limits its own CPU time (``RLIMIT_CPU``: a loaded or paused
machine does not turn a slow run into a timeout), applies the mutant in memory (`patching`),
and runs the tests with pytest's own ``runtestprotocol`` until one fails. The server answers
one JSON line: ``{"verdict": "killed" | "survived" | "timeout" | "fallback", "by": node id or
reason, "how": "code" | "transplant", "cpu": child CPU seconds}``. "fallback" means the mutant
cannot be applied in memory; the caller runs it in a fresh interpreter (`reference`).
"""
import importlib
import json
import os
import resource
import select
import signal
import time

from _pytest.runner import runtestprotocol

from mutation_engine import patching

WALL_FACTOR = 20   # a child using no CPU (a deadlock) is stopped after this many times its CPU budget


def quiet_hypothesis(items):
    """No example database writes and no shrinking (a failing example fails the test as it is:
    the verdict is the same, minus the time spent shrinking), for every hypothesis test."""
    try:
        from hypothesis import Phase, settings
    except ImportError:
        return
    extra = dict(database=None, phases=[Phase.explicit, Phase.reuse, Phase.generate],
                 report_multiple_bugs=False)
    settings.register_profile("mutation", settings.get_profile(settings.get_current_profile_name()),
                              **extra)
    settings.load_profile("mutation")
    done = set()
    for item in items:
        test = getattr(item, "obj", None)
        own = getattr(test, "_hypothesis_internal_use_settings", None)
        if own is not None and id(test) not in done:
            done.add(id(test))
            test._hypothesis_internal_use_settings = settings(own, **extra)


class _Server:
    def __init__(self, session):
        self.items = {item.nodeid: item for item in session.items}
        quiet_hypothesis(session.items)
        self.modules = {}
        for name in filter(None, os.environ.get("MUTATION_SERVER_MODULES", "").split(",")):
            module = importlib.import_module(name)
            source = open(module.__file__).read()
            code = compile(source, module.__file__, "exec", dont_inherit=True)
            self.modules[name] = (module, source, code)
        self.live = patching.live_functions(m.__file__ for m, _, _ in self.modules.values())

    def child(self, job, out):
        """Runs in the forked child; writes the result line to ``out`` and exits."""
        def finish(**result):
            os.write(out, (json.dumps(result) + "\n").encode())
            os._exit(0)

        cpu = int(job["cpu"]) + 1
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # SIGXCPU dumps no core file
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        how = None
        if job["source"] is not None:
            module, source, code = self.modules[job["module"]]
            try:
                how = patching.apply(module, code, source, job["source"], job["lines"], self.live)
            except patching.CannotApply as exc:
                finish(verdict="fallback", by=str(exc))
        tests = [self.items[t] for t in job["tests"] if t in self.items]
        for i, item in enumerate(tests):
            reports = runtestprotocol(item, nextitem=tests[i + 1] if i + 1 < len(tests) else None,
                                      log=False)
            if any(r.failed for r in reports):
                finish(verdict="killed", by=item.nodeid, how=how)
        finish(verdict="survived", by=None, how=how)

    def run(self, job):
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read)
            try:
                self.child(job, write)
            except BaseException as exc:  # noqa: BLE001 - the child must never return into pytest
                os.write(write, (json.dumps({"verdict": "error", "by": repr(exc)}) + "\n").encode())
            finally:
                os._exit(1)
        os.close(write)
        deadline = time.monotonic() + WALL_FACTOR * (job["cpu"] + 1) + 60
        data = b""
        while time.monotonic() < deadline:
            ready, _, _ = select.select([read], [], [], 1.0)
            if ready:
                chunk = os.read(read, 65536)
                if not chunk:
                    break
                data += chunk
        else:
            os.kill(pid, signal.SIGKILL)
        os.close(read)
        _, status, usage = os.wait4(pid, 0)
        cpu = usage.ru_utime + usage.ru_stime
        if data:
            result = json.loads(data.decode().splitlines()[0])
        elif os.WIFSIGNALED(status) and os.WTERMSIG(status) in (signal.SIGXCPU, signal.SIGKILL):
            result = {"verdict": "timeout", "by": f"signal {os.WTERMSIG(status)}"}
        else:  # the child died inside a test (a crash): the tests fail
            result = {"verdict": "killed", "by": f"crash (status {status})"}
        result["cpu"] = round(cpu, 3)
        return result


def pytest_runtestloop(session):
    fds = os.environ.get("MUTATION_SERVER_FDS")
    if not fds:
        return None
    read, write = (int(x) for x in fds.split(","))
    server = _Server(session)
    out = os.fdopen(write, "w")
    out.write(json.dumps({"ready": len(server.items)}) + "\n")
    out.flush()
    for line in os.fdopen(read):
        out.write(json.dumps(server.run(json.loads(line))) + "\n")
        out.flush()
    return True

