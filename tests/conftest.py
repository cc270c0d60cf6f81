"""Shared test settings: hypothesis profiles for the suite (Numba compiles on first call), and
the `load_example` fixture.

Profiles, chosen by ``HYPOTHESIS_PROFILE`` (else ``ci`` when ``CI`` is set, else ``default``):

- ``default``: no deadline, 40 examples per test, randomised (a local run explores new inputs).
- ``ci``: the same, derandomized, so ``make test`` (and CI) is reproducible.
- ``deep``: ``make test-deep``; ten times the examples of every property test, including the
  ones that set their own ``max_examples``, randomised (the seed is printed on failure).
"""
import os
import runpy
from pathlib import Path

import matplotlib
import pytest
from hypothesis import HealthCheck, settings

matplotlib.use("Agg")

DEEP_FACTOR = 10

settings.register_profile(
    "default", deadline=None, max_examples=40, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("ci", parent=settings.get_profile("default"), derandomize=True)
settings.register_profile("deep", parent=settings.get_profile("default"), derandomize=False,
                          max_examples=40 * DEEP_FACTOR)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "default"))


def pytest_collection_modifyitems(config, items):
    """Under the ``deep`` profile, scale the tests that pin their own ``max_examples`` too."""
    if settings.get_current_profile_name() != "deep":
        return
    done = set()
    for item in items:
        test = getattr(item, "obj", None)
        if id(test) in done or not getattr(test, "_hypothesis_internal_settings_applied", False):
            continue
        done.add(id(test))
        own = test._hypothesis_internal_use_settings
        test._hypothesis_internal_use_settings = settings(
            own, max_examples=own.max_examples * DEEP_FACTOR, derandomize=False)


EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture
def load_example(monkeypatch):
    """``load_example(name)``: the namespace of ``examples/<name>.py`` (its ``__main__`` block not
    run), loaded with ``examples/`` on ``sys.path`` for this test only, so the script's
    ``from _common import ...`` works whichever test file runs first, or alone."""
    monkeypatch.syspath_prepend(str(EXAMPLES_DIR))

    def load(name):
        return runpy.run_path(str(EXAMPLES_DIR / f"{name}.py"), run_name=f"example_{name}")

    return load
