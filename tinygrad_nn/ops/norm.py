"""Batch and layer normalisation, fused forward and backward (``kernels.norm``).

``batch_norm`` follows PyTorch's ``F.batch_norm`` exactly: in training the batch's biased
variance normalises and the running estimates (when given) move by ``momentum`` toward the batch
mean and the *unbiased* batch variance, in place; in evaluation the running estimates
normalise. ``layer_norm`` normalises each sample over its trailing ``normalized_shape`` axes.
"""
import numpy as np

from ..autograd import Function
from ..kernels import norm as K


def _affine_arrays(weight, bias, n, dtype):
    w = np.ones(n, dtype=np.float64) if weight is None else weight.astype(np.float64)
    b = np.zeros(n, dtype=np.float64) if bias is None else bias.astype(np.float64)
    return w, b


class BatchNorm(Function):
    """x (N, C, *) normalised per channel; ``weight``/``bias`` (C,) Tensors or None."""

    def forward(self, x, weight, bias, running_mean=None, running_var=None, training=True,
                momentum=0.1, eps=1e-5):
        N, C = x.shape[0], x.shape[1]
        x3 = np.ascontiguousarray(x).reshape(N, C, -1)
        count = N * x3.shape[2]
        w, b = _affine_arrays(weight, bias, C, x.dtype)
        if training:
            if count <= 1:
                raise ValueError(f"batch_norm: training needs more than one value per channel, "
                                 f"got input of shape {x.shape}")
            out, mean, var = K.batch_norm_train(x3, w, b, eps)
            if running_mean is not None:
                running_mean *= 1.0 - momentum
                running_mean += (momentum * mean).astype(running_mean.dtype)
                running_var *= 1.0 - momentum
                running_var += (momentum * var * (count / (count - 1))).astype(running_var.dtype)
            invstd = 1.0 / np.sqrt(var + eps)
        else:
            mean, var = running_mean.astype(np.float64), running_var.astype(np.float64)
            invstd = 1.0 / np.sqrt(var + eps)
            scale = w * invstd
            out = K.channel_affine(x3, scale.astype(x.dtype), (b - mean * scale).astype(x.dtype))
        self.x3, self.mean, self.invstd, self.w = x3, mean, invstd, w
        self.training, self.shape = bool(training), x.shape
        self.affine = (weight is not None, bias is not None)
        return out.reshape(x.shape)

    def backward(self, grad):
        g3 = np.ascontiguousarray(grad, dtype=self.x3.dtype).reshape(self.x3.shape)
        dx, dw, db = K.batch_norm_backward(self.x3, g3, self.mean, self.invstd, self.w,
                                           self.training)
        dtype = self.x3.dtype
        grads = [dx.reshape(self.shape)]
        if self.affine[0]:
            grads.append(dw.astype(dtype))
        if self.affine[1]:
            grads.append(db.astype(dtype))
        return tuple(grads) if len(grads) > 1 else grads[0]


class LayerNorm(Function):
    """x (..., *normalized_shape) normalised over the trailing ``ndim`` axes of each sample."""

    def forward(self, x, weight, bias, ndim=1, eps=1e-5):
        inner = x.shape[x.ndim - ndim:]
        d = int(np.prod(inner))
        rows = np.ascontiguousarray(x).reshape(1, -1, d)
        mean, var = K.channel_stats(rows)
        invstd = 1.0 / np.sqrt(var + eps)
        xhat = K.channel_affine(rows, invstd.astype(x.dtype), (-mean * invstd).astype(x.dtype))
        xhat = xhat.reshape(-1, d)
        out = xhat
        if weight is not None:
            out = out * weight.reshape(d)
        if bias is not None:
            out = out + bias.reshape(d)
        self.rows, self.mean, self.invstd, self.xhat = rows, mean, invstd, xhat
        self.weight, self.shape, self.inner = weight, x.shape, inner
        self.affine = (weight is not None, bias is not None)
        return out.reshape(x.shape)

    def backward(self, grad):
        d = self.xhat.shape[1]
        g = np.ascontiguousarray(grad, dtype=self.rows.dtype).reshape(-1, d)
        gx = g if self.weight is None else g * self.weight.reshape(d)
        ones = np.ones(self.rows.shape[1])
        dx, _, _ = K.batch_norm_backward(self.rows, gx.reshape(self.rows.shape), self.mean,
                                         self.invstd, ones, True)
        grads = [dx.reshape(self.shape)]
        if self.affine[0]:
            grads.append((g * self.xhat).sum(axis=0).reshape(self.inner))
        if self.affine[1]:
            grads.append(g.sum(axis=0).reshape(self.inner))
        return tuple(grads) if len(grads) > 1 else grads[0]


def _check_param(name, t, shape, owner):
    if t is not None and tuple(t.shape) != tuple(shape):
        raise ValueError(f"{owner}: {name} has shape {tuple(t.shape)}, expected {tuple(shape)}")


def batch_norm(x, running_mean=None, running_var=None, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    """Batch normalisation of x ``(N, C, *)`` per channel, as PyTorch's ``F.batch_norm``.

    Parameters
    ----------
    x : Tensor
        Input of shape (N, C) or (N, C, ...).
    running_mean, running_var : ndarray (C,) or None
        Running estimates: updated in place when ``training``, used to normalise otherwise.
    weight, bias : Tensor (C,) or None
        The affine transform after normalising.
    training : bool
        Normalise with the batch's statistics (and update the running ones).
    momentum : float
        Weight of the batch statistics in the running-estimate update.
    eps : float
        Added to the variance before the square root.
    """
    if len(x.shape) < 2:
        raise ValueError(f"batch_norm: input must be (N, C) or (N, C, ...), got shape {x.shape}")
    c = x.shape[1]
    _check_param("weight", weight, (c,), "batch_norm")
    _check_param("bias", bias, (c,), "batch_norm")
    _check_param("running_mean", running_mean, (c,), "batch_norm")
    _check_param("running_var", running_var, (c,), "batch_norm")
    if not training and (running_mean is None or running_var is None):
        raise ValueError("batch_norm: evaluation (training=False) needs running_mean and running_var")
    if x.dtype.kind != "f":
        raise TypeError(f"batch_norm: input must be float32 or float64, got {x.dtype}")
    return BatchNorm.apply(x, weight, bias, running_mean=running_mean, running_var=running_var,
                           training=bool(training), momentum=float(momentum), eps=float(eps))


def layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalise each sample of ``x`` over its trailing ``normalized_shape`` axes (mean 0,
    biased variance 1), then scale by ``weight`` and shift by ``bias`` (both of that shape)."""
    shape = (normalized_shape,) if isinstance(normalized_shape, (int, np.integer)) \
        else tuple(normalized_shape)
    if tuple(x.shape[len(x.shape) - len(shape):]) != shape or len(x.shape) < len(shape):
        raise ValueError(f"layer_norm: input shape {x.shape} does not end with normalized_shape "
                         f"{shape}")
    _check_param("weight", weight, shape, "layer_norm")
    _check_param("bias", bias, shape, "layer_norm")
    if x.dtype.kind != "f":
        raise TypeError(f"layer_norm: input must be float32 or float64, got {x.dtype}")
    return LayerNorm.apply(x, weight, bias, ndim=len(shape), eps=float(eps))
