"""Optimizers against numpy transcriptions of PyTorch's documented algorithms (and against
torch.optim itself when it is importable), state_dict resume, schedules against scikit-learn."""
import numpy as np
import pytest
from sklearn.neural_network._stochastic_optimizers import SGDOptimizer as SkSGD

from tinygrad_nn import Tensor
from tinygrad_nn.optim import SGD, Adam, ConstantLR, InverseScalingLR, ReduceLROnPlateau

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


@pytest.mark.parametrize("config", SGD_CONFIGS)
def test_sgd_matches_pytorch_algorithm(config):
    params, grads = make_params(), grad_sequence(6)
    want = ref_sgd([p.data for p in params], grads, **config)
    got = run(SGD(params, **config), params, grads)
    assert_trajectories_close(got, want, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("config", ADAM_CONFIGS)
def test_adam_matches_pytorch_algorithm(config):
    params, grads = make_params(), grad_sequence(6)
    want = ref_adam([p.data for p in params], grads, **config)
    got = run(Adam(params, **config), params, grads)
    assert_trajectories_close(got, want, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("cls, config", [(SGD, c) for c in SGD_CONFIGS] + [(Adam, c) for c in ADAM_CONFIGS])
def test_float32_stays_float32_and_close_to_float64(cls, config):
    params32, grads64 = make_params(np.float32), grad_sequence(5)
    grads32 = [[g.astype(np.float32) for g in gs] for gs in grads64]
    data_ids = [id(p.data) for p in params32]
    got = run(cls(params32, **config), params32, grads32)
    assert all(p.dtype == np.float32 for p in params32)
    assert [id(p.data) for p in params32] == data_ids  # updated in place
    ref = ref_sgd if cls is SGD else ref_adam
    want = ref([p.data for p in make_params(np.float32)], grads32, **config)
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
@pytest.mark.parametrize("cls, config", [(SGD, c) for c in SGD_CONFIGS] + [(Adam, c) for c in ADAM_CONFIGS])
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
    (Adam, dict(lr=0.01, betas=(0.8, 0.99), weight_decay=0.01)),
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
    for gs, ws in zip(got, want):
        for g, w in zip(gs, ws):
            np.testing.assert_array_equal(g, w)


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
