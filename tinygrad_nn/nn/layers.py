"""Layers with parameters or state: Dense, Conv2D, MaxPool2D, AvgPool2D, GlobalAvgPool2D,
Flatten, Dropout.

They validate shapes themselves so that errors name the layer, then compute through
``tinygrad_nn.functional``.
"""
from __future__ import annotations

import numpy as np

from .. import functional as F
from .._validation import (accept_torch_names, check_bool, check_float_dtype, check_int,
                           check_pair, check_padding, check_real)
from ..tensor import Tensor
from . import init as I
from .module import Module

__all__ = ["Dense", "Conv2D", "MaxPool2D", "AvgPool2D", "GlobalAvgPool2D", "Flatten", "Dropout"]

_INITS = {"glorot_uniform": I.glorot_uniform, "he_normal": I.he_normal}


def _init_params(init, shape, fan_in, fan_out, rng, gain, dtype, bias):
    """Weight of ``shape`` then, if wanted, a bias of shape[-1 or 0] as trainable Tensors.

    With ``"glorot_uniform"`` the bias is drawn from the same U(-b, b) right after the weights,
    exactly as scikit-learn's MLP does; with another scheme (a name in ``_INITS`` or a callable
    with ``glorot_uniform``'s signature) it starts at zero.
    """
    fn = _INITS.get(init) if isinstance(init, str) else init
    if not callable(fn):
        raise ValueError(f"unknown init {init!r}; known: {sorted(_INITS)}, or a callable "
                         "(fan_in, fan_out, rng=, gain=, dtype=, shape=) -> array")
    rng = I.as_rng(rng)  # one stream for weights then bias
    w = np.asarray(fn(fan_in, fan_out, rng=rng, gain=gain, dtype=dtype, shape=shape), dtype=dtype)
    if w.shape != tuple(shape):
        raise ValueError(f"init {init!r} returned shape {w.shape}, expected {tuple(shape)}")
    b = None
    if bias:
        n_out = shape[1] if len(shape) == 2 else shape[0]
        if fn is I.glorot_uniform:
            b = I.glorot_uniform(fan_in, fan_out, rng=rng, gain=gain, dtype=dtype, shape=(n_out,))
        else:
            b = np.zeros(n_out, dtype=dtype)
        b = Tensor(b, requires_grad=True)
    return Tensor(w, requires_grad=True), b


def _positive(value, what, layer):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{layer}: {what} must be a positive int, got {value!r}")
    return int(value)


def _compact(pair):
    return pair[0] if pair[0] == pair[1] else pair


def _dtype_repr(dtype):
    return "" if np.dtype(dtype) == np.float32 else f", dtype={np.dtype(dtype)}"


class Dense(Module):
    """Fully connected layer ``x @ weight + bias``, weight of shape (in_features, out_features).

    ``init``: ``"glorot_uniform"`` (default; weights then bias from U(-b, b) with
    b = gain * sqrt(6 / (in + out)), scikit-learn's MLP init, which uses gain ``sqrt(1/3)`` for
    the logistic activation), ``"he_normal"`` (zero bias) or a callable like
    ``init.glorot_uniform``. ``rng``: Generator, RandomState, seed or None.
    """

    def __init__(self, in_features, out_features, bias=True, rng=None, dtype=np.float32,
                 init="glorot_uniform", gain=1.0):
        self.in_features = _positive(in_features, "in_features", "Dense")
        self.out_features = _positive(out_features, "out_features", "Dense")
        dtype = check_float_dtype("dtype", dtype, owner="Dense")
        gain = check_real("gain", gain, owner="Dense")
        self.weight, self.bias = _init_params(init, (self.in_features, self.out_features),
                                              self.in_features, self.out_features, rng, gain,
                                              dtype, bias)

    def forward(self, x):
        shape = x.shape
        if not shape or shape[-1] != self.in_features:
            raise ValueError(f"{self!r}: expected input with {self.in_features} features "
                             f"(shape (..., {self.in_features})), got shape {shape}")
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self):
        bias = "" if self.bias is not None else ", bias=False"
        return f"{self.in_features}, {self.out_features}{bias}{_dtype_repr(self.weight.dtype)}"


def _named(layer, error, op):
    """``error`` from functional ``op`` (checked once there), reworded to name the layer."""
    message = str(error)
    return ValueError(f"{layer!r}: {message.removeprefix(op + ': ')}")


class Conv2D(Module):
    """2-D convolution over NCHW input; weight (out_channels, in_channels/groups, kh, kw).

    Parameters
    ----------
    in_channels, out_channels : int
        Channels in and out; both divisible by ``groups``.
    kernel_size, stride, dilation : int or (int, int)
    padding : int, (int, int), "valid" or "same"
        As ``functional.conv2d`` ("same" needs stride 1).
    bias : bool
    rng, dtype, init, gain
        As ``Dense``, with fan_in = in_channels/groups*kh*kw and fan_out = out_channels*kh*kw
        (PyTorch's fans).
    groups : int
        Independent convolutions over ``groups`` slices of the channels.
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, bias=True,
                 rng=None, dtype=np.float32, init="glorot_uniform", gain=1.0, dilation=1,
                 groups=1):
        self.in_channels = check_int("in_channels", in_channels, low=1, owner="Conv2D")
        self.out_channels = check_int("out_channels", out_channels, low=1, owner="Conv2D")
        dtype = check_float_dtype("dtype", dtype, owner="Conv2D")
        gain = check_real("gain", gain, owner="Conv2D")
        self.kernel_size = check_pair("kernel_size", kernel_size, owner="Conv2D")
        self.stride = check_pair("stride", stride, owner="Conv2D")
        self.padding = check_padding("padding", padding, ("same", "valid"), owner="Conv2D")
        self.dilation = check_pair("dilation", dilation, owner="Conv2D")
        self.groups = check_int("groups", groups, low=1, owner="Conv2D")
        if self.in_channels % self.groups or self.out_channels % self.groups:
            raise ValueError(f"Conv2D: in_channels ({self.in_channels}) and out_channels "
                             f"({self.out_channels}) must be divisible by groups ({self.groups})")
        if self.padding == "same" and self.stride != (1, 1):
            raise ValueError(f"Conv2D: padding='same' needs stride 1, got stride {self.stride}")
        kh, kw = self.kernel_size
        fan_in = self.in_channels // self.groups * kh * kw
        self.weight, self.bias = _init_params(
            init, (self.out_channels, self.in_channels // self.groups, kh, kw), fan_in,
            self.out_channels * kh * kw, rng, gain, dtype, bias)

    def forward(self, x):
        shape = tuple(x.shape)
        if len(shape) != 4 or shape[1] != self.in_channels:
            raise ValueError(f"{self!r}: expected input with {self.in_channels} channels, "
                             f"got shape {shape} (input must be (N, C, H, W))")
        try:
            return F.conv2d(x, self.weight, self.bias, stride=self.stride, padding=self.padding,
                            dilation=self.dilation, groups=self.groups)
        except ValueError as error:
            raise _named(self, error, "conv2d") from None

    def extra_repr(self):
        text = (f"{self.in_channels}, {self.out_channels}, kernel_size={_compact(self.kernel_size)}, "
                f"stride={_compact(self.stride)}, padding={_compact(self.padding)}")
        if self.dilation != (1, 1):
            text += f", dilation={_compact(self.dilation)}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        bias = "" if self.bias is not None else ", bias=False"
        return text + bias + _dtype_repr(self.weight.dtype)


class _Pool2D(Module):
    """Windowed pooling of NCHW input; stride defaults to the kernel size."""

    _function = None

    def __init__(self, kernel_size, stride=None, padding=0):
        name = type(self).__name__
        self.kernel_size = check_pair("kernel_size", kernel_size, owner=name)
        self.stride = self.kernel_size if stride is None else check_pair("stride", stride, owner=name)
        self.padding = check_padding("padding", padding, owner=name)
        if any(2 * p > k for p, k in zip(self.padding, self.kernel_size)):
            raise ValueError(f"{name}: padding must be at most half the kernel size, got "
                             f"padding {self.padding} for kernel_size {self.kernel_size}")

    def forward(self, x):
        try:
            return type(self)._function(x, self.kernel_size, self.stride, self.padding)
        except ValueError as error:
            raise _named(self, error, type(self)._function.__name__) from None

    def extra_repr(self):
        pad = f", padding={_compact(self.padding)}" if any(self.padding) else ""
        return f"kernel_size={_compact(self.kernel_size)}, stride={_compact(self.stride)}{pad}"


class MaxPool2D(_Pool2D):
    """Max over (kh, kw) windows of NCHW input every ``stride`` pixels (default: the kernel
    size); ``padding`` adds -inf on each side (at most half the kernel), as PyTorch."""

    _function = staticmethod(F.max_pool2d)


class AvgPool2D(_Pool2D):
    """Mean over (kh, kw) windows of NCHW input every ``stride`` pixels (default: the kernel
    size); ``padding`` adds zeros that count in the mean (PyTorch's ``count_include_pad=True``)."""

    _function = staticmethod(F.avg_pool2d)


class GlobalAvgPool2D(Module):
    """Mean over each channel's whole map: (N, C, H, W) -> (N, C), or (N, C, 1, 1) with
    ``keepdims=True`` (PyTorch's ``AdaptiveAvgPool2d(1)``)."""

    def __init__(self, keepdims=False):
        self.keepdims = check_bool("keepdims", keepdims, owner="GlobalAvgPool2D")

    def forward(self, x):
        return F.global_avg_pool2d(x, keepdims=self.keepdims)

    def extra_repr(self):
        return "keepdims=True" if self.keepdims else ""


class Flatten(Module):
    """Merge all axes from ``start_axis`` (``start_dim=`` too) on: (N, C, H, W) -> (N, C*H*W)."""

    @accept_torch_names
    def __init__(self, start_axis=1):
        self.start_axis = int(start_axis)

    def forward(self, x):
        return x.flatten(self.start_axis)

    def extra_repr(self):
        return "" if self.start_axis == 1 else f"start_axis={self.start_axis}"


class Dropout(Module):
    """Inverted dropout, active only in training mode: zero each element with probability p and
    scale the rest by 1/(1-p). Masks come from the layer's own seeded Generator (``rng``)."""

    def __init__(self, p=0.5, rng=None):
        if not 0.0 <= p < 1.0:
            raise ValueError(f"Dropout: p must be in [0, 1), got {p}")
        self.p = float(p)
        self._rng = I.as_generator(rng)

    def forward(self, x):
        return F.dropout(x, self.p, self.training, self._rng)

    def extra_repr(self):
        return f"p={self.p}"
