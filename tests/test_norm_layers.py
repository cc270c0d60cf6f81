"""BatchNorm1D/2D, LayerNorm and Embedding (issue 11 items 9, 12): values and running statistics
against a numpy transcription of PyTorch's rules, gradients by finite differences under
hypothesis, and against real PyTorch when importable."""
import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import tinygrad_nn.functional as F
from tinygrad_nn import Tensor, nn
from tinygrad_nn.testing import gradcheck, tensors


# ---------------------------------------------------------------- numpy transcriptions
def bn_reference(x, weight, bias, running_mean, running_var, training, momentum, eps):
    """PyTorch's batch norm, written out: returns (out, new running mean, new running var)."""
    axes = (0,) + tuple(range(2, x.ndim))
    shape = (1, -1) + (1,) * (x.ndim - 2)
    if training:
        mean, var = x.mean(axis=axes), x.var(axis=axes)
        n = x.size // x.shape[1]
        running_mean = (1 - momentum) * running_mean + momentum * mean
        running_var = (1 - momentum) * running_var + momentum * var * n / (n - 1)
    else:
        mean, var = running_mean, running_var
    out = (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + eps)
    return out * weight.reshape(shape) + bias.reshape(shape), running_mean, running_var


def ln_reference(x, weight, bias, ndim, eps):
    axes = tuple(range(x.ndim - ndim, x.ndim))
    mean, var = x.mean(axis=axes, keepdims=True), x.var(axis=axes, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight + bias


def spread(x, axes):
    """Finite differences need every normalised group to have some variance."""
    assume(np.all(x.data.var(axis=axes) > 0.05))


# ---------------------------------------------------------------- batch norm
@pytest.mark.parametrize("layer, shape", [(nn.BatchNorm1D, (6, 3)), (nn.BatchNorm1D, (4, 3, 5)),
                                          (nn.BatchNorm2D, (4, 3, 3, 2))])
@pytest.mark.parametrize("momentum", [0.1, 0.5, None])
def test_batchnorm_matches_numpy_transcription_over_steps(layer, shape, momentum):
    rng = np.random.default_rng(0)
    bn = layer(3, momentum=momentum, dtype=np.float64)
    bn.weight.data[:] = rng.standard_normal(3)
    bn.bias.data[:] = rng.standard_normal(3)
    rm, rv = np.zeros(3), np.ones(3)
    for step in range(1, 4):
        x = rng.standard_normal(shape) * (step + 1) + step
        m = 1.0 / step if momentum is None else momentum
        ref, rm, rv = bn_reference(x, bn.weight.data, bn.bias.data, rm, rv, True, m, 1e-5)
        np.testing.assert_allclose(bn(Tensor(x)).data, ref, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(bn.running_mean.data, rm, rtol=1e-12)
        np.testing.assert_allclose(bn.running_var.data, rv, rtol=1e-12)
        assert int(bn.num_batches_tracked.data) == step
    bn.eval()
    x = rng.standard_normal(shape)
    ref, _, _ = bn_reference(x, bn.weight.data, bn.bias.data, rm, rv, False, 0.1, 1e-5)
    np.testing.assert_allclose(bn(Tensor(x)).data, ref, rtol=1e-12, atol=1e-12)
    assert int(bn.num_batches_tracked.data) == 3  # eval leaves the statistics alone


def test_batchnorm_buffers_state_dict_and_parameters():
    bn = nn.BatchNorm2D(4)
    assert [n for n, _ in bn.named_parameters()] == ["weight", "bias"]
    assert [n for n, _ in bn.named_buffers()] == ["running_mean", "running_var", "num_batches_tracked"]
    sd = bn.state_dict()
    assert list(sd) == ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    assert sd["num_batches_tracked"].dtype == np.int64 and sd["running_var"].dtype == np.float32
    other = nn.BatchNorm2D(4)
    bn(Tensor(np.random.default_rng(0).standard_normal((3, 4, 2, 2))))
    other.load_state_dict(bn.state_dict())
    np.testing.assert_array_equal(other.running_mean.data, bn.running_mean.data)
    assert int(other.num_batches_tracked.data) == 1
    plain = nn.BatchNorm1D(2, affine=False, track_running_stats=False)
    assert plain.parameters() == [] and plain.state_dict() == {}


def test_batchnorm_without_running_stats_uses_batch_statistics_in_eval():
    x = np.random.default_rng(1).standard_normal((5, 2))
    bn = nn.BatchNorm1D(2, track_running_stats=False, dtype=np.float64).eval()
    ref, _, _ = bn_reference(x, np.ones(2), np.zeros(2), np.zeros(2), np.ones(2), True, 0.1, 1e-5)
    np.testing.assert_allclose(bn(Tensor(x)).data, ref, rtol=1e-12, atol=1e-12)


@given(x=tensors(shape=st.sampled_from([(5, 2), (3, 2, 3), (2, 2, 2, 3)])), training=st.booleans())
def test_batchnorm_gradients(x, training):
    axes = (0,) + tuple(range(2, x.ndim))
    spread(x, axes)
    rng = np.random.default_rng(0)
    w = Tensor(rng.uniform(0.5, 2, 2), requires_grad=True)
    b = Tensor(rng.standard_normal(2), requires_grad=True)
    rm, rv = rng.standard_normal(2), rng.uniform(0.5, 2, 2)
    gradcheck(lambda t, w, b: F.batch_norm(t, rm.copy(), rv.copy(), w, b, training=training), x, w, b)
    gradcheck(lambda t: F.batch_norm(t, None, None, training=True), x)


def test_batchnorm_errors():
    with pytest.raises(ValueError, match=r"BatchNorm2D\(3.*expected input \(N, C, H, W\) with C=3, got shape \(2, 3\)"):
        nn.BatchNorm2D(3)(Tensor(np.zeros((2, 3))))
    with pytest.raises(ValueError, match="more than one value per channel"):
        nn.BatchNorm1D(3)(Tensor(np.zeros((1, 3))))
    with pytest.raises(ValueError, match="momentum must be in"):
        nn.BatchNorm1D(3, momentum=1.5)
    with pytest.raises(ValueError, match="num_features must be an integer >= 1"):
        nn.BatchNorm1D(0)
    with pytest.raises(ValueError, match="needs running_mean and running_var"):
        F.batch_norm(Tensor(np.zeros((2, 3))), training=False)
    with pytest.raises(ValueError, match=r"weight has shape \(2,\), expected \(3,\)"):
        F.batch_norm(Tensor(np.zeros((2, 3))), weight=Tensor(np.ones(2)), training=True)


# ---------------------------------------------------------------- layer norm
@given(x=tensors(shape=st.sampled_from([(3, 4), (2, 3, 4), (1, 4), (2, 2, 3)])), ndim=st.integers(1, 2))
def test_layernorm_values_and_gradients(x, ndim):
    inner = x.shape[x.ndim - ndim:]
    spread(x.reshape(*x.shape[:x.ndim - ndim], -1), -1)
    rng = np.random.default_rng(0)
    w = Tensor(rng.uniform(0.5, 2, inner), requires_grad=True)
    b = Tensor(rng.standard_normal(inner), requires_grad=True)
    out = F.layer_norm(x, inner, w, b)
    np.testing.assert_allclose(out.data, ln_reference(x.data, w.data, b.data, ndim, 1e-5), rtol=1e-10, atol=1e-12)
    gradcheck(lambda t, w, b: F.layer_norm(t, inner, w, b), x, w, b)


def test_layernorm_module():
    ln = nn.LayerNorm(4)
    assert ln.weight.shape == (4,) and ln.training
    x = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    np.testing.assert_allclose(ln(Tensor(x)).data, ln_reference(x, 1, 0, 1, 1e-5), rtol=1e-5, atol=1e-6)
    assert nn.LayerNorm((2, 4), elementwise_affine=False).parameters() == []
    with pytest.raises(ValueError, match=r"does not end with normalized_shape \(4,\)"):
        ln(Tensor(np.zeros((4, 3))))


# ---------------------------------------------------------------- embedding
@given(data=st.data(), v=st.integers(1, 6), d=st.integers(1, 3))
def test_embedding_values_and_scatter_add_gradient(data, v, d):
    idx = np.array(data.draw(st.lists(st.integers(0, v - 1), min_size=0, max_size=8)), dtype=np.int64)
    idx = idx.reshape(-1, 2) if idx.size % 2 == 0 and idx.size else idx
    w = Tensor(np.random.default_rng(v).standard_normal((v, d)), requires_grad=True)
    out = F.embedding(idx, w)
    np.testing.assert_array_equal(out.data, w.data[idx])
    assert out.shape == idx.shape + (d,)
    gradcheck(lambda t: F.embedding(idx, t), w)
    g = np.random.default_rng(1).standard_normal(out.shape)
    out.backward(g)
    ref = np.zeros((v, d))
    np.add.at(ref, idx.reshape(-1), g.reshape(-1, d))
    np.testing.assert_allclose(w.grad, ref, rtol=1e-12)


def test_embedding_module_padding_and_errors():
    emb = nn.Embedding(5, 3, padding_idx=-1, rng=0)
    assert emb.padding_idx == 4 and np.all(emb.weight.data[4] == 0)
    np.testing.assert_array_equal(emb.weight.data[:4], np.random.default_rng(0).normal(0, 1, (5, 3)).astype(np.float32)[:4])
    out = emb(Tensor([[0.0, 4.0], [4.0, 1.0]]))
    out.sum().backward()
    np.testing.assert_array_equal(emb.weight.grad[:, 0], [1, 1, 0, 0, 0])
    with pytest.raises(ValueError, match=r"embedding: index values \[5, 7\] are out of range for 5 rows"):
        emb(np.array([0, 5, 7]))
    with pytest.raises(ValueError, match=r"\[-1\]"):
        emb([-1])
    with pytest.raises(ValueError, match=r"embedding: index must be integer values, got non-integer values \[0.5\]"):
        emb(Tensor([0.5]))
    with pytest.raises(ValueError, match="padding_idx must be an integer in"):
        nn.Embedding(5, 3, padding_idx=5)


# ---------------------------------------------------------------- against real PyTorch
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_norm_layers_and_embedding_against_pytorch(dtype):
    torch = pytest.importorskip("torch")
    tdt = torch.float32 if dtype == np.float32 else torch.float64
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-12)
    rng = np.random.default_rng(0)
    pairs = [(nn.BatchNorm1D(3, dtype=dtype), torch.nn.BatchNorm1d(3, dtype=tdt), (6, 3)),
             (nn.BatchNorm1D(3, momentum=None, dtype=dtype), torch.nn.BatchNorm1d(3, momentum=None, dtype=tdt), (4, 3, 5)),
             (nn.BatchNorm2D(3, dtype=dtype), torch.nn.BatchNorm2d(3, dtype=tdt), (4, 3, 5, 2)),
             (nn.LayerNorm((5, 2), dtype=dtype), torch.nn.LayerNorm((5, 2), dtype=tdt), (4, 3, 5, 2))]
    for ours, theirs, shape in pairs:
        with torch.no_grad():
            for name, p in theirs.named_parameters():
                p.copy_(torch.tensor(rng.standard_normal(p.shape)))
        ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
        for mode in ("train", "train", "eval"):
            getattr(ours, mode)(), getattr(theirs, mode)()
            x = (rng.standard_normal(shape) * 3 + 1).astype(dtype)
            g = rng.standard_normal(shape).astype(dtype)
            X, TX = Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
            ours.zero_grad(), theirs.zero_grad()
            y, out = ours(X), theirs(TX)
            y.backward(g)
            out.backward(torch.tensor(g))
            np.testing.assert_allclose(y.data, out.detach().numpy(), **tol)
            np.testing.assert_allclose(X.grad, TX.grad.numpy(), **tol)
            for (name, p), tp in zip(ours.named_parameters(), theirs.parameters()):
                np.testing.assert_allclose(p.grad, tp.grad.numpy(), err_msg=name, **tol)
            for k, v in theirs.state_dict().items():
                np.testing.assert_allclose(ours.state_dict()[k], v.numpy(), err_msg=k, **tol)
    emb, temb = nn.Embedding(7, 3, padding_idx=2, rng=0, dtype=dtype), torch.nn.Embedding(7, 3, padding_idx=2, dtype=tdt)
    with torch.no_grad():
        temb.weight.copy_(torch.tensor(emb.weight.data))
    idx = rng.integers(0, 7, (4, 5))
    out, tout = emb(idx), temb(torch.tensor(idx))
    g = rng.standard_normal(out.shape).astype(dtype)
    out.backward(g), tout.backward(torch.tensor(g))
    np.testing.assert_array_equal(out.data, tout.detach().numpy())
    np.testing.assert_allclose(emb.weight.grad, temb.weight.grad.numpy(), **tol)


def test_norm_and_embedding_kernels_check_their_inputs_before_running():
    from tinygrad_nn.kernels import embedding as KE
    from tinygrad_nn.kernels import norm as KN

    x = np.zeros((2, 3, 4))
    with pytest.raises(ValueError, match="channel_stats: x must be 3-D"):
        KN.channel_stats(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"channel_affine: scale has shape \(2,\), expected \(3,\)"):
        KN.channel_affine(x, np.ones(2), np.ones(3))
    with pytest.raises(TypeError, match="batch_norm_backward: g has dtype float32"):
        KN.batch_norm_backward(x, np.zeros((2, 3, 4), np.float32), np.zeros(3), np.ones(3), np.ones(3), True)
    with pytest.raises(ValueError, match=r"embedding_backward: indices values \[5\] are out of range"):
        KE.embedding_backward(np.array([0, 5]), np.zeros((2, 3)), 5, -1)
    with pytest.raises(ValueError, match=r"indices has shape \(3,\), expected \(2,\)"):
        KE.embedding_backward(np.array([0, 1, 2]), np.zeros((2, 3)), 5, -1)


# ---------------------------------------------------------------- pinned by make mutation
# (docs/mutation.md): Embedding's argument checks (exact messages, the smallest valid sizes) and repr.
def test_embedding_argument_messages_are_exact():
    cases = [
        (ValueError, r"Embedding: num_embeddings must be an integer >= 1, got 0", lambda: nn.Embedding(0, 2)),
        (ValueError, r"Embedding: embedding_dim must be an integer >= 1, got 0", lambda: nn.Embedding(1, 0)),
        (ValueError, r"Embedding: padding_idx must be an integer in \[-3, 2\], got 3",
         lambda: nn.Embedding(3, 2, padding_idx=3)),
        (TypeError, r"Embedding: dtype must be float32 or float64, got dtype\('int32'\)",
         lambda: nn.Embedding(3, 2, dtype=np.int32)),
    ]
    for error, message, call in cases:
        with pytest.raises(error, match=rf"^{message}$"):
            call()
    assert nn.Embedding(1, 1).weight.shape == (1, 1)  # the smallest table
    assert nn.Embedding(3, 2, padding_idx=2).padding_idx == 2  # the last row is a valid padding row
    assert nn.Embedding(3, 2, padding_idx=-3).padding_idx == 0


def test_embedding_repr():
    assert repr(nn.Embedding(3, 2)) == "Embedding(3, 2)"
    assert repr(nn.Embedding(3, 2, padding_idx=-1)) == "Embedding(3, 2, padding_idx=2)"


def test_norm_layer_argument_messages_are_exact():
    cases = [
        (ValueError, r"BatchNorm2D: eps must be a finite number > 0, got 0\.0", lambda: nn.BatchNorm2D(2, eps=0.0)),
        (TypeError, r"BatchNorm2D: affine must be a bool, got 1", lambda: nn.BatchNorm2D(2, affine=1)),
        (TypeError, r"BatchNorm2D: track_running_stats must be a bool, got 1",
         lambda: nn.BatchNorm2D(2, track_running_stats=1)),
        (TypeError, r"BatchNorm1D: dtype must be float32 or float64, got dtype\('int32'\)",
         lambda: nn.BatchNorm1D(2, dtype=np.int32)),
        (ValueError, r"BatchNorm1D\(3, eps=1e-05, momentum=0\.1, affine=True, track_running_stats=True\): "
                     r"expected input \(N, C\) or \(N, C, L\) with C=3, got shape \(2, 2\)",
         lambda: nn.BatchNorm1D(3)(Tensor(np.ones((2, 2))))),
        (ValueError, r"LayerNorm: normalized_shape must name at least one axis, got \(\)", lambda: nn.LayerNorm(())),
        (ValueError, r"LayerNorm: normalized_shape must be an integer >= 1, got 0", lambda: nn.LayerNorm((0,))),
        (ValueError, r"LayerNorm: eps must be a finite number > 0, got 0\.0", lambda: nn.LayerNorm(3, eps=0.0)),
        (TypeError, r"LayerNorm: elementwise_affine must be a bool, got 1",
         lambda: nn.LayerNorm(3, elementwise_affine=1)),
        (TypeError, r"LayerNorm: bias must be a bool, got 1", lambda: nn.LayerNorm(3, bias=1)),
        (TypeError, r"LayerNorm: dtype must be float32 or float64, got dtype\('int32'\)",
         lambda: nn.LayerNorm(3, dtype=np.int32)),
    ]
    for error, message, call in cases:
        with pytest.raises(error, match=rf"^{message}$"):
            call()
    assert nn.LayerNorm(1).normalized_shape == (1,)  # the smallest axis


def test_layer_norm_defaults_and_repr():
    layer = nn.LayerNorm(3)
    assert layer.weight.requires_grad and layer.bias is not None and layer.bias.requires_grad
    assert layer.weight.dtype == np.float32 and nn.LayerNorm(3, dtype=np.float64).bias.dtype == np.float64
    assert repr(layer) == "LayerNorm((3,), eps=1e-05)"
    assert repr(nn.LayerNorm((2, 3), elementwise_affine=False)) == "LayerNorm((2, 3), eps=1e-05, elementwise_affine=False)"
    assert repr(nn.BatchNorm1D(3)) == "BatchNorm1D(3, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)"


def test_reset_running_stats_restores_mean_0_var_1_and_no_batches():
    layer = nn.BatchNorm1D(2)
    layer(Tensor(np.random.default_rng(0).normal(3.0, 2.0, size=(8, 2))))
    assert layer.num_batches_tracked.data == 1
    layer.reset_running_stats()
    np.testing.assert_array_equal(layer.running_mean.data, [0.0, 0.0])
    np.testing.assert_array_equal(layer.running_var.data, [1.0, 1.0])
    assert layer.num_batches_tracked.data == 0
    off = nn.BatchNorm1D(2, track_running_stats=False)
    off.reset_running_stats()  # nothing to reset
    assert off.running_mean is None and off.running_var is None and off.num_batches_tracked is None
