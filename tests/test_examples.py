"""Every script in examples/ runs end to end in its ``--quick`` mode and writes a PNG.

The scripts are found by glob, so new examples are covered without touching this file. Each one
runs in-process (``runpy``, as ``__main__``, sharing the already-imported libraries, which keeps
this file fast) inside a fresh temporary working directory, where its ``outputs/`` folder lands.
"""
import runpy
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import pytest

EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "examples"
EXAMPLES = sorted(p for p in EXAMPLES_DIR.glob("*.py") if not p.name.startswith("_"))


def test_examples_are_found():
    assert len(EXAMPLES) >= 9, [p.name for p in EXAMPLES]


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # quick = truncated
@pytest.mark.parametrize("script", EXAMPLES, ids=lambda p: p.stem)
def test_example_runs_in_quick_mode(script, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(EXAMPLES_DIR))
    monkeypatch.setattr(sys, "argv", [str(script), "--quick"])
    try:
        runpy.run_path(str(script), run_name="__main__")
    except SystemExit as exc:  # argparse errors (e.g. no --quick flag) exit with code 2
        assert exc.code in (0, None), f"{script.name} exited with {exc.code}"
    finally:
        plt.close("all")
    pngs = sorted(tmp_path.rglob("*.png"))
    assert pngs, f"{script.name} wrote no PNG under {tmp_path}"
    assert all(p.stat().st_size > 1000 for p in pngs), pngs
