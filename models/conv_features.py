"""Convolutions for scikit-learn: fixed-kernel features and a learned CNN, both on tinygrad_nn.

`ConvolutionTransformer` turns flattened images into the features of one hand-set kernel:

1. a zero-padded, same-size convolution. This is ``scipy.ndimage.convolve(image, kernel,
   mode="constant", cval=0)``, the call the source chapter makes (not ndimage's default
   ``mode="reflect"``): a true convolution, so the kernel is flipped, and a kernel of size k
   is padded by ``(k - 1) // 2`` zeros before and ``k // 2`` after, which puts the centre of an
   even-sized kernel where ndimage puts it;
2. min-max scaling of every output pixel to [0, 1] (as ``MinMaxScaler``);
3. optionally max-pooling over ``max_pool_size`` blocks, partial edge blocks padded with zeros
   first (as ``skimage.measure.block_reduce(..., func=np.max)`` with its default ``cval=0``),
   then min-max scaling again.

Unlike the chapter's version, the minima and maxima are learnt in `fit` and reused by
`transform`, so test images are scaled with training statistics. All images go through
``F.conv2d`` / ``F.max_pool2d`` in one batch. `make_convolution_union` builds the chapter's
``FeatureUnion`` of several kernels; `KERNELS` holds the named presets.

`CNNClassifier` (in ``models/cnn.py``) learns its kernels instead.
"""
from __future__ import annotations

import math
from numbers import Integral

import numpy as np
from sklearn.base import (BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin,
                          _fit_context)
from sklearn.pipeline import FeatureUnion
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted, validate_data

import tinygrad_nn.functional as F
from tinygrad_nn import Tensor, no_grad
from tinygrad_nn._validation import check_ints, check_pair

__all__ = ["KERNELS", "ConvolutionTransformer", "get_kernel", "make_convolution_union"]


def _preset(rows, scale=1.0):
    kernel = np.array(rows, dtype=np.float64) / scale
    kernel.flags.writeable = False
    return kernel


# Named 3x3 kernels, accepted wherever a kernel is (read-only float64 arrays).
KERNELS = {
    "identity": _preset([[0, 0, 0], [0, 1, 0], [0, 0, 0]]),
    "sharpen": _preset([[0, -1, 0], [-1, 5, -1], [0, -1, 0]]),
    "v_edge": _preset([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]),  # Sobel: responds to vertical edges
    "h_edge": _preset([[-1, -2, -1], [0, 0, 0], [1, 2, 1]]),  # Sobel: responds to horizontal edges
    "blur": _preset([[1, 1, 1], [1, 1, 1], [1, 1, 1]], 9.0),
    "gaussian_blur": _preset([[1, 2, 1], [2, 4, 2], [1, 2, 1]], 16.0),
    "laplacian": _preset([[0, 1, 0], [1, -4, 1], [0, 1, 0]]),
    "outline": _preset([[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]]),
    "emboss": _preset([[-2, -1, 0], [-1, 1, 1], [0, 1, 2]]),
}


def get_kernel(kernel):
    """A kernel as a 2-D float64 array: a `KERNELS` name, or any 2-D array-like of numbers."""
    if isinstance(kernel, str):
        if kernel not in KERNELS:
            raise ValueError(f"unknown kernel name {kernel!r}; the presets are "
                             f"{sorted(KERNELS)}")
        return KERNELS[kernel]
    try:
        arr = np.asarray(kernel)
    except (ValueError, TypeError):  # ragged nested lists
        arr = None
    if arr is None or arr.dtype.kind not in "biuf":
        raise ValueError(f"kernel must be a 2-D array of numbers or a preset name, "
                         f"got {kernel!r}")
    if arr.ndim != 2 or arr.size == 0:
        raise ValueError(f"kernel must be a non-empty 2-D array, got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError("kernel must contain only finite numbers")
    return arr.astype(np.float64)


def _image_shape(n_features, image_shape):
    """(channels, height, width) of images flattened into ``n_features`` columns.

    None means one square channel; in a given shape one entry may be -1, inferred as in
    ``np.reshape`` (``(1, -1)``: each row is a one-pixel-high image, e.g. a 1-D signal).
    """
    if image_shape is None:
        side = math.isqrt(n_features)
        if side * side != n_features:
            raise ValueError(
                f"{n_features} features is not a square number of pixels, so the image size "
                "cannot be inferred: pass image_shape=(height, width) or (channels, height, width)")
        return 1, side, side
    try:
        shape = check_ints("image_shape", image_shape, low=-1)
    except ValueError:
        shape = None
    if shape is not None and len(shape) == 2:
        shape = (1,) + shape
    if shape is None or len(shape) != 3 or 0 in shape or shape.count(-1) > 1:
        raise ValueError(f"image_shape must be (height, width) or (channels, height, width) of "
                         f"positive ints (one may be -1), got {image_shape!r}")
    known = -math.prod(shape) if -1 in shape else math.prod(shape)
    if -1 in shape and n_features % known == 0:
        shape = tuple(n_features // known if v == -1 else v for v in shape)
    if math.prod(shape) != n_features:
        raise ValueError(f"image_shape {image_shape!r} does not fit the {n_features} features "
                         "of X")
    return shape


def _minmax(X):
    """``MinMaxScaler``'s statistics: per-column (offset, scale) so that ``X * scale + offset``
    maps the column's [min, max] to [0, 1]; (near-)constant columns are only shifted."""
    lo, hi = X.min(axis=0), X.max(axis=0)
    span = hi - lo
    span[span < 10 * np.finfo(span.dtype).eps] = 1.0
    scale = 1.0 / span
    return -lo * scale, scale


def _scale(X, scale, offset):
    """``X * scale + offset`` in place, in X's dtype (MinMaxScaler.transform's arithmetic)."""
    X *= scale.astype(X.dtype, copy=False)
    X += offset.astype(X.dtype, copy=False)
    return X


class ConvolutionTransformer(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Features of one fixed kernel: same-size convolution, min-max scaling, optional max-pool.

    Output dtype is the input's (float32 or float64); other input becomes float64.

    Parameters
    ----------
    kernel : 2-D array-like of numbers, or str
        The kernel, or a `KERNELS` name such as ``"sharpen"``.
    max_pool : bool, default False
        Max-pool the scaled convolution over blocks.
    max_pool_size : int or (int, int), default (2, 2)
        Block height and width; edge blocks that do not fit are padded with zeros (a 28x28
        image with 5x5 blocks gives 6x6).
    image_shape : None, (h, w) or (c, h, w), default None
        How rows of X unflatten into images (C order; each channel is convolved separately).
        None infers a square one-channel image; one entry may be -1, inferred from the number
        of features.

    Attributes
    ----------
    kernel_ : ndarray
        The kernel as a 2-D float64 array.
    image_shape_ : tuple of int
        (c, h, w) of the input images.
    output_shape_ : tuple of int
        (c, h', w') of the features of one image.
    n_features_in_ : int
        Number of input features.
    conv_offset_, conv_scale_ : ndarray
        The min-max scaling of the convolution, ``x * scale + offset``.
    pool_offset_, pool_scale_ : ndarray
        The min-max scaling after pooling (with ``max_pool`` only).
    """

    _parameter_constraints: dict = {
        "kernel": [str, "array-like"],
        "max_pool": ["boolean"],
        "max_pool_size": ["array-like", Interval(Integral, 1, None, closed="left")],
        "image_shape": [None, "array-like"],
    }

    def __init__(self, kernel, max_pool=False, max_pool_size=(2, 2), image_shape=None):
        self.kernel = kernel
        self.max_pool = max_pool
        self.max_pool_size = max_pool_size
        self.image_shape = image_shape

    def fit(self, X, y=None):
        """Learn the min-max scaling of the features of X."""
        self.fit_transform(X)
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def fit_transform(self, X, y=None):
        """Fit on X and return its features, computing them once."""
        X = validate_data(self, X, dtype=[np.float64, np.float32])
        kernel = get_kernel(self.kernel)
        c, h, w = _image_shape(X.shape[1], self.image_shape)
        pool = None
        if self.max_pool:
            pool = check_pair("max_pool_size", self.max_pool_size, owner=type(self).__name__)
        if pool is not None and (pool[0] > h or pool[1] > w):
            raise ValueError(f"max_pool_size {pool} is larger than the {h}x{w} images")
        self.kernel_, self.image_shape_, self.pool_size_ = kernel, (c, h, w), pool
        out = self._convolve(X)
        self.conv_offset_, self.conv_scale_ = _minmax(out)
        _scale(out, self.conv_scale_, self.conv_offset_)
        if pool is not None:
            out = self._pool(out)
            self.pool_offset_, self.pool_scale_ = _minmax(out)
            _scale(out, self.pool_scale_, self.pool_offset_)
        self.output_shape_ = (c,) + self._pooled_hw()
        return out

    def transform(self, X):
        """Features of X, scaled with the statistics learnt in `fit`."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        out = _scale(self._convolve(X), self.conv_scale_, self.conv_offset_)
        if self.pool_size_ is not None:
            out = _scale(self._pool(out), self.pool_scale_, self.pool_offset_)
        return out

    @property
    def _n_features_out(self):
        return math.prod(self.output_shape_)

    def _pooled_hw(self):
        _, h, w = self.image_shape_
        if self.pool_size_ is None:
            return h, w
        return -(-h // self.pool_size_[0]), -(-w // self.pool_size_[1])

    def _convolve(self, X, chunk=512):
        """ndimage.convolve(mode="constant") of every channel of every image, as (n, c*h*w).

        Like ndimage it sums in float64 and rounds once to X's dtype: float32 sums would differ
        from scipy's by a few ulps, which the min-max scaling of a nearly constant pixel (an
        image border) magnifies beyond 1e-6. Chunks of images keep the float64 temporaries in
        cache (20% faster than one batch) and bound their memory.
        """
        c, h, w = self.image_shape_
        kh, kw = self.kernel_.shape
        flipped = np.ascontiguousarray(self.kernel_[::-1, ::-1]).reshape(1, 1, kh, kw)
        weight = Tensor(flipped, dtype=np.float64)
        before, after = ((kh - 1) // 2, (kw - 1) // 2), (kh // 2, kw // 2)
        extra = ((0, 0), (0, 0), (0, after[0] - before[0]), (0, after[1] - before[1]))
        images = X.reshape(-1, 1, h, w)
        out = np.empty(images.shape, dtype=X.dtype)
        with no_grad():
            for start in range(0, len(images), chunk):
                part = Tensor(images[start:start + chunk], dtype=np.float64)
                if before != after:  # even kernel sizes: one more zero row/column after
                    part = part.pad(extra)
                out[start:start + chunk] = F.conv2d(part, weight, padding=before).data
        return out.reshape(len(X), c * h * w)

    def _pool(self, X):
        """Max over blocks of each scaled channel, edge blocks zero-padded (block_reduce)."""
        c, h, w = self.image_shape_
        ph, pw = self.pool_size_
        with no_grad():
            images = Tensor(X.reshape(-1, 1, h, w))
            if h % ph or w % pw:
                images = images.pad(((0, 0), (0, 0), (0, -h % ph), (0, -w % pw)))
            out = F.max_pool2d(images, (ph, pw))
        return out.data.reshape(len(X), -1)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags


def make_convolution_union(kernels, max_pool=True, max_pool_size=(4, 4), image_shape=None,
                           n_jobs=None):
    """The chapter's ``FeatureUnion``: one `ConvolutionTransformer` per kernel, side by side.

    ``kernels`` lists preset names and/or ``(name, kernel)`` pairs; the names label the union's
    steps. The other arguments go to every transformer (and ``n_jobs`` to the union).
    """
    steps = []
    for item in kernels:
        name, kernel = (item, item) if isinstance(item, str) else item
        steps.append((name, ConvolutionTransformer(kernel, max_pool=max_pool,
                                                   max_pool_size=max_pool_size,
                                                   image_shape=image_shape)))
    if not steps:
        raise ValueError("make_convolution_union needs at least one kernel")
    return FeatureUnion(steps, n_jobs=n_jobs)


def __getattr__(name):
    # CNNClassifier moved to models/cnn.py; old imports and pickles naming this module still work
    if name == "CNNClassifier":
        from .cnn import CNNClassifier
        return CNNClassifier
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
