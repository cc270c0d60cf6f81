"""The reusable training loop ``tinygrad_nn.training.fit``."""
import numpy as np
import pytest

import tinygrad_nn.functional as F
from tinygrad_nn import Tensor, nn
from tinygrad_nn.optim import SGD
from tinygrad_nn.training import History, fit


def regression_problem(n=60, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 3)).astype(np.float32)
    w = np.array([[1.5], [-2.0], [0.5]], dtype=np.float32)
    y = X @ w + 0.3 + 0.01 * rng.standard_normal((n, 1)).astype(np.float32)
    return X, y


def linear_model(seed=0):
    return nn.Dense(3, 1, rng=seed)


def mse_step(model):
    return lambda xb, yb: F.mse_loss(model(Tensor(xb)), yb)


def weights(model):
    return {k: v.copy() for k, v in model.state_dict().items()}


def test_loss_decreases_and_reaches_least_squares():
    X, y = regression_problem()
    model = linear_model()
    hist = fit(mse_step(model), SGD(model.parameters(), lr=0.1), (X, y),
               epochs=30, batch_size=8, rng=0, progress=False)
    assert isinstance(hist, History) and len(hist.loss) == 30 and hist.stop_reason == "max_epochs"
    assert hist.loss[-1] < hist.loss[0] / 50
    A = np.c_[X, np.ones(len(X))]
    coef = np.linalg.lstsq(A, y, rcond=None)[0].ravel()
    np.testing.assert_allclose(model.weight.data.ravel(), coef[:3], atol=2e-2)
    np.testing.assert_allclose(model.bias.data, coef[3:], atol=2e-2)


def test_epoch_loss_is_the_sample_weighted_mean_over_batches():
    X, y = regression_problem(n=10)
    model = linear_model()
    full = F.mse_loss(model(Tensor(X)), y).item()
    # lr=0 keeps the weights, so every epoch's loss is the full-data loss (last batch has 1 row)
    hist = fit(mse_step(model), SGD(model.parameters(), lr=0.0), (X, y),
               epochs=2, batch_size=3, rng=0, progress=False)
    np.testing.assert_allclose(hist.loss, [full, full], rtol=1e-6)


def record_batches(shuffle, rng, epochs=2, n=10, batch_size=4):
    """Run fit on (index column, dummy target) and return the rows each batch saw."""
    w = Tensor(np.zeros(1, dtype=np.float32), requires_grad=True)
    seen = []

    def step_loss(idx, t, extra):
        assert idx.shape[0] == t.shape[0] == extra.shape[0]
        seen.append(idx.copy())
        return (w * 0.0).sum()

    arrays = (np.arange(n), np.zeros(n), np.arange(n) * 10)
    fit(step_loss, SGD([w], lr=0.1), arrays, epochs=epochs, batch_size=batch_size,
        shuffle=shuffle, rng=rng, progress=False)
    return seen


def test_batches_cover_every_sample_once_per_epoch():
    seen = record_batches(shuffle=True, rng=1)
    assert [len(b) for b in seen] == [4, 4, 2, 4, 4, 2]
    for epoch in (seen[:3], seen[3:]):
        assert sorted(np.concatenate(epoch).tolist()) == list(range(10))
    assert not np.array_equal(np.concatenate(seen[:3]), np.arange(10))  # shuffled...
    assert not np.array_equal(np.concatenate(seen[:3]), np.concatenate(seen[3:]))  # ...afresh each epoch
    ordered = record_batches(shuffle=False, rng=None)
    assert np.array_equal(np.concatenate(ordered), np.tile(np.arange(10), 2))


def test_same_seed_same_run_and_different_seed_different_run():
    X, y = regression_problem()

    def run(seed):
        model = linear_model()
        hist = fit(mse_step(model), SGD(model.parameters(), lr=0.05, momentum=0.9), (X, y),
                   epochs=3, batch_size=7, rng=seed, progress=False)
        return hist.loss, weights(model)

    (loss_a, w_a), (loss_b, w_b), (loss_c, _) = run(5), run(5), run(6)
    assert loss_a == loss_b
    for k in w_a:
        np.testing.assert_array_equal(w_a[k], w_b[k])
    assert loss_a != loss_c


def test_continuing_a_history_equals_one_long_run():
    X, y = regression_problem()
    m1, m2 = linear_model(), linear_model()
    opt1, opt2 = SGD(m1.parameters(), lr=0.05), SGD(m2.parameters(), lr=0.05)
    one = fit(mse_step(m1), opt1, (X, y), epochs=5, batch_size=8, rng=np.random.default_rng(3),
              progress=False)
    gen = np.random.default_rng(3)
    part = fit(mse_step(m2), opt2, (X, y), epochs=2, batch_size=8, rng=gen, progress=False)
    seen_epochs = []
    both = fit(mse_step(m2), opt2, (X, y), epochs=3, batch_size=8, rng=gen, progress=False,
               history=part, on_epoch_end=lambda e, h: seen_epochs.append(e))
    assert both is part and both.epochs == 5 and seen_epochs == [2, 3, 4]
    np.testing.assert_array_equal(both.loss, one.loss)
    np.testing.assert_array_equal(m1.weight.data, m2.weight.data)


def scripted_validate(scores):
    it = iter(scores)
    return lambda: next(it)


def test_early_stopping_stops_after_patience_and_restores_best_weights():
    X, y = regression_problem()
    model = linear_model()
    snapshots = []
    hist = fit(mse_step(model), SGD(model.parameters(), lr=0.05), (X, y), epochs=20,
               batch_size=10, rng=0, progress=False, module=model,
               validate=scripted_validate([0.1, 0.5, 0.45, 0.5, 0.3, 0.2, 0.9]),
               early_stopping=True, patience=2, tol=0.01,
               on_epoch_end=lambda e, h: snapshots.append(weights(model)))
    # after the best epoch 1, epochs 2, 3 (a tie is not an improvement by tol) and 4 fail to
    # improve: at the third, more than `patience` (2) such epochs, fit stops
    assert hist.stop_reason == "early_stopping"
    assert hist.metrics == {"val_score": [0.1, 0.5, 0.45, 0.5, 0.3]}
    assert len(hist.loss) == 5 and hist.best_epoch == 1
    for k, v in weights(model).items():
        np.testing.assert_array_equal(v, snapshots[1][k])
    assert not np.array_equal(snapshots[1]["weight"], snapshots[3]["weight"])


def test_early_stopping_without_validate_watches_training_loss():
    X, y = regression_problem()
    model = linear_model()
    # lr=0: the loss never improves after the first epoch, so it stops after patience + 1 more
    hist = fit(mse_step(model), SGD(model.parameters(), lr=0.0), (X, y), epochs=50,
               batch_size=10, rng=0, progress=False, early_stopping=True, patience=3, tol=1e-3)
    assert hist.stop_reason == "early_stopping" and len(hist.loss) == 5
    assert hist.best_epoch == int(np.argmin(hist.loss)) and hist.metrics == {}


def test_a_nan_score_never_counts_as_an_improvement():
    X, y = regression_problem()
    model = linear_model()
    hist = fit(mse_step(model), SGD(model.parameters(), lr=0.01), (X, y), epochs=10,
               batch_size=30, progress=False, early_stopping=True, patience=1,
               validate=scripted_validate([0.5, float("nan"), float("nan"), 0.9]))
    assert hist.stop_reason == "early_stopping" and hist.best_epoch == 0
    assert len(hist.loss) == 3 and np.isnan(hist.metrics["val_score"][1:]).all()


def test_validate_may_return_a_dict_and_runs_in_eval_mode():
    X, y = regression_problem()
    model = nn.Sequential(linear_model(), nn.Dropout(0.5, rng=0))
    modes = []

    def step_loss(xb, yb):
        modes.append(("train", model.training))
        return F.mse_loss(model(Tensor(xb)), yb)

    def validate():
        modes.append(("validate", model.training))
        return {"acc": 0.5, "f1": 0.25}

    model.eval()
    hist = fit(step_loss, SGD(model.parameters(), lr=0.01), (X, y), epochs=2, batch_size=30,
               rng=0, progress=False, validate=validate, module=model)
    assert hist.metrics == {"acc": [0.5, 0.5], "f1": [0.25, 0.25]}
    assert set(modes) == {("train", True), ("validate", False)}
    assert model.training is False  # back to the mode it had


@pytest.mark.parametrize("early_stopping", [False, True])
def test_keyboard_interrupt_stops_cleanly_keeping_the_weights(early_stopping):
    X, y = regression_problem()
    model = linear_model()
    at_interrupt = {}

    def on_batch_end(epoch, batch, loss):
        assert isinstance(loss, float)
        if (epoch, batch) == (2, 2):
            at_interrupt.update(weights(model))
            raise KeyboardInterrupt

    hist = fit(mse_step(model), SGD(model.parameters(), lr=0.05), (X, y), epochs=10,
               batch_size=10, rng=0, progress=False, on_batch_end=on_batch_end,
               validate=scripted_validate([0.9, 0.1, 0.1]), module=model,
               early_stopping=early_stopping)
    assert hist.stop_reason == "interrupted"
    assert len(hist.loss) == 2  # the partial third epoch is not recorded
    for k, v in weights(model).items():
        np.testing.assert_array_equal(v, at_interrupt[k])


def test_callbacks_returning_true_stop_training():
    X, y = regression_problem()
    model = linear_model()
    opt = SGD(model.parameters(), lr=0.01)
    hist = fit(mse_step(model), opt, (X, y), epochs=10, batch_size=10, progress=False,
               on_epoch_end=lambda epoch, h: epoch == 1)
    assert hist.stop_reason == "callback" and len(hist.loss) == 2
    calls = []
    hist = fit(mse_step(model), opt, (X, y), epochs=10, batch_size=10, progress=False,
               on_batch_end=lambda e, b, loss: calls.append((e, b)) or (e, b) == (0, 3))
    assert hist.stop_reason == "callback" and hist.loss == [] and calls[-1] == (0, 3)


def test_progress_off_prints_nothing_and_on_shows_a_bar(capfd):
    X, y = regression_problem()
    model = linear_model()
    opt = SGD(model.parameters(), lr=0.01)
    fit(mse_step(model), opt, (X, y), epochs=2, batch_size=10, progress=False)
    out, err = capfd.readouterr()
    assert out == "" and err == ""
    fit(mse_step(model), opt, (X, y), epochs=2, batch_size=10, progress=True, desc="toy")
    out, err = capfd.readouterr()
    assert out == "" and "toy" in err


def test_bad_input_raises_clear_errors():
    X, y = regression_problem(n=10)
    model = linear_model()
    opt = SGD(model.parameters(), lr=0.01)
    step = mse_step(model)
    with pytest.raises(ValueError, match=r"same number of rows, got shapes \(10, 3\), \(9, 1\)"):
        fit(step, opt, (X, y[:9]), epochs=1, batch_size=2)
    with pytest.raises(TypeError, match="arrays must be a tuple of arrays"):
        fit(step, opt, X, epochs=1, batch_size=2)
    with pytest.raises(ValueError, match="arrays have no rows"):
        fit(step, opt, (X[:0], y[:0]), epochs=1, batch_size=2)
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1, got 0"):
        fit(step, opt, (X, y), epochs=1, batch_size=0)
    with pytest.raises(ValueError, match="epochs must be an integer >= 0, got -1"):
        fit(step, opt, (X, y), epochs=-1, batch_size=2)
    with pytest.raises(ValueError, match="patience must be an integer >= 0"):
        fit(step, opt, (X, y), epochs=1, batch_size=2, patience=1.5)
    with pytest.raises(TypeError, match="fit: rng must be None"):
        fit(step, opt, (X, y), epochs=1, batch_size=2, rng="seed")
    with pytest.raises(TypeError, match="step_loss must return a scalar Tensor, got float"):
        fit(lambda xb, yb: 0.5, opt, (X, y), epochs=1, batch_size=2, progress=False)


def test_before_step_runs_between_backward_and_the_optimizer_step():
    from tinygrad_nn.optim import clip_grad_norm_

    X, y = regression_problem()
    model = linear_model()
    seen = []

    def before_step():  # gradients are there, the weights not yet updated
        seen.append((model.weight.grad.copy(), model.weight.data.copy()))

    opt = SGD(model.parameters(), lr=0.05)
    start = model.weight.data.copy()
    fit(mse_step(model), opt, (X, y), epochs=1, batch_size=60, rng=0, progress=False,
        before_step=before_step)
    (grad, weight_then), = seen
    np.testing.assert_array_equal(weight_then, start)
    np.testing.assert_allclose(model.weight.data, start - 0.05 * grad, rtol=1e-6)
    # clipping through before_step equals a hand-written loop that clips
    a, b = linear_model(), linear_model()
    fit(mse_step(a), SGD(a.parameters(), lr=0.1), (X, y), epochs=2, batch_size=7, rng=3,
        progress=False, before_step=lambda: clip_grad_norm_(a.parameters(), 0.5))
    opt_b, order_rng = SGD(b.parameters(), lr=0.1), np.random.default_rng(3)
    for _ in range(2):
        order = order_rng.permutation(len(X))
        for start in range(0, len(X), 7):
            idx = order[start:start + 7]
            opt_b.zero_grad()
            mse_step(b)(X[idx], y[idx]).backward()
            clip_grad_norm_(b.parameters(), 0.5)
            opt_b.step()
    np.testing.assert_array_equal(a.weight.data, b.weight.data)
    with pytest.raises(TypeError, match="before_step must be callable or None, got 3"):
        fit(mse_step(a), opt_b, (X, y), epochs=1, batch_size=7, before_step=3)


# ------------------------------------------------------------------ Ctrl-C inside a Numba kernel
class _InterruptingMemo(dict):
    """Stands in for numba's unpickle memo: the first lookup raises KeyboardInterrupt, as a
    SIGINT handled while a compiled function boxes its result does."""

    def __init__(self, real, after=0):
        super().__init__(real)
        self.after = after

    def __getitem__(self, key):
        if self.after == 0:
            self.after = -1
            raise KeyboardInterrupt
        self.after -= 1
        return super().__getitem__(key)


@pytest.fixture
def interrupt_in_kernel(monkeypatch):
    """Make the next Numba kernel that returns an array hit a Ctrl-C while returning."""
    from numba.core import config, serialize

    if config.DISABLE_JIT:
        pytest.skip("no compiled kernels under NUMBA_DISABLE_JIT")
    logits = Tensor(np.random.default_rng(0).standard_normal((5, 3)), requires_grad=True)
    F.cross_entropy(logits, np.arange(5) % 3).backward()  # compiled and memoised beforehand

    def arm(after=0):
        monkeypatch.setattr(serialize, "_unpickled_memo",
                            _InterruptingMemo(serialize._unpickled_memo, after))
    return arm


def test_the_numba_mechanism_is_a_system_error_wrapping_the_interrupt(interrupt_in_kernel):
    from tinygrad_nn._interrupt import interrupt_in
    from tinygrad_nn.kernels import softmax as K

    interrupt_in_kernel()
    with pytest.raises(SystemError, match="returned a result with an exception set") as info:
        K.cross_entropy_forward(np.zeros((2, 3)), np.zeros(2, np.int64))
    assert isinstance(interrupt_in(info.value), KeyboardInterrupt)  # among its causes


def test_ctrl_c_in_a_kernel_arrives_as_keyboard_interrupt_in_forward_and_backward(interrupt_in_kernel):
    logits = Tensor(np.random.default_rng(1).standard_normal((4, 3)), requires_grad=True)
    interrupt_in_kernel()
    with pytest.raises(KeyboardInterrupt):
        F.cross_entropy(logits, np.arange(4) % 3)
    loss = F.cross_entropy(logits, np.arange(4) % 3)
    interrupt_in_kernel()
    with pytest.raises(KeyboardInterrupt):
        loss.backward()


def test_fit_stops_cleanly_when_ctrl_c_hits_a_kernel(interrupt_in_kernel):
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((40, 3)).astype(np.float32), rng.integers(0, 2, 40)
    model = nn.Dense(3, 2, rng=0)
    snapshots = []

    def step_loss(xb, yb):
        if len(snapshots) == 5:  # sixth batch: the kernel is interrupted while returning
            interrupt_in_kernel()
        snapshots.append(weights(model))
        return F.cross_entropy(model(Tensor(xb)), yb)

    hist = fit(step_loss, SGD(model.parameters(), lr=0.1), (X, y), epochs=10, batch_size=10,
               rng=0, progress=False, module=model, early_stopping=True)
    assert hist.stop_reason == "interrupted" and len(hist.loss) == 1
    for k, v in weights(model).items():  # kept as they were when the interrupt came
        np.testing.assert_array_equal(v, snapshots[-1][k])


def test_a_system_error_without_an_interrupt_is_not_swallowed():
    from tinygrad_nn.autograd import Function

    class Broken(Function):
        def forward(self, x):
            raise SystemError("something else")

        def backward(self, grad):
            return grad

    model = linear_model()
    X, y = regression_problem(n=10)
    with pytest.raises(SystemError, match="something else"):
        fit(lambda xb, yb: Broken.apply(model(Tensor(xb))).sum(), SGD(model.parameters()),
            (X, y), epochs=1, batch_size=5, progress=False)


def test_history_pickles_and_an_old_pickle_still_loads():
    import pickle

    from tinygrad_nn.training import History

    X, y = regression_problem()
    model = linear_model()
    hist = fit(mse_step(model), SGD(model.parameters(), lr=0.05), (X, y), epochs=3,
               batch_size=10, rng=0, progress=False)
    copy = pickle.loads(pickle.dumps(hist))
    assert copy.loss == hist.loss and copy.best_score == hist.best_score
    old = History.__new__(History)  # the fields a History had before it held a Plateau
    old.__setstate__({"loss": [1.0, 0.5], "metrics": {}, "best_epoch": 1,
                      "stop_reason": "max_epochs", "best_score": -0.5, "bad_epochs": 0})
    again = fit(mse_step(model), SGD(model.parameters(), lr=0.05), (X, y), epochs=1,
                batch_size=10, rng=0, progress=False, history=old)
    assert again.epochs == 3 and again.plateau.best >= -0.5


def test_unseeded_shuffling_follows_manual_seed_and_one_seed_rule():
    """fit and batches without rng draw from the generator tn.manual_seed seeds."""
    import tinygrad_nn as tn
    from tinygrad_nn.data import batches

    X = np.arange(40, dtype=np.float32).reshape(20, 2)

    def orders():
        tn.manual_seed(7)
        first = [xb[:, 0].copy() for xb, _ in batches(X, None, 5)]
        seen = []
        model = nn.Dense(2, 1, rng=0)
        fit(lambda xb: (seen.append(xb[:, 0].copy()) or model(Tensor(xb))).sum(),
            SGD(model.parameters(), lr=0.0), (X,), epochs=1, batch_size=5, progress=False)
        return np.concatenate(first), np.concatenate(seen)

    a, b = orders(), orders()
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], X[:, 0])  # shuffled, not the identity order
    np.testing.assert_array_equal(np.sort(a[1]), X[:, 0])  # every row once
    with pytest.raises(ValueError, match="fit: rng must be None, a non-negative int seed"):
        fit(lambda xb: None, SGD(nn.Dense(2, 1).parameters()), (X,), epochs=1, batch_size=5,
            rng=-1)


# ---------------------------------------------------------------- pinned by make mutation
# (docs/mutation.md): fit's defaults, exact messages, the stop reasons and old pickles.
def test_fit_argument_messages_are_exact():
    X, y = regression_problem(n=10)
    model = linear_model()
    opt = SGD(model.parameters(), lr=0.01)
    step = mse_step(model)
    cases = [
        (ValueError, r"fit: epochs must be an integer >= 0, got -1", dict(epochs=-1)),
        (ValueError, r"fit: batch_size must be an integer >= 1, got 0", dict(batch_size=0)),
        (ValueError, r"fit: patience must be an integer >= 0, got -1", dict(patience=-1)),
        (ValueError, r"fit: tol must be a finite number >= 0, got -1\.0", dict(tol=-1.0)),
    ] + [(TypeError, rf"fit: {name} must be callable or None, got 3", {name: 3})
         for name in ("before_step", "on_batch_end", "on_epoch_end", "validate")]
    for error, message, options in cases:
        kwargs = dict(epochs=1, batch_size=2, progress=False)
        kwargs.update(options)
        with pytest.raises(error, match=rf"^{message}$"):
            fit(step, opt, (X, y), **kwargs)
    with pytest.raises(TypeError, match=r"^step_loss must return a scalar Tensor, got float$"):
        fit(lambda xb, yb: 0.5, opt, (X, y), epochs=1, batch_size=2, progress=False)
    with pytest.raises(ValueError, match=r"^validate\(\) returned an empty dict$"):
        fit(step, opt, (X, y), epochs=1, batch_size=2, progress=False, validate=lambda: {})


def test_fit_defaults_no_early_stopping_patience_10_and_tol_0():
    from tinygrad_nn.training import STOP_REASONS
    X, y = regression_problem(n=10)
    model = linear_model()
    opt = SGD(model.parameters(), lr=0.0)
    step = mse_step(model)
    worse = iter(-np.arange(100.0))  # every epoch scores below the first
    h = fit(step, opt, (X, y), epochs=15, batch_size=5, progress=False, validate=lambda: next(worse))
    assert (h.epochs, h.stop_reason) == (15, "max_epochs")  # no early stopping by default
    worse = iter(-np.arange(100.0))
    h = fit(step, opt, (X, y), epochs=30, batch_size=5, progress=False, validate=lambda: next(worse),
            early_stopping=True)
    assert (h.epochs, h.stop_reason) == (12, "early_stopping")  # the best, then 11 bad epochs > 10
    scores = iter(np.arange(30) * 1e-3)  # tiny gains: improvements only with tol 0
    h = fit(step, opt, (X, y), epochs=30, batch_size=5, progress=False,
            validate=lambda: float(next(scores)), early_stopping=True)
    assert (h.epochs, h.stop_reason) == (30, "max_epochs")
    h = fit(step, opt, (X, y), epochs=3, batch_size=5, progress=False, on_epoch_end=lambda e, hist: True)
    assert h.stop_reason == "callback"
    assert set(STOP_REASONS) == {"max_epochs", "early_stopping", "callback", "interrupted"}


def test_fit_shows_a_progress_bar_by_default(capfd):
    X, y = regression_problem(n=10)
    model = linear_model()
    fit(mse_step(model), SGD(model.parameters(), lr=0.01), (X, y), epochs=3, batch_size=5)
    out, err = capfd.readouterr()
    assert out == "" and "0/3" in err


def test_a_history_pickled_before_plateau_existed_loads():
    h = History.__new__(History)
    h.__setstate__({"loss": [1.0], "metrics": {}, "best_epoch": 0, "stop_reason": "max_epochs",
                    "best_score": 0.5, "bad_epochs": 2})
    assert (h.best_score, h.bad_epochs) == (0.5, 2)
    old = History.__new__(History)
    old.__setstate__({"loss": [], "metrics": {}, "best_epoch": None, "stop_reason": "max_epochs"})
    assert (old.best_score, old.bad_epochs) == (-float("inf"), 0)
    assert History().best_epoch is None and History().stop_reason == "max_epochs"
