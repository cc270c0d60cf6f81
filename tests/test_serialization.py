"""tn.save / tn.load: exact .npz round trips of modules and dicts of arrays."""
import pathlib
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_nn as tn
from tinygrad_nn import Tensor, nn


def _model(seed):
    rng = np.random.default_rng(seed)
    return nn.Sequential(nn.Conv2D(1, 2, 3, rng=rng), nn.ReLU(), nn.Flatten(),
                         nn.Dense(8, 3, rng=rng, dtype=np.float64))


def test_module_round_trip_is_exact(tmp_path):
    src, dst = _model(0), _model(1)
    written = tn.save(src, tmp_path / "model.npz")
    assert written == str(tmp_path / "model.npz")
    loaded = tn.load(written)
    assert list(loaded) == ["0.weight", "0.bias", "3.weight", "3.bias"]
    for (name, p), (key, arr) in zip(src.named_parameters(), loaded.items()):
        assert name == key and arr.dtype == p.dtype and np.array_equal(arr, p.data)
    dst.load_state_dict(loaded)
    x = Tensor(np.random.default_rng(2).standard_normal((2, 1, 4, 4)).astype(np.float32))
    np.testing.assert_array_equal(dst(x).data, src(x).data)


def test_dict_round_trip_keeps_order_dtypes_and_odd_keys(tmp_path):
    arrays = {
        "z.last": np.arange(6, dtype=np.int16).reshape(2, 3),
        "file": np.float32(1.5),  # would clash with np.savez's own argument name
        "allow_pickle": np.array([True, False]),
        "a.weight": np.random.default_rng(0).standard_normal((3, 2)),
        "empty": np.zeros((0, 4), dtype=np.float32),
        "tensor": Tensor([1.0, 2.0]),
        "fortran": np.asfortranarray(np.arange(6.0).reshape(2, 3)),
    }
    loaded = tn.load(tn.save(arrays, tmp_path / "d.npz"))
    assert list(loaded) == list(arrays)
    for key, value in arrays.items():
        expected = value.data if isinstance(value, Tensor) else np.asarray(value)
        assert loaded[key].dtype == expected.dtype and loaded[key].shape == expected.shape, key
        np.testing.assert_array_equal(loaded[key], expected)


def test_file_is_a_plain_npz(tmp_path):
    model = _model(0)
    tn.save(model, tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz") as data:
        assert data.files == list(model.state_dict())
        np.testing.assert_array_equal(data["3.weight"], model[3].weight.data)


def test_path_without_suffix_like_np_savez(tmp_path):
    target = tmp_path / "weights"
    assert tn.save({"a": np.ones(2)}, str(target)) == str(target) + ".npz"
    assert (tmp_path / "weights.npz").exists() and not target.exists()
    np.testing.assert_array_equal(tn.load(target)["a"], np.ones(2))  # found with .npz appended
    np.testing.assert_array_equal(tn.load(pathlib.Path(str(target) + ".npz"))["a"], np.ones(2))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["weights.npz"]  # no temporary left


def test_empty_state_round_trips(tmp_path):
    assert tn.load(tn.save(nn.Sequential(nn.ReLU()), tmp_path / "e")) == {}


def test_overwrite_replaces_the_file(tmp_path):
    path = tmp_path / "w.npz"
    tn.save({"a": np.ones(3)}, path)
    tn.save({"b": np.zeros(1)}, path)
    assert list(tn.load(path)) == ["b"]


def test_bad_input_errors(tmp_path):
    with pytest.raises(TypeError, match="save expects a Module or a dict name -> array, got list"):
        tn.save([np.ones(2)], tmp_path / "x")
    with pytest.raises(TypeError, match="keys must be non-empty strings, got 3"):
        tn.save({3: np.ones(2)}, tmp_path / "x")
    with pytest.raises(TypeError, match="entry 'obj' is not a numeric array"):
        tn.save({"obj": np.array([{}, None], dtype=object)}, tmp_path / "x")
    assert list(tmp_path.iterdir()) == []  # failed saves leave nothing behind
    with pytest.raises(FileNotFoundError, match="no such file"):
        tn.load(tmp_path / "missing")
    np.save(tmp_path / "single.npy", np.ones(2))
    with pytest.raises(ValueError, match=r"single.npy' is not a model file: it holds a single "
                                         r"array \(.npy\), not an .npz archive"):
        tn.load(tmp_path / "single.npy")


def _pickle_file(path):
    import pickle
    path.write_bytes(pickle.dumps({"weight": np.ones(2)}))


def _text_file(path):
    path.write_text("weight = [1, 2]\n")


def _zip_of_text(path):
    import zipfile
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("weight.txt", "1 2")


def _npz_of_objects(path):
    np.savez(path, weight=np.array([{}, None], dtype=object))


def _truncated(path):
    tn.save({"weight": np.ones(1000)}, path)
    path.write_bytes(path.read_bytes()[:3000])


@pytest.mark.parametrize("write, match", [
    (_pickle_file, "is not a model file: it is not an .npz archive"),
    (_text_file, "is not a model file: it is not an .npz archive"),
    (_zip_of_text, "is not a model file saved by tinygrad_nn.save: its member 'weight.txt' is "
                   "not an .npy array"),
    (_npz_of_objects, "is not a model file saved by tinygrad_nn.save: its member 'weight.npy' "
                      "is not a numeric .npy array"),
    (_truncated, "is not a model file"),
])
def test_load_of_a_file_that_is_not_a_model_says_so_naming_it(tmp_path, write, match):
    """Not numpy's advice to unpickle: a ValueError naming the path, and nothing unpickled."""
    path = tmp_path / "not_a_model.npz"
    write(path)
    with pytest.raises(ValueError, match=f"load: '{re.escape(str(path))}' {match}"):
        tn.load(path)


def test_keys_ending_in_npy_round_trip(tmp_path):
    """np.load strips one ".npy" from member names, so "w.npy" and "w" used to collide."""
    arrays = {"w.npy": np.ones(2), "w": np.zeros(3), "b.npy.npy": np.arange(4), ".npy": np.eye(2)}
    loaded = tn.load(tn.save(arrays, tmp_path / "k.npz"))
    assert list(loaded) == list(arrays)
    for key, value in arrays.items():
        np.testing.assert_array_equal(loaded[key], value, err_msg=key)


_dtypes = st.sampled_from([np.float32, np.float64, np.int32, np.int64, np.bool_, np.uint8])
_entries = st.tuples(st.text("abc.xyz_", min_size=1, max_size=6)
                     | st.text("ab.", max_size=3).map(lambda k: k + ".npy"),
                     _dtypes.flatmap(lambda dt: hnp.arrays(dt, hnp.array_shapes(min_dims=0, max_dims=3,
                                                                                min_side=0, max_side=3))))


@settings(max_examples=25)
@given(st.lists(_entries, max_size=5, unique_by=lambda e: e[0]))
def test_round_trip_property(tmp_path_factory, entries):
    arrays = dict(entries)
    path = tmp_path_factory.mktemp("rt") / "a.npz"
    loaded = tn.load(tn.save(arrays, path))
    assert list(loaded) == list(arrays)
    for key, value in arrays.items():
        assert loaded[key].dtype == value.dtype and loaded[key].shape == value.shape
        np.testing.assert_array_equal(loaded[key], value)  # NaNs compare equal here
