"""tinygrad_nn keeps freed arrays for reuse (glibc mallopt at import): repeated large
allocations stop page-faulting, and TINYGRAD_NN_MALLOC=system keeps glibc's defaults."""
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")

# A training step's pattern after importing tinygrad_nn: eight 4 MB arrays live at once (the
# activations), then all freed; 20 rounds. Prints the page faults of rounds 2-20 and what
# keep_freed_memory reported.
PROBE = """
import resource, numpy as np, tinygrad_nn
from tinygrad_nn import _memory
def step():
    arrays = [np.empty(1 << 20, np.float32) for _ in range(8)]
    for a in arrays:
        a.fill(1.0)
step()                                            # first use: faults once
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(19):
    step()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before, _memory.keep_freed_memory())
"""
ROUND_PAGES = 8 * 1024  # pages of one round's arrays


def _probe(**env):
    full = {k: v for k, v in os.environ.items() if not k.startswith(("MALLOC_", "TINYGRAD_NN_MALLOC"))}
    out = subprocess.run([sys.executable, "-c", PROBE], env={**full, **env}, check=True,
                         capture_output=True, text=True).stdout.split()
    return int(out[0]), out[1] == "True"


def test_freed_arrays_are_reused_without_page_faults():
    faults, applied = _probe()
    assert applied
    assert faults < ROUND_PAGES  # reused: not even one round's pages fault again


def test_system_setting_keeps_glibcs_defaults():
    faults, applied = _probe(TINYGRAD_NN_MALLOC="system")
    assert not applied
    assert faults > 4 * ROUND_PAGES  # rounds hand pages back and fault them in again


def test_glibcs_own_environment_settings_are_left_alone():
    faults, applied = _probe(MALLOC_MMAP_THRESHOLD_=str(1 << 16))
    assert not applied
    assert faults > 4 * ROUND_PAGES
