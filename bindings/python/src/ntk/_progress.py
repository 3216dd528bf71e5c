"""Progress/cancel callbacks and Ctrl-C.

Long calls take ``progress``: ``None`` or a callable ``progress(done, total)`` returning a truthy
value to cancel. The library calls it on the calling thread between units of work (for tanh
limit kernels or empirical kernels, many times a second), with the GIL re-acquired.

A trampoline is installed on every long call, even without a user callback, so that Ctrl-C
works. While the call runs (on the main thread), SIGINT gets a handler that only records the
signal: Python runs signal handlers at bytecode boundaries, i.e. inside the trampoline, and a
``KeyboardInterrupt`` raised there (even at the function's first instruction, before any
``try``) would be swallowed by ctypes. The trampoline sees the flag and returns non-zero, so the
library cancels promptly (``NTK_STATUS_CANCELLED``); once the call has returned the previous
handler is restored and the interrupt delivered to it (``KeyboardInterrupt`` by default). An
exception raised by the user's callback is re-raised the same way. A callback returning a truthy
value gives :class:`ntk.CancelledError`.
"""

from __future__ import annotations

import ctypes
import os
import signal
import threading
from typing import Callable, Optional

from . import _lib
from .errors import check

ProgressCallback = Callable[[int, int], object]


class Progress:
    """The ``ntk_options`` of one call; ``.options`` is passed as the ``options`` argument."""

    __slots__ = ("callback", "exception", "interrupted", "_fn", "_options", "_previous")

    def __init__(self, callback: Optional[ProgressCallback] = None):
        if callback is not None and not callable(callback):
            raise TypeError("progress must be None or a callable progress(done, total) -> bool")
        self.callback = callback
        self.exception: Optional[BaseException] = None
        self.interrupted = False
        self._previous = None
        self._fn = _lib.ProgressFn(self._trampoline)
        self._options = _lib.Options(self._fn, None)

    def _on_sigint(self, signum, frame) -> None:
        self.interrupted = True

    def _trampoline(self, _user_data, done: int, total: int) -> int:
        if self.interrupted:
            return 1
        try:
            if self.callback is not None and self.callback(int(done), int(total)):
                return 1
            return 0
        except BaseException as e:  # KeyboardInterrupt included: never unwind through C
            if self.exception is None:
                self.exception = e
            return 1

    def __enter__(self) -> "Progress":
        if threading.current_thread() is threading.main_thread():
            try:
                if signal.getsignal(signal.SIGINT) not in (signal.SIG_IGN, None):
                    self._previous = signal.signal(signal.SIGINT, self._on_sigint)
            except (ValueError, OSError):  # embedded interpreters without signal support
                self._previous = None
        return self

    def __exit__(self, *exc) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            previous, self._previous = self._previous, None
            if self.interrupted and exc[0] is None:
                self.interrupted = False
                if previous is signal.default_int_handler:
                    raise KeyboardInterrupt
                if callable(previous):
                    previous(signal.SIGINT, None)
                elif previous == signal.SIG_DFL:
                    os.kill(os.getpid(), signal.SIGINT)

    @property
    def options(self):
        return ctypes.byref(self._options)

    def finish(self, status: int) -> None:
        """Re-raises an exception of the callback (or Ctrl-C), else checks ``status``."""
        if self.exception is not None:
            e, self.exception = self.exception, None
            raise e
        check(status)


def call(fn, *args, progress: Optional[ProgressCallback] = None) -> None:
    """``fn(*args, options)`` with a progress trampoline, raising on failure."""
    p = Progress(progress)
    with p:
        status = fn(*args, p.options)
    p.finish(status)
