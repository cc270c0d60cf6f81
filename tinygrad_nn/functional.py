"""Stateless ops users call directly: layers' maths, losses and activations."""
import numpy as np

from .autograd import Function
from .ops.conv import conv2d
from .ops.loss import cross_entropy
from .ops.embedding import embedding
from .ops.matmul import Linear
from .ops.norm import batch_norm, layer_norm
from .ops.pool import max_pool2d
from .random import default_generator
from .tensor import Tensor, as_array, where

__all__ = [
    "linear", "conv2d", "max_pool2d", "dropout", "cross_entropy", "batch_norm", "layer_norm",
    "embedding", "gelu", "silu", "where",
    "binary_cross_entropy_with_logits", "mse_loss",
    "relu", "sigmoid", "tanh", "leaky_relu", "elu", "softplus", "softmax", "log_softmax",
]


def linear(x, w, b=None):
    """``x @ w + b`` with w of shape (in, out), fused into one graph node."""
    return Linear.apply(x, w, b)


def dropout(x, p=0.5, training=True, rng=None):
    """Inverted dropout: zero each element with probability ``p``, scale the rest by 1/(1-p)."""
    if not 0.0 <= p < 1.0:
        raise ValueError(f"dropout probability must be in [0, 1), got {p}")
    if not training or p == 0.0:
        return x
    if rng is None:
        rng = default_generator()  # seeded by tinygrad_nn.manual_seed
    elif not isinstance(rng, np.random.Generator):
        rng = np.random.default_rng(rng)
    keep = rng.random(x.shape) >= p
    return x * (keep * (1.0 / (1.0 - p))).astype(x.dtype)


def _target_like(target, logits, name):
    t = as_array(target, logits.dtype)
    if t.shape != logits.shape:
        raise ValueError(f"{name}: target shape {t.shape} does not match input shape {logits.shape}")
    return t


class _BCEWithLogits(Function):
    """Mean of max(x, 0) - x*t + log(1 + exp(-|x|)): stable for any logit."""

    def forward(self, x, t):
        self.x, self.t = x, t
        loss = np.maximum(x, 0) - x * t + np.log1p(np.exp(-np.abs(x)))
        return np.asarray(loss.mean(), dtype=x.dtype)

    def backward(self, grad):
        x = self.x
        sig = np.exp(-np.logaddexp(0, -x)).astype(x.dtype)
        return grad * (sig - self.t) / x.size, None


def binary_cross_entropy_with_logits(logits, target):
    """Mean binary cross-entropy of ``sigmoid(logits)`` against targets in [0, 1]."""
    return _BCEWithLogits.apply(logits, Tensor._wrap(_target_like(target, logits, "binary_cross_entropy_with_logits"), False))


def mse_loss(pred, target):
    """Mean squared error over all elements."""
    diff = pred - Tensor._wrap(_target_like(target, pred, "mse_loss"), False)
    return (diff * diff).mean()


def relu(x):
    return x.relu()


def sigmoid(x):
    return x.sigmoid()


def tanh(x):
    return x.tanh()


def leaky_relu(x, slope=0.01):
    return x.leaky_relu(slope)


def elu(x, alpha=1.0):
    return x.elu(alpha)


def softplus(x):
    return x.softplus()


def softmax(x, axis=-1):
    return x.softmax(axis)


def log_softmax(x, axis=-1):
    return x.log_softmax(axis)


def gelu(x, approximate="none"):
    """Gaussian error linear unit (exact with erf, or ``approximate="tanh"``)."""
    return x.gelu(approximate)


def silu(x):
    """``x * sigmoid(x)``."""
    return x.silu()
