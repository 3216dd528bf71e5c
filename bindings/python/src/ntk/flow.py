"""Kernel gradient flows (``ntk_flow_*``).

    d f_t(x)/dt = -(1/N) sum_j K(x, x_j) d_j,   d_j = dc/df (f_t(x_j), y_j),

the function-space dynamics of gradient descent with kernel K (t = steps * learning rate).
MSE is solved in closed form (eigendecomposition or Lanczos, t = inf allowed: kernel regression
with the pseudo-inverse); other costs are integrated (adaptive Dormand-Prince 5(4)).
"""

from __future__ import annotations

import ctypes
import enum
from typing import Any, Optional, Union

import numpy as np

from . import _lib
from ._handle import Handle
from ._arrays import as_input, as_output
from ._progress import ProgressCallback, call
from .errors import check
from .network import Cost, _enum_value


class FlowMethod(enum.IntEnum):
    """Values of ``ntk_flow_method``."""

    AUTO = 0  #: MSE: eigen or Krylov by a cost rule; other costs: ODE
    EIGEN = 1  #: MSE through one cached symmetric eigendecomposition
    KRYLOV = 2  #: MSE through Lanczos
    ODE = 3  #: any cost, adaptive Dormand-Prince 5(4)


class Flow(Handle):
    """A kernel gradient flow at t = 0 (``ntk_flow_create``).

    Args:
        kernel: N x N (used as K (x) Id_k) or (N k) x (N k); finite, symmetric (relative 1e-10),
            positive semi-definite up to 1e-9 max K_ii (else NumericalError; one Cholesky
            factorization, D^3/3 flops, checks it).
        y, f0: targets and initial outputs, N x k (1-D: N x 1).
        test_kernel, test_f0: M x N (or (M k) x (N k)) kernel of test points against the training
            points, and their initial outputs M x k; both or neither.
        cost: ``"mse"`` or ``"cross_entropy"`` (softmax; targets summing to one).
        method: ``"auto"``, ``"eigen"``, ``"krylov"``, ``"ode"``.
        rtol, atol: ODE tolerances (defaults 1e-10, 1e-12); krylov_tol: Lanczos tolerance
            (default 1e-13). 0 means the default.

    All inputs are copied by the library. Raises InvalidArgumentError, NonFiniteError,
    NumericalError (not PSD).
    """

    _free_name = "ntk_flow_free"

    def __init__(
        self,
        kernel: Any,
        y: Any,
        f0: Any,
        test_kernel: Any = None,
        test_f0: Any = None,
        *,
        cost: Union[str, int, Cost] = "mse",
        method: Union[str, int, FlowMethod] = "auto",
        rtol: float = 0.0,
        atol: float = 0.0,
        krylov_tol: float = 0.0,
    ):
        self._ptr = ctypes.c_void_p()
        km, _ka = as_input(kernel, "kernel")
        ym, ya = as_input(y, "y", vector="column")
        fm, _fa = as_input(f0, "f0", vector="column")
        if (test_kernel is None) != (test_f0 is None):
            raise ValueError("test_kernel and test_f0 must be given together")
        tkp = tfp = None
        self._m = None
        if test_kernel is not None:
            tkm, _tka = as_input(test_kernel, "test_kernel")
            tfm, tfa = as_input(test_f0, "test_f0", vector="column")
            tkp, tfp = ctypes.pointer(tkm), ctypes.pointer(tfm)
            self._m = tfa.shape[0]
        opts = _lib.FlowOptions(_enum_value(FlowMethod, method, "method"), float(rtol), float(atol), float(krylov_tol))
        out = ctypes.c_void_p()
        check(
            _lib.lib.ntk_flow_create(
                km, ym, fm, tkp, tfp, _enum_value(Cost, cost, "cost"), ctypes.byref(opts), ctypes.byref(out)
            )
        )
        self._ptr = out
        self._n, self._k = ya.shape

    def __repr__(self) -> str:
        if not self._ptr:
            return "ntk.Flow(closed)"
        return f"ntk.Flow(N={self._n}, k={self._k}, M={self._m}, t={self.time})"

    def step(self, dt: float, *, progress: Optional[ProgressCallback] = None) -> "Flow":
        """Advances by ``dt`` > 0 (same as ``set_time(time + dt)``). On failure or cancellation
        the flow is unchanged. Returns self."""
        call(_lib.lib.ntk_flow_step, self._handle, float(dt), progress=progress)
        return self

    def set_time(self, t: float, *, progress: Optional[ProgressCallback] = None) -> "Flow":
        """Moves to absolute time ``t`` >= 0 (``float('inf')`` for MSE). Returns self."""
        call(_lib.lib.ntk_flow_set_time, self._handle, float(t), progress=progress)
        return self

    @property
    def time(self) -> float:
        """The current time t."""
        t = ctypes.c_double()
        check(_lib.lib.ntk_flow_time(self._handle, ctypes.byref(t)))
        return t.value

    def outputs(self, out: Optional[np.ndarray] = None) -> np.ndarray:
        """Training outputs f_t(x_i), N x k."""
        om, oa = as_output(out, (self._n, self._k))
        check(_lib.lib.ntk_flow_outputs(self._handle, om))
        return oa

    def predict(self, out: Optional[np.ndarray] = None) -> np.ndarray:
        """Test outputs f_t(x*_i), M x k (InvalidArgumentError without a test kernel)."""
        om, oa = as_output(out, (self._m if self._m is not None else 0, self._k))
        check(_lib.lib.ntk_flow_predict(self._handle, om))
        return oa

    def loss(self) -> float:
        """C(f_t) = (1/N) sum_i c(f_t(x_i), y_i)."""
        v = ctypes.c_double()
        check(_lib.lib.ntk_flow_loss(self._handle, ctypes.byref(v)))
        return v.value
