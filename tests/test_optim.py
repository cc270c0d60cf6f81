"""Optimizers against numpy transcriptions of PyTorch's documented algorithms (and against
torch.optim itself when it is importable), param groups, state_dict resume, the Adam kernel
against its numpy reference, schedules against closed forms, torch and scikit-learn, plateau
counting, gradient clipping."""
import math
from bisect import bisect_right

import numpy as np
import pytest
from sklearn.neural_network._stochastic_optimizers import AdamOptimizer as SkAdam
from sklearn.neural_network._stochastic_optimizers import SGDOptimizer as SkSGD

from tinygrad_nn import Tensor
from tinygrad_nn.kernels.optim import adam_step, adam_step_reference
from tinygrad_nn.optim import (SGD, Adagrad, Adam, AdamW, ConstantLR, CosineAnnealingLR,
                               ExponentialLR, InverseScalingLR, LambdaLR, LRScheduler,
                               MultiStepLR, OneCycleLR, Plateau, ReduceLROnPlateau, RMSprop,
                               StepLR, clip_grad_norm_)

SHAPES = [(3, 4), (4,), (2, 1, 3)]


def make_params(dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    return [Tensor(rng.standard_normal(s).astype(dtype), requires_grad=True) for s in SHAPES]


def grad_sequence(steps, dtype=np.float64, seed=1):
    """Fixed gradients per step (not from a loss: the optimizer alone is under test)."""
    rng = np.random.default_rng(seed)
    return [[rng.standard_normal(s).astype(dtype) for s in SHAPES] for _ in range(steps)]


def run(opt, params, grads):
    """Feed the gradient sequence to ``opt``; return the parameter values after every step."""
    out = []
    for gs in grads:
        for p, g in zip(params, gs):
            p.grad = g.copy()
        opt.step()
        out.append([p.data.copy() for p in params])
    return out


# ------------------------------------------------------------ numpy transcriptions of torch.optim
def ref_sgd(params, grads, lr, momentum=0.0, nesterov=False, weight_decay=0.0):
    params = [p.astype(np.float64) for p in params]
    bufs = [None] * len(params)
    out = []
    for gs in grads:
        for i, g in enumerate(gs):
            g = g + weight_decay * params[i]
            if momentum:
                bufs[i] = g.copy() if bufs[i] is None else momentum * bufs[i] + g
                g = g + momentum * bufs[i] if nesterov else bufs[i]
            params[i] = params[i] - lr * g
        out.append([p.copy() for p in params])
    return out


def ref_adam(params, grads, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
    b1, b2 = betas
    params = [p.astype(np.float64) for p in params]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    out = []
    for t, gs in enumerate(grads, start=1):
        for i, g in enumerate(gs):
            g = g + weight_decay * params[i]
            m[i] = b1 * m[i] + (1 - b1) * g
            v[i] = b2 * v[i] + (1 - b2) * g * g
            mhat = m[i] / (1 - b1 ** t)
            vhat = v[i] / (1 - b2 ** t)
            params[i] = params[i] - lr * mhat / (np.sqrt(vhat) + eps)
        out.append([p.copy() for p in params])
    return out


def ref_adamw(params, grads, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
    b1, b2 = betas
    params = [p.astype(np.float64) for p in params]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    out = []
    for t, gs in enumerate(grads, start=1):
        for i, g in enumerate(gs):
            params[i] = params[i] * (1 - lr * weight_decay)
            m[i] = b1 * m[i] + (1 - b1) * g
            v[i] = b2 * v[i] + (1 - b2) * g * g
            params[i] = params[i] - lr * (m[i] / (1 - b1 ** t)) / (np.sqrt(v[i] / (1 - b2 ** t)) + eps)
        out.append([p.copy() for p in params])
    return out


def ref_rmsprop(params, grads, lr=0.01, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                centered=False):
    params = [p.astype(np.float64) for p in params]
    sq = [np.zeros_like(p) for p in params]
    ga = [np.zeros_like(p) for p in params]
    buf = [np.zeros_like(p) for p in params]
    out = []
    for gs in grads:
        for i, g in enumerate(gs):
            g = g + weight_decay * params[i]
            sq[i] = alpha * sq[i] + (1 - alpha) * g * g
            if centered:
                ga[i] = alpha * ga[i] + (1 - alpha) * g
                avg = np.sqrt(sq[i] - ga[i] ** 2) + eps
            else:
                avg = np.sqrt(sq[i]) + eps
            if momentum > 0:
                buf[i] = momentum * buf[i] + g / avg
                params[i] = params[i] - lr * buf[i]
            else:
                params[i] = params[i] - lr * g / avg
        out.append([p.copy() for p in params])
    return out


def ref_adagrad(params, grads, lr=0.01, lr_decay=0.0, weight_decay=0.0,
                initial_accumulator_value=0.0, eps=1e-10):
    params = [p.astype(np.float64) for p in params]
    acc = [np.full_like(p, initial_accumulator_value) for p in params]
    out = []
    for t, gs in enumerate(grads, start=1):
        for i, g in enumerate(gs):
            g = g + weight_decay * params[i]
            acc[i] = acc[i] + g * g
            params[i] = params[i] - lr / (1 + (t - 1) * lr_decay) * g / (np.sqrt(acc[i]) + eps)
        out.append([p.copy() for p in params])
    return out


def assert_trajectories_close(got, want, rtol, atol):
    for step, (gs, ws) in enumerate(zip(got, want)):
        for i, (g, w) in enumerate(zip(gs, ws)):
            np.testing.assert_allclose(g, w, rtol=rtol, atol=atol, err_msg=f"step {step}, param {i}")


SGD_CONFIGS = [
    dict(lr=0.1),
    dict(lr=0.05, momentum=0.9),
    dict(lr=0.05, momentum=0.9, nesterov=True),
    dict(lr=0.1, weight_decay=0.01),
    dict(lr=0.05, momentum=0.5, weight_decay=0.1),
    dict(lr=0.02, momentum=0.9, nesterov=True, weight_decay=0.05),
]
ADAM_CONFIGS = [
    dict(lr=1e-3),
    dict(lr=0.01, betas=(0.8, 0.99)),
    dict(lr=0.05, betas=(0.3, 0.9), eps=1e-6),  # beta1 < 0.5: torch.lerp's other branch
    dict(lr=0.01, weight_decay=0.1),
    dict(lr=0.02, betas=(0.0, 0.5), eps=1e-4, weight_decay=0.01),
]


ADAMW_CONFIGS = [
    dict(lr=1e-3),
    dict(lr=0.01, betas=(0.8, 0.99), weight_decay=0.1),
    dict(lr=0.05, betas=(0.3, 0.9), eps=1e-6, weight_decay=0.0),
]
RMSPROP_CONFIGS = [
    dict(),
    dict(lr=0.02, alpha=0.9, eps=1e-6),
    dict(lr=0.01, momentum=0.9),
    dict(lr=0.01, centered=True),
    dict(lr=0.01, alpha=0.3, centered=True, momentum=0.5, weight_decay=0.1),  # lerp's other branch
]
ADAGRAD_CONFIGS = [
    dict(),
    dict(lr=0.1, lr_decay=0.05),
    dict(lr=0.05, weight_decay=0.1, initial_accumulator_value=0.5, eps=1e-6),
]
ALL = {SGD: (SGD_CONFIGS, ref_sgd), Adam: (ADAM_CONFIGS, ref_adam), AdamW: (ADAMW_CONFIGS, ref_adamw),
       RMSprop: (RMSPROP_CONFIGS, ref_rmsprop), Adagrad: (ADAGRAD_CONFIGS, ref_adagrad)}
CASES = [(cls, c) for cls, (configs, _) in ALL.items() for c in configs]


@pytest.mark.parametrize("cls, config", CASES)
def test_matches_numpy_transcription_of_pytorch(cls, config):
    params, grads = make_params(), grad_sequence(6)
    want = ALL[cls][1]([p.data for p in params], grads, **config)
    got = run(cls(params, **config), params, grads)
    assert_trajectories_close(got, want, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("cls, config", CASES)
def test_float32_stays_float32_and_close_to_float64(cls, config):
    params32, grads64 = make_params(np.float32), grad_sequence(5)
    grads32 = [[g.astype(np.float32) for g in gs] for gs in grads64]
    data_ids = [id(p.data) for p in params32]
    got = run(cls(params32, **config), params32, grads32)
    assert all(p.dtype == np.float32 for p in params32)
    assert [id(p.data) for p in params32] == data_ids  # updated in place
    want = ALL[cls][1]([p.data for p in make_params(np.float32)], grads32, **config)
    assert_trajectories_close(got, want, rtol=1e-4, atol=1e-5)


def test_changing_lr_between_steps():
    params, grads = make_params(), grad_sequence(4)
    opt = SGD(params, lr=0.1, momentum=0.9)
    start = [p.data.copy() for p in params]
    run(opt, params, grads[:2])
    opt.lr = 0.01
    got = run(opt, params, grads[2:])
    # the reference with the lr switch: momentum buffers carry over, only lr changes
    first = ref_sgd(start, grads[:2], lr=0.1, momentum=0.9)
    bufs = []
    for i in range(len(SHAPES)):
        b = grads[0][i].copy()
        b = 0.9 * b + grads[1][i]
        bufs.append(b)
    params_ref = first[-1]
    for gs in grads[2:]:
        for i, g in enumerate(gs):
            bufs[i] = 0.9 * bufs[i] + g
            params_ref[i] = params_ref[i] - 0.01 * bufs[i]
    assert_trajectories_close([got[-1]], [params_ref], rtol=1e-12, atol=1e-14)


def test_params_without_grad_are_skipped_and_adam_counts_steps_per_param():
    params, grads = make_params(), grad_sequence(3)
    opt = Adam(params, lr=0.1)
    frozen = params[1].data.copy()
    for p, g in zip(params, grads[0]):
        p.grad = g.copy()
    params[1].grad = None  # no gradient at the first step
    opt.step()
    np.testing.assert_array_equal(params[1].data, frozen)
    assert "step" not in opt.state[1] and opt.state[0]["step"] == 1
    for p, g in zip(params, grads[1]):
        p.grad = g.copy()
    opt.step()
    # its first update uses t=1 bias correction, as PyTorch's per-parameter step does
    want = ref_adam([frozen], [[grads[1][1]]], lr=0.1)[0][0]
    np.testing.assert_allclose(params[1].data, want, rtol=1e-12)
    assert opt.state[1]["step"] == 1 and opt.state[0]["step"] == 2


def test_step_does_not_touch_the_gradients():
    params, grads = make_params(), grad_sequence(1)
    for p, g in zip(params, grads[0]):
        p.grad = g.copy()
    SGD(params, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1).step()
    Adam(params, lr=0.1, weight_decay=0.1).step()
    for p, g in zip(params, grads[0]):
        np.testing.assert_array_equal(p.grad, g)


def test_zero_grad_clears_gradients():
    params = make_params()
    for p in params:
        p.grad = np.ones_like(p.data)
    SGD(params).zero_grad()
    assert all(p.grad is None for p in params)


# ------------------------------------------------------------------------- real torch.optim
@pytest.mark.parametrize("dtype, rtol, atol", [(np.float64, 1e-12, 1e-14), (np.float32, 2e-6, 1e-6)])
@pytest.mark.parametrize("cls, config", CASES)
def test_matches_torch_optim(cls, config, dtype, rtol, atol):
    torch = pytest.importorskip("torch")
    params, grads = make_params(dtype), grad_sequence(8, dtype)
    tparams = [torch.tensor(p.data.copy(), requires_grad=True) for p in params]
    topt = getattr(torch.optim, cls.__name__)(tparams, foreach=False, **config)
    want = []
    for gs in grads:
        for tp, g in zip(tparams, gs):
            tp.grad = torch.tensor(g.copy())
        topt.step()
        want.append([tp.detach().numpy().copy() for tp in tparams])
    got = run(cls(params, **config), params, grads)
    assert_trajectories_close(got, want, rtol=rtol, atol=atol)


# ------------------------------------------------------------------------------- state_dict
@pytest.mark.parametrize("cls, config", [
    (SGD, dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)),
    (SGD, dict(lr=0.05, momentum=0.9, velocity="step")),
    (Adam, dict(lr=0.01, betas=(0.8, 0.99), weight_decay=0.01)),
    (Adam, dict(lr=0.01, eps_placement="raw")),
    (AdamW, dict(lr=0.01, weight_decay=0.1)),
    (RMSprop, dict(lr=0.01, momentum=0.9, centered=True)),
    (Adagrad, dict(lr=0.1, lr_decay=0.01, initial_accumulator_value=0.1)),
])
@pytest.mark.parametrize("through_npz", [False, True])
def test_state_dict_resume_gives_identical_trajectory(cls, config, through_npz, tmp_path):
    params, grads = make_params(np.float32), grad_sequence(6, np.float32)
    opt = cls(params, **config)
    run(opt, params, grads[:3])
    opt.lr = config["lr"] / 2
    saved = opt.state_dict()
    saved_params = [p.data.copy() for p in params]
    want = run(opt, params, grads[3:])
    if through_npz:
        np.savez(tmp_path / "opt.npz", **saved)
        with np.load(tmp_path / "opt.npz") as f:
            saved = dict(f)
    resumed = [Tensor(d.copy(), requires_grad=True) for d in saved_params]
    opt2 = cls(resumed, lr=123.0)
    opt2.load_state_dict(saved)
    assert opt2.lr == config["lr"] / 2
    got = run(opt2, resumed, grads[3:])
    assert_trajectories_close(got, want, rtol=0, atol=0)  # bit for bit


def test_state_dict_is_a_copy():
    params, grads = make_params(), grad_sequence(3)
    opt = SGD(params, lr=0.1, momentum=0.9)
    run(opt, params, grads[:1])
    sd = opt.state_dict()
    before = sd["momentum_buffer.0"].copy()
    run(opt, params, grads[1:])
    np.testing.assert_array_equal(sd["momentum_buffer.0"], before)
    assert set(sd) == {"param_groups.0.params", "param_groups.0.lr", "param_groups.0.momentum",
                       "param_groups.0.nesterov", "param_groups.0.weight_decay",
                       "param_groups.0.velocity",
                       "momentum_buffer.0", "momentum_buffer.1", "momentum_buffer.2"}
    np.testing.assert_array_equal(sd["param_groups.0.params"], [0, 1, 2])


def test_load_state_dict_rejects_bad_entries():
    params, grads = make_params(), grad_sequence(1)
    opt = Adam(params)
    run(opt, params, grads)
    good = opt.state_dict()
    with pytest.raises(ValueError, match="unexpected key 'momentum_buffer.0'"):
        opt.load_state_dict({**good, "momentum_buffer.0": np.zeros((3, 4))})
    with pytest.raises(ValueError, match=r"'exp_avg.0' has shape \(2, 2\), parameter 0 has shape \(3, 4\)"):
        opt.load_state_dict({**good, "exp_avg.0": np.zeros((2, 2))})
    with pytest.raises(ValueError, match="refers to parameter 7"):
        opt.load_state_dict({**good, "exp_avg.7": np.zeros((3, 4))})
    with pytest.raises(ValueError, match="lr must be"):
        opt.load_state_dict({**good, "param_groups.0.lr": -1.0, "param_groups.0.betas": (0.5, 0.9)})
    with pytest.raises(ValueError, match="missing key 'param_groups.0.eps'"):
        opt.load_state_dict({k: v for k, v in good.items() if k != "param_groups.0.eps"})
    incomplete = {k: v for k, v in good.items() if k != "exp_avg_sq.1"}
    with pytest.raises(ValueError, match=r"state of parameter 1 is incomplete: it has "
                                         r"\['exp_avg', 'step'\] but not \['exp_avg_sq'\]"):
        opt.load_state_dict(incomplete)
    with pytest.raises(ValueError, match=r"'step.0' must be an integer >= 1, got 0"):
        opt.load_state_dict({**good, "step.0": 0})
    with pytest.raises(ValueError, match=r"param group 0 holds parameters \[0, 1\], this "
                                         r"optimizer's holds \[0, 1, 2\]"):
        opt.load_state_dict({**good, "param_groups.0.params": np.arange(2)})
    with pytest.raises(ValueError, match="unexpected key 'param_groups.1.lr'"):
        opt.load_state_dict({**good, "param_groups.1.lr": 0.1})
    sd = opt.state_dict()
    assert opt.lr == 1e-3 and opt.param_groups[0]["betas"] == (0.9, 0.999)  # nothing changed
    for k in good:
        np.testing.assert_array_equal(sd[k], good[k])


# ---------------------------------------------------------------------------------- bad input
def test_bad_input_raises_clear_errors():
    params = make_params()
    with pytest.raises(ValueError, match="empty parameter list"):
        SGD([])
    with pytest.raises(ValueError, match="empty parameter list"):
        Adam(iter(()))
    with pytest.raises(ValueError, match="lr must be a finite number >= 0, got -0.1"):
        SGD(params, lr=-0.1)
    with pytest.raises(ValueError, match="lr must be a finite number >= 0, got -1"):
        Adam(params, lr=-1)
    opt = SGD(params, lr=0.1)
    with pytest.raises(ValueError, match="lr must be"):
        opt.lr = float("nan")
    assert opt.lr == 0.1
    with pytest.raises(ValueError, match="momentum must be"):
        SGD(params, momentum=-0.5)
    with pytest.raises(ValueError, match="nesterov=True needs a momentum > 0"):
        SGD(params, nesterov=True)
    with pytest.raises(ValueError, match="weight_decay must be"):
        Adam(params, weight_decay=-1e-3)
    with pytest.raises(ValueError, match=r"betas\[1\] must be in \[0, 1\)"):
        Adam(params, betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="betas must be a pair"):
        Adam(params, betas=0.9)
    with pytest.raises(ValueError, match="lr must be a real number"):
        SGD(params, lr="0.1")
    with pytest.raises(TypeError, match=r"params\[1\] must be a Tensor, got ndarray"):
        SGD([params[0], np.zeros(3)])
    with pytest.raises(TypeError, match="got a single Tensor"):
        SGD(params[0])
    with pytest.raises(ValueError, match=r"params\[1\] appears more than once"):
        SGD([params[0], params[0]])


# ---------------------------------------------------------------------------------- schedules
def test_constant_lr_leaves_lr_alone():
    opt = SGD(make_params(), lr=0.3)
    sched = ConstantLR(opt)
    assert all(sched.step(x) for x in (1.0, 2.0, 3.0))
    assert opt.lr == 0.3 == sched.lr


def test_inverse_scaling_matches_sklearn():
    opt = SGD(make_params(), lr=0.1)
    sched = InverseScalingLR(opt, power_t=0.25)
    sk = SkSGD([np.zeros(1)], learning_rate_init=0.1, lr_schedule="invscaling", power_t=0.25)
    for samples_seen in (100, 200, 1000, 12345):
        assert sched.step(samples_seen)
        sk.iteration_ends(samples_seen)
        assert opt.lr == sk.learning_rate


def sklearn_adaptive(losses, lr, n_iter_no_change, tol):
    """scikit-learn's MLP epoch logic for solver='sgd', learning_rate='adaptive' (loss-based):
    lr after every epoch, and the epoch at which it stops (None if it never does)."""
    sk = SkSGD([np.zeros(1)], learning_rate_init=lr, lr_schedule="adaptive")
    best, count, lrs = np.inf, 0, []
    for epoch, loss in enumerate(losses):
        if loss > best - tol:
            count += 1
        else:
            count = 0
        if loss < best:
            best = loss
        if count > n_iter_no_change:
            if sk.trigger_stopping("", verbose=False):
                return lrs, epoch
            count = 0
        lrs.append(sk.learning_rate)
    return lrs, None


@pytest.mark.parametrize("patience, tol", [(2, 1e-4), (0, 0.0), (3, 0.05)])
def test_reduce_on_plateau_matches_sklearn_adaptive(patience, tol):
    rng = np.random.default_rng(3)
    losses = list(np.r_[np.linspace(1.0, 0.5, 5), 0.5 + 0.01 * rng.random(60)])
    want_lrs, want_stop = sklearn_adaptive(losses, 0.1, patience, tol)
    opt = SGD(make_params(), lr=0.1)
    sched = ReduceLROnPlateau(opt, patience=patience, tol=tol, min_lr=1e-6)
    lrs, stop = [], None
    for epoch, loss in enumerate(losses):
        if not sched.step(loss):
            stop = epoch
            break
        lrs.append(opt.lr)
    assert lrs == want_lrs
    assert stop == want_stop and stop is not None


def test_reduce_on_plateau_max_mode_and_factor():
    opt = Adam(make_params(), lr=1.0)
    sched = ReduceLROnPlateau(opt, factor=0.5, patience=1, tol=0.0, min_lr=0.2, mode="max")
    seq = [0.5, 0.6, 0.6, 0.55, 0.7, 0.69, 0.68, 0.1, 0.1, 0.1, 0.1]
    # tol=0: a tie counts as improvement (scikit-learn's ``score < best + tol`` test)
    lrs = []
    for s in seq:
        assert sched.step(s)
        lrs.append(opt.lr)
    assert lrs == [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.25, 0.25, 0.125]
    assert sched.step(0.1) and not sched.step(0.1)  # at lr 0.125 <= min_lr it cannot go lower


def test_schedule_state_dict_roundtrip_and_errors():
    opt = SGD(make_params(), lr=0.1)
    sched = ReduceLROnPlateau(opt, patience=1)
    for loss in (1.0, 1.0, 1.0):
        sched.step(loss)
    sd = sched.state_dict()
    sched2 = ReduceLROnPlateau(SGD(make_params(), lr=0.1), patience=1)
    sched2.load_state_dict(sd)
    assert sched2.state_dict() == sd
    with pytest.raises(ValueError, match="unexpected key 'bogus'"):
        sched2.load_state_dict({"bogus": 1})
    with pytest.raises(ValueError, match="the metric is NaN"):
        sched.step(float("nan"))
    with pytest.raises(ValueError, match="patience must be an integer >= 0"):
        ReduceLROnPlateau(opt, patience=-1)
    with pytest.raises(ValueError, match="mode must be one of 'min', 'max'"):
        ReduceLROnPlateau(opt, mode="up")
    with pytest.raises(ValueError, match="power_t must be"):
        InverseScalingLR(opt, power_t=-1)
    with pytest.raises(TypeError, match="needs an Optimizer"):
        ConstantLR(object())


def test_adam_updates_a_non_contiguous_parameter_like_a_contiguous_one():
    from tinygrad_nn import Tensor
    from tinygrad_nn.optim import Adam

    base = np.arange(12.0).reshape(3, 4)
    a = Tensor(base.T.copy(), requires_grad=True)
    b = Tensor(base.copy().T, requires_grad=True)  # a transposed (Fortran-ordered) view
    assert not b.data.flags.c_contiguous
    opts = [Adam([a], lr=0.1), Adam([b], lr=0.1)]
    for _ in range(3):
        for t, opt in zip((a, b), opts):
            t.grad = t.data * 0.5 - 1.0
            opt.step()
    np.testing.assert_array_equal(a.data, b.data)


# ------------------------------------------------------------------------------- param groups
def grouped(cls, params, **defaults):
    """Three groups: the first with its own lr, the second with its own lr and decay."""
    groups = [{"params": [params[0]], "lr": 0.05},
              {"params": [params[1]], "lr": 0.2, "weight_decay": 0.1},
              {"params": [params[2]]}]
    return cls(groups, **defaults)


@pytest.mark.parametrize("cls, config", [(cls, ALL[cls][0][-1]) for cls in ALL])
def test_param_groups_equal_one_optimizer_per_group(cls, config):
    config = {k: v for k, v in config.items() if k not in ("lr", "weight_decay")}
    params, grads = make_params(), grad_sequence(5)
    got = run(grouped(cls, params, lr=0.01, **config), params, grads)
    separate = make_params()
    opts = [cls([separate[0]], lr=0.05, **config),
            cls([separate[1]], lr=0.2, weight_decay=0.1, **config),
            cls([separate[2]], lr=0.01, **config)]
    want = []
    for gs in grads:
        for p, g, opt in zip(separate, gs, opts):
            p.grad = g.copy()
            opt.step()
        want.append([p.data.copy() for p in separate])
    assert_trajectories_close(got, want, rtol=0, atol=0)  # bit for bit


@pytest.mark.parametrize("cls, config", [(cls, ALL[cls][0][-1]) for cls in ALL])
def test_param_groups_match_torch(cls, config):
    torch = pytest.importorskip("torch")
    config = {k: v for k, v in config.items() if k not in ("lr", "weight_decay")}
    params, grads = make_params(), grad_sequence(5)
    tparams = [torch.tensor(p.data.copy(), requires_grad=True) for p in params]
    topt = getattr(torch.optim, cls.__name__)(
        [{"params": [tparams[0]], "lr": 0.05},
         {"params": [tparams[1]], "lr": 0.2, "weight_decay": 0.1},
         {"params": [tparams[2]]}], lr=0.01, foreach=False, **config)
    want = []
    for gs in grads:
        for tp, g in zip(tparams, gs):
            tp.grad = torch.tensor(g.copy())
        topt.step()
        want.append([tp.detach().numpy().copy() for tp in tparams])
    got = run(grouped(cls, params, lr=0.01, **config), params, grads)
    assert_trajectories_close(got, want, rtol=1e-12, atol=1e-14)


def test_param_groups_look_like_pytorchs_and_validate_assignments():
    params = make_params()
    opt = grouped(SGD, params, lr=0.01, momentum=0.9)
    assert [g["lr"] for g in opt.param_groups] == [0.05, 0.2, 0.01]
    assert [g["weight_decay"] for g in opt.param_groups] == [0.0, 0.1, 0.0]
    assert opt.param_groups[1]["params"][0] is params[1] and opt.params == params
    assert opt.defaults == dict(lr=0.01, momentum=0.9, nesterov=False, weight_decay=0.0,
                                velocity="gradient")
    with pytest.raises(ValueError, match=r"different learning rates \[0.05, 0.2, 0.01\]"):
        opt.lr
    opt.lr = 0.3  # sets every group
    assert opt.lr == 0.3 and all(g["lr"] == 0.3 for g in opt.param_groups)
    opt.param_groups[0]["momentum"] = 0.5
    assert opt.param_groups[0]["momentum"] == 0.5 and opt.param_groups[1]["momentum"] == 0.9
    with pytest.raises(ValueError, match="SGD: lr must be a finite number >= 0, got -1"):
        opt.param_groups[0]["lr"] = -1
    with pytest.raises(ValueError, match="nesterov=True needs a momentum > 0"):
        opt.param_groups[2].update(nesterov=True, momentum=0.0)
    assert opt.param_groups[2]["nesterov"] is False and opt.param_groups[2]["momentum"] == 0.9
    with pytest.raises(KeyError, match="no key 'learning_rate'"):
        opt.param_groups[0]["learning_rate"] = 0.1
    with pytest.raises(TypeError, match="'params' cannot be reassigned"):
        opt.param_groups[0]["params"] = []
    with pytest.raises(TypeError, match="cannot be removed"):
        del opt.param_groups[0]["lr"]
    extra = Tensor(np.ones(2), requires_grad=True)
    opt.add_param_group({"params": extra, "lr": 1.0})
    assert len(opt.param_groups) == 4 and opt.params[-1] is extra and len(opt.state) == 4
    extra.grad = np.ones(2)
    opt.step()
    np.testing.assert_array_equal(extra.data, np.zeros(2))
    with pytest.raises(ValueError, match=r"param group 4 params\[0\] appears more than once"):
        opt.add_param_group({"params": [params[0]]})
    with pytest.raises(ValueError, match="param group 0 has unknown key 'betas'"):
        SGD([{"params": params, "betas": (0.9, 0.99)}])
    with pytest.raises(TypeError, match="all Tensors or all param-group dicts"):
        SGD([params[0], {"params": [params[1]]}])
    with pytest.raises(ValueError, match="param group 1 has an empty 'params' list"):
        SGD([{"params": params}, {"params": []}])


def test_param_groups_state_dict_round_trip_is_bit_identical(tmp_path):
    params, grads = make_params(np.float32), grad_sequence(6, np.float32)
    opt = grouped(Adam, params, lr=0.01, betas=(0.8, 0.99))
    run(opt, params, grads[:3])
    opt.param_groups[2]["betas"] = (0.5, 0.9)
    saved = opt.state_dict()
    assert saved["param_groups.1.lr"] == 0.2 and saved["param_groups.2.betas"] == (0.5, 0.9)
    np.testing.assert_array_equal(saved["param_groups.1.params"], [1])
    start = [p.data.copy() for p in params]
    want = run(opt, params, grads[3:])
    np.savez(tmp_path / "opt.npz", **saved)
    with np.load(tmp_path / "opt.npz") as f:
        loaded = dict(f)
    resumed = [Tensor(d.copy(), requires_grad=True) for d in start]
    opt2 = grouped(Adam, resumed, lr=1.0)
    opt2.load_state_dict(loaded)
    assert [dict(g, params=None) for g in opt2.param_groups] == \
        [dict(g, params=None) for g in opt.param_groups]
    got = run(opt2, resumed, grads[3:])
    assert_trajectories_close(got, want, rtol=0, atol=0)  # bit for bit


def test_optimizers_pickle_with_their_groups():
    import pickle

    params, grads = make_params(), grad_sequence(2)
    opt = grouped(RMSprop, params, lr=0.01, momentum=0.9)
    run(opt, params, grads[:1])
    copy = pickle.loads(pickle.dumps((params, opt)))[1]
    with pytest.raises(ValueError, match="alpha must be in"):
        copy.param_groups[0]["alpha"] = 1.0
    want = run(opt, params, grads[1:])
    got = run(copy, copy.params, grads[1:])
    np.testing.assert_array_equal(got[0][0], want[0][0])


# ------------------------------------------------------------------- gradients checked first
@pytest.mark.parametrize("cls", list(ALL))
def test_a_mismatched_gradient_raises_before_any_update(cls):
    params = make_params()
    opt = cls(params, lr=0.1)
    before = [p.data.copy() for p in params]
    for p in params:
        p.grad = np.ones_like(p.data)
    params[2].grad = np.ones(3)  # parameter 2 is (2, 1, 3): Adam's kernel would read past it
    with pytest.raises(ValueError, match=rf"{cls.__name__}.step: the gradient of parameter 2 has "
                                         r"shape \(3,\) and dtype float64, but the parameter has "
                                         r"shape \(2, 1, 3\) and dtype float64"):
        opt.step()
    params[2].grad = np.ones((2, 1, 3), np.float32)
    with pytest.raises(ValueError, match=r"parameter 2 has shape \(2, 1, 3\) and dtype float32, "
                                         r"but the parameter has shape \(2, 1, 3\) and dtype float64"):
        opt.step()
    params[2].grad = [[1.0]]
    with pytest.raises(TypeError, match="gradient of parameter 2 must be an ndarray, got list"):
        opt.step()
    for p, b in zip(params, before):  # nothing moved, no state was made
        np.testing.assert_array_equal(p.data, b)
    assert all(not st for st in opt.state)


def test_adam_kernel_checks_sizes_itself():
    a = np.zeros(4)
    with pytest.raises(ValueError, match="same size"):
        adam_step(a, np.zeros(3), a.copy(), a.copy(), beta1=0.9, one_minus_beta1=0.1, beta2=0.9,
                  one_minus_beta2=0.1, bias2_sqrt=1.0, eps=1e-8, step_size=0.1, weight_decay=0.0,
                  decay_factor=1.0, lerp_small=True)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("b1, wd, decay", [(0.9, 0.0, 1.0), (0.3, 0.1, 1.0), (0.9, 0.0, 0.999)])
def test_adam_kernel_equals_its_numpy_reference_bit_for_bit(dtype, b1, wd, decay):
    rng = np.random.default_rng(0)
    p, g, m = (rng.standard_normal(257).astype(dtype) for _ in range(3))
    v = rng.random(257).astype(dtype)
    c = dtype
    scalars = dict(beta1=c(1) - c(1 - b1), one_minus_beta1=c(1 - b1), beta2=c(0.999),
                   one_minus_beta2=c(1 - 0.999), bias2_sqrt=c(0.05), eps=c(1e-8),
                   step_size=c(0.01), weight_decay=c(wd), decay_factor=c(decay),
                   lerp_small=1 - b1 < 0.5)
    got = [a.copy() for a in (p, g, m, v)]
    want = [a.copy() for a in (p, g, m, v)]
    adam_step(*got, **scalars)
    adam_step_reference(*want, **scalars)
    for x, y in zip(got, want):
        assert x.dtype == dtype
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("cls, kwargs, match", [
    (Adam, dict(eps=0.0), r"Adam: eps must be a finite number > 0, got 0.0"),
    (AdamW, dict(eps=-1e-8), r"AdamW: eps must be a finite number > 0"),
    (RMSprop, dict(eps=0), r"RMSprop: eps must be a finite number > 0, got 0"),
    (Adagrad, dict(eps=0.0), r"Adagrad: eps must be a finite number > 0"),
    (RMSprop, dict(alpha=1.0), r"alpha must be in \[0, 1\), got 1.0"),
    (RMSprop, dict(centered=1), r"centered must be a bool, got 1"),
    (Adagrad, dict(lr_decay=-0.1), r"lr_decay must be a finite number >= 0"),
    (Adagrad, dict(initial_accumulator_value=-1), r"initial_accumulator_value must be"),
    (SGD, dict(velocity="lr"), r"velocity must be one of 'gradient', 'step', got 'lr'"),
    (Adam, dict(eps_placement="inside"), r"eps_placement must be one of 'corrected', 'raw'"),
])
def test_new_hyperparameters_are_validated(cls, kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        cls(make_params(), **kwargs)


# -------------------------------------------------------- scikit-learn's forms as options
@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_step_velocity_is_sklearns_sgd_with_a_changing_rate(nesterov):
    params, grads = make_params(), grad_sequence(9)
    opt = SGD(params, lr=0.1, momentum=0.9, nesterov=nesterov, velocity="step")
    schedule = InverseScalingLR(opt, power_t=0.5)
    sk_params = [p.data.copy() for p in params]
    sk = SkSGD(sk_params, learning_rate_init=0.1, lr_schedule="invscaling", momentum=0.9,
               nesterov=nesterov, power_t=0.5)
    for step, gs in enumerate(grads):
        for p, g in zip(params, gs):
            p.grad = g.copy()
        opt.step()
        sk.update_params(sk_params, [g.copy() for g in gs])
        if step % 3 == 2:  # an "epoch" ends: both change the rate, keeping their velocities
            schedule.step(10 * step)
            sk.iteration_ends(10 * step)
        for p, q in zip(params, sk_params):
            np.testing.assert_allclose(p.data, q, rtol=1e-12, atol=1e-14)
    # with a constant rate PyTorch's form is the same trajectory; after a rate change it is not
    a, b = make_params(), make_params()
    opt_a = SGD(a, lr=0.1, momentum=0.9, nesterov=nesterov)
    opt_b = SGD(b, lr=0.1, momentum=0.9, nesterov=nesterov, velocity="step")
    run(opt_a, a, grads[:3]), run(opt_b, b, grads[:3])
    np.testing.assert_allclose(a[0].data, b[0].data, rtol=1e-12)
    opt_a.lr = opt_b.lr = 0.01
    run(opt_a, a, grads[3:4]), run(opt_b, b, grads[3:4])
    assert np.abs(a[0].data - b[0].data).max() > 1e-3


def test_adam_raw_eps_is_sklearns_adam():
    params, grads = make_params(), grad_sequence(8)
    opt = Adam(params, lr=0.01, betas=(0.8, 0.99), eps=1e-3, eps_placement="raw")
    sk_params = [p.data.copy() for p in params]
    sk = SkAdam(sk_params, learning_rate_init=0.01, beta_1=0.8, beta_2=0.99, epsilon=1e-3)
    for gs in grads:
        for p, g in zip(params, gs):
            p.grad = g.copy()
        opt.step()
        sk.update_params(sk_params, [g.copy() for g in gs])
        for p, q in zip(params, sk_params):
            np.testing.assert_allclose(p.data, q, rtol=1e-12, atol=1e-14)
    corrected = make_params()
    run(Adam(corrected, lr=0.01, betas=(0.8, 0.99), eps=1e-3), corrected, grads)
    assert np.abs(corrected[0].data - params[0].data).max() > 1e-6  # the placements differ


# ------------------------------------------------------------------- PyTorch's schedules
def two_group_sgd(momentum=0.9):
    params = make_params()
    return SGD([{"params": params[:2], "lr": 0.1}, {"params": params[2:], "lr": 0.02}],
               momentum=momentum)


def lr_sequence(schedule, steps):
    """Every group's lr right after construction, then after each step()."""
    seq = [schedule.get_last_lr()]
    for _ in range(steps):
        assert schedule.step() is True
        seq.append(schedule.get_last_lr())
    return seq


def onecycle_closed_form(step, total, max_lr, pct=0.3, div=25.0, final_div=1e4, anneal="cos",
                         three_phase=False):
    """The 1cycle rate as a piecewise interpolation between its corner points."""
    start, low = max_lr / div, max_lr / div / final_div
    if three_phase:
        corners = [(0, start), (pct * total - 1, max_lr), (2 * pct * total - 2, start), (total - 1, low)]
    else:
        corners = [(0, start), (pct * total - 1, max_lr), (total - 1, low)]
    for (s0, a), (s1, b) in zip(corners, corners[1:]):
        if step <= s1 or (s1, b) == corners[-1]:
            t = (step - s0) / (s1 - s0)
            return a + (b - a) * (t if anneal == "linear" else (1 - math.cos(math.pi * t)) / 2)


SCHEDULES = {
    "step": (lambda opt: StepLR(opt, step_size=3, gamma=0.5),
             lambda base, e: base * 0.5 ** (e // 3)),
    "multistep": (lambda opt: MultiStepLR(opt, milestones=[2, 5, 5, 9], gamma=0.3),
                  lambda base, e: base * 0.3 ** bisect_right([2, 5, 5, 9], e)),
    "exponential": (lambda opt: ExponentialLR(opt, gamma=0.9),
                    lambda base, e: base * 0.9 ** e),
    "cosine": (lambda opt: CosineAnnealingLR(opt, T_max=5, eta_min=0.001),
               lambda base, e: 0.001 + (base - 0.001) * (1 + math.cos(math.pi * e / 5)) / 2),
    "lambda": (lambda opt: LambdaLR(opt, lambda e: 1.0 / (1 + e) ** 0.5),
               lambda base, e: base / (1 + e) ** 0.5),
    "onecycle": (lambda opt: OneCycleLR(opt, max_lr=[1.0, 0.5], total_steps=20),
                 None),
    "onecycle-linear-3": (lambda opt: OneCycleLR(opt, max_lr=0.8, epochs=4, steps_per_epoch=5,
                                                 anneal_strategy="linear", three_phase=True),
                          None),
}


@pytest.mark.parametrize("name", SCHEDULES)
def test_schedule_matches_its_closed_form(name):
    make, formula = SCHEDULES[name]
    opt = two_group_sgd()
    seq = lr_sequence(make(opt), 19)
    for e, lrs in enumerate(seq):
        if name == "onecycle":
            want = [onecycle_closed_form(e, 20, m) for m in (1.0, 0.5)]
        elif name == "onecycle-linear-3":
            want = [onecycle_closed_form(e, 20, 0.8, anneal="linear", three_phase=True)] * 2
        else:
            want = [formula(base, e) for base in (0.1, 0.02)]
        np.testing.assert_allclose(lrs, want, rtol=1e-9, err_msg=f"epoch {e}")


@pytest.mark.parametrize("name", SCHEDULES)
@pytest.mark.parametrize("optimizer", ["SGD", "Adam"])
def test_schedule_matches_torch_lr_scheduler_exactly(name, optimizer):
    torch = pytest.importorskip("torch")
    make = SCHEDULES[name][0]
    torch_make = {
        "step": lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=3, gamma=0.5),
        "multistep": lambda o: torch.optim.lr_scheduler.MultiStepLR(o, [2, 5, 5, 9], gamma=0.3),
        "exponential": lambda o: torch.optim.lr_scheduler.ExponentialLR(o, gamma=0.9),
        "cosine": lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=5, eta_min=0.001),
        "lambda": lambda o: torch.optim.lr_scheduler.LambdaLR(o, lambda e: 1.0 / (1 + e) ** 0.5),
        "onecycle": lambda o: torch.optim.lr_scheduler.OneCycleLR(o, max_lr=[1.0, 0.5], total_steps=20),
        "onecycle-linear-3": lambda o: torch.optim.lr_scheduler.OneCycleLR(
            o, max_lr=0.8, epochs=4, steps_per_epoch=5, anneal_strategy="linear", three_phase=True),
    }[name]
    params = make_params()
    tparams = [torch.tensor(p.data.copy(), requires_grad=True) for p in params]
    if optimizer == "SGD":
        opt = SGD([{"params": params[:2], "lr": 0.1}, {"params": params[2:], "lr": 0.02}], momentum=0.9)
        topt = torch.optim.SGD([{"params": tparams[:2], "lr": 0.1}, {"params": tparams[2:], "lr": 0.02}],
                               momentum=0.9)
        momentum = lambda o: [g["momentum"] for g in o.param_groups]  # noqa: E731
    else:
        opt = Adam([{"params": params[:2], "lr": 0.1}, {"params": params[2:], "lr": 0.02}])
        topt = torch.optim.Adam([{"params": tparams[:2], "lr": 0.1}, {"params": tparams[2:], "lr": 0.02}])
        momentum = lambda o: [tuple(g["betas"]) for g in o.param_groups]  # noqa: E731
    ours, theirs = make(opt), torch_make(topt)
    steps = 19 if name.startswith("onecycle") else 25
    for _ in range(steps + 1):
        # exactly: the same recurrences (PyTorch's linear 1cycle extrapolates below 0 at the end)
        assert ours.get_last_lr() == [max(lr, 0.0) for lr in theirs.get_last_lr()]
        assert momentum(opt) == momentum(topt)
        topt.step()
        ours.step(), theirs.step()


def test_onecycle_cycles_momentum_and_refuses_to_step_past_the_end():
    opt = Adam(make_params(), lr=0.1)
    sched = OneCycleLR(opt, max_lr=0.1, total_steps=10, base_momentum=0.8, max_momentum=0.9)
    assert opt.param_groups[0]["betas"] == (0.9, 0.999) and opt.lr == pytest.approx(0.1 / 25)
    for _ in range(2):
        sched.step()
    assert opt.lr == pytest.approx(0.1) and opt.param_groups[0]["betas"][0] == pytest.approx(0.8)
    for _ in range(8):
        sched.step()
    with pytest.raises(ValueError, match="tried to step 11 times, but total_steps is 10"):
        sched.step()
    with pytest.raises(ValueError, match="cycle_momentum=True needs an optimizer with a momentum"):
        OneCycleLR(Adagrad(make_params()), max_lr=0.1, total_steps=10)
    OneCycleLR(Adagrad(make_params()), max_lr=0.1, total_steps=10, cycle_momentum=False)
    with pytest.raises(ValueError, match="either total_steps or both epochs and steps_per_epoch"):
        OneCycleLR(opt, max_lr=0.1, epochs=3)
    with pytest.raises(ValueError, match=r"expected 1 values of max_lr \(one per param group\), got 2"):
        OneCycleLR(opt, max_lr=[0.1, 0.2], total_steps=10)
    with pytest.raises(ValueError, match="anneal_strategy must be one of 'cos', 'linear'"):
        OneCycleLR(opt, max_lr=0.1, total_steps=10, anneal_strategy="exp")


def test_schedules_are_one_family_with_a_state_dict_round_trip(tmp_path):
    for name, (make, _) in SCHEDULES.items():
        opt = two_group_sgd()
        sched = make(opt)
        assert isinstance(sched, LRScheduler)
        for _ in range(7):
            sched.step()
        saved = sched.state_dict()
        np.savez(tmp_path / "s.npz", **saved)
        with np.load(tmp_path / "s.npz") as f:
            loaded = dict(f)
        opt2 = two_group_sgd()
        opt2.load_state_dict(opt.state_dict())
        sched2 = make(opt2)
        sched2.load_state_dict(loaded)
        for _ in range(5):
            assert sched.step() and sched2.step()
            assert sched.get_last_lr() == sched2.get_last_lr(), name
            assert [g["momentum"] for g in opt.param_groups] == [g["momentum"] for g in opt2.param_groups]
        with pytest.raises(ValueError, match="unexpected key 'bogus'"):
            sched2.load_state_dict({**saved, "bogus": 1})
        with pytest.raises(ValueError, match="missing key 'last_epoch'"):
            sched2.load_state_dict({k: v for k, v in saved.items() if k != "last_epoch"})
    assert isinstance(ReduceLROnPlateau(two_group_sgd()), LRScheduler)
    assert isinstance(InverseScalingLR(SGD(make_params())), LRScheduler)


@pytest.mark.parametrize("make, match", [
    (lambda o: StepLR(o, step_size=0), "StepLR: step_size must be an integer >= 1, got 0"),
    (lambda o: StepLR(o, 2, gamma=-1), "StepLR: gamma must be a finite number >= 0"),
    (lambda o: MultiStepLR(o, 3), "milestones must be a list of epochs, got 3"),
    (lambda o: MultiStepLR(o, [2, -1]), r"milestones\[\] must be an integer >= 0, got -1"),
    (lambda o: ExponentialLR(o, gamma=float("nan")), "gamma must be a finite number"),
    (lambda o: CosineAnnealingLR(o, T_max=0), "T_max must be an integer >= 1, got 0"),
    (lambda o: LambdaLR(o, [lambda e: 1.0]), r"expected 2 lr_lambdas \(one per param group\), got 1"),
    (lambda o: LambdaLR(o, 0.5), "lr_lambda must be callable"),
    (lambda o: OneCycleLR(o, max_lr=1.0, total_steps=10, pct_start=1.5), r"pct_start must be in \[0, 1\]"),
    (lambda o: StepLR(object(), 2), "StepLR needs an Optimizer, got object"),
])
def test_schedule_arguments_are_checked(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make(two_group_sgd())


def test_lambda_lr_drops_its_functions_from_the_state_dict():
    sched = LambdaLR(two_group_sgd(), lambda e: 0.5 ** e)
    sched.step()
    assert "lr_lambdas" not in sched.state_dict() and sched.state_dict()["last_epoch"] == 1


# ------------------------------------------------------------------------ plateau counting
def sklearn_count(values, mode, tol):
    """scikit-learn's MLP counting, transcribed (loss: mode min; validation score: mode max)."""
    best = np.inf if mode == "min" else -np.inf
    count, counts, bests = 0, [], []
    for v in values:
        if mode == "min":
            count = count + 1 if v > best - tol else 0
            best = min(best, v)
        else:
            count = count + 1 if v < best + tol else 0
            best = max(best, v)
        counts.append(count)
        bests.append(best)
    return counts, bests


@pytest.mark.parametrize("mode", ["min", "max"])
@pytest.mark.parametrize("tol", [0.0, 1e-4, 0.05])
def test_plateau_counts_like_sklearn(mode, tol):
    rng = np.random.default_rng(1)
    values = list(np.r_[np.linspace(1.0, 0.5, 5), 0.5 + 0.01 * rng.random(30), [0.5, 0.5]])
    if mode == "max":
        values = [1 - v for v in values]
    plateau = Plateau(mode, tol)
    counts, bests, news = [], [], []
    for v in values:
        news.append(plateau.step(v))
        counts.append(plateau.num_bad_epochs)
        bests.append(plateau.best)
    want_counts, want_bests = sklearn_count(values, mode, tol)
    assert counts == want_counts and bests == want_bests
    assert news == [b != a for a, b in zip([np.inf if mode == "min" else -np.inf] + bests, bests)]


def test_plateau_never_counts_nan_as_improvement_and_round_trips():
    plateau = Plateau("max", 0.0)
    assert plateau.step(0.5) and not plateau.step(float("nan"))
    assert plateau.num_bad_epochs == 1 and plateau.best == 0.5
    copy = Plateau()
    copy.load_state_dict(plateau.state_dict())
    assert copy.state_dict() == plateau.state_dict()
    with pytest.raises(ValueError, match="Plateau: mode must be one of 'min', 'max'"):
        Plateau("up")
    with pytest.raises(ValueError, match="Plateau: tol must be a finite number >= 0"):
        Plateau("min", -1)


# ------------------------------------------------------------------------- gradient clipping
@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf])
@pytest.mark.parametrize("max_norm", [0.5, 100.0])
def test_clip_grad_norm_matches_numpy(norm_type, max_norm):
    params, grads = make_params(), grad_sequence(1)
    for p, g in zip(params, grads[0]):
        p.grad = g.copy()
    params.append(Tensor(np.ones(2), requires_grad=True))  # no grad: skipped
    flat = np.concatenate([g.ravel() for g in grads[0]])
    want = np.max(np.abs(flat)) if norm_type == math.inf else np.sum(np.abs(flat) ** norm_type) ** (1 / norm_type)
    total = clip_grad_norm_(params, max_norm, norm_type)
    assert isinstance(total, Tensor) and total.shape == ()
    np.testing.assert_allclose(total.item(), want, rtol=1e-12)
    scale = min(1.0, max_norm / (want + 1e-6))
    for p, g in zip(params, grads[0]):
        np.testing.assert_allclose(p.grad, g * scale, rtol=1e-12)
    assert params[-1].grad is None


@pytest.mark.parametrize("norm_type", [2.0, 1.0, math.inf])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_clip_grad_norm_matches_torch(norm_type, dtype):
    torch = pytest.importorskip("torch")
    params, grads = make_params(dtype), grad_sequence(1, dtype)
    tparams = [torch.tensor(p.data.copy(), requires_grad=True) for p in params]
    for p, tp, g in zip(params, tparams, grads[0]):
        p.grad, tp.grad = g.copy(), torch.tensor(g.copy())
    total = clip_grad_norm_(params, 0.7, norm_type)
    ttotal = torch.nn.utils.clip_grad_norm_(tparams, 0.7, norm_type)
    rtol = 1e-12 if dtype == np.float64 else 1e-6
    np.testing.assert_allclose(total.item(), ttotal.item(), rtol=rtol)
    for p, tp in zip(params, tparams):
        assert p.grad.dtype == dtype
        np.testing.assert_allclose(p.grad, tp.grad.numpy(), rtol=rtol, atol=1e-7)


def test_clip_grad_norm_errors():
    p = Tensor(np.ones(3), requires_grad=True)
    assert clip_grad_norm_([p], 1.0).item() == 0.0  # no gradients: norm 0
    p.grad = np.array([np.inf, 1.0, 1.0])
    with pytest.raises(RuntimeError, match="total norm of order 2.0 of the gradients is inf"):
        clip_grad_norm_(p, 1.0, error_if_nonfinite=True)
    np.testing.assert_array_equal(p.grad, [np.inf, 1.0, 1.0])
    with pytest.raises(ValueError, match="max_norm must be a finite number >= 0, got -1"):
        clip_grad_norm_(p, -1)
    with pytest.raises(ValueError, match="norm_type must be a number > 0 or math.inf, got 0"):
        clip_grad_norm_(p, 1.0, norm_type=0)
    with pytest.raises(TypeError, match=r"params\[0\] must be a Tensor, got ndarray"):
        clip_grad_norm_([np.ones(3)], 1.0)


def test_clip_grad_norm_is_also_nn_utils_clip_grad_norm_():
    from tinygrad_nn import nn

    assert nn.utils.clip_grad_norm_ is clip_grad_norm_


# ---------------------------------------------------------------- pinned by make mutation
# (docs/mutation.md): clip_grad_norm_'s checks, messages and edge cases.
def test_clip_grad_norm_nonfinite_is_clipped_by_default_and_raises_on_request():
    import math
    p = Tensor([1.0, 2.0], requires_grad=True)
    p.grad = np.array([np.inf, 1.0], np.float32)
    assert math.isinf(clip_grad_norm_(p, 1.0).item())  # default: no error
    p.grad = np.array([np.inf, 1.0], np.float32)
    with pytest.raises(RuntimeError, match=r"^clip_grad_norm_: the total norm of order 2\.0 of the gradients "
                                           r"is inf; pass error_if_nonfinite=False to clip anyway$"):
        clip_grad_norm_(p, 1.0, error_if_nonfinite=True)
    np.testing.assert_array_equal(p.grad, [np.inf, 1.0])  # left alone
    p.grad = np.array([3.0, 4.0], np.float32)
    assert clip_grad_norm_(p, 1.0, error_if_nonfinite=True).item() == 5.0  # finite: no error


def test_clip_grad_norm_argument_checks():
    p = Tensor([1.0], requires_grad=True)
    p.grad = np.ones(1, np.float32)
    cases = [
        (TypeError, r"clip_grad_norm_: params\[1\] must be a Tensor, got float", lambda: clip_grad_norm_([p, 1.0], 1.0)),
        (ValueError, r"clip_grad_norm_: max_norm must be a finite number >= 0, got -1\.0",
         lambda: clip_grad_norm_(p, -1.0)),
        (ValueError, r"clip_grad_norm_: norm_type must be a number > 0 or math\.inf, got '2'",
         lambda: clip_grad_norm_(p, 1.0, norm_type="2")),
        (ValueError, r"clip_grad_norm_: norm_type must be a number > 0 or math\.inf, got True",
         lambda: clip_grad_norm_(p, 1.0, norm_type=True)),
        (TypeError, r"clip_grad_norm_: error_if_nonfinite must be a bool, got 'yes'",
         lambda: clip_grad_norm_(p, 1.0, error_if_nonfinite="yes")),
    ]
    for error, message, call in cases:
        with pytest.raises(error, match=rf"^{message}$"):
            call()


def test_clip_grad_norm_inf_norm_of_an_empty_gradient_is_zero():
    import math
    empty, p = Tensor(np.zeros(0), requires_grad=True), Tensor([-3.0, 2.0], requires_grad=True)
    empty.grad, p.grad = np.zeros(0), np.array([-3.0, 2.0])
    assert clip_grad_norm_([empty], 1.0, norm_type=math.inf).item() == 0.0
    assert clip_grad_norm_([empty, p], 10.0, norm_type=math.inf).item() == 3.0


def test_plateau_repr_shows_its_state():
    p = Plateau(mode="min", tol=0.1)
    p.step(1.0)
    p.step(0.95)
    assert repr(p) == "Plateau(mode='min', tol=0.1, best=0.95, num_bad_epochs=1)"


def test_plateau_keeps_plain_floats():
    p = Plateau()
    p.step(Tensor(np.float32(0.5)))
    assert type(p.best) is float and p.best == 0.5


def test_schedule_messages_are_exact():
    p = Tensor([1.0], requires_grad=True)
    opt = SGD([p], lr=0.1)
    cases = [
        (TypeError, r"StepLR needs an Optimizer, got str", lambda: StepLR("x", step_size=1)),
        (TypeError, r"MultiStepLR: milestones must be a list of epochs, got 3",
         lambda: MultiStepLR(opt, milestones=3)),
        (TypeError, r"LambdaLR: lr_lambda must be callable\(s\), got 3", lambda: LambdaLR(opt, lr_lambda=3)),
        (ValueError, r"OneCycleLR: give either total_steps or both epochs and steps_per_epoch",
         lambda: OneCycleLR(opt, max_lr=1.0)),
        (ValueError, r"OneCycleLR: cycle_momentum=True needs an optimizer with a momentum or betas, and "
                     r"Adagrad has neither; pass cycle_momentum=False",
         lambda: OneCycleLR(Adagrad([p], lr=0.1), max_lr=1.0, total_steps=10)),
    ]
    for error, message, call in cases:
        with pytest.raises(error, match=rf"^{message}$"):
            call()


def test_reduce_on_plateau_exposes_its_plateau_state():
    p = Tensor([1.0], requires_grad=True)
    s = ReduceLROnPlateau(SGD([p], lr=0.1), patience=3)
    s.step(1.0)
    s.step(2.0)
    assert (s.best, s.num_bad_epochs) == (1.0, 1)


def test_reduce_on_plateau_stops_once_the_rate_is_at_min_lr():
    opt = SGD([Tensor([1.0], requires_grad=True)], lr=0.1)
    s = ReduceLROnPlateau(opt, factor=0.5, patience=0, min_lr=0.1)
    assert s.step(1.0) is True
    assert s.step(2.0) is False and opt.lr == 0.1  # at min_lr already: stop, not lower it
    with pytest.raises(ValueError, match=r"^ReduceLROnPlateau\.step: the metric is NaN \(training diverged\?\)$"):
        s.step(float("nan"))


def test_param_group_edits_and_their_messages():
    p, q = Tensor([1.0], requires_grad=True), Tensor([2.0], requires_grad=True)
    group = SGD([p], lr=0.1).param_groups[0]
    assert group.setdefault("lr", 5.0) == 0.1 and group["lr"] == 0.1  # an existing key is kept
    with pytest.raises(TypeError, match=r"^a group's 'params' cannot be reassigned; build a new optimizer "
                                        r"or call add_param_group$"):
        group["params"] = [q]
    with pytest.raises(KeyError) as info:
        group["bogus"] = 1
    assert info.value.args[0] == ("SGD param groups have no key 'bogus'; valid keys: "
                                  f"{sorted(k for k in group if k != 'params')}")
    assert "params" not in info.value.args[0].split("valid keys: ")[1]
    with pytest.raises(TypeError, match=r"^param group keys cannot be removed$"):
        del group["lr"]


def test_optimizer_parameter_list_messages_are_exact():
    p, q = Tensor([1.0], requires_grad=True), Tensor([2.0], requires_grad=True)
    cases = [
        (TypeError, r"params must be an iterable of Tensors or of param-group dicts \(e\.g\. "
                    r"module\.parameters\(\)\), got a single Tensor; wrap it in a list", lambda: SGD(p, lr=0.1)),
        (TypeError, r"params must be an iterable of Tensors or of param-group dicts \(e\.g\. "
                    r"module\.parameters\(\)\), got a single dict; wrap it in a list",
         lambda: SGD({"params": [p]}, lr=0.1)),
        (ValueError, r"Adam got an empty parameter list", lambda: Adam([], lr=0.1)),
        (TypeError, r"params must be all Tensors or all param-group dicts, not a mix",
         lambda: SGD([p, {"params": [q]}], lr=0.1)),
        (ValueError, r"SGD: param group 0 has an empty 'params' list", lambda: SGD([{"params": []}], lr=0.1)),
        (ValueError, r"SGD: param group 0 has unknown key 'bogus'; valid keys: \['lr', 'momentum', "
                     r"'nesterov', 'velocity', 'weight_decay'\]", lambda: SGD([{"params": [p], "bogus": 1}], lr=0.1)),
        (TypeError, r"params\[1\] must be a Tensor, got int", lambda: SGD([p, 3], lr=0.1)),
        (ValueError, r"params\[1\] appears more than once in the parameter list", lambda: SGD([p, p], lr=0.1)),
        (TypeError, r"a param group must be a dict with a 'params' list, got 3",
         lambda: SGD([p], lr=0.1).add_param_group(3)),
    ]
    for error, message, call in cases:
        with pytest.raises(error, match=rf"^{message}$"):
            call()


def test_optimizer_repr_shows_params_groups_and_hyperparameters():
    p, q = Tensor([1.0], requires_grad=True), Tensor([2.0], requires_grad=True)
    assert repr(SGD([p], lr=0.1, momentum=0.9)) == ("SGD(1 params, lr=0.1, momentum=0.9, nesterov=False, "
                                                    "weight_decay=0.0, velocity='gradient')")
    assert repr(Adam([{"params": [p]}, {"params": [q], "lr": 0.5, "weight_decay": 0.1}], lr=0.1)) == (
        "Adam(2 params in 2 groups, lr=per group, betas=(0.9, 0.999), eps=1e-08, weight_decay=0.0, "
        "eps_placement='corrected')")


def test_load_state_dict_messages_are_exact_and_a_whole_float_step_loads():
    p = Tensor([1.0, 2.0], requires_grad=True)
    opt = Adam([p], lr=0.1)
    (p * p).sum().backward()
    opt.step()
    good = opt.state_dict()

    def broken(drop=(), **changes):
        sd = {k: v for k, v in good.items() if k not in drop}
        sd.update({k.replace("__", "."): v for k, v in changes.items()})
        return sd

    cases = [
        (r"Adam\.load_state_dict: missing key 'param_groups\.0\.params'", broken(drop=["param_groups.0.params"])),
        (r"Adam\.load_state_dict: unexpected key 'param_groups\.1\.lr' \(this optimizer has 1 param groups\)",
         broken(param_groups__1__lr=0.1)),
        (r"Adam\.load_state_dict: unexpected key 'bogus\.0'", broken(bogus__0=1.0)),
        (r"Adam\.load_state_dict: key 'exp_avg\.5' refers to parameter 5, but the optimizer has 1",
         broken(exp_avg__5=np.zeros(2))),
        (r"Adam\.load_state_dict: 'exp_avg\.0' must hold floats, got dtype int64",
         broken(exp_avg__0=np.zeros(2, np.int64))),
    ]
    for message, sd in cases:
        with pytest.raises(ValueError, match=rf"^{message}$"):
            Adam([p], lr=0.1).load_state_dict(sd)
    fresh = Adam([p], lr=0.1)
    fresh.load_state_dict(broken(step__0=1.0))
    assert fresh.state[0]["step"] == 1 and type(fresh.state[0]["step"]) is int
