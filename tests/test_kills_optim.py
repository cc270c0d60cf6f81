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


# ---------------------------------------------------------------- optim/optimizer.py
def _two_groups():
    ps = [Tensor(np.full(2, float(k + 1)), requires_grad=True) for k in range(3)]
    return ps, SGD([{"params": ps[:1], "lr": 0.1}, {"params": ps[1:], "lr": 0.2}])


def test_reading_lr_of_groups_with_different_rates_says_where_to_read_it():
    _, opt = _two_groups()
    with pytest.raises(ValueError, match=r"^SGD's param groups have different learning rates \[0\.1, 0\.2\]; "
                                         r"read optimizer\.param_groups\[k\]\['lr'\]$"):
        opt.lr


def test_step_skips_a_parameter_without_gradient_and_updates_the_rest_of_its_group():
    ps, opt = _two_groups()
    ps[2].grad = np.array([1.0, -1.0])  # ps[1], first in the same group, has none
    opt.step()
    np.testing.assert_array_equal(ps[1].data, [2.0, 2.0])
    np.testing.assert_allclose(ps[2].data, [3.0 - 0.2, 3.0 + 0.2], rtol=1e-15)


def test_load_state_dict_names_the_first_missing_key():
    _, opt = _two_groups()
    state = opt.state_dict()
    del state["param_groups.1.momentum"]
    with pytest.raises(ValueError, match=r"^SGD\.load_state_dict: missing key 'param_groups\.1\.momentum'$"):
        opt.load_state_dict(state)


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
