"""Numba kernels: arrays in, arrays out (no Tensor here). Compiled lazily, cached on disk.

activations  fused elementwise activations, forward and backward
softmax      row-wise softmax, log-softmax, logsumexp and fused cross-entropy
conv         2-D convolution (im2col + per-image BLAS GEMM) and its gradients
pool         2-D max pooling and its gradient
optim        fused in-place optimizer updates (Adam)
vecmath      exp/expm1/log1p/tanh that SIMD-vectorise inside Numba loops
"""
