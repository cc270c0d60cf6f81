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

_NPY_MAGIC = b"\x93NUMPY"


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
    """Read a file written by `save` into {name: ndarray}, in the saved order with dtypes kept.

    A path saved without the ``.npz`` suffix is found with it appended. Every key comes back as
    it was saved, including keys that themselves end in ``.npy``. A file that is not such an
    archive (not a zip of ``.npy`` arrays, a single ``.npy``, or pickled objects) raises a
    ValueError naming the path; nothing in it is ever unpickled.
    """
    path = os.fspath(path)
    if not os.path.exists(path) and os.path.exists(path + ".npz"):
        path += ".npz"
    if not os.path.exists(path):
        raise FileNotFoundError(f"load: no such file {path!r}")
    if not zipfile.is_zipfile(path):
        with open(path, "rb") as f:
            single = f.read(len(_NPY_MAGIC)) == _NPY_MAGIC
        raise ValueError(f"load: {path!r} is not a model file: "
                         + ("it holds a single array (.npy), not an .npz archive"
                            if single else "it is not an .npz archive")
                         + " as tinygrad_nn.save writes")
    arrays = {}
    try:
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                name = info.filename
                if not name.endswith(".npy"):
                    raise ValueError(f"its member {name!r} is not an .npy array")
                with zf.open(info) as member:
                    try:
                        arrays[name[:-len(".npy")]] = np.lib.format.read_array(
                            member, allow_pickle=False)
                    except ValueError as exc:
                        raise ValueError(f"its member {name!r} is not a numeric .npy array "
                                         f"({exc})") from exc
    except (ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise ValueError(f"load: {path!r} is not a model file saved by tinygrad_nn.save: "
                         f"{exc}") from exc
    return arrays
