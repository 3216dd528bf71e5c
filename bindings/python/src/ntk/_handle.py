"""The one owner of a library handle, shared by every handle type of the package.

A subclass names its C free function in ``_free_name`` and stores the handle in ``_ptr``
(a ``ctypes.c_void_p``, NULL until the library created it). ``close()`` frees it (idempotent),
the finalizer frees it if the user did not, ``with`` frees it at the end of the block, and any
use after ``close()`` raises ``ValueError`` instead of passing a dangling pointer to C.
"""

from __future__ import annotations

import ctypes
from typing import TypeVar

from . import _lib

_H = TypeVar("_H", bound="Handle")


class Handle:
    _free_name = ""
    _ptr: ctypes.c_void_p

    @property
    def _handle(self) -> ctypes.c_void_p:
        if not getattr(self, "_ptr", None):
            raise ValueError(f"this ntk.{type(self).__name__} has been closed")
        return self._ptr

    def close(self) -> None:
        """Frees the handle now (idempotent); later use raises ``ValueError``."""
        if getattr(self, "_ptr", None):
            getattr(_lib.lib, self._free_name)(self._ptr)
            self._ptr = ctypes.c_void_p()

    def __del__(self):
        try:
            self.close()
        except Exception:  # interpreter shutdown: the module's globals may already be gone
            pass

    def __enter__(self: _H) -> _H:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
