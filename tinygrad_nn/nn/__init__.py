"""Layers and models: ``Module`` and its building blocks.

    from tinygrad_nn import nn
    model = nn.Sequential(nn.Dense(4, 16, rng=0), nn.ReLU(), nn.Dense(16, 3, rng=1))
"""
from . import init
from .activations import (ACTIVATIONS, ELU, Identity, Lambda, LeakyReLU, ReLU, Sigmoid, Softmax,
                          Tanh, get_activation)
from .containers import Sequential
from .layers import Conv2D, Dense, Dropout, Flatten, MaxPool2D
from .module import Module

__all__ = ["Module", "Sequential", "Dense", "Conv2D", "MaxPool2D", "Flatten", "Dropout", "ReLU",
           "Tanh", "Sigmoid", "LeakyReLU", "ELU", "Softmax", "Identity", "Lambda",
           "get_activation", "ACTIVATIONS", "init"]
