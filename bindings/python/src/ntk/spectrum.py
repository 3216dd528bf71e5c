"""Eigenvalues and condition numbers of symmetric kernel matrices."""

from __future__ import annotations

import ctypes
import enum
from typing import Any, NamedTuple, Optional, Union

import numpy as np

from . import _lib
from ._arrays import as_input
from .errors import check
from .network import _enum_value


class SpectrumWhich(enum.IntEnum):
    ALL = 0  #: all N, ascending
    SMALLEST = 1  #: the count smallest, ascending
    LARGEST = 2  #: the count largest, descending


class Condition(NamedTuple):
    lambda_min: float
    lambda_max: float
    condition: float  #: lambda_max / lambda_min, inf when lambda_min <= 0


def kernel_spectrum(k: Any, which: Union[str, int, SpectrumWhich] = "all", count: Optional[int] = None) -> np.ndarray:
    """Eigenvalues of the symmetric N x N ``k`` (finite, symmetric to relative 1e-10).

    ``which="all"`` (ascending, ``count`` = N), ``"smallest"`` (the ``count`` smallest,
    ascending) or ``"largest"`` (the ``count`` largest, descending). Cost ~4/3 N^3 flops.
    """
    km, ka = as_input(k, "k")
    w = _enum_value(SpectrumWhich, which, "which")
    n = ka.shape[0] if count is None else int(count)
    if n < 0:
        raise ValueError("count must be >= 0")
    out = np.empty(n)
    check(_lib.lib.ntk_kernel_spectrum(km, out.ctypes.data, n, w))
    return out


def kernel_condition(k: Any) -> Condition:
    """(lambda_min, lambda_max, lambda_max / lambda_min) of the symmetric ``k``."""
    km, _ka = as_input(k, "k")
    a, b, c = ctypes.c_double(), ctypes.c_double(), ctypes.c_double()
    check(_lib.lib.ntk_kernel_condition(km, ctypes.byref(a), ctypes.byref(b), ctypes.byref(c)))
    return Condition(a.value, b.value, c.value)
