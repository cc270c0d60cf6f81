"""Kill tests for optim/ and training.py: behaviour that mutants showed the rest of the suite left
loose (see docs/mutation.md). Exact error messages are matched whole (anchored)."""
import numpy as np
import pytest

from tinygrad_nn import Tensor
from tinygrad_nn.optim import SGD, InverseScalingLR
from tinygrad_nn.optim import schedules as S
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


# ---------------------------------------------------------------- optim/schedules.py (more)
def _sgd(lr=0.1, **kw):
    return SGD(_params(), lr=lr, **kw)


@pytest.mark.parametrize("make, error, message", [
    (lambda: S.MultiStepLR(_sgd(), 2.5), TypeError, r"MultiStepLR: milestones must be a list of epochs, got 2\.5"),
    (lambda: S.MultiStepLR(_sgd(), [1, -1]), ValueError, r"MultiStepLR: milestones\[\] must be an integer >= 0, got -1"),
    (lambda: S.MultiStepLR(_sgd(), [1], gamma=-1.0), ValueError, r"MultiStepLR: gamma must be a finite number >= 0, got -1\.0"),
    (lambda: S.ExponentialLR(_sgd(), gamma=-1.0), ValueError, r"ExponentialLR: gamma must be a finite number >= 0, got -1\.0"),
    (lambda: S.CosineAnnealingLR(_sgd(), 0), ValueError, r"CosineAnnealingLR: T_max must be an integer >= 1, got 0"),
    (lambda: S.CosineAnnealingLR(_sgd(), 5, eta_min=-1.0), ValueError,
     r"CosineAnnealingLR: eta_min must be a finite number >= 0, got -1\.0"),
    (lambda: S.InverseScalingLR(_sgd(), power_t=-1.0), ValueError,
     r"InverseScalingLR: power_t must be a finite number >= 0, got -1\.0"),
    (lambda: S.ReduceLROnPlateau(_sgd(), factor=1.0), ValueError, r"ReduceLROnPlateau: factor must be in \(0, 1\), got 1\.0"),
    (lambda: S.ReduceLROnPlateau(_sgd(), min_lr=-1.0), ValueError,
     r"ReduceLROnPlateau: min_lr must be a finite number >= 0, got -1\.0"),
    (lambda: S.OneCycleLR(_sgd(momentum=0.9), 0.1, total_steps=0), ValueError,
     r"OneCycleLR: total_steps must be an integer >= 1, got 0"),
    (lambda: S.OneCycleLR(_sgd(momentum=0.9), 0.1, epochs=0, steps_per_epoch=3), ValueError,
     r"OneCycleLR: epochs must be an integer >= 1, got 0"),
    (lambda: S.OneCycleLR(_sgd(momentum=0.9), 0.1, epochs=3, steps_per_epoch=0), ValueError,
     r"OneCycleLR: steps_per_epoch must be an integer >= 1, got 0"),
    (lambda: S.OneCycleLR(_sgd(momentum=0.9), 0.1, total_steps=5, three_phase="yes"), TypeError,
     r"OneCycleLR: three_phase must be a bool, got 'yes'"),
    (lambda: S.OneCycleLR(_sgd(momentum=0.9), 0.1, total_steps=5, div_factor=0.0), ValueError,
     r"OneCycleLR: div_factor must be a finite number > 0, got 0\.0"),
    (lambda: S.OneCycleLR(_sgd(momentum=0.9), 0.1, total_steps=5, final_div_factor=0.0), ValueError,
     r"OneCycleLR: final_div_factor must be a finite number > 0, got 0\.0"),
    (lambda: S.OneCycleLR(_sgd(momentum=0.9), 0.1, total_steps=5, cycle_momentum="yes"), TypeError,
     r"OneCycleLR: cycle_momentum must be a bool, got 'yes'"),
    (lambda: S.OneCycleLR(_sgd(momentum=0.9), 0.1, total_steps=5, max_momentum=-1.0), ValueError,
     r"OneCycleLR: max_momentum must be a finite number >= 0, got -1\.0"),
    (lambda: S.OneCycleLR(_sgd(momentum=0.9), 0.1, total_steps=5, base_momentum=-1.0), ValueError,
     r"OneCycleLR: base_momentum must be a finite number >= 0, got -1\.0"),
])
def test_schedule_argument_errors_name_the_schedule_and_argument(make, error, message):
    with pytest.raises(error, match="^" + message + "$"):
        make()


def test_one_cycle_accepts_the_smallest_valid_settings():
    assert S.OneCycleLR(_sgd(momentum=0.9), 0.1, total_steps=1).total_steps == 1
    assert S.OneCycleLR(_sgd(momentum=0.9), 0.1, epochs=1, steps_per_epoch=5).total_steps == 5
    assert S.OneCycleLR(_sgd(momentum=0.9), 0.1, epochs=5, steps_per_epoch=1).total_steps == 5
    small = S.OneCycleLR(_sgd(momentum=0.9), 0.1, total_steps=5, div_factor=0.5, final_div_factor=0.5)
    assert small.initial_lrs == [0.2] and small.min_lrs == [0.4]


def test_schedule_defaults():
    opt = _sgd()
    S.StepLR(opt, 1).step()
    assert opt.lr == pytest.approx(0.01, rel=1e-15)  # gamma 0.1
    opt = _sgd()
    S.MultiStepLR(opt, [1]).step()
    assert opt.lr == pytest.approx(0.01, rel=1e-15)
    opt = _sgd()
    cosine = S.CosineAnnealingLR(opt, 2)
    cosine.step()
    cosine.step()
    assert opt.lr == pytest.approx(0.0, abs=1e-18)  # eta_min 0
    opt = _sgd()
    S.InverseScalingLR(opt).step(3)
    assert opt.lr == pytest.approx(0.05, rel=1e-15)  # power_t 0.5: 0.1 / 4**0.5


def test_one_cycle_cycles_momentum_between_its_defaults_and_extrapolates_its_last_step():
    import math

    opt = _sgd(lr=0.1, momentum=0.9)
    schedule = S.OneCycleLR(opt, 1.0, total_steps=10)  # peak at step 0.3 * 10 - 1 = 2
    assert opt.param_groups[0]["momentum"] == 0.95  # max_momentum while the rate is low
    lrs, momenta = [], []
    for _ in range(10):
        schedule.step()
        lrs.append(opt.lr)
        momenta.append(opt.param_groups[0]["momentum"])
    assert lrs[1] == 1.0 and momenta[1] == pytest.approx(0.85, rel=1e-15)  # base_momentum at the peak
    low = 1.0 / 25.0 / 1e4
    # step 10 (= total_steps, allowed) continues the last phase's cosine past its end (pct 8/7)
    assert lrs[9] == pytest.approx(low + (1.0 - low) / 2 * (math.cos(math.pi * 8 / 7) + 1), rel=1e-12)
    assert lrs[8] == pytest.approx(low, rel=1e-9)


def test_schedule_state_dict_holds_only_settings_and_counters_and_names_bad_keys():
    state = S.StepLR(_sgd(), 2).state_dict()
    assert sorted(state) == ["base_lrs", "gamma", "last_epoch", "step_size"]
    with pytest.raises(ValueError, match=r"^StepLR\.load_state_dict: unexpected key 'bogus'$"):
        S.StepLR(_sgd(), 2).load_state_dict({**state, "bogus": 1})
    with pytest.raises(ValueError, match=r"^StepLR\.load_state_dict: missing key 'gamma'$"):
        S.StepLR(_sgd(), 2).load_state_dict({k: v for k, v in state.items() if k != "gamma"})


def test_reduce_on_plateau_defaults_patience_tol_and_min_lr():
    opt = _sgd()
    schedule = S.ReduceLROnPlateau(opt)
    for epoch in range(1, 13):  # the first epoch sets the best; then 11 > patience=10 bad ones
        schedule.step(1.0)
        assert opt.lr == (0.1 if epoch < 12 else pytest.approx(0.02, rel=1e-15)), epoch
    opt, metric = _sgd(), 10.0
    schedule = S.ReduceLROnPlateau(opt)
    for _ in range(15):  # improving by more than tol=1e-4 every epoch: never reduced
        metric -= 0.5
        schedule.step(metric)
    assert opt.lr == 0.1
    opt, metric = _sgd(), 10.0
    schedule = S.ReduceLROnPlateau(opt)
    for _ in range(12):  # by less than tol: a plateau
        metric -= 5e-5
        schedule.step(metric)
    assert opt.lr == pytest.approx(0.02, rel=1e-15)
    opt = _sgd(lr=1.5e-6)  # above min_lr=1e-6: reduced once more, then stuck
    schedule = S.ReduceLROnPlateau(opt)
    assert all(schedule.step(1.0) for _ in range(12)) and opt.lr == pytest.approx(3e-7, rel=1e-12)
    assert [schedule.step(1.0) for _ in range(11)][-1] is False


# ---------------------------------------------------------------- optim/plateau.py (more)
def test_plateau_starts_clean_and_counts_any_improvement_by_default():
    fresh = Plateau()
    assert fresh.state_dict() == {"mode": "min", "tol": 0.0, "best": np.inf, "num_bad_epochs": 0}
    fresh.step(1.0)
    fresh.step(0.999999)  # better by less than any positive tol
    assert fresh.num_bad_epochs == 0 and fresh.best == 0.999999


# ---------------------------------------------------------------- optim/optimizers.py
from tinygrad_nn.optim import Adagrad, Adam, AdamW, RMSprop  # noqa: E402


@pytest.mark.parametrize("make, error, message", [
    (lambda p: SGD(p, nesterov="yes"), TypeError, r"SGD: nesterov must be a bool, got 'yes'"),
    (lambda p: SGD(p, weight_decay=-1.0), ValueError, r"SGD: weight_decay must be a finite number >= 0, got -1\.0"),
    (lambda p: SGD(p, nesterov=True), ValueError, r"SGD: nesterov=True needs a momentum > 0"),
    (lambda p: Adam(p, betas=(0.9,)), ValueError, r"Adam: betas must be a pair \(beta1, beta2\), got \(0\.9,\)"),
    (lambda p: Adam(p, betas=(1.5, 0.999)), ValueError, r"Adam: betas\[0\] must be in \[0, 1\), got 1\.5"),
    (lambda p: RMSprop(p, weight_decay=-1.0), ValueError,
     r"RMSprop: weight_decay must be a finite number >= 0, got -1\.0"),
    (lambda p: RMSprop(p, momentum=-1.0), ValueError, r"RMSprop: momentum must be a finite number >= 0, got -1\.0"),
    (lambda p: Adagrad(p, weight_decay=-1.0), ValueError,
     r"Adagrad: weight_decay must be a finite number >= 0, got -1\.0"),
])
def test_optimizer_argument_errors_name_the_optimizer_and_argument(make, error, message):
    with pytest.raises(error, match="^" + message + "$"):
        make(_params())


def test_optimizer_defaults_and_betas_from_an_array():
    assert SGD(_params()).param_groups[0]["lr"] == 0.01
    group = AdamW(_params()).param_groups[0]
    assert group["lr"] == 1e-3 and group["weight_decay"] == 1e-2
    assert Adam(_params(), betas=np.array([0.9, 0.999])).param_groups[0]["betas"] == (0.9, 0.999)


@pytest.mark.parametrize("b1", [0.9, 0.3])
def test_adam_first_moment_is_torch_lerp_bit_for_bit(b1):
    """torch.lerp(m, g, w) is m + w (g - m) for w < 0.5, else g - (g - m)(1 - w): from m = 0,
    w g or g - g (1 - w), which differ in the last bit for many g."""
    g = np.random.default_rng(2).standard_normal(64).astype(np.float32)
    p = Tensor(np.zeros(64, np.float32), requires_grad=True)
    opt = Adam([p], betas=(b1, 0.999))
    p.grad = g.copy()
    opt.step()
    w = np.float32(1.0 - b1)
    want = w * g if w < 0.5 else g - g * (np.float32(1) - w)
    np.testing.assert_array_equal(opt.state[0]["exp_avg"], want)


def test_rmsprop_counts_steps_and_keeps_a_momentum_buffer_only_with_momentum():
    p = _params()
    opt = RMSprop(p)  # momentum 0
    for _ in range(3):
        p[0].grad = np.full(3, 0.5)
        opt.step()
    assert opt.state[0]["step"] == 3 and "momentum_buffer" not in opt.state[0]
    again = RMSprop(_params())
    again.load_state_dict(opt.state_dict())  # no momentum buffer needed
    assert again.state[0]["step"] == 3
    p = _params()
    with_momentum = RMSprop(p, momentum=0.9)
    p[0].grad = np.full(3, 0.5)
    with_momentum.step()
    state = with_momentum.state_dict()
    del state["momentum_buffer.0"]
    with pytest.raises(ValueError, match=r"momentum_buffer"):
        RMSprop(_params(), momentum=0.9).load_state_dict(state)


@pytest.mark.parametrize("alpha", [0.9, 0.3])
def test_centered_rmsprop_gradient_average_is_torch_lerp_bit_for_bit(alpha):
    g = np.random.default_rng(3).standard_normal(64).astype(np.float32)
    p = Tensor(np.zeros(64, np.float32), requires_grad=True)
    opt = RMSprop([p], alpha=alpha, centered=True)
    p.grad = g.copy()
    opt.step()
    w = 1.0 - alpha  # a Python float, as the optimizer passes it
    want = (g * np.float32(w)) if w < 0.5 else g - g * np.float32(1.0 - w)
    np.testing.assert_array_equal(opt.state[0]["grad_avg"], want)


# ---------------------------------------------------------------- optim/optimizer.py (more)
def test_load_state_dict_refuses_swapped_groups_a_parameter_too_many_and_a_bad_step():
    ps = [Tensor(np.ones(2), requires_grad=True) for _ in range(2)]
    opt = SGD([{"params": ps[:1]}, {"params": ps[1:]}], lr=0.1)
    state = opt.state_dict()
    state["param_groups.0.params"], state["param_groups.1.params"] = np.array([1]), np.array([0])
    with pytest.raises(ValueError, match=r"^SGD\.load_state_dict: param group 0 holds parameters \[1\], "
                                         r"this optimizer's holds \[0\]$"):
        opt.load_state_dict(state)
    p = _params()
    adam = Adam(p)
    p[0].grad = np.ones(3)
    adam.step()
    good = adam.state_dict()
    shifted = {("step.1" if k == "step.0" else k): v for k, v in good.items()}
    with pytest.raises(ValueError, match=r"^Adam\.load_state_dict: key 'step\.1' refers to parameter 1, "
                                         r"but the optimizer has 1$"):
        Adam(p).load_state_dict(shifted)
    for bad in (True, 2.5):
        with pytest.raises(ValueError, match=rf"^Adam\.load_state_dict: 'step\.0' must be an integer >= 1, "
                                             rf"got {bad}$"):
            Adam(p).load_state_dict({**good, "step.0": bad})
