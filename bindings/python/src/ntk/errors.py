"""Exceptions raised for failed library calls.

Every ``ntk_*`` function returns an ``ntk_status``; a non-zero status becomes an instance of the
matching subclass of :class:`NTKError`, carrying the status code, its name and the library's
message (``ntk_last_error()``, read on the same thread right after the call). The subclasses
also derive from the closest built-in exception, so ``except ValueError`` catches bad shapes.
"""

from __future__ import annotations

from . import _lib


class NTKError(Exception):
    """A failed ``ntk_*`` call.

    Attributes:
        status: the ``ntk_status`` code (1..7).
        name: its name, e.g. ``"NTK_STATUS_INVALID_ARGUMENT"``.
        message: the library's message naming the bad argument.
    """

    def __init__(self, status: int, name: str, message: str):
        super().__init__(f"{name}: {message}")
        self.status = status
        self.name = name
        self.message = message


class NullPointerError(NTKError, ValueError):
    """NTK_STATUS_NULL_POINTER (1): a required argument was missing."""


class InvalidArgumentError(NTKError, ValueError):
    """NTK_STATUS_INVALID_ARGUMENT (2): a size, shape, stride, enum value or parameter."""


class NonFiniteError(NTKError, ValueError):
    """NTK_STATUS_NON_FINITE (3): an input holds NaN or +-Inf (the message names the index)."""


class AllocationError(NTKError, MemoryError):
    """NTK_STATUS_ALLOCATION (4): a size overflowed or memory could not be allocated."""


class CancelledError(NTKError):
    """NTK_STATUS_CANCELLED (5): the progress callback asked to stop."""


class NumericalError(NTKError, ArithmeticError):
    """NTK_STATUS_NUMERICAL (6): a numerical method failed or a result overflowed."""


class InternalError(NTKError, RuntimeError):
    """NTK_STATUS_INTERNAL (7): a caught panic inside the library (please report it)."""


_BY_STATUS = {
    1: NullPointerError,
    2: InvalidArgumentError,
    3: NonFiniteError,
    4: AllocationError,
    5: CancelledError,
    6: NumericalError,
    7: InternalError,
}


def check(status: int) -> None:
    """Raises the :class:`NTKError` subclass of ``status`` unless it is 0 (NTK_STATUS_OK)."""
    if status != 0:
        message = (_lib.lib.ntk_last_error() or b"").decode("utf-8", "replace")
        name = (_lib.lib.ntk_status_str(status) or b"NTK_STATUS_UNKNOWN").decode()
        raise _BY_STATUS.get(status, NTKError)(status, name, message)
