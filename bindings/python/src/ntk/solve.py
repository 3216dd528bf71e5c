"""Large-N kernel regression: the library's matrix-free preconditioned CG solver (``ntk_solver_*``).

Solves (K + lambda I) alpha = Y without ever forming the N x N kernel K (limit NTK, limit NNGP
or the trace-mode empirical NTK of a network), then predicts K(X*, X) alpha in streamed tiles.
The preconditioner is a rank-r pivoted partial Cholesky factor L (K ~ L L^T), applied by
Woodbury as P = L L^T + s I with s = lambda + tr(K - L L^T)/N. See docs/large-n.md.

    >>> s = ntk.KernelSolver(net, x, kernel="ntk", rank=100)
    >>> r = ntk.kernel_regression(s, y, lam=1e-3)          # r.alpha, r.iterations, r.residual
    >>> f = ntk.kernel_predict(s, x_test, r.alpha)
"""

from __future__ import annotations

import ctypes
import enum
from typing import Any, NamedTuple, Optional, Union

import numpy as np

from . import _lib
from ._handle import Handle
from ._arrays import as_input, as_output
from ._progress import Progress, ProgressCallback, call
from .errors import check
from .network import Network, _enum_value


class SolverKernel(enum.IntEnum):
    """Values of ``ntk_solver_kernel``."""

    NTK = 0  #: limit NTK Theta_inf of the network's architecture
    NNGP = 1  #: limit NNGP Sigma^(L)
    EMPIRICAL = 2  #: trace-mode empirical NTK at the network's current parameters (copied)


class SolverInfo(NamedTuple):
    """``ntk_solver_describe``: N, the preconditioner's rank as built, the rows of K cached,
    tr(K) and tr(K - L L^T)."""

    num_points: int
    rank: int
    cached_rows: int
    trace: float
    trace_residual: float


class SolverProgress(NamedTuple):
    """``ntk_solver_progress``: the latest iteration and the largest recursive relative
    residual over the unconverged columns (0 and NaN before the first iteration)."""

    iteration: int
    residual: float


class Regression(NamedTuple):
    """A solve's result: ``alpha`` (N x k; a vector when Y was), CG ``iterations``, kernel
    passes in all (iterations plus true-residual checks) and the final true relative residual
    max_j ||y_j - (K + lambda I) alpha_j|| / ||y_j||."""

    alpha: np.ndarray
    iterations: int
    kernel_passes: int
    residual: float


class KernelSolver(Handle):
    """Prepares kernel regression on the N training points ``x`` (``ntk_solver_create``).

    Args:
        network: gives the architecture (limit kernels) or the parameters (``"empirical"``,
            copied: the network may change or be closed afterwards).
        x: N x n_0 training points (rows), finite.
        kernel: ``"ntk"``, ``"nngp"`` or ``"empirical"``.
        rank: rank r of the pivoted-Cholesky preconditioner (0 = plain CG); 8 N r bytes, r
            kernel rows and ~N r^2 flops.
        cache_bytes: bytes for caching the first rows of K (0 = matrix-free).
        progress: ``progress(done, total)`` over the preparation's units (at least every
            ~0.1 s), truthy to cancel.

    Raises InvalidArgumentError (columns != n_0, N = 0), NonFiniteError (x), AllocationError
    (cache, factor: checked before any kernel work), NumericalError (a non-finite kernel entry,
    zero trace), CancelledError.
    """

    _free_name = "ntk_solver_free"

    def __init__(
        self,
        network: Network,
        x: Any,
        *,
        kernel: Union[str, int, SolverKernel] = "ntk",
        rank: int = 100,
        cache_bytes: int = 0,
        progress: Optional[ProgressCallback] = None,
    ):
        self._ptr = ctypes.c_void_p()
        if not isinstance(network, Network):
            raise TypeError(f"network must be an ntk.Network, got {type(network).__name__}")
        if int(rank) < 0:
            raise ValueError("rank must be >= 0")
        if int(cache_bytes) < 0:
            raise ValueError("cache_bytes must be >= 0")
        cfg = _lib.SolverConfig(_enum_value(SolverKernel, kernel, "solver kernel"), int(cache_bytes), int(rank))
        xm, xa = as_input(x, "x", vector="row")
        out = ctypes.c_void_p()
        p = Progress(progress)
        with p:
            status = _lib.lib.ntk_solver_create(network._handle, xm, ctypes.byref(cfg), p.options, ctypes.byref(out))
        p.finish(status)
        self._ptr = out
        self.n, self.input_dim = xa.shape
        self.kernel = SolverKernel(cfg.kernel)

    def __repr__(self) -> str:
        if not self._ptr:
            return "ntk.KernelSolver(closed)"
        i = self.info()
        return f"ntk.KernelSolver({self.kernel.name.lower()}, N={i.num_points}, rank={i.rank}, cached rows={i.cached_rows})"

    def info(self) -> SolverInfo:
        """N, the preconditioner's rank as built, cached rows, tr(K), tr(K - L L^T)."""
        n, r, c = ctypes.c_size_t(), ctypes.c_size_t(), ctypes.c_size_t()
        t, tr = ctypes.c_double(np.nan), ctypes.c_double(np.nan)
        check(_lib.lib.ntk_solver_describe(self._handle, *(ctypes.byref(v) for v in (n, r, c, t, tr))))
        return SolverInfo(n.value, r.value, c.value, t.value, tr.value)

    def progress(self) -> SolverProgress:
        """The latest (iteration, residual) of a running :func:`kernel_regression` on this
        solver; meant for use inside its ``progress`` callback."""
        it, r = ctypes.c_size_t(), ctypes.c_double(np.nan)
        check(_lib.lib.ntk_solver_progress(self._handle, ctypes.byref(it), ctypes.byref(r)))
        return SolverProgress(it.value, r.value)


def solver_info(solver: KernelSolver) -> SolverInfo:
    """:meth:`KernelSolver.info` (the Julia binding's name)."""
    return solver.info()


def solver_progress(solver: KernelSolver) -> SolverProgress:
    """:meth:`KernelSolver.progress` (the Julia binding's name)."""
    return solver.progress()


def kernel_regression(
    solver: KernelSolver,
    y: Any,
    *,
    lam: float = 0.0,
    rtol: float = 1e-10,
    max_iterations: int = 1000,
    out: Optional[np.ndarray] = None,
    progress: Optional[ProgressCallback] = None,
) -> Regression:
    """Solves (K + lam I) alpha = Y for the columns of ``y`` (N x k; 1-D: one column) by
    preconditioned CG (``ntk_solver_solve``).

    k independent recurrences share each kernel pass (~N^2/2 kernel entries plus
    2 N^2 k + 4 N r k flops per iteration), stopping when every column's true relative residual
    ||y - (K + lam I) alpha|| / ||y|| <= ``rtol`` (in (0, 1)). ``out``: an N x k float64 array
    to fill (any strides). ``progress(iteration, max_iterations)``, truthy to cancel;
    :meth:`KernelSolver.progress` gives the residual inside it. Bit-identical at any thread
    count.

    Raises NumericalError when rtol is not reached in ``max_iterations`` (the message gives the
    residual) or K + lam I is not positive definite along a search direction (e.g. lam = 0 with
    a singular kernel); InvalidArgumentError (shapes, lam < 0, rtol); NonFiniteError (lam, y);
    CancelledError. ``out`` is written only on success.
    """
    if int(max_iterations) < 0:
        raise ValueError("max_iterations must be >= 0")
    ym, ya = as_input(y, "y", vector="column")
    am, aa = as_output(out, ya.shape, "out")
    info = _lib.SolveInfo(0, 0, np.nan)
    call(
        _lib.lib.ntk_solver_solve,
        solver._handle,
        float(lam),
        ym,
        float(rtol),
        int(max_iterations),
        am,
        ctypes.byref(info),
        progress=progress,
    )
    alpha = aa[:, 0] if (out is None and np.ndim(y) == 1) else aa
    return Regression(alpha, int(info.iterations), int(info.kernel_passes), float(info.residual))


def kernel_predict(
    solver: KernelSolver,
    x_test: Any,
    alpha: Any,
    *,
    out: Optional[np.ndarray] = None,
    progress: Optional[ProgressCallback] = None,
) -> np.ndarray:
    """K(X*, X) alpha for the M rows of ``x_test`` (M x n_0) and ``alpha`` (N x k; 1-D: one
    column), streamed in tiles: memory one tile for any M (``ntk_solver_predict``).

    Cost M N kernel entries + 2 M N k flops. Returns M x k (a vector when ``alpha`` is 1-D and
    no ``out`` is given). Raises InvalidArgumentError (shapes), NonFiniteError, NumericalError
    (a non-finite prediction), CancelledError. ``progress(chunks done, chunks)``.
    """
    xm, xa = as_input(x_test, "x_test", vector="row")
    bm, ba = as_input(alpha, "alpha", vector="column")
    om, oa = as_output(out, (xa.shape[0], ba.shape[1]), "out")
    call(_lib.lib.ntk_solver_predict, solver._handle, xm, bm, om, progress=progress)
    return oa[:, 0] if (out is None and np.ndim(alpha) == 1) else oa
