"""tinygrad_nn: a small reverse-mode autodiff framework with Numba kernels."""
from ._memory import keep_freed_memory as _keep_freed_memory
from .autograd import enable_grad, grad, is_grad_enabled, no_grad, set_grad_enabled
from .random import manual_seed
from .tensor import Tensor, where
from .threads import get_num_threads, set_num_threads

__version__ = "0.1.0"
_keep_freed_memory()  # reuse freed arrays instead of page-faulting them in again (see _memory)
__all__ = ["Tensor", "where", "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled",
           "grad", "manual_seed", "save", "load", "set_num_threads", "get_num_threads"]

_LAZY = {"functional", "nn", "optim", "training", "data", "testing", "models", "serialization"}


def __getattr__(name):
    """Load submodules on first use, so ``import tinygrad_nn`` stays fast."""
    import importlib

    if name in _LAZY:
        return importlib.import_module(f".{name}", __name__)
    if name in ("save", "load"):
        return getattr(importlib.import_module(".serialization", __name__), name)
    raise AttributeError(f"module 'tinygrad_nn' has no attribute {name!r}")
