"""NumPy arrays cross without copies (C, Fortran, strided, reversed, broadcast), copies only for
other dtypes / unaligned data, outputs filled in place."""

import numpy as np
import pytest

import ntk
from ntk import _arrays


def test_views_point_into_the_array(rng):
    base = rng.normal(size=(9, 6))
    for a in [base, np.asfortranarray(base), base[::2, 1:5], base[::-1], base.T, base[:, ::-3]]:
        m, arr = _arrays.as_input(a, "x")
        assert arr is a  # no copy
        assert m.data == a.ctypes.data
        assert (m.rows, m.cols) == a.shape
        assert (m.row_stride, m.col_stride) == (a.strides[0] // 8, a.strides[1] // 8)
    b = np.broadcast_to(base[0], (5, 6))
    m, arr = _arrays.as_input(b, "x")
    assert arr is b and m.row_stride == 0


def test_copies_only_when_needed(rng):
    i = np.arange(12).reshape(3, 4)
    m, arr = _arrays.as_input(i, "x")
    assert arr.dtype == np.float64 and np.array_equal(arr, i)
    raw = np.zeros(8 * 12 + 1, dtype=np.uint8)[1:].view(np.float64).reshape(3, 4)  # misaligned
    assert raw.ctypes.data % 8 != 0
    m, arr = _arrays.as_input(raw, "x")
    assert arr is not raw and m.data % 8 == 0
    with pytest.raises(TypeError, match="complex"):
        _arrays.as_input(np.ones((2, 2), complex), "x")
    with pytest.raises(ValueError, match="not 8-byte aligned"):
        _arrays.as_output(raw, (3, 4))
    with pytest.raises(TypeError):
        _arrays.as_output(np.ones((3, 4), np.float32), (3, 4))
    ro = np.ones((3, 4))
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        _arrays.as_output(ro, (3, 4))


def test_all_layouts_give_the_same_kernel(rng):
    net = ntk.Network([4, 32, 32, 2], "erf", beta=0.2, seed=3)
    x = rng.normal(size=(7, 4))
    ref = ntk.kernel_limit(net, x, get="ntk")
    big = np.zeros((14, 12))
    big[::2, 2:10:2] = x
    for v in [np.asfortranarray(x), big[::2, 2:10:2], x[::-1][::-1], np.ascontiguousarray(x.T).T,
              x.tolist()]:
        assert np.array_equal(ntk.kernel_limit(net, v, get="ntk"), ref)
    # reversed rows give the reversed kernel
    assert np.array_equal(ntk.kernel_limit(net, x[::-1], get="ntk"), ref[::-1, ::-1])


def test_outputs_are_written_in_place_with_any_strides(rng):
    net = ntk.Network([3, 16, 1], "relu", seed=1)
    x = rng.normal(size=(5, 3))
    ref = ntk.kernel_limit(net, x)
    buf = np.full((10, 15), -1.0)
    view = buf[::2, 12:2:-2]  # strided, reversed columns
    got = ntk.kernel_limit(net, x, out=view)
    assert got is view
    assert np.array_equal(view, ref)
    mask = np.ones_like(buf, bool)
    mask[::2, 12:2:-2] = False
    assert np.all(buf[mask] == -1.0)  # nothing else touched
    fo = np.asfortranarray(np.zeros((5, 1)))
    assert net.forward(x, out=fo) is fo and np.array_equal(fo, net.forward(x))
