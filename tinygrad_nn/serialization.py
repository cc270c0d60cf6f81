"""``save``/``load``: parameters to and from ``.npz``, exactly (values, dtypes, key order).

    tn.save(model, "model.npz")
    model.load_state_dict(tn.load("model.npz"))
"""
from __future__ import annotations

import os
import zipfile
from collections.abc import Mapping

import numpy as np

__all__ = ["save", "load"]


def _arrays(obj):
    from .nn.module import Module  # late: ``import tinygrad_nn`` must not load nn
    from .tensor import Tensor

    if isinstance(obj, Module):
        return obj.state_dict()
    if not isinstance(obj, Mapping):
        raise TypeError(f"save expects a Module or a dict name -> array, got {type(obj).__name__}")
    arrays = {}
    for key, value in obj.items():
        if not isinstance(key, str) or not key:
            raise TypeError(f"save: keys must be non-empty strings, got {key!r}")
        arr = np.asarray(value.data if isinstance(value, Tensor) else value)
        if arr.dtype.hasobject:
            raise TypeError(f"save: entry {key!r} is not a numeric array (dtype {arr.dtype})")
        arrays[key] = arr
    return arrays


def _npz_path(path):
    path = os.fspath(path)
    return path if path.endswith(".npz") else path + ".npz"


def save(obj, path):
    """Write a Module's ``state_dict()`` or a dict of arrays/Tensors to an ``.npz`` file.

    Like ``np.savez``: ``.npz`` is appended to a path without it; the file is readable by
    ``np.load``. Written to a temporary file first, so a failed save never leaves half a file.
    Returns the path written.
    """
    arrays = _arrays(obj)
    path = _npz_path(path)
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        # np.savez's own layout, written directly so keys like "file" cannot clash with its arguments
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
            for name, arr in arrays.items():
                with zf.open(name + ".npy", "w", force_zip64=True) as member:
                    np.lib.format.write_array(member, arr, allow_pickle=False)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path


def load(path):
    """Read an ``.npz`` file into {name: ndarray}, in the saved order with dtypes kept.

    A path saved without the ``.npz`` suffix is found with it appended.
    """
    path = os.fspath(path)
    if not os.path.exists(path) and os.path.exists(path + ".npz"):
        path += ".npz"
    if not os.path.exists(path):
        raise FileNotFoundError(f"load: no such file {path!r}")
    data = np.load(path, allow_pickle=False)
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise ValueError(f"load: {path!r} holds a single array, not an .npz archive")
    with data:
        return {name: data[name] for name in data.files}
