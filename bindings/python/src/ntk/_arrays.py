"""NumPy arrays as the library's strided matrix views, without copies where a view is possible.

An input becomes an ``ntk_matrix`` pointing into the array's own memory: data pointer = the
address of element [0, 0], strides = the array's byte strides divided by 8. So C-ordered,
Fortran-ordered, sliced (``a[::2, 1:]``), transposed, reversed (``a[::-1]``) and broadcast
(``np.broadcast_to``, stride 0) float64 arrays are all passed as they are.

A copy is made only when a view is impossible, and only for inputs:
  - the dtype is not float64 (ints, float32, lists...: converted with ``np.asarray(a, float64)``);
  - the data pointer or a stride is not a multiple of 8 bytes (unaligned or packed records).
Complex arrays are refused (``TypeError``) instead of silently dropping imaginary parts.

Outputs (``out=`` arguments) must be writable float64 arrays of the exact shape with 8-byte
aligned strides; anything else raises ``TypeError``/``ValueError`` rather than writing into a
temporary. Without ``out=``, a fresh C-ordered array is returned.
"""

from __future__ import annotations

from typing import Any, Optional, Tuple

import numpy as np

from ._lib import Matrix, MatrixMut

_F64 = np.dtype(np.float64)


def _aligned(a: np.ndarray) -> bool:
    return a.ctypes.data % 8 == 0 and all(s % 8 == 0 for s in a.strides)


def as_float_array(a: Any, name: str) -> np.ndarray:
    """``a`` as a float64 ndarray: the array itself when possible, else a converted copy."""
    arr = np.asarray(a)
    if np.iscomplexobj(arr):
        raise TypeError(f"{name} is complex; ntk works with real float64 arrays")
    if arr.dtype != _F64:
        arr = arr.astype(_F64)
    if not _aligned(arr):
        arr = np.array(arr, dtype=_F64, order="C")
    return arr


def as_input(a: Any, name: str, vector: str = "error") -> Tuple[Matrix, np.ndarray]:
    """An ``ntk_matrix`` view of ``a`` (2-D) and the array that must stay alive during the call.

    ``vector``: how a 1-D ``a`` is read: ``"column"`` (N values -> N x 1), ``"row"`` (one point
    -> 1 x n) or ``"error"``.
    """
    arr = as_float_array(a, name)
    if arr.ndim == 1:
        if vector == "column":
            arr = arr[:, None]
        elif vector == "row":
            arr = arr[None, :]
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (points are rows), got shape {arr.shape}")
    m = Matrix(arr.ctypes.data, arr.shape[0], arr.shape[1], arr.strides[0] // 8, arr.strides[1] // 8)
    return m, arr


def as_output(out: Optional[np.ndarray], shape: Tuple[int, int], name: str = "out") -> Tuple[MatrixMut, np.ndarray]:
    """An ``ntk_matrix_mut`` view of ``out`` (checked), or of a new C-ordered array of ``shape``."""
    if out is None:
        arr = np.empty(shape, dtype=_F64)
    else:
        arr = out
        if not isinstance(arr, np.ndarray) or arr.dtype != _F64:
            raise TypeError(f"{name} must be a float64 numpy array, got {type(out).__name__} {getattr(out, 'dtype', '')}")
        if arr.shape != tuple(shape):
            raise ValueError(f"{name} has shape {arr.shape}, expected {tuple(shape)}")
        if not arr.flags.writeable:
            raise ValueError(f"{name} is read-only")
        if not _aligned(arr):
            raise ValueError(f"{name} is not 8-byte aligned (data pointer or strides); a view is impossible")
    m = MatrixMut(arr.ctypes.data, arr.shape[0], arr.shape[1], arr.strides[0] // 8, arr.strides[1] // 8)
    return m, arr


def as_vector_output(out: Optional[np.ndarray], n: int, name: str = "out") -> np.ndarray:
    """A contiguous float64 vector of length ``n`` (``out`` checked, or a new one)."""
    if out is None:
        return np.empty(n, dtype=_F64)
    if not isinstance(out, np.ndarray) or out.dtype != _F64 or out.shape != (n,):
        raise ValueError(f"{name} must be a float64 array of shape ({n},)")
    if not out.flags.c_contiguous or not out.flags.writeable:
        raise ValueError(f"{name} must be writable and contiguous")
    return out
