"""Models built on tinygrad_nn's public API, with scikit-learn's estimator interface.

    from tinygrad_nn.models import MLPClassifier, CNNClassifier, CustomClassifier
"""
from .cnn import CNNClassifier
from .conv_features import ConvolutionTransformer, make_convolution_union
from .mlp import MLPClassifier, MLPRegressor
from .random_features import CustomClassifier, CustomRegressor, DeepClassifier, DeepRegressor
from .scratch import NeuralNetMLP, NeuralNetwork

__all__ = [
    "MLPClassifier", "MLPRegressor", "NeuralNetMLP", "NeuralNetwork",
    "ConvolutionTransformer", "CNNClassifier", "make_convolution_union",
    "CustomClassifier", "CustomRegressor", "DeepClassifier", "DeepRegressor",
]
