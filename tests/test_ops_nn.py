"""conv2d, max_pool2d and cross_entropy: values against scipy/numpy, gradients against finite
differences (tinygrad_nn.testing.gradcheck), dtypes, and the error messages."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.lib.stride_tricks import sliding_window_view
from scipy.signal import correlate
from scipy.special import log_softmax

import tinygrad_nn.functional as F
from tinygrad_nn import Tensor
from tinygrad_nn.testing import gradcheck


def reference_conv2d(x, w, b, stride, padding):
    """Cross-correlation with scipy, one (image, out channel, in channel) at a time."""
    (sh, sw), (ph, pw) = stride, padding
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    out = []
    for img in xp:
        maps = [sum(correlate(img[c], w[o, c], mode="valid") for c in range(x.shape[1]))
                + (0 if b is None else b[o]) for o in range(w.shape[0])]
        out.append(np.stack(maps)[:, ::sh, ::sw])
    return np.stack(out)


def reference_max_pool2d(x, kernel, stride):
    windows = sliding_window_view(x, kernel, axis=(2, 3))
    return windows[:, :, ::stride[0], ::stride[1]].max(axis=(-2, -1))


@st.composite
def conv_cases(draw):
    n, c, o = draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    h, w = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    ph, pw = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    kh, kw = draw(st.integers(1, min(4, h + 2 * ph))), draw(st.integers(1, min(4, w + 2 * pw)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    bias = rng.standard_normal(o) if draw(st.booleans()) else None
    return (rng.standard_normal((n, c, h, w)), rng.standard_normal((o, c, kh, kw)), bias, stride,
            (ph, pw))


def tensors_of(*arrays, dtype=np.float64, requires_grad=True):
    return [None if a is None else Tensor(a.astype(dtype), requires_grad=requires_grad)
            for a in arrays]


# ---------------------------------------------------------------- conv2d


@settings(max_examples=30)
@given(case=conv_cases())
def test_conv2d_matches_scipy_correlate(case):
    x, w, b, stride, padding = case
    got = F.conv2d(*tensors_of(x, w, b), stride=stride, padding=padding)
    np.testing.assert_allclose(got.data, reference_conv2d(x, w, b, stride, padding),
                               rtol=1e-10, atol=1e-12)


@settings(max_examples=20)
@given(case=conv_cases())
def test_conv2d_gradients_match_finite_differences(case):
    x, w, b, stride, padding = case
    inputs = [a for a in (x, w, b) if a is not None]
    out_shape = F.conv2d(*tensors_of(x, w, b), stride=stride, padding=padding).shape
    weights = Tensor(np.random.default_rng(0).standard_normal(out_shape))

    def loss(*args):
        bias = args[2] if b is not None else None
        return (F.conv2d(args[0], args[1], bias, stride=stride, padding=padding) * weights).sum()

    gradcheck(loss, *inputs)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_conv2d_keeps_dtype_and_skips_unneeded_input_grad(dtype):
    rng = np.random.default_rng(1)
    x = Tensor(rng.standard_normal((2, 3, 5, 5)).astype(dtype))  # data: no gradient wanted
    w, b = tensors_of(rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4), dtype=dtype)
    out = F.conv2d(x, w, b, padding=1)
    assert out.dtype == dtype and out.shape == (2, 4, 5, 5)
    out.sum().backward()
    assert x.grad is None
    assert w.grad.dtype == b.grad.dtype == dtype
    np.testing.assert_allclose(b.grad, np.full(4, 50.0), rtol=1e-6)
    xp = np.pad(x.data.astype(np.float64), ((0, 0), (0, 0), (1, 1), (1, 1)))
    want = np.stack([[[xp[:, c, i:i + 5, j:j + 5].sum() for j in range(3)] for i in range(3)]
                     for c in range(3)])
    np.testing.assert_allclose(w.grad, np.broadcast_to(want, (4, 3, 3, 3)), rtol=1e-5, atol=1e-5)


def test_conv2d_accepts_int_or_pair_stride_and_padding():
    rng = np.random.default_rng(2)
    x, w = tensors_of(rng.standard_normal((1, 1, 7, 6)), rng.standard_normal((2, 1, 3, 2)))
    assert F.conv2d(x, w, stride=2, padding=1).shape == (1, 2, 4, 4)
    assert F.conv2d(x, w, stride=(1, 3), padding=(0, 2)).shape == (1, 2, 5, 3)


def test_conv2d_non_contiguous_input():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 4, 2, 1)).transpose(3, 2, 1, 0)  # (1, 2, 4, 4), not contiguous
    w = rng.standard_normal((1, 2, 2, 2))
    got = F.conv2d(*tensors_of(x, w), padding=1)
    np.testing.assert_allclose(got.data, reference_conv2d(x, w, None, (1, 1), (1, 1)))


@pytest.mark.parametrize("x_shape, w_shape, kwargs, message", [
    ((2, 3, 5), (4, 3, 3, 3), {}, r"conv2d: input must be 4-D.*\(2, 3, 5\).*\(4, 3, 3, 3\)"),
    ((2, 3, 5, 5), (4, 3, 3), {}, r"conv2d: input must be 4-D.*\(4, 3, 3\)"),
    ((2, 3, 5, 5), (4, 2, 3, 3), {}, r"conv2d: input \(2, 3, 5, 5\) has 3 channels but weight "
                                     r"\(4, 2, 3, 3\) expects 2"),
    ((1, 1, 2, 5), (1, 1, 3, 3), {}, r"conv2d: input \(1, 1, 2, 5\) with padding \(0, 0\) is "
                                     r"smaller than the kernel of weight \(1, 1, 3, 3\)"),
    ((1, 1, 5, 5), (1, 1, 3, 3), {"stride": 0}, r"conv2d: stride must be an int >= 1"),
    ((1, 1, 5, 5), (1, 1, 3, 3), {"padding": (1, -1)}, r"conv2d: padding must be an int >= 0"),
    ((1, 1, 5, 5), (1, 1, 3, 3), {"stride": (1, 2, 3)}, r"conv2d: stride must be .* pair"),
])
def test_conv2d_errors(x_shape, w_shape, kwargs, message):
    x, w = tensors_of(np.zeros(x_shape), np.zeros(w_shape))
    with pytest.raises(ValueError, match=message):
        F.conv2d(x, w, **kwargs)


def test_conv2d_bias_and_type_errors():
    x, w, b = tensors_of(np.zeros((1, 1, 4, 4)), np.zeros((2, 1, 3, 3)), np.zeros(3))
    with pytest.raises(ValueError, match=r"conv2d: bias shape \(3,\) does not match weight"):
        F.conv2d(x, w, b)
    with pytest.raises(TypeError, match="conv2d: x must be a Tensor, got ndarray"):
        F.conv2d(np.zeros((1, 1, 4, 4)), w)


# ---------------------------------------------------------------- max_pool2d


@st.composite
def pool_cases(draw):
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    h, w = draw(st.integers(1, 7)), draw(st.integers(1, 7))
    kernel = (draw(st.integers(1, h)), draw(st.integers(1, w)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.permutation(n * c * h * w).reshape(n, c, h, w) * 0.25  # distinct values: no ties
    return x, kernel, stride


@settings(max_examples=30)
@given(case=pool_cases(), use_default_stride=st.booleans())
def test_max_pool2d_matches_numpy(case, use_default_stride):
    x, kernel, stride = case
    stride = kernel if use_default_stride else stride
    got = F.max_pool2d(Tensor(x), kernel, None if use_default_stride else stride)
    np.testing.assert_array_equal(got.data, reference_max_pool2d(x, kernel, stride))


@settings(max_examples=20)
@given(case=pool_cases())
def test_max_pool2d_gradients_match_finite_differences(case):
    x, kernel, stride = case
    out_shape = F.max_pool2d(Tensor(x), kernel, stride).shape
    weights = Tensor(np.random.default_rng(0).standard_normal(out_shape))
    gradcheck(lambda t: (F.max_pool2d(t, kernel, stride) * weights).sum(), x)


def test_max_pool2d_ties_and_overlap_route_gradient_to_first_max():
    x = Tensor(np.array([[[[1.0, 1.0, 0.0], [1.0, 1.0, 0.0]]]], np.float32), requires_grad=True)
    out = F.max_pool2d(x, (2, 2), stride=1)  # windows overlap on column 1
    np.testing.assert_array_equal(out.data, [[[[1.0, 1.0]]]])
    out.sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad, [[[[1.0, 1.0, 0.0], [0.0, 0.0, 0.0]]]])


def test_max_pool2d_propagates_nan():
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    x[0, 0, 1, 0] = np.nan
    out = F.max_pool2d(Tensor(x), 2).data
    assert np.isnan(out[0, 0, 0, 0]) and not np.isnan(out[0, 0, 1:, 1:]).any()


@pytest.mark.parametrize("shape, args, message", [
    ((2, 4, 4), (2,), r"max_pool2d: input must be 4-D \(N, C, H, W\), got shape \(2, 4, 4\)"),
    ((1, 1, 3, 4), (4,), r"max_pool2d: input \(1, 1, 3, 4\) is smaller than the pooling window \(4, 4\)"),
    ((1, 1, 4, 4), (0,), r"max_pool2d: kernel_size must be an int >= 1"),
    ((1, 1, 4, 4), (2, (1, 0)), r"max_pool2d: stride must be an int >= 1"),
])
def test_max_pool2d_errors(shape, args, message):
    with pytest.raises(ValueError, match=message):
        F.max_pool2d(Tensor(np.zeros(shape)), *args)


# ---------------------------------------------------------------- cross_entropy


@st.composite
def ce_cases(draw):
    n, k = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    scale = draw(st.sampled_from([1.0, 10.0, 1e3]))
    return rng.standard_normal((n, k)) * scale, rng.integers(0, k, n)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@settings(max_examples=15)
@given(case=ce_cases())
def test_cross_entropy_matches_scipy(case, reduction, dtype):
    logits, target = case
    nll = -log_softmax(logits.astype(dtype).astype(np.float64), axis=1)[np.arange(len(target)), target]
    want = {"mean": nll.mean(), "sum": nll.sum(), "none": nll}[reduction]
    got = F.cross_entropy(Tensor(logits.astype(dtype)), target, reduction=reduction)
    assert got.dtype == dtype and got.shape == np.shape(want)
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(got.data, want, rtol=rtol, atol=rtol)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@settings(max_examples=15)
@given(case=ce_cases())
def test_cross_entropy_gradients_match_finite_differences(case, reduction):
    logits, target = case
    logits = logits / np.abs(logits).max()  # keep the softmax away from saturation
    weights = Tensor(np.random.default_rng(0).standard_normal(len(target)))
    if reduction == "none":
        gradcheck(lambda z: (F.cross_entropy(z, target, reduction="none") * weights).sum(), logits)
    else:
        gradcheck(lambda z: F.cross_entropy(z, target, reduction=reduction), logits)


def test_cross_entropy_target_forms_agree():
    logits = Tensor(np.random.default_rng(4).standard_normal((3, 4)), requires_grad=True)
    values = [F.cross_entropy(logits, t).item()
              for t in ([0, 3, 1], np.array([0, 3, 1], np.int32), np.array([0.0, 3.0, 1.0]),
                        Tensor(np.array([0, 3, 1])))]
    np.testing.assert_allclose(values, values[0])


def test_cross_entropy_is_stable_for_huge_logits():
    logits = Tensor(np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4]], np.float32), requires_grad=True)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        loss = F.cross_entropy(logits, [1, 2], reduction="none")
        loss.sum().backward()
    np.testing.assert_allclose(loss.data, [2e4, np.log(3)], rtol=1e-6)
    np.testing.assert_allclose(logits.grad, [[1, -1, 0], [1 / 3, 1 / 3, -2 / 3]], atol=1e-6)


@pytest.mark.parametrize("logits_shape, target, kwargs, message", [
    ((3, 4), [0, 4, -1], {}, r"cross_entropy: target values \[-1, 4\] are out of range for 4 "
                              r"classes \(valid: 0 to 3\)"),
    ((2, 4), [0.0, 1.5], {}, r"cross_entropy: targets must be integer class indices, got "
                             r"non-integer values \[1.5\]"),
    ((2, 4), [0, np.nan], {}, r"non-integer values \[nan\]"),
    ((2, 4), ["a", "b"], {}, r"cross_entropy: targets must be integer class indices, got dtype"),
    ((3, 4), [0, 1], {}, r"cross_entropy: target shape \(2,\) does not match 3 rows of logits"),
    ((3, 4), [0, 1, 2], {"reduction": "avg"},
     r"cross_entropy: reduction must be one of 'mean', 'sum', 'none', got 'avg'"),
    ((3,), [0, 1, 2], {}, r"cross_entropy: logits must be 2-D \(n, k\) with k >= 1, got shape \(3,\)"),
    ((0, 4), [], {}, r"cross_entropy: the mean over an empty batch"),
])
def test_cross_entropy_errors(logits_shape, target, kwargs, message):
    with pytest.raises(ValueError, match=message):
        F.cross_entropy(Tensor(np.zeros(logits_shape)), target, **kwargs)


def test_cross_entropy_empty_batch_sum_and_none():
    logits = Tensor(np.zeros((0, 3)), requires_grad=True)
    assert F.cross_entropy(logits, [], reduction="sum").item() == 0.0
    assert F.cross_entropy(logits, [], reduction="none").shape == (0,)
