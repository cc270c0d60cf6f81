"""Loss modules: each wraps one loss of ``tinygrad_nn.functional`` with its options fixed at
construction, called as ``loss_fn(input, target)`` (PyTorch's names)."""
from __future__ import annotations

from .. import functional as F
from .._validation import check_choice
from .module import Module

__all__ = ["MSELoss", "L1Loss", "SmoothL1Loss", "NLLLoss", "CrossEntropyLoss", "BCELoss",
           "BCEWithLogitsLoss"]


class _Loss(Module):
    """``fn(input, target, reduction=..., **options)`` as a module."""

    fn = None

    def __init__(self, reduction="mean", **options):
        self.reduction = check_choice("reduction", reduction, ("mean", "sum", "none"),
                                      owner=type(self).__name__)
        self._options = options

    def forward(self, input, target):
        return type(self).fn(input, target, reduction=self.reduction, **self._options)

    def extra_repr(self):
        opts = "".join(f", {k}={v!r}" for k, v in self._options.items())
        return f"reduction={self.reduction!r}{opts}"


class MSELoss(_Loss):
    """Mean squared error (``F.mse_loss``)."""

    fn = staticmethod(F.mse_loss)


class L1Loss(_Loss):
    """Mean absolute error (``F.l1_loss``)."""

    fn = staticmethod(F.l1_loss)


class SmoothL1Loss(_Loss):
    """Smooth L1 (Huber-like) loss (``F.smooth_l1_loss``)."""

    fn = staticmethod(F.smooth_l1_loss)

    def __init__(self, reduction="mean", beta=1.0):
        super().__init__(reduction, beta=beta)


class NLLLoss(_Loss):
    """Negative log-likelihood of log-probabilities (``F.nll_loss``)."""

    fn = staticmethod(F.nll_loss)


class CrossEntropyLoss(_Loss):
    """Softmax cross-entropy of logits against class indices (``F.cross_entropy``)."""

    fn = staticmethod(F.cross_entropy)

    def __init__(self, reduction="mean", label_smoothing=0.0):
        super().__init__(reduction, label_smoothing=label_smoothing)


class BCELoss(_Loss):
    """Binary cross-entropy of probabilities (``F.binary_cross_entropy``)."""

    fn = staticmethod(F.binary_cross_entropy)


class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy of logits (``F.binary_cross_entropy_with_logits``)."""

    fn = staticmethod(F.binary_cross_entropy_with_logits)
