"""Stateless ops users call directly: layers' maths, losses and activations."""
import numpy as np

from ._validation import accept_torch_names, as_rng, check_int, check_pair, check_padding, check_tensors
from .ops.conv import _Conv2D
from .ops.embedding import embedding
from .ops.loss import (binary_cross_entropy, binary_cross_entropy_with_logits, cross_entropy,
                       l1_loss, mse_loss, nll_loss, smooth_l1_loss)
from .ops.matmul import Linear
from .ops.norm import batch_norm, layer_norm
from .ops.pool import _AvgPool2D, _MaxPool2D

from .tensor import where

__all__ = [
    "linear", "conv2d", "max_pool2d", "avg_pool2d", "global_avg_pool2d", "dropout",
    "cross_entropy", "batch_norm", "layer_norm", "embedding", "gelu", "silu", "where",
    "binary_cross_entropy_with_logits", "mse_loss", "nll_loss", "l1_loss", "smooth_l1_loss",
    "binary_cross_entropy",
    "relu", "sigmoid", "tanh", "leaky_relu", "elu", "softplus", "softmax", "log_softmax",
]


def linear(x, w, b=None):
    """``x @ w + b`` with w of shape (in, out), fused into one graph node."""
    return Linear.apply(x, w, b)


def conv2d(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution (cross-correlation) of NCHW ``x`` with ``w`` (out_channels,
    in_channels/groups, kh, kw), plus bias ``b`` (out_channels,), as ``torch.nn.functional.conv2d``.

    Parameters
    ----------
    x, w, b : Tensor
        Input (N, C, H, W), weight and optional bias.
    stride, dilation : int or (int, int)
        Step between output pixels; spacing between kernel taps.
    padding : int, (int, int), "valid" or "same"
        Zeros added on both sides of each axis; "valid" is 0; "same" keeps the input size
        (stride 1 only; an odd total padding puts the extra pixel at the bottom/right, as PyTorch).
    groups : int
        Split channels into this many independent convolutions (C and out_channels must divide).

    Returns
    -------
    Tensor
        (N, out_channels, Ho, Wo) with Ho = (H + pad_top + pad_bottom - dh*(kh-1) - 1) // sh + 1,
        likewise Wo.
    """
    check_tensors("conv2d", x=x, w=w, **({} if b is None else {"b": b}))
    stride = check_pair("stride", stride, owner="conv2d")
    dilation = check_pair("dilation", dilation, owner="conv2d")
    groups = check_int("groups", groups, low=1, owner="conv2d")
    padding = check_padding("padding", padding, ("same", "valid"), owner="conv2d")
    xs, ws = tuple(x.shape), tuple(w.shape)
    if len(xs) != 4 or len(ws) != 4:
        raise ValueError(f"conv2d: input must be 4-D (N, C, H, W) and weight 4-D (O, C, kh, kw), "
                         f"got input {xs} and weight {ws}")
    if xs[1] != ws[1] * groups:
        grouped = "" if groups == 1 else f" with groups={groups}"
        raise ValueError(f"conv2d: input {xs} has {xs[1]} channels but weight {ws}{grouped} "
                         f"expects {ws[1] * groups}")
    if ws[0] % groups:
        raise ValueError(f"conv2d: weight {ws} has {ws[0]} output channels, not divisible by "
                         f"groups={groups}")
    if b is not None and tuple(b.shape) != (ws[0],):
        raise ValueError(f"conv2d: bias shape {tuple(b.shape)} does not match weight {ws} "
                         f"(expected ({ws[0]},))")
    span = (dilation[0] * (ws[2] - 1) + 1, dilation[1] * (ws[3] - 1) + 1)  # the dilated kernel
    if padding == "same":
        if stride != (1, 1):
            raise ValueError(f"conv2d: padding='same' needs stride 1, got stride {stride}")
        pads = tuple(p for s in span for p in ((s - 1) // 2, s - 1 - (s - 1) // 2))
    else:
        (ph, pw) = (0, 0) if padding == "valid" else padding
        pads = (ph, ph, pw, pw)
    if xs[2] + pads[0] + pads[1] < span[0] or xs[3] + pads[2] + pads[3] < span[1]:
        raise ValueError(f"conv2d: input image of shape {xs} (padding {padding}) is smaller than "
                         f"the kernel of shape {ws}" + ("" if dilation == (1, 1) else
                                                       f" dilated by {dilation} (span {span})"))
    return _Conv2D.apply(x, w, b, stride=stride, padding=pads, dilation=dilation, groups=groups)


def _pool_args(op, x, kernel_size, stride, padding):
    """Checked (kernel_size, stride, padding) pairs of a pooling of ``x``."""
    check_tensors(op, x=x)
    kernel_size = check_pair("kernel_size", kernel_size, owner=op)
    stride = kernel_size if stride is None else check_pair("stride", stride, owner=op)
    padding = check_padding("padding", padding, owner=op)
    if len(x.shape) != 4:
        raise ValueError(f"{op}: expected input (N, C, H, W), got shape {tuple(x.shape)}")
    if 2 * padding[0] > kernel_size[0] or 2 * padding[1] > kernel_size[1]:
        raise ValueError(f"{op}: padding must be at most half the kernel size, got padding "
                         f"{padding} for kernel_size {kernel_size}")
    if x.shape[2] + 2 * padding[0] < kernel_size[0] or x.shape[3] + 2 * padding[1] < kernel_size[1]:
        raise ValueError(f"{op}: input image of shape {tuple(x.shape)} is smaller than the "
                         f"{kernel_size[0]}x{kernel_size[1]} pooling window"
                         + (f" (padding {padding})" if any(padding) else ""))
    return kernel_size, stride, padding


def max_pool2d(x, kernel_size, stride=None, padding=0):
    """Max over ``kernel_size`` windows (int or (h, w)) of NCHW ``x`` every ``stride`` pixels
    (default: the kernel size), with ``padding`` pixels of -inf on each side (at most half the
    kernel). Output (N, C, (H + 2*ph - kh) // sh + 1, (W + 2*pw - kw) // sw + 1)."""
    kernel_size, stride, padding = _pool_args("max_pool2d", x, kernel_size, stride, padding)
    return _MaxPool2D.apply(x, kernel_size=kernel_size, stride=stride, padding=padding)


def avg_pool2d(x, kernel_size, stride=None, padding=0):
    """Mean over ``kernel_size`` windows of NCHW ``x`` every ``stride`` pixels (default: the
    kernel size), zero ``padding`` counted in the mean (divisor kh*kw, PyTorch's default
    ``count_include_pad=True``). Output size as ``max_pool2d``."""
    kernel_size, stride, padding = _pool_args("avg_pool2d", x, kernel_size, stride, padding)
    return _AvgPool2D.apply(x, kernel_size=kernel_size, stride=stride, padding=padding)


def global_avg_pool2d(x, keepdims=False):
    """Mean over the H and W axes of NCHW ``x``: (N, C), or (N, C, 1, 1) with ``keepdims``
    (PyTorch's ``adaptive_avg_pool2d(x, 1)``)."""
    check_tensors("global_avg_pool2d", x=x)
    if len(x.shape) != 4:
        raise ValueError(f"global_avg_pool2d: expected input (N, C, H, W), got shape "
                         f"{tuple(x.shape)}")
    return x.mean(axis=(2, 3), keepdims=keepdims)


def dropout(x, p=0.5, training=True, rng=None):
    """Inverted dropout: zero each element with probability ``p``, scale the rest by 1/(1-p)."""
    if not 0.0 <= p < 1.0:
        raise ValueError(f"dropout probability must be in [0, 1), got {p}")
    if not training or p == 0.0:
        return x
    rng = as_rng(rng, owner="dropout")  # None: the generator tinygrad_nn.manual_seed seeds
    keep = rng.random(x.shape) >= p
    return x * (keep * (1.0 / (1.0 - p))).astype(x.dtype)


def relu(x):
    """Elementwise ``max(x, 0)``."""
    return x.relu()


def sigmoid(x):
    """Elementwise logistic function."""
    return x.sigmoid()


def tanh(x):
    """Elementwise hyperbolic tangent."""
    return x.tanh()


def leaky_relu(x, slope=0.01):
    """``x`` where positive, ``slope * x`` elsewhere."""
    return x.leaky_relu(slope)


def elu(x, alpha=1.0):
    """``x`` where positive, ``alpha * (exp(x) - 1)`` elsewhere."""
    return x.elu(alpha)


def softplus(x):
    """Elementwise ``log(1 + exp(x))``."""
    return x.softplus()


@accept_torch_names
def softmax(x, axis=-1):
    """Softmax along ``axis`` (``dim=`` too)."""
    return x.softmax(axis)


@accept_torch_names
def log_softmax(x, axis=-1):
    """Log-softmax along ``axis`` (``dim=`` too)."""
    return x.log_softmax(axis)


def gelu(x, approximate="none"):
    """Gaussian error linear unit (exact with erf, or ``approximate="tanh"``)."""
    return x.gelu(approximate)


def silu(x):
    """``x * sigmoid(x)``."""
    return x.silu()
