"""Tests written to kill mutants that survived ``make mutation`` (see docs/mutation.md).

Each pins behaviour the rest of the suite left loose: the exact wording of an error (anchored, so
an edited message fails), an edge case of an input check, or a value a mutated branch would change.
"""
import numpy as np
import pytest

import tinygrad_nn as tn
import tinygrad_nn.functional as F
from tinygrad_nn.testing import gradcheck


# ---------------------------------------------------------------- ops/matmul.py
def test_matmul_mismatch_message_is_exact():
    a, b = tn.Tensor(np.ones((2, 3))), tn.Tensor(np.ones((4, 5)))
    with pytest.raises(ValueError, match=r"^matmul: shapes \(2, 3\) and \(4, 5\) are not aligned "
                                         r"for a matrix product$"):
        a @ b
    with pytest.raises(ValueError, match=r"^matmul: shapes \(\) and \(3,\) are not aligned"):
        tn.Tensor(np.float64(2.0)) @ tn.Tensor(np.ones(3))


def test_linear_messages_are_exact():
    x, w = np.ones((4, 3)), np.ones((3, 2))
    with pytest.raises(ValueError, match=r"^linear: input shape \(4, 2\) does not match weight shape "
                                         r"\(3, 2\) \(expected input \(\.\.\., in\) and weight "
                                         r"\(in, out\)\)$"):
        F.linear(tn.Tensor(np.ones((4, 2))), tn.Tensor(w))
    with pytest.raises(ValueError, match=r"^linear: bias shape \(3,\) does not match weight shape "
                                         r"\(3, 2\)$"):
        F.linear(tn.Tensor(x), tn.Tensor(w), tn.Tensor(np.ones(3)))
    with pytest.raises(ValueError, match=r"^linear: input shape \(\) does not match"):
        F.linear(tn.Tensor(np.float64(1.0)), tn.Tensor(w))
    with pytest.raises(ValueError, match=r"^linear: input shape \(4, 3\) does not match weight shape "
                                         r"\(3, 2, 1\)"):
        F.linear(tn.Tensor(x), tn.Tensor(np.ones((3, 2, 1))))


@pytest.mark.parametrize("bias", [False, True])
def test_linear_on_a_single_vector_matches_numpy_and_gradchecks(bias):
    rng = np.random.default_rng(0)
    x, w, b = rng.normal(size=3), rng.normal(size=(3, 2)), rng.normal(size=2)
    args = (x, w, b) if bias else (x, w)
    out = F.linear(*(tn.Tensor(a) for a in args))
    np.testing.assert_allclose(out.data, x @ w + (b if bias else 0), rtol=1e-12)
    assert gradcheck(lambda *t: F.linear(*t), *args)
