"""Kill tests for optim/ and training.py: behaviour that mutants showed the rest of the suite left
loose (see docs/mutation.md). Exact error messages are matched whole (anchored)."""
import numpy as np
import pytest

from tinygrad_nn import Tensor
from tinygrad_nn.optim import SGD, InverseScalingLR
from tinygrad_nn.optim.plateau import Plateau


def _params():
    return [Tensor(np.ones(3), requires_grad=True)]


# ---------------------------------------------------------------- optim/plateau.py
def test_plateau_state_from_numpy_scalars_restores_plain_python_values():
    """A state dict that went through numpy (np.savez, or arrays from another tool) holds 0-d
    arrays; load_state_dict turns them back into the str, floats and int they were."""
    saved = Plateau("max", 0.25)
    for value in (1.0, 2.0, 1.5):
        saved.step(value)
    state = {k: np.asarray(v) for k, v in saved.state_dict().items()}
    restored = Plateau()
    restored.load_state_dict(state)
    assert restored.state_dict() == {"mode": "max", "tol": 0.25, "best": 2.0, "num_bad_epochs": 1}
    assert [type(v) for v in restored.state_dict().values()] == [str, float, float, int]
    assert repr(restored) == "Plateau(mode='max', tol=0.25, best=2.0, num_bad_epochs=1)"


# ---------------------------------------------------------------- optim/schedules.py
def test_inverse_scaling_accepts_any_non_negative_sample_count():
    opt = SGD(_params(), lr=0.5)
    schedule = InverseScalingLR(opt, power_t=1.0)
    assert schedule.step(0) is True and opt.lr == 0.5
    schedule.step(0.25)
    assert opt.lr == pytest.approx(0.5 / 1.25, rel=1e-15)
    with pytest.raises(ValueError, match=r"^InverseScalingLR: samples_seen must be a finite number >= 0, "
                                         r"got -1$"):
        schedule.step(-1)
