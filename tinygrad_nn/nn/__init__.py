"""Layers and models: ``Module`` and its building blocks.

    from tinygrad_nn import nn
    model = nn.Sequential(nn.Dense(4, 16, rng=0), nn.ReLU(), nn.Dense(16, 3, rng=1))
"""
from . import init, utils
from .activations import (ACTIVATIONS, ELU, GELU, Identity, Lambda, LeakyReLU, LogSoftmax, ReLU,
                          Sigmoid, SiLU, Softmax, Softplus, Tanh, get_activation)
from .containers import Sequential
from .embedding import Embedding
from .layers import AvgPool2D, Conv2D, Dense, Dropout, Flatten, GlobalAvgPool2D, MaxPool2D
from .losses import (BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, L1Loss, MSELoss, NLLLoss,
                     SmoothL1Loss)
from .module import Module
from .normalization import BatchNorm1D, BatchNorm2D, LayerNorm

__all__ = ["Module", "Sequential", "Dense", "Conv2D", "MaxPool2D", "AvgPool2D",
           "GlobalAvgPool2D", "Flatten", "Dropout", "ReLU",
           "Tanh", "Sigmoid", "LeakyReLU", "ELU", "GELU", "SiLU", "Softplus", "Softmax",
           "LogSoftmax", "Identity", "Lambda", "BatchNorm1D", "BatchNorm2D", "LayerNorm",
           "Embedding", "MSELoss", "L1Loss", "SmoothL1Loss", "NLLLoss", "CrossEntropyLoss",
           "BCELoss", "BCEWithLogitsLoss", "get_activation",
           "BatchNorm1d", "BatchNorm2d", "Conv2d", "MaxPool2d", "AvgPool2d", "ACTIVATIONS", "init"]

# PyTorch's spellings: plain aliases of the one implementation each (README, "PyTorch names and
# ours", lists them all).
BatchNorm1d = BatchNorm1D
BatchNorm2d = BatchNorm2D
Conv2d = Conv2D
MaxPool2d = MaxPool2D
AvgPool2d = AvgPool2D
