"""Optimizers, learning-rate schedules, plateau counting and gradient clipping.

An optimizer holds parameter groups of Tensors and updates their ``.data`` in place from their
``.grad`` (parameters whose grad is None are skipped, as in PyTorch), with PyTorch's update
rules: `SGD`, `Adam`, `AdamW`, `RMSprop`, `Adagrad`. Schedules (`LRScheduler` subclasses) set
the learning rate between epochs: PyTorch's `StepLR`, `MultiStepLR`, `ExponentialLR`,
`CosineAnnealingLR`, `LambdaLR`, `OneCycleLR` and scikit-learn's `ConstantLR`,
`InverseScalingLR`, `ReduceLROnPlateau`. `Plateau` counts epochs without improvement (early
stopping); `clip_grad_norm_` rescales gradients to a maximum global norm.
"""
from .clip import clip_grad_norm_
from .optimizer import Optimizer, ParamGroup
from .optimizers import SGD, Adagrad, Adam, AdamW, RMSprop
from .plateau import Plateau
from .schedules import (ConstantLR, CosineAnnealingLR, ExponentialLR, InverseScalingLR, LambdaLR,
                        LRScheduler, MultiStepLR, OneCycleLR, ReduceLROnPlateau, StepLR)

__all__ = ["Optimizer", "ParamGroup", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad",
           "LRScheduler", "StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR",
           "LambdaLR", "OneCycleLR", "ConstantLR", "InverseScalingLR", "ReduceLROnPlateau",
           "Plateau", "clip_grad_norm_"]
