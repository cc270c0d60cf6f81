"""tinygrad_nn.testing itself: gradcheck keeps layouts, strategies draw what they promise."""
import numpy as np
import pytest
from hypothesis import find, given
from hypothesis import strategies as st
from hypothesis.errors import NoSuchExample

from tinygrad_nn import Tensor
from tinygrad_nn.autograd import Function
from tinygrad_nn.testing import (GradcheckError, broadcastable_shapes, gradcheck,
                                 same_layout_copy, shapes, tensors)


def _element_strides(a):
    return tuple(s // a.itemsize for s in a.strides)


VIEWS = {
    "transposed": lambda a: a.T,
    "strided": lambda a: a[::2],
    "reversed": lambda a: a[::-1, ::2],
    "column": lambda a: a[:, 1:3],
}


class RecordLayout(Function):
    """x * x that records the element strides its forward and backward see."""

    seen = []

    def forward(self, a):
        self.a = a
        RecordLayout.seen.append(("forward", _element_strides(a)))
        return a * a

    def backward(self, grad):
        RecordLayout.seen.append(("backward", _element_strides(self.a)))
        return 2 * self.a * grad


@pytest.mark.parametrize("view", sorted(VIEWS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gradcheck_hands_the_callers_layout_to_forward_and_backward(view, dtype):
    base = np.arange(1.0, 25.0, dtype=dtype).reshape(4, 6)
    arr = VIEWS[view](base)
    x = Tensor(arr, requires_grad=True)
    before = arr.copy()
    RecordLayout.seen = []
    assert gradcheck(lambda t: RecordLayout.apply(t), x)
    want = _element_strides(arr)
    assert {kind for kind, _ in RecordLayout.seen} == {"forward", "backward"}
    assert all(strides == want for _, strides in RecordLayout.seen), RecordLayout.seen
    np.testing.assert_array_equal(arr, before)  # the caller's data is untouched
    assert x.grad is None and x.data is arr


class MemoryOrderSquare(Function):
    """Planted bug: backward reads its saved input in memory order, right only for C layout."""

    def forward(self, a):
        self.a = a
        return a * a

    def backward(self, grad):
        flat = np.ravel(self.a, order="K").reshape(self.a.shape)
        return 2 * flat * grad


def test_gradcheck_catches_a_backward_that_assumes_c_layout():
    base = np.arange(1.0, 13.0).reshape(3, 4)
    assert gradcheck(lambda t: MemoryOrderSquare.apply(t), base)  # C order hides the bug
    with pytest.raises(GradcheckError, match=r"gradcheck failed for input 0 \(shape \(4, 3\)\)"):
        gradcheck(lambda t: MemoryOrderSquare.apply(t), base.T)


@given(data=st.data())
def test_same_layout_copy_keeps_values_and_strides_in_new_memory(data):
    shape = data.draw(shapes(min_dims=1, max_dims=3, max_side=4))
    dtype = data.draw(st.sampled_from([np.float32, np.float64]))
    arr = data.draw(tensors(shape=shape, dtype=dtype)).data
    step = data.draw(st.sampled_from([1, -1, 2]))
    view = arr[::step]
    copy = same_layout_copy(view)
    assert copy.dtype == np.float64 and copy.flags.writeable
    np.testing.assert_array_equal(copy, view)
    if view.size > 1:
        assert not np.shares_memory(copy, view)
        sized = [s for s, n in zip(_element_strides(view), view.shape) if n > 1]
        assert [s for s, n in zip(_element_strides(copy), copy.shape) if n > 1] == sized


def test_same_layout_copy_makes_broadcast_views_compact():
    view = np.broadcast_to(np.arange(3.0), (4, 3))
    copy = same_layout_copy(view)
    copy[0, 0] = 7.0  # one element, not a whole column
    assert copy[1, 0] == 0.0 and copy.flags.writeable


def test_shapes_draw_empty_axes_unless_min_side_is_one():
    assert 0 in find(shapes(min_dims=1), lambda s: 0 in s)
    assert any(0 in s for s in find(broadcastable_shapes(), lambda p: any(0 in s for s in p)))
    with pytest.raises(NoSuchExample):
        find(shapes(min_side=1), lambda s: 0 in s)


@given(x=tensors(shape=shapes(min_dims=1)))
def test_gradcheck_accepts_empty_and_strided_tensors(x):
    assert gradcheck(lambda t: (t * t).sum(axis=0), x)


# ---------------------------------------------------------------- as a user runs them
_CI_VARIABLES = ("CI", "HYPOTHESIS_PROFILE", "GITHUB_ACTIONS", "TF_BUILD", "BUILDKITE", "CIRCLECI",
                 "CIRRUS_CI", "CODEBUILD_BUILD_ID", "GITLAB_CI", "HEROKU_TEST_RUN_ID",
                 "TEAMCITY_VERSION", "bamboo.buildKey", "__TOX_ENVIRONMENT_VARIABLE_ORIGINAL_CI")


def _readme_blocks(heading):
    """The ```python blocks of one README section."""
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = text.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


_USER_TESTS = """
import numpy as np
from hypothesis import given
from tinygrad_nn.testing import gradcheck, shapes, tensors


@given(tensors(shape=shapes(min_dims=1, max_dims=4, min_side=1, max_side=2)))
def test_smooth_activations(x):
    for f in (lambda t: t.tanh(), lambda t: t.sigmoid(), lambda t: t.softplus(),
              lambda t: t.softmax(axis=-1), lambda t: t.log_softmax(axis=0)):
        gradcheck(f, x)


@given(tensors(shape=shapes(min_dims=1, max_dims=4), dtype=np.float32))
def test_float32_backward(x):
    (x.tanh() * x.sigmoid() + x.elu()).sum().backward()
    assert x.grad.dtype == np.float32
"""


def test_property_tests_pass_as_a_user_runs_them(tmp_path):
    """The README's check_module example and @given tests on tensors(), run by plain pytest
    outside this suite (no conftest) under hypothesis's default settings, whose 200 ms deadline
    a first kernel load would miss without the strategy's warm-up."""
    import os
    import subprocess
    import sys

    blocks = _readme_blocks("Tour: property-testing your own module")
    assert len(blocks) == 1
    (tmp_path / "test_readme.py").write_text(blocks[0])
    (tmp_path / "test_a_user.py").write_text(_USER_TESTS)  # runs first: no kernel loaded yet
    (tmp_path / "test_profile.py").write_text(
        "import datetime\nfrom hypothesis import settings\n\n"
        "def test_hypothesis_runs_with_its_default_settings():\n"
        "    assert settings.get_current_profile_name() == 'default'\n"
        "    assert settings.default.deadline == datetime.timedelta(milliseconds=200)\n")
    env = {k: v for k, v in os.environ.items() if k not in _CI_VARIABLES}
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          "-p", "no:randomly", str(tmp_path)], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "5 passed" in run.stdout, run.stdout[-2000:]


class _NanGradient(Function):
    """x * 2 whose backward puts NaN (or inf) in one element: finite numerical gradient."""

    def forward(self, a, bad=np.nan):
        self.shape, self.bad = a.shape, bad
        return a * 2

    def backward(self, grad):
        g = grad * 2
        g.reshape(-1)[1] = self.bad
        return g


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_gradcheck_fails_on_a_non_finite_analytic_gradient(bad):
    with pytest.raises(GradcheckError, match=r"gradcheck failed for input 0 \(shape \(3,\)\): worst element "
                                             r"d out\[0\] / d input0\[1\]: analytic (nan|inf), numerical 0 "):
        gradcheck(lambda a: _NanGradient.apply(a, bad=bad), np.array([1.0, 2.0, 3.0]))
