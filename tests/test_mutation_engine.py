"""The mutation engine (tools/mutation_engine) on a tiny package: its verdicts are those of
really editing the file and running the tests, for mutants applied by new ``__code__`` and by
transplanting an import-time statement alike."""
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))

from mutation_engine.campaign import Campaign, Target, _merge_maps, _shards  # noqa: E402
from mutation_engine.report import is_equivalent, kill_rate, score  # noqa: E402

SOURCE = '''\
"""A module to mutate."""
LIMIT = 10


def clamp(x, low=0):
    if x < low:
        return low
    return min(x, LIMIT)


class Counter:
    step = 1

    def bump(self, n):
        return n + self.step

    @staticmethod
    def zero():
        return 0

    nothing = zero


def unused(x):
    return x + 1


def twice(x):
    return x * 2
'''

TESTS = '''\
from tiny.calc import Counter, clamp, twice


def test_clamp():
    assert clamp(-5) == 0
    assert clamp(5) == 5
    assert clamp(50) == 10


def test_bump():
    assert Counter().bump(1) == 2


def test_alias():
    assert Counter().nothing() == 0


def test_twice_read_from_a_file(tmp_path):  # a tmp_path test must run in the fork server's
    path = tmp_path / "n"                   # children as anywhere (x * 3 and x / 2 survive it)
    path.write_text("0")
    assert twice(int(path.read_text())) == 0
'''


def _project(root):
    (root / "tiny").mkdir()
    (root / "tiny" / "__init__.py").write_text("")
    (root / "tiny" / "calc.py").write_text(SOURCE)
    (root / "tests").mkdir()
    (root / "tests" / "test_calc.py").write_text(TESTS)
    (root / "pytest.ini").write_text("[pytest]\n")


def _file_edited_verdict(project, mutant, scratch):
    """Copy the project, write the mutant into the file, run its tests in a fresh pytest."""
    shutil.copytree(project, scratch, ignore=shutil.ignore_patterns(".mutation", "__pycache__"))
    (scratch / mutant.file).write_text(mutant.apply(SOURCE))
    proc = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:randomly",
                           "-p", "no:cacheprovider", "tests/test_calc.py"],
                          cwd=scratch, env={"PYTHONPATH": str(scratch), "PATH": "/usr/bin:/bin"},
                          capture_output=True)
    return "survived" if proc.returncode == 0 else "killed"


@pytest.fixture(scope="module")
def campaign(tmp_path_factory):
    root = tmp_path_factory.mktemp("project")
    _project(root)
    c = Campaign(root, [Target("tiny/calc.py", ["tests/test_calc.py"], jit=True)], jobs=1,
                 log=lambda s: None)
    c.run()
    return c


def _verdicts(c):
    """{(line text stripped, first changed line's new text stripped): result}"""
    out = {}
    for m in c.mutants(c.targets[0]):
        new = m.changes[0][1].strip()
        out[(m.line_text.strip(), new)] = c.results[c.key(m)]
    return out


def test_real_mutants_are_killed_by_the_test_that_sees_them(campaign):
    v = _verdicts(campaign)
    assert v[("LIMIT = 10", "LIMIT = None")]["verdict"] == "killed"  # min(x, None) raises
    assert v[("LIMIT = 10", "LIMIT = 11")] == dict(v[("LIMIT = 10", "LIMIT = 11")], verdict="killed",
                                                   by="tests/test_calc.py::test_clamp", how="transplant")
    assert v[("def clamp(x, low=0):", "def clamp(x, low=1):")]["how"] == "transplant"
    assert v[("def clamp(x, low=0):", "def clamp(x, low=1):")]["verdict"] == "killed"
    assert v[("step = 1", "step = 2")]["by"] == "tests/test_calc.py::test_bump"
    assert v[("return n + self.step", "return n - self.step")]["how"] == "code"
    assert v[("return n + self.step", "return n - self.step")]["verdict"] == "killed"


def test_an_equivalent_mutant_survives_and_unexecuted_code_is_not_covered(campaign):
    v = _verdicts(campaign)
    # x <= low returns low where x < low returned x: the same value when x == low
    assert v[("if x < low:", "if x <= low:")]["verdict"] == "survived"
    assert v[("return x + 1", "return x - 1")]["verdict"] == "not covered"
    assert v[("return 0", "return 1")]["verdict"] == "killed"
    # a removed decorator reaches the alias made after it (Counter().nothing() then passes self)
    assert v[("@staticmethod", "")]["verdict"] == "killed"
    assert v[("return 0", "return 1")]["how"] == "code"


def test_every_verdict_matches_editing_the_file(campaign, tmp_path):
    checked = 0
    for i, m in enumerate(campaign.mutants(campaign.targets[0])):
        result = campaign.results[campaign.key(m)]
        if result["verdict"] == "not covered":
            continue
        expected = _file_edited_verdict(campaign.root, m, tmp_path / str(i))
        assert (m.line, m.changes, result["verdict"]) == (m.line, m.changes, expected)
        checked += 1
    assert checked >= 6


def test_results_are_cached_and_a_rerun_runs_nothing(campaign):
    again = Campaign(campaign.root, campaign.targets, jobs=1, log=lambda s: None)
    row = again.run_target(again.targets[0], again.test_map(True))
    assert row["ran"] == 0
    assert row["killed"] + row["survived"] + row["not covered"] == row["mutants"]


def test_report_table_counts(campaign):
    row = campaign.row(campaign.targets[0])
    assert row["survived"] >= 1 and row["not covered"] >= 2 and row["killed"] >= 7
    assert row["error"] == row["timeout"] == row["not run"] == 0
    assert textwrap.dedent(SOURCE) == (campaign.root / "tiny" / "calc.py").read_text()  # never edited


def test_score_leaves_out_only_the_survivors_declared_equivalent():
    row = {"mutants": 12, "killed": 7, "timeout": 1, "survived": 3, "not covered": 0,
           "equivalent": 2, "error": 0, "not run": 1}
    assert kill_rate(row) == pytest.approx(100 * 8 / 11)
    assert score(row) == pytest.approx(100 * 8 / 9)
    assert is_equivalent("equivalent: None is as false as False")
    assert is_equivalent("invisible without the JIT (a Numba option)")
    assert not is_equivalent("killed by tests/test_x.py::test_y")
    assert not is_equivalent(None)


def test_coverage_shards_balance_file_sizes_and_merge_back_to_one_map():
    files = ["a.py", "b.py", "c.py", "d.py"]
    shards = _shards(files, [50, 40, 30, 20], 2)
    assert sorted(f for s in shards for f in s) == files
    assert shards == [["a.py", "d.py"], ["b.py", "c.py"]]  # 70 and 70
    assert sorted(_shards(files, [1, 1, 1, 1], 8)) == [["a.py"], ["b.py"], ["c.py"], ["d.py"]]
    one = {"tests": {"a.py::t": {"cpu": 1.0, "passed": True}}, "files": {"a.py": "h1"},
           "lines": {"m.py": {"3": ["a.py::t"]}}}
    two = {"tests": {"b.py::u": {"cpu": 2.0, "passed": False}}, "files": {"b.py": "h2"},
           "lines": {"m.py": {"3": ["b.py::u"], "4": ["b.py::u"]}, "n.py": {"1": ["b.py::u"]}}}
    merged = _merge_maps([one, two])
    assert merged["tests"] == {**one["tests"], **two["tests"]}
    assert merged["files"] == {"a.py": "h1", "b.py": "h2"}
    assert merged["lines"] == {"m.py": {"3": ["a.py::t", "b.py::u"], "4": ["b.py::u"]},
                               "n.py": {"1": ["b.py::u"]}}
