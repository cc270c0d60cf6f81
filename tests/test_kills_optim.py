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


# ---------------------------------------------------------------- training.py
def _fit(arrays, **options):
    from tinygrad_nn.training import fit

    w = Tensor(np.zeros(2), requires_grad=True)
    options = {"epochs": 1, "batch_size": 2, "progress": False, **options}
    return fit(lambda X, y: ((Tensor(np.asarray(X, float)) @ w - Tensor(np.asarray(y, float))) ** 2).mean(),
               SGD([w], lr=0.01), arrays, **options), w


@pytest.mark.parametrize("arrays, name", [(np.ones((4, 2)), "ndarray"), ({"X": np.ones((4, 2))}, "dict"),
                                          (Tensor(np.ones((4, 2))), "Tensor")])
def test_fit_wants_a_tuple_of_arrays(arrays, name):
    with pytest.raises(TypeError, match=rf"^arrays must be a tuple of arrays, e\.g\. \(X, y\), got {name}$"):
        _fit(arrays)


@pytest.mark.parametrize("arrays, error", [
    ((), r"^arrays is empty: give at least the inputs, e\.g\. \(X,\) or \(X, y\)$"),
    ((np.ones((4, 2)), np.ones(3)), r"^arrays must have the same number of rows, got shapes \(4, 2\), \(3,\)$"),
    ((np.ones((4, 2)), np.float64(1.0)), r"^arrays must have the same number of rows, got shapes \(4, 2\), \(\)$"),
    ((np.ones((0, 2)), np.ones(0)), r"^arrays have no rows: nothing to train on$"),
])
def test_fit_rejects_empty_or_ragged_arrays(arrays, error):
    with pytest.raises(ValueError, match=error):
        _fit(arrays)


class _LazyRows:
    """An array-like read by rows on demand (as an h5py dataset or a memmap-backed store)."""

    def __init__(self, data):
        self.data, self.shape, self.ndim, self.reads = data, data.shape, data.ndim, 0

    def __getitem__(self, index):
        self.reads += 1
        return self.data[index]

    def __len__(self):
        return len(self.data)

    def __array__(self, *args, **kwargs):
        raise AssertionError("fit loaded the whole array-like instead of slicing it per batch")


def test_fit_slices_array_likes_lazily_and_converts_lists():
    X = np.arange(8.0).reshape(4, 2)
    lazy = _LazyRows(X)
    history, w = _fit((lazy, [1.0, 0.0, 1.0, 0.0]), shuffle=False)  # a list has no shape: converted
    assert lazy.reads == 2  # two batches of two rows
    _, w_ref = _fit((X, np.array([1.0, 0.0, 1.0, 0.0])), shuffle=False)
    np.testing.assert_array_equal(w.data, w_ref.data)
    assert len(history.loss) == 1


@pytest.mark.parametrize("training", [True, False])
def test_fit_gives_the_module_back_in_its_own_mode(training):
    from tinygrad_nn import nn

    model = nn.Dense(2, 1).train(training)
    seen = []
    _fit((np.ones((4, 2)), np.ones(4)), module=model, on_epoch_end=lambda epoch, history: seen.append(model.training) and False)
    assert seen == [True]  # train mode during the epochs
    assert model.training is training


class _Bar:
    """A stand-in for tqdm.tqdm recording what fit shows."""
    made = []

    def __init__(self, **kwargs):
        self.kwargs, self.updates, self.postfix, self.closed = kwargs, [], [], False
        _Bar.made.append(self)

    def update(self, n):
        self.updates.append(n)

    def set_postfix(self, post, refresh=True):
        self.postfix.append(dict(post))

    def close(self):
        self.closed = True


@pytest.mark.parametrize("desc", [None, "warm-up"])
def test_fit_progress_bar_counts_epochs_and_shows_loss_and_metrics(monkeypatch, desc):
    import tqdm

    monkeypatch.setattr(tqdm, "tqdm", _Bar)
    monkeypatch.setattr(_Bar, "made", [])
    scores = iter([0.123456, 0.5])
    history, _ = _fit((np.arange(8.0).reshape(4, 2), np.ones(4)), epochs=2, progress=True, desc=desc,
                      validate=lambda: next(scores), shuffle=False)
    (bar,) = _Bar.made
    assert bar.kwargs == {"total": 2, "desc": desc or "fit", "unit": "epoch", "leave": False}
    assert bar.updates == [1, 1] and bar.closed
    assert bar.postfix == [{"loss": f"{history.loss[0]:.4g}", "val_score": "0.1235"},
                           {"loss": f"{history.loss[1]:.4g}", "val_score": "0.5"}]
