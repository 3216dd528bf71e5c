"""The library's worker pool: results are bit-identical at any thread count."""

from __future__ import annotations

import ctypes

from . import _lib
from .errors import check


def set_num_threads(n: int) -> None:
    """Sets the number of worker threads for later calls (0 = one per core)."""
    n = int(n)
    if n < 0:
        raise ValueError("thread count must be >= 0")
    check(_lib.lib.ntk_set_num_threads(n))


def get_num_threads() -> int:
    """The number of worker threads in use."""
    n = ctypes.c_size_t()
    check(_lib.lib.ntk_get_num_threads(ctypes.byref(n)))
    return int(n.value)
