"""Stateless ops users call directly: layers' maths, losses and activations."""
import numpy as np

from ._validation import accept_torch_names
from .ops.conv import conv2d
from .ops.embedding import embedding
from .ops.loss import (binary_cross_entropy, binary_cross_entropy_with_logits, cross_entropy,
                       l1_loss, mse_loss, nll_loss, smooth_l1_loss)
from .ops.matmul import Linear
from .ops.norm import batch_norm, layer_norm
from .ops.pool import max_pool2d
from .random import default_generator
from .tensor import where

__all__ = [
    "linear", "conv2d", "max_pool2d", "dropout", "cross_entropy", "batch_norm", "layer_norm",
    "embedding", "gelu", "silu", "where",
    "binary_cross_entropy_with_logits", "mse_loss", "nll_loss", "l1_loss", "smooth_l1_loss",
    "binary_cross_entropy",
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
