"""A mutation campaign: mutants per module, the tests that can see each, fork servers to run
them, a result cache, the table and the survivors file.

Per module, in order: its mutants (`mutants`, cached per source hash), for each the tests among
the module's own test files that execute its lines (`scope` + the coverage pass of `testmap`),
fastest first. A mutant no test reaches is "not covered" without running anything. The others
go to fork servers (`server`, one per environment and worker: JIT on, or NUMBA_DISABLE_JIT=1 for
``kernels/``); what they cannot apply in memory goes to `reference`. A mutant's CPU budget is
``CPU_FACTOR`` times its tests' CPU time in the coverage pass (itself slowed by tracing) plus
``CPU_GRACE`` seconds.

Results are cached in ``.mutation/results.json`` by file, source hash, line and mutmut index; a
killed mutant is not run again, a survivor is when its module's test files change (the version
of them is the one the coverage map was made with, so a test written while a campaign runs makes
the next campaign re-run the survivors).
"""
import hashlib
import json
import os
import random
import resource
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from mutation_engine import mutants as mutants_mod
from mutation_engine import reference
from mutation_engine.report import automatic_verdict, format_row, is_equivalent
from mutation_engine.scope import scope_of

CPU_FACTOR = 3
CPU_GRACE = 10
OPTION_CPU = 30  # CPU seconds for a Numba-option mutant's tests (no kernel compiles there)
SAVE_EVERY = 10.0  # seconds between saves of the result cache during a module (a save of
                   # every result takes ~50 ms; after each of ~5,000 mutants that was minutes)
ENGINE_DIR = Path(__file__).resolve().parent
KILLED = ("killed", "timeout")


@dataclass
class Target:
    file: str                 # source file, relative to the root
    tests: list               # test files (relative) whose tests may be selected
    jit: bool = True          # False: run under NUMBA_DISABLE_JIT=1
    option_tests: tuple = ()  # node ids that check a jit=False module's kernels with the JIT on:
                              # its Numba-option mutants run them in a fresh JIT-on process

    @property
    def module(self):
        name = self.file[:-3].replace("/", ".")
        return name[:-len(".__init__")] if name.endswith(".__init__") else name


def sha(*texts):
    h = hashlib.sha1()
    for t in texts:
        h.update(t.encode() if isinstance(t, str) else t)
        h.update(b"\0")
    return h.hexdigest()[:16]


def environment(root, jit):
    """The environment of every test process: the ci hypothesis profile, one BLAS thread (the
    servers fork: no thread pool may exist before), this tree and the engine importable."""
    env = dict(os.environ, HYPOTHESIS_PROFILE="ci", OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
               MKL_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join([str(ENGINE_DIR.parent), str(root)]
                                          + ([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else [])))
    env.pop("NUMBA_DISABLE_JIT", None)
    if not jit:
        env["NUMBA_DISABLE_JIT"] = "1"
    return env


def pytest_command(*args):
    return [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider", *args]


def _shards(files, sizes, count):
    """``files`` split into at most ``count`` lists of about equal total size (largest first)."""
    shards = [[] for _ in range(max(1, min(count, len(files))))]
    load = [0] * len(shards)
    for size, f in sorted(zip(sizes, files), reverse=True):
        i = load.index(min(load))
        shards[i].append(f)
        load[i] += size
    return [sorted(s) for s in shards]


def _merge_maps(parts):
    """One coverage map from those of disjoint sets of test files (testmap.py's format)."""
    merged = {"tests": {}, "lines": {}, "files": {}}
    for part in parts:
        merged["tests"].update(part["tests"])
        merged["files"].update(part["files"])
        for path, by_line in part["lines"].items():
            into = merged["lines"].setdefault(path, {})
            for line, ids in by_line.items():
                into[line] = sorted(set(into.get(line, ())) | set(ids))
    return merged


class Campaign:
    def __init__(self, root, targets, jobs=1, state_dir=None, log=print, universe=None,
                 verdicts=None):
        self.root = Path(root).resolve()
        self.verdicts = verdicts or {}  # mutant id -> hand-written verdict (report.read_verdicts)
        self.targets = targets
        self.universe = universe or targets  # the coverage pass and the servers cover all of these
        self.jobs = jobs
        self.state = Path(state_dir or self.root / ".mutation")
        self.state.mkdir(parents=True, exist_ok=True)
        self.log = log
        self.results = self._load("results.json")
        self._saved_at = time.monotonic()
        self._lock = threading.Lock()
        self._local = threading.local()
        self._servers = []

    # ---------------------------------------------------------------- files and caches
    def text(self, rel):
        return (self.root / rel).read_text()

    def _load(self, name):
        path = self.state / name
        return json.loads(path.read_text()) if path.exists() else {}

    def _save(self, name, data):
        tmp = self.state / (name + ".tmp")
        tmp.write_text(json.dumps(data, indent=0, sort_keys=True))
        tmp.replace(self.state / name)

    def mutants(self, target):
        source = self.text(target.file)
        name = f"mutants-{sha(target.file, source)}.json"
        cached = self._load(name)
        if not cached:
            cached = [m.to_json() for m in mutants_mod.generate(target.file, source)]
            self._save(name, cached)
        return [mutants_mod.Mutant.from_json(m) for m in cached]

    def key(self, mutant):
        return f"{mutant.file}:{sha(self.text(mutant.file))}:{mutant.line}:{mutant.index}"

    @staticmethod
    def tests_hash(target, tmap):
        """The version of ``target``'s test files that the coverage map ``tmap`` was made with."""
        return sha(*(f"{t}={tmap['files'].get(t, '')}" for t in target.tests))

    # ---------------------------------------------------------------- coverage pass
    def test_map(self, jit):
        """The coverage pass of one environment over every target's test files (cached on the
        package's and the tests' sources)."""
        targets = [t for t in self.universe if t.jit == jit]
        tests = sorted({f for t in targets for f in t.tests})
        package = sorted(p for t in targets for p in (self.root / t.file.split("/")[0]).rglob("*.py"))
        key = sha(*(p.read_bytes() for p in sorted(set(package))), *(self.text(t) for t in tests),
                  (ENGINE_DIR / "testmap.py").read_bytes())
        path = self.state / f"testmap-{'jit' if jit else 'nojit'}-{key}.json"
        if not path.exists():
            files = sorted({str(p) for t in targets for p in (self.root / t.file.split("/")[0]).rglob("*.py")})
            shards = _shards(tests, [len(self.text(t)) for t in tests], self.jobs)
            self.log(f"coverage pass ({'JIT on' if jit else 'NUMBA_DISABLE_JIT=1'}): {len(tests)} test "
                     f"files in {len(shards)} process(es)")
            start = time.perf_counter()
            procs = []
            for n, shard in enumerate(shards):
                out = path.with_suffix(f".shard{n}")
                env = dict(environment(self.root, jit), MUTATION_TESTMAP=str(out),
                           MUTATION_TESTMAP_FILES=os.pathsep.join(files))
                procs.append((out, subprocess.Popen(
                    pytest_command("-p", "mutation_engine.testmap", *shard), cwd=self.root, env=env,
                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)))
            parts = []
            for out, proc in procs:
                log = proc.communicate()[0]
                if not out.exists():
                    raise RuntimeError(f"the coverage pass failed:\n{log[-6000:]}")
                parts.append(json.loads(out.read_text()))
                out.unlink()
            self._save(path.name, _merge_maps(parts))
            self.log(f"coverage pass done in {time.perf_counter() - start:.0f} s")
        return json.loads(path.read_text())

    def selection(self, target, mutant, tmap):
        """(the node ids that can see ``mutant``, fastest first; their CPU seconds; whether only
        a fresh import shows it)."""
        scope = scope_of(mutant, self.text(target.file), self.root / target.file,
                         self.root / target.file.split("/")[0])
        ids = {t for path, lines in scope.lines.items() for n in lines
               for t in tmap["lines"].get(path, {}).get(str(n), ())}
        ids = [t for t in ids if tmap["tests"].get(t, {}).get("passed")
               and t.split("::")[0] in target.tests]
        ids.sort(key=lambda t: (tmap["tests"][t]["cpu"], t))
        return ids, sum(tmap["tests"][t]["cpu"] for t in ids), scope.fresh

    # ---------------------------------------------------------------- servers
    def _server(self, jit):
        servers = getattr(self._local, "servers", None)
        if servers is None:
            servers = self._local.servers = {}
        if jit not in servers:
            servers[jit] = _ServerProcess(self, jit)
            with self._lock:
                self._servers.append(servers[jit])
        return servers[jit]

    def option_mutant(self, target, mutant):
        """Whether ``mutant`` only changes Numba options of a module tested without the JIT and
        has JIT-on option tests to run instead."""
        return not target.jit and bool(target.option_tests) and automatic_verdict(mutant, False) is not None

    def run_one(self, target, mutant, tests, cpu, fresh=False):
        source = self.text(target.file)
        job = {"module": target.module, "source": mutant.apply(source),
               "lines": [n for n, _ in mutant.changes], "tests": tests,
               "cpu": CPU_FACTOR * cpu + CPU_GRACE}
        if self.option_mutant(target, mutant):
            # invisible under NUMBA_DISABLE_JIT: the module's option tests, JIT on, fresh import
            result = reference.run(str(self.root), environment(self.root, True), target.module,
                                   str(self.root / target.file), job["source"], tests, OPTION_CPU)
            result["reason"] = "a Numba option: tested with the JIT on"
            return result
        result = {"verdict": "fallback", "by": "import-time code calls it"} if fresh \
            else self._server(target.jit).run(job)
        if result["verdict"] in ("fallback", "error"):
            reason = result["by"]
            result = reference.run(str(self.root), environment(self.root, target.jit), target.module,
                                   str(self.root / target.file), job["source"], tests, job["cpu"])
            result["reason"] = reason
        return result

    def close(self):
        for s in self._servers:
            s.close()
        self._servers.clear()

    # ---------------------------------------------------------------- the campaign
    def run(self, verify=0):
        start_wall = time.perf_counter()
        rows = []
        maps = {}
        # one pool for the whole campaign: each worker thread keeps its fork servers across modules
        self._pool = ThreadPoolExecutor(self.jobs)
        try:
            for target in self.targets:
                if target.jit not in maps:
                    maps[target.jit] = self.test_map(target.jit)
                rows.append(self.run_target(target, maps[target.jit]))
                self.log(format_row(rows[-1]))
            if verify:
                self.verify(verify, maps)
        finally:
            self._pool.shutdown()
            self._pool = None
            self.close()
        me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime
        self.log(f"campaign: {time.perf_counter() - start_wall:.0f} s wall, {cpu:.0f} s CPU, "
                 f"{self.jobs} worker(s)")
        return rows

    def run_target(self, target, tmap):
        start = time.perf_counter()
        mutants = self.mutants(target)
        thash = self.tests_hash(target, tmap)
        todo = []
        for m in mutants:
            key = self.key(m)
            old = self.results.get(key)
            try:
                if self.option_mutant(target, m):
                    tests, cpu, fresh = list(target.option_tests), OPTION_CPU, True
                else:
                    tests, cpu, fresh = self.selection(target, m, tmap)
            except Exception as exc:  # an engine bug on one mutant must not stop the campaign
                self.results[key] = {"verdict": "error", "by": f"selection: {exc!r}", "tests_hash": thash}
                continue
            if not tests:
                self.results[key] = dict(old or {}, verdict="not covered", by=None, tests=0, tests_hash=thash)
            elif old is None or old["verdict"] not in KILLED and old.get("tests_hash") != thash \
                    or old["verdict"] == "not covered":
                todo.append((m, tests, cpu, fresh, key, old))

        def work(item):
            m, tests, cpu, fresh, key, old = item
            result = self.run_one(target, m, tests, cpu, fresh)
            result.update(tests=len(tests), tests_hash=thash)
            if old and old["verdict"] in ("survived", "not covered") and result["verdict"] in KILLED:
                result["was_survivor"] = True
            with self._lock:
                self.results[key] = result
                if time.monotonic() - self._saved_at > SAVE_EVERY:
                    self._save("results.json", self.results)
                    self._saved_at = time.monotonic()

        pool = getattr(self, "_pool", None)
        if pool is not None:
            list(pool.map(work, todo))
        else:
            with ThreadPoolExecutor(self.jobs) as pool:
                list(pool.map(work, todo))
        self._save("results.json", self.results)
        return self.row(target, time.perf_counter() - start, ran=len(todo))

    def row(self, target, wall=None, ran=None):
        counts = {"killed": 0, "survived": 0, "not covered": 0, "timeout": 0, "error": 0}
        cpu, equivalent = 0.0, 0
        for m in self.mutants(target):
            r = self.results.get(self.key(m))
            if r is None:
                continue
            counts[r["verdict"] if r["verdict"] in counts else "error"] += 1
            cpu += r.get("cpu", 0.0)
            if r["verdict"] in ("survived", "not covered") and is_equivalent(
                    self.verdicts.get(m.id) or automatic_verdict(m, target.jit)):
                equivalent += 1
        total = len(self.mutants(target))
        return dict(module=target.file, mutants=total, wall=wall, ran=ran, cpu=cpu, **counts,
                    equivalent=equivalent,
                    **{"not run": total - sum(counts.values())})

    def verify(self, n, maps):
        """Run ``n`` random mutants that the fast path decided in a fresh process too, and
        compare the verdicts (killed and timeout count as the same)."""
        decided = {"survived": [], "killed": []}
        for target in self.targets:
            for m in self.mutants(target):
                r = self.results.get(self.key(m))
                if r and r.get("how") in ("code", "transplant"):
                    decided["survived" if r["verdict"] == "survived" else "killed"].append((target, m, r))
        rng = random.Random(0)
        for group in decided.values():
            rng.shuffle(group)
        half = min(n // 2, len(decided["survived"]))  # survivors first: a false survivor is the costly error
        pool = decided["survived"][:half] + decided["killed"][:n - half]
        mismatches = 0
        for target, m, r in pool[:n]:
            tests, cpu, _ = self.selection(target, m, maps[target.jit])
            ref = reference.run(str(self.root), environment(self.root, target.jit), target.module,
                                str(self.root / target.file), m.apply(self.text(target.file)), tests,
                                CPU_FACTOR * cpu + CPU_GRACE)
            same = (r["verdict"] in KILLED) == (ref["verdict"] in KILLED)
            mismatches += not same
            self.log(f"verify {m.id} line {m.line} ({r['how']}): engine {r['verdict']}, "
                     f"fresh process {ref['verdict']}{'' if same else '  MISMATCH'}")
        self.log(f"verify: {min(n, len(pool)) - mismatches} of {min(n, len(pool))} verdicts agree")
        return mismatches


class _ServerProcess:
    """One fork server (`server`) for one environment, owned by one worker thread."""

    def __init__(self, campaign, jit):
        self.campaign, self.jit = campaign, jit
        self.proc = None

    def start(self):
        c = self.campaign
        targets = [t for t in c.universe if t.jit == self.jit]
        to_server, from_parent = os.pipe()
        to_parent, from_server = os.pipe()
        name = f"server-{'jit' if self.jit else 'nojit'}-{threading.get_ident()}"
        env = dict(environment(c.root, self.jit), MUTATION_SERVER_FDS=f"{to_server},{from_server}",
                   MUTATION_SERVER_MODULES=",".join(t.module for t in targets))
        tests = sorted({f for t in targets for f in t.tests})
        log = open(c.state / f"{name}.log", "w")
        self.proc = subprocess.Popen(
            pytest_command("-p", "mutation_engine.server", f"--basetemp={c.state / 'tmp' / name}", *tests),
            cwd=c.root, env=env, pass_fds=(to_server, from_server), stdout=log, stderr=subprocess.STDOUT)
        os.close(to_server)
        os.close(from_server)
        self.out = os.fdopen(from_parent, "w")
        self.inp = os.fdopen(to_parent)
        ready = self.inp.readline()
        if not ready:
            raise RuntimeError(f"the fork server did not start; see {log.name}")

    def run(self, job):
        for attempt in (0, 1):
            if self.proc is None or self.proc.poll() is not None:
                self.start()
            try:
                self.out.write(json.dumps(job) + "\n")
                self.out.flush()
                line = self.inp.readline()
            except BrokenPipeError:
                line = ""
            if line:
                return json.loads(line)
            self.proc = None
        return {"verdict": "error", "by": "the fork server died"}

    def close(self):
        if self.proc is not None and self.proc.poll() is None:
            self.out.close()
            self.proc.wait()

