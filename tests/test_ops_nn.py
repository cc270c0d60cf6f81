"""conv2d, max_pool2d and cross_entropy: values against scipy/numpy, gradients against finite
differences (tinygrad_nn.testing.gradcheck), dtypes, and the error messages."""
import contextlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.lib.stride_tricks import sliding_window_view
from scipy.signal import correlate
from scipy.special import log_softmax

import tinygrad_nn.functional as F
from tinygrad_nn import Tensor
from tinygrad_nn.kernels import conv as KC
from tinygrad_nn.kernels import direct as KD
from tinygrad_nn.testing import gradcheck


def reference_conv2d(x, w, b, stride, padding, dilation=(1, 1), groups=1):
    """Cross-correlation with scipy, one (image, out channel, in channel) at a time; the kernel
    is dilated by inserting zeros; ``padding`` is (h, w) or (top, bottom, left, right)."""
    (sh, sw), (dh, dw) = stride, dilation
    pads = padding if len(padding) == 4 else (padding[0], padding[0], padding[1], padding[1])
    xp = np.pad(x, ((0, 0), (0, 0), pads[:2], pads[2:]))
    O, Cg, kh, kw = w.shape
    wd = np.zeros((O, Cg, dh * (kh - 1) + 1, dw * (kw - 1) + 1))
    wd[:, :, ::dh, ::dw] = w
    Og = O // groups
    out = []
    for img in xp:
        maps = [sum(correlate(img[o // Og * Cg + c], wd[o, c], mode="valid") for c in range(Cg))
                + (0 if b is None else b[o]) for o in range(O)]
        out.append(np.stack(maps)[:, ::sh, ::sw])
    return np.stack(out)


def reference_pool2d(x, kernel, stride, padding=(0, 0), kind="max"):
    """Max (-inf padding) or mean (zero padding counted) over sliding windows, with numpy."""
    fill = -np.inf if kind == "max" else 0.0
    xp = np.pad(x, ((0, 0), (0, 0), (padding[0],) * 2, (padding[1],) * 2), constant_values=fill)
    windows = sliding_window_view(xp, kernel, axis=(2, 3))[:, :, ::stride[0], ::stride[1]]
    return windows.max(axis=(-2, -1)) if kind == "max" else windows.mean(axis=(-2, -1))


def reference_max_pool2d(x, kernel, stride):
    return reference_pool2d(x, kernel, stride)


@st.composite
def conv_cases(draw):
    """Random conv2d arguments, strides, dilations and groups included, that fit together."""
    groups = draw(st.integers(1, 3))
    n, c, o = draw(st.integers(1, 2)), groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    h, w = draw(st.integers(1, 7)), draw(st.integers(1, 7))
    ph, pw = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    dh, dw = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    kh = draw(st.integers(1, max(1, min(4, (h + 2 * ph - 1) // dh + 1))))
    kw = draw(st.integers(1, max(1, min(4, (w + 2 * pw - 1) // dw + 1))))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    bias = rng.standard_normal(o) if draw(st.booleans()) else None
    return (rng.standard_normal((n, c, h, w)), rng.standard_normal((o, c // groups, kh, kw)), bias,
            stride, (ph, pw), (dh, dw), groups)


@st.composite
def direct_conv_cases(draw):
    """conv_cases the direct path takes: one group, no side padded past the dilated kernel's
    reach (any stride)."""
    x, w, b, stride, (ph, pw), (dh, dw), _ = draw(conv_cases().filter(lambda case: case[6] == 1))
    kh, kw = w.shape[2:]
    return x, w, b, stride, (min(ph, dh * (kh - 1)), min(pw, dw * (kw - 1))), (dh, dw), 1


def tensors_of(*arrays, dtype=np.float64, requires_grad=True):
    return [None if a is None else Tensor(a.astype(dtype), requires_grad=requires_grad)
            for a in arrays]


# ---------------------------------------------------------------- conv2d


@contextlib.contextmanager
def convolution_path(path):
    """The convolution forced onto one path: "direct" (``kernels.direct`` wherever it applies:
    ungrouped, padding within the kernel's reach, any map size and stride), or im2col
    (``kernels.conv``) with "columns" (batched GEMMs over im2col columns) or "rows" (image by
    image, exact matrices, the weight gradient from pixel-major rows)."""
    saved = KC.ROW_TAPS, KC.ROW_PIXELS, KD.MIN_PIXELS, KD.STRIDED_MIN_TAPS
    KC.ROW_TAPS, KC.ROW_PIXELS = (0, 0) if path == "columns" else (1 << 62, 1 << 62)
    KD.MIN_PIXELS = KD.STRIDED_MIN_TAPS = 0 if path == "direct" else 1 << 62
    try:
        yield
    finally:
        KC.ROW_TAPS, KC.ROW_PIXELS, KD.MIN_PIXELS, KD.STRIDED_MIN_TAPS = saved



@pytest.mark.parametrize("path", ["columns", "rows"])
@settings(max_examples=25)
@given(case=conv_cases())
def test_conv2d_matches_scipy_correlate(path, case):
    x, w, b, stride, padding, dilation, groups = case
    with convolution_path(path):
        got = F.conv2d(*tensors_of(x, w, b), stride=stride, padding=padding, dilation=dilation,
                       groups=groups)
    np.testing.assert_allclose(got.data, reference_conv2d(x, w, b, stride, padding, dilation, groups),
                               rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("path", ["columns", "rows"])
@settings(max_examples=20)
@given(case=conv_cases())
def test_conv2d_gradients_match_finite_differences(path, case):
    x, w, b, stride, padding, dilation, groups = case
    inputs = [a for a in (x, w, b) if a is not None]
    kw = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    out_shape = F.conv2d(*tensors_of(x, w, b), **kw).shape
    weights = Tensor(np.random.default_rng(0).standard_normal(out_shape))

    def loss(*args):
        bias = args[2] if b is not None else None
        return (F.conv2d(args[0], args[1], bias, **kw) * weights).sum()

    with convolution_path(path):
        gradcheck(loss, *inputs)


@settings(max_examples=25)
@given(case=direct_conv_cases())
def test_direct_conv2d_agrees_with_the_checked_float64_path(case):
    """The direct path (float32, forced on for any map size and stride): its output against
    scipy, and its gradients against the float64 im2col path's, which the gradcheck tests above
    verify."""
    x, w, b, stride, padding, dilation, groups = case
    kw = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    weights = np.random.default_rng(0).standard_normal(
        reference_conv2d(x, w, b, **kw).shape)
    results = []
    for path, dtype in (("direct", np.float32), ("columns", np.float64)):
        inputs = tensors_of(x, w, b, dtype=dtype)
        with convolution_path(path):
            out = F.conv2d(*inputs, **kw)
            (out * Tensor(weights.astype(dtype))).sum().backward()
        results.append([out.data] + [t.grad for t in inputs if t is not None])
    with convolution_path("direct"):
        assert KD.applies(x.shape, w.shape, stride, (padding[0],) * 2 + (padding[1],) * 2,
                          dilation, groups)
    np.testing.assert_allclose(results[0][0], reference_conv2d(x, w, b, **kw), rtol=1e-4,
                               atol=1e-4)
    for got, want in zip(results[0], results[1]):
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * max(1, np.abs(want).max()))


@pytest.mark.parametrize("kernel, dilation", [((3, 3), (1, 1)), ((2, 4), (1, 1)), ((3, 2), (2, 3)),
                                              ((1, 1), (1, 1))])
def test_conv2d_same_padding_keeps_size_and_matches_explicit_padding(kernel, dilation):
    rng = np.random.default_rng(4)
    x, w = rng.standard_normal((2, 2, 6, 7)), rng.standard_normal((3, 2) + kernel)
    got = F.conv2d(*tensors_of(x, w), padding="same", dilation=dilation)
    assert got.shape == (2, 3, 6, 7)
    # the total padding d*(k-1) split with the extra pixel at the bottom/right, as PyTorch
    pads = tuple(p for k, d in zip(kernel, dilation) for p in (d * (k - 1) // 2, d * (k - 1) - d * (k - 1) // 2))
    np.testing.assert_allclose(got.data, reference_conv2d(x, w, None, (1, 1), pads, dilation),
                               rtol=1e-10, atol=1e-12)
    valid = F.conv2d(*tensors_of(x, w), padding="valid", dilation=dilation)
    np.testing.assert_allclose(valid.data, reference_conv2d(x, w, None, (1, 1), (0, 0), dilation),
                               rtol=1e-10, atol=1e-12)


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
    ((1, 1, 2, 5), (1, 1, 3, 3), {}, r"conv2d: input image of shape \(1, 1, 2, 5\) \(padding "
                                     r"\(0, 0\)\) is smaller than the kernel of shape \(1, 1, 3, 3\)"),
    ((1, 1, 5, 5), (1, 1, 3, 3), {"dilation": 3}, r"conv2d: input image .* dilated by \(3, 3\) "
                                                  r"\(span \(7, 7\)\)"),
    ((1, 1, 5, 5), (1, 1, 3, 3), {"stride": 0}, r"conv2d: stride must be an int >= 1"),
    ((1, 1, 5, 5), (1, 1, 3, 3), {"stride": True}, r"conv2d: stride must be an int >= 1 .*got True"),
    ((1, 1, 5, 5), (1, 1, 3, 3), {"dilation": (1, 0)}, r"conv2d: dilation must be an int >= 1"),
    ((1, 1, 5, 5), (1, 1, 3, 3), {"groups": 0}, r"conv2d: groups must be an integer >= 1"),
    ((1, 4, 5, 5), (2, 2, 3, 3), {"groups": 3}, r"conv2d: input \(1, 4, 5, 5\) has 4 channels but "
                                                r"weight \(2, 2, 3, 3\) with groups=3 expects 6"),
    ((1, 4, 5, 5), (3, 2, 3, 3), {"groups": 2}, r"conv2d: weight \(3, 2, 3, 3\) has 3 output "
                                                r"channels, not divisible by groups=2"),
    ((1, 1, 5, 5), (1, 1, 3, 3), {"padding": (1, -1)}, r"conv2d: padding must be an int >= 0 or a "
                                                       r"pair of them, or one of 'same', 'valid'"),
    ((1, 1, 5, 5), (1, 1, 3, 3), {"padding": "full"}, r"conv2d: padding must be .*'same', 'valid', "
                                                      r"got 'full'"),
    ((1, 1, 5, 5), (1, 1, 3, 3), {"padding": "same", "stride": 2},
     r"conv2d: padding='same' needs stride 1, got stride \(2, 2\)"),
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


# ---------------------------------------------------------------- max_pool2d, avg_pool2d


@st.composite
def pool_cases(draw):
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    h, w = draw(st.integers(1, 7)), draw(st.integers(1, 7))
    padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    kernel = (draw(st.integers(max(1, 2 * padding[0]), h + 2 * padding[0])),
              draw(st.integers(max(1, 2 * padding[1]), w + 2 * padding[1])))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.permutation(n * c * h * w).reshape(n, c, h, w) * 0.25 - 3  # distinct values: no ties
    return x, kernel, stride, padding


POOLS = {"max": F.max_pool2d, "avg": F.avg_pool2d}


@settings(max_examples=30)
@given(case=pool_cases(), use_default_stride=st.booleans(), kind=st.sampled_from(["max", "avg"]))
def test_pool2d_matches_numpy(case, use_default_stride, kind):
    x, kernel, stride, padding = case
    stride = kernel if use_default_stride else stride
    got = POOLS[kind](Tensor(x), kernel, None if use_default_stride else stride, padding)
    np.testing.assert_allclose(got.data, reference_pool2d(x, kernel, stride, padding, kind),
                               rtol=1e-12, atol=1e-12)


@settings(max_examples=20)
@given(case=pool_cases(), kind=st.sampled_from(["max", "avg"]))
def test_pool2d_gradients_match_finite_differences(case, kind):
    x, kernel, stride, padding = case
    out_shape = POOLS[kind](Tensor(x), kernel, stride, padding).shape
    weights = Tensor(np.random.default_rng(0).standard_normal(out_shape))
    gradcheck(lambda t: (POOLS[kind](t, kernel, stride, padding) * weights).sum(), x)


def test_max_pool2d_ties_and_overlap_route_gradient_to_first_max():
    x = Tensor(np.array([[[[1.0, 1.0, 0.0], [1.0, 1.0, 0.0]]]], np.float32), requires_grad=True)
    out = F.max_pool2d(x, (2, 2), stride=1)  # windows overlap on column 1
    np.testing.assert_array_equal(out.data, [[[[1.0, 1.0]]]])
    out.sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad, [[[[1.0, 1.0, 0.0], [0.0, 0.0, 0.0]]]])


def test_max_pool2d_propagates_nan_and_infinities():
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    x[0, 0, 1, 0] = np.nan
    x[0, 0, 3, 3] = np.inf
    x[0, 0, 2, 0] = -np.inf
    t = Tensor(x, requires_grad=True)
    out = F.max_pool2d(t, 2)
    assert np.isnan(out.data[0, 0, 0, 0]) and not np.isnan(out.data[0, 0, 1:, 1:]).any()
    np.testing.assert_array_equal(out.data[0, 0, 1], [13.0, np.inf])
    out.sum().backward()
    assert t.grad[0, 0, 1, 0] == 1 and t.grad[0, 0, 3, 3] == 1 and t.grad.sum() == 4


def test_max_pool2d_padding_is_minus_infinity():
    x = Tensor(-np.ones((1, 1, 2, 2)), requires_grad=True)
    out = F.max_pool2d(x, 3, stride=1, padding=1)  # every window sees padding and -1s
    np.testing.assert_array_equal(out.data, -np.ones((1, 1, 2, 2)))
    out.sum().backward()
    np.testing.assert_array_equal(x.grad, [[[[4.0, 0.0], [0.0, 0.0]]]])  # the first -1 wins


def test_avg_pool2d_counts_padding_in_the_mean():
    x = Tensor(np.ones((1, 1, 2, 2)), requires_grad=True)
    out = F.avg_pool2d(x, 2, stride=1, padding=1)
    np.testing.assert_allclose(out.data, [[[[0.25, 0.5, 0.25], [0.5, 1.0, 0.5], [0.25, 0.5, 0.25]]]])
    out.sum().backward()
    np.testing.assert_allclose(x.grad, np.ones((1, 1, 2, 2)))


@pytest.mark.parametrize("keepdims", [False, True])
def test_global_avg_pool2d_is_the_spatial_mean(keepdims):
    x = np.random.default_rng(5).standard_normal((3, 4, 5, 2))
    t = Tensor(x, requires_grad=True)
    out = F.global_avg_pool2d(t, keepdims=keepdims)
    np.testing.assert_allclose(out.data, x.mean(axis=(2, 3), keepdims=keepdims), rtol=1e-12)
    gradcheck(lambda a: F.global_avg_pool2d(a, keepdims=keepdims).sum(), x[:2, :2, :3])


@pytest.mark.parametrize("op", ["max_pool2d", "avg_pool2d"])
@pytest.mark.parametrize("shape, args, message", [
    ((2, 4, 4), (2,), r"{op}: expected input \(N, C, H, W\), got shape \(2, 4, 4\)"),
    ((1, 1, 3, 4), (4,), r"{op}: input image of shape \(1, 1, 3, 4\) is smaller than the 4x4 "
                         r"pooling window"),
    ((1, 1, 4, 4), (0,), r"{op}: kernel_size must be an int >= 1"),
    ((1, 1, 4, 4), (True,), r"{op}: kernel_size must be an int >= 1 .*got True"),
    ((1, 1, 4, 4), (2, (1, 0)), r"{op}: stride must be an int >= 1"),
    ((1, 1, 4, 4), (2, 1, -1), r"{op}: padding must be an int >= 0"),
    ((1, 1, 4, 4), (3, 1, 2), r"{op}: padding must be at most half the kernel size, got padding "
                              r"\(2, 2\) for kernel_size \(3, 3\)"),
])
def test_pool2d_errors(op, shape, args, message):
    with pytest.raises(ValueError, match=message.format(op=op)):
        getattr(F, op)(Tensor(np.zeros(shape)), *args)
    with pytest.raises(TypeError, match=f"{op}: x must be a Tensor"):
        getattr(F, op)(np.zeros((1, 1, 4, 4)), 2)


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
    ((2, 4), [0.0, 1.5], {}, r"cross_entropy: target must be integer class indices, got "
                             r"non-integer values \[1.5\]"),
    ((2, 4), [0, np.nan], {}, r"non-integer values \[nan\]"),
    ((2, 4), ["a", "b"], {}, r"cross_entropy: target must be integer class indices, got dtype"),
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


# ---------------------------------------------------------------- kernel entries and layers


def test_conv_and_pool_kernels_check_shapes_at_entry():
    from tinygrad_nn.kernels import conv as KC
    from tinygrad_nn.kernels import pool as KP

    x, w, b = np.zeros((2, 4, 6, 6)), np.zeros((3, 2, 3, 3)), np.zeros(3)
    with pytest.raises(ValueError, match="conv2d_forward: inconsistent arguments"):
        KC.conv2d_forward(x, w, b, groups=2)  # 3 output channels in 2 groups
    with pytest.raises(TypeError, match="conv2d_forward: w has dtype float32, expected float64"):
        KC.conv2d_forward(x, w.astype(np.float32), b, groups=2)
    with pytest.raises(ValueError, match="conv2d_forward: x must be C-contiguous"):
        KC.conv2d_forward(x.transpose(0, 1, 3, 2), w, b, groups=2)
    with pytest.raises(ValueError, match=r"conv2d_forward: b has shape \(2,\), expected \(4,\)"):
        KC.conv2d_forward(x, np.zeros((4, 2, 3, 3)), np.zeros(2), groups=2)
    with pytest.raises(ValueError, match="conv2d_forward: the dilated kernel .* does not fit"):
        KC.conv2d_forward(x, np.zeros((4, 4, 3, 3)), np.zeros(4), dilation=(3, 1))
    with pytest.raises(ValueError, match=r"conv2d_backward: grad has shape \(2, 4, 3, 3\), "
                                         r"expected \(2, 4, 4, 4\)"):
        KC.conv2d_backward(x, np.zeros((4, 4, 3, 3)), np.zeros((2, 4, 3, 3)))
    with pytest.raises(ValueError, match="max_pool2d_forward: cannot pool x"):
        KP.max_pool2d_forward(x, (2, 2), (1, 1), (2, 0))
    out, arg = KP.max_pool2d_forward(x, (2, 2), (2, 2))
    with pytest.raises(ValueError, match="argmax offsets fall outside the input planes"):
        KP.max_pool2d_backward(out, arg + 100, x.shape)
    with pytest.raises(ValueError, match=r"avg_pool2d_backward: grad has shape"):
        KP.avg_pool2d_backward(np.zeros((2, 4, 2, 2)), x.shape, (2, 2), (2, 2))


def test_pool_and_conv_layers_validate_and_show_their_arguments():
    from tinygrad_nn import nn

    assert repr(nn.AvgPool2D(3, 2, 1)) == "AvgPool2D(kernel_size=3, stride=2, padding=1)"
    assert repr(nn.MaxPool2D((2, 3))) == "MaxPool2D(kernel_size=(2, 3), stride=(2, 3))"
    assert repr(nn.GlobalAvgPool2D()) == "GlobalAvgPool2D()"
    conv = nn.Conv2D(4, 6, 3, padding="same", dilation=2, groups=2)
    assert conv.weight.shape == (6, 2, 3, 3)
    assert repr(conv) == "Conv2D(4, 6, kernel_size=3, stride=1, padding=same, dilation=2, groups=2)"
    x = Tensor(np.zeros((1, 4, 5, 5), np.float32))
    assert conv(x).shape == (1, 6, 5, 5) and nn.GlobalAvgPool2D(keepdims=True)(x).shape == (1, 4, 1, 1)
    with pytest.raises(ValueError, match=r"Conv2D: in_channels \(4\) and out_channels \(6\) must be "
                                         r"divisible by groups \(4\)"):
        nn.Conv2D(4, 6, 3, groups=4)
    with pytest.raises(ValueError, match=r"Conv2D: padding='same' needs stride 1"):
        nn.Conv2D(4, 6, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match=r"AvgPool2D: padding must be at most half the kernel"):
        nn.AvgPool2D(2, padding=2)
    with pytest.raises(ValueError, match=r"MaxPool2D\(kernel_size=3, stride=3\): input image of "
                                         r"shape \(1, 4, 2, 5\) is smaller than the 3x3 pooling"):
        nn.MaxPool2D(3)(Tensor(np.zeros((1, 4, 2, 5))))
    with pytest.raises(ValueError, match=r"Conv2D\(4, 6, .*\): input image of shape \(1, 4, 2, 2\) "
                                         r"\(padding \(0, 0\)\) is smaller than the kernel of "
                                         r"shape \(6, 2, 3, 3\) dilated by \(2, 2\) \(span \(5, 5\)\)"):
        nn.Conv2D(4, 6, 3, dilation=2, groups=2)(Tensor(np.zeros((1, 4, 2, 2), np.float32)))
