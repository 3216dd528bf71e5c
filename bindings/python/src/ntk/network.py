"""Fully connected networks in NTK parameterization (``ntk_network_*``).

A network with widths n_0 (input), ..., n_L (output) has L weight layers and parameters
theta = (W^(0), b^(0), ..., W^(L-1), b^(L-1)) drawn i.i.d. N(0, 1) from a seeded stream:

    alpha^(0) = x,  alpha~^(l+1) = W^(l) alpha^(l) / sqrt(n_l) + beta b^(l),
    alpha^(l) = sigma(alpha~^(l)),  f_theta(x) = alpha~^(L)(x).

Points are rows: a batch is an N x n_0 array.
"""

from __future__ import annotations

import ctypes
import enum
import math
import threading
from typing import Any, Callable, List, Optional, Sequence, Union

import numpy as np

from . import _lib
from ._handle import Handle
from ._arrays import as_float_array, as_input, as_output
from ._progress import ProgressCallback, call
from .errors import NTKError, check


class Activation(enum.IntEnum):
    """Values of ``ntk_activation``."""

    IDENTITY = 0
    RELU = 1
    LEAKY_RELU = 2  #: max(x, a x), a = activation_param
    ERF = 3
    TANH = 4
    SIGMOID = 5  #: 1 / (1 + exp(-x))
    SOFTPLUS = 6  #: log(1 + exp(x))
    GELU = 7  #: x Phi(x), exact
    SIN = 8
    COS = 9
    CUSTOM = 10  #: user sigma / dsigma


class Cost(enum.IntEnum):
    """Values of ``ntk_cost``: per-point costs c(f, y)."""

    MSE = 0  #: 1/2 |f - y|^2
    CROSS_ENTROPY = 1  #: softmax cross-entropy (targets summing to one)


def _enum_value(cls, v, what: str) -> int:
    if isinstance(v, str):
        try:
            return int(cls[v.upper()])
        except KeyError:
            raise ValueError(f"unknown {what} {v!r}; one of {[m.name.lower() for m in cls]}") from None
    return int(v)


class _CustomActivation:
    """Holds the C callbacks of a Python sigma / dsigma and the first exception they raised.

    The library calls them concurrently from its worker threads; ctypes takes the GIL for each
    call (so they are safe, but serialized and slow: ~1 us per call). An exception cannot cross
    the C frames: the callback records it and returns NaN, the library then fails with
    NTK_STATUS_NUMERICAL, and the Python exception is raised from that call instead.
    """

    def __init__(self, sigma: Any, dsigma: Any, user_data: Optional[int]):
        self.error: Optional[BaseException] = None
        self._lock = threading.Lock()
        self.user_data = user_data
        self.sigma = self._wrap(sigma, "sigma")
        self.dsigma = self._wrap(dsigma, "dsigma")

    def _wrap(self, f: Any, name: str):
        if isinstance(f, _lib.ScalarFn):  # a C function pointer: called directly, GIL untouched
            return f
        if isinstance(f, int):
            return _lib.ScalarFn(f)
        if not callable(f):
            raise TypeError(f"{name} must be a callable float -> float or an ntk ScalarFn function pointer")

        def trampoline(x: float, _user_data) -> float:
            try:
                return float(f(x))
            except BaseException as e:
                with self._lock:
                    if self.error is None:
                        self.error = e
                return math.nan

        return _lib.ScalarFn(trampoline)

    def reraise(self) -> None:
        with self._lock:
            e, self.error = self.error, None
        if e is not None:
            raise RuntimeError("the custom activation raised an exception") from e


class Network(Handle):
    """A fully connected network in NTK parameterization (``ntk_network``).

    Args:
        widths: layer widths ``[n_0, ..., n_L]`` (at least 2, each >= 1).
        activation: a name (``"relu"``, ``"leaky_relu"``, ``"erf"``, ``"tanh"``, ``"sigmoid"``,
            ``"softplus"``, ``"gelu"``, ``"sin"``, ``"cos"``, ``"identity"``, ``"custom"``) or an
            :class:`Activation`.
        beta: bias scale beta >= 0.
        seed: seed of the parameter stream (same seed, same parameters on every machine).
        activation_param: the leaky-ReLU slope a.
        sigma, dsigma: for ``activation="custom"``: sigma(x) and sigma'(x), either Python
            callables ``float -> float`` (called from the library's worker threads under the GIL:
            correct but slow; an exception becomes a ``RuntimeError`` of the call) or
            ``ntk.ScalarFn`` C function pointers (e.g. from a compiled library), called with
            ``custom_user_data``. They are kept alive as long as the network and every object
            prepared from it.

    Raises:
        InvalidArgumentError: bad widths, activation or beta (the message names it).

    The handle is freed by :meth:`close`, by ``with``, or when garbage-collected.
    """

    _free_name = "ntk_network_free"

    def __init__(
        self,
        widths: Sequence[int],
        activation: Union[str, int, Activation] = "relu",
        *,
        beta: float = 0.1,
        seed: int = 0,
        activation_param: float = 0.0,
        sigma: Any = None,
        dsigma: Any = None,
        custom_user_data: Optional[int] = None,
    ):
        self._ptr = ctypes.c_void_p()
        act = _enum_value(Activation, activation, "activation")
        w = [int(x) for x in widths]
        if any(x < 0 for x in w):
            raise ValueError(f"widths must be non-negative, got {w}")
        self._custom = None
        if act == Activation.CUSTOM:
            if sigma is None or dsigma is None:
                raise ValueError('activation="custom" needs sigma and dsigma')
            self._custom = _CustomActivation(sigma, dsigma, custom_user_data)
        elif sigma is not None or dsigma is not None:
            raise ValueError('sigma/dsigma are only used with activation="custom"')
        arr = (ctypes.c_size_t * len(w))(*w)
        cfg = _lib.NetworkConfig()
        cfg.widths = ctypes.cast(arr, ctypes.POINTER(ctypes.c_size_t))
        cfg.num_widths = len(w)
        cfg.activation = act
        cfg.activation_param = float(activation_param)
        cfg.beta = float(beta)
        cfg.seed = int(seed) & 0xFFFFFFFFFFFFFFFF
        if self._custom is not None:
            cfg.custom_sigma = self._custom.sigma
            cfg.custom_dsigma = self._custom.dsigma
            cfg.custom_user_data = self._custom.user_data
        out = ctypes.c_void_p()
        check(_lib.lib.ntk_network_create(ctypes.byref(cfg), ctypes.byref(out)))
        self._ptr = out
        self._widths = w
        self._activation = Activation(act) if act in Activation._value2member_map_ else act
        self._beta = float(beta)
        self._depth, self._num_params = self._shape()

    # -- handle --------------------------------------------------------------------------------
    @classmethod
    def _from_ptr(cls, ptr: ctypes.c_void_p, like: "Network") -> "Network":
        net = cls.__new__(cls)
        net._ptr = ptr
        net._widths = list(like._widths)
        net._activation = like._activation
        net._beta = like._beta
        net._custom = like._custom
        net._depth, net._num_params = like._depth, like._num_params
        return net

    def _finish(self, status: int) -> None:
        if self._custom is not None:
            self._custom.reraise()
        check(status)

    def _call(self, fn, *args, progress: Optional[ProgressCallback] = None) -> None:
        try:
            call(fn, *args, progress=progress)
        except NTKError:
            if self._custom is not None:
                self._custom.reraise()
            raise

    def __repr__(self) -> str:
        act = self._activation.name.lower() if isinstance(self._activation, Activation) else self._activation
        state = "" if self._ptr else ", closed"
        return f"ntk.Network({self._widths}, activation={act!r}, beta={self._beta}, P={self._num_params}{state})"

    def copy(self) -> "Network":
        """A new network with the same architecture and current parameters (``ntk_network_clone``)."""
        out = ctypes.c_void_p()
        check(_lib.lib.ntk_network_clone(self._handle, ctypes.byref(out)))
        return Network._from_ptr(out, self)

    __copy__ = copy

    def _shape(self):
        d, p = ctypes.c_size_t(), ctypes.c_size_t()
        check(_lib.lib.ntk_network_shape(self._handle, ctypes.byref(d), ctypes.byref(p)))
        return int(d.value), int(p.value)

    # -- properties ----------------------------------------------------------------------------
    @property
    def widths(self) -> List[int]:
        """Layer widths ``[n_0, ..., n_L]``."""
        return list(self._widths)

    @property
    def depth(self) -> int:
        """Number of weight layers L."""
        return self._depth

    @property
    def num_params(self) -> int:
        """Parameter count P = sum_l n_{l+1} (n_l + 1)."""
        return self._num_params

    @property
    def input_dim(self) -> int:
        return self._widths[0]

    @property
    def output_dim(self) -> int:
        return self._widths[-1]

    @property
    def activation(self):
        return self._activation

    @property
    def beta(self) -> float:
        return self._beta

    @property
    def params(self) -> np.ndarray:
        """A copy of theta (length P; W^(0) row-major, b^(0), W^(1), b^(1), ...)."""
        out = np.empty(self._num_params)
        check(_lib.lib.ntk_network_get_params(self._handle, out.ctypes.data, out.size))
        return out

    @params.setter
    def params(self, theta: Any) -> None:
        self.set_params(theta)

    def set_params(self, theta: Any) -> None:
        """Replaces theta (same layout as :attr:`params`; length P, finite)."""
        arr = np.ascontiguousarray(as_float_array(theta, "theta")).ravel()
        check(_lib.lib.ntk_network_set_params(self._handle, arr.ctypes.data, arr.size))

    # -- computations --------------------------------------------------------------------------
    def forward(self, x: Any, out: Optional[np.ndarray] = None) -> np.ndarray:
        """f_theta(x) for the N rows of ``x`` (N x n_0): an N x n_L array.

        Raises InvalidArgumentError (shape), NonFiniteError (NaN/Inf in x), NumericalError
        (the result overflowed; ``out`` untouched). Cost ~ 2 N P flops.
        """
        xm, xa = as_input(x, "x", vector="row")
        om, oa = as_output(out, (xa.shape[0], self.output_dim))
        self._finish(_lib.lib.ntk_network_forward(self._handle, xm, om))
        return oa

    __call__ = forward

    def jacobian(self, x: Any, out: Optional[np.ndarray] = None, progress: Optional[ProgressCallback] = None) -> np.ndarray:
        """Parameter Jacobian: (N n_L) x P, entry (i n_L + a, p) = d f_a(x_i) / d theta_p.

        Columns in the order of :attr:`params`. Memory N n_L P doubles. Cancellable.
        """
        xm, xa = as_input(x, "x", vector="row")
        rows = xa.shape[0] * self.output_dim
        om, oa = as_output(out, (rows, self._num_params))
        self._call(_lib.lib.ntk_network_jacobian, self._handle, xm, om, progress=progress)
        return oa

    def train(
        self,
        x: Any,
        y: Any,
        *,
        learning_rate: float,
        steps: int,
        cost: Union[str, int, Cost] = "mse",
        progress: Optional[ProgressCallback] = None,
    ) -> np.ndarray:
        """Full-batch gradient descent on C(theta) = (1/N) sum_i c(f_theta(x_i), y_i), in place.

        ``x``: N x n_0, ``y``: N x n_L (1-D: N x 1). Returns the loss history C(theta_s),
        s = 0..steps (length steps + 1). The outputs then follow the kernel flow with
        K = Theta at t = steps * learning_rate (Jacot et al., Theorem 5.2).

        On cancellation (or Ctrl-C) the network holds the parameters after the completed steps.
        NumericalError when the loss or a parameter would become non-finite (the parameters
        before that step are restored). Cost per step: one forward + backward pass.
        """
        xm, _xa = as_input(x, "x", vector="row")
        ym, _ya = as_input(y, "y", vector="column")
        steps = int(steps)
        if steps < 0:
            raise ValueError("steps must be >= 0")
        hist = np.full(steps + 1, np.nan)
        self._call(
            _lib.lib.ntk_network_train,
            self._handle,
            xm,
            ym,
            _enum_value(Cost, cost, "cost"),
            float(learning_rate),
            steps,
            hist.ctypes.data,
            progress=progress,
        )
        return hist
