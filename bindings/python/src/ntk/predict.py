"""The trained infinite ensemble's predictive law (``ntk_predictor_*``, ``ntk_ensemble_law``).

The infinitely wide network trained by gradient flow on the square loss (1/2N) sum_i
|f(x_i) - y_i|^2 for time t (t = steps * learning rate, as :meth:`ntk.Network.train` and
:class:`ntk.Flow`) has Gaussian outputs at test points, the same law for each of the k outputs.
With K = K_xx + lambda I = U diag(l) U^T and Psi_t = U diag((1 - exp(-l t / N)) / l) U^T:

- NTK law (``law="ntk"``, K from Theta):
  mean = Theta_*x Psi_t y,
  cov  = Sigma_** + Theta_*x Psi_t Sigma_xx Psi_t Theta_x* - (Theta_*x Psi_t Sigma_x* + transpose);
- NNGP law (``law="nngp"``, Theta := Sigma): mean = Sigma_*x Psi_t y,
  cov = Sigma_** - Sigma_*x U diag((1 - exp(-2 l t / N)) / l) U^T Sigma_x*; at t = inf the
  Bayesian GP posterior.

At t = 0 the law is the prior N(0, Sigma_**). neural-tangents' ``gradient_descent_mse_ensemble``
at time t * k gives the same law (it normalizes time by N k). See docs/predict.md.

    >>> law = ntk.PredictiveLaw(theta_xx, y, nngp_train=sigma_xx)      # one eigendecomposition
    >>> ts = ntk.PredictiveTestSet(law, theta_tx, nngp_test_train=sigma_tx, nngp_test_test=sigma_tt)
    >>> mean, cov = ntk.ensemble_law(ts, 100.0)
    >>> mean, var = ntk.ensemble_law(net, x_train, y, x_test, 100.0, cov="diagonal")
"""

from __future__ import annotations

import ctypes
import enum
from typing import Any, NamedTuple, Optional, Union

import numpy as np

from . import _lib
from ._handle import Handle as _Handle
from ._arrays import as_input, as_output
from ._progress import Progress, ProgressCallback, call
from .network import Network, _enum_value


class Law(enum.IntEnum):
    """Values of ``ntk_law``."""

    NTK = 0  #: networks trained by gradient flow with Theta_inf from the NNGP prior Sigma
    NNGP = 1  #: Sigma is both the training kernel and the prior (t = inf: GP posterior)


class EnsembleLaw(NamedTuple):
    """The law at one time: ``mean`` (M x k) and ``cov`` (M x M, a vector of M variances, or
    None), the covariance shared by the k outputs."""

    mean: np.ndarray
    cov: Optional[np.ndarray]


_COVS = ("none", "diagonal", "full")


def _create(fn, *args, progress: Optional[ProgressCallback]) -> ctypes.c_void_p:
    """``fn(*args, options, &out)`` with a progress trampoline; the new handle, or raises."""
    out = ctypes.c_void_p()
    p = Progress(progress)
    with p:
        status = fn(*args, p.options, ctypes.byref(out))
    p.finish(status)
    return out


def _config(law: Union[str, int, Law], ridge: float, ridge_relative: bool):
    return _lib.PredictConfig(_enum_value(Law, law, "law"), float(ridge), 1 if ridge_relative else 0)


def _cov_output(cov: str, m: int):
    """(pointer to the cov view or None, the array, the view kept alive)."""
    if cov not in _COVS:
        raise ValueError(f"unknown cov {cov!r}; one of {list(_COVS)}")
    if cov == "none":
        return None, None, None
    cm, ca = as_output(None, (m, m) if cov == "full" else (m, 1), "cov")
    return ctypes.pointer(cm), ca, cm


def _result(mean: np.ndarray, ca: Optional[np.ndarray], cov: str) -> EnsembleLaw:
    if ca is not None and cov == "diagonal":
        ca = ca[:, 0]
    return EnsembleLaw(mean, ca)


class PredictiveLaw(_Handle):
    """The train side of the predictive law (``ntk_predictor_create``).

    Args:
        kernel_train: N x N, Theta_xx (``law="ntk"``) or Sigma_xx (``law="nngp"``); finite,
            symmetric (relative 1e-10), positive semi-definite (lambda_min >= -1e-9 max K_ii,
            else NumericalError).
        y: N x k targets (1-D: one output).
        nngp_train: NTK law only: Sigma_xx (N x N), needed for covariances; None for means only.
        law: ``"ntk"`` or ``"nngp"``.
        ridge: lambda >= 0 added to the diagonal; ``ridge_relative=True``: lambda tr(K)/N
            (neural-tangents' default ``diag_reg``).
        progress: ``progress(done, total)`` between the phases (total 4), truthy to cancel.

    Cost: one symmetric eigendecomposition (~9 N^3 flops) and, with ``nngp_train``, one
    Cholesky (N^3/3), reused by every :class:`PredictiveTestSet` and time. Inputs are copied.
    Raises InvalidArgumentError, NonFiniteError, NumericalError (not PSD), AllocationError,
    CancelledError.
    """

    _free_name = "ntk_predictor_free"

    def __init__(
        self,
        kernel_train: Any,
        y: Any,
        *,
        nngp_train: Any = None,
        law: Union[str, int, Law] = "ntk",
        ridge: float = 0.0,
        ridge_relative: bool = False,
        progress: Optional[ProgressCallback] = None,
    ):
        self._ptr = ctypes.c_void_p()
        cfg = _config(law, ridge, ridge_relative)
        km, _ka = as_input(kernel_train, "kernel_train")
        ym, ya = as_input(y, "y", vector="column")
        sp = None
        if nngp_train is not None:
            sm, _sa = as_input(nngp_train, "nngp_train")
            sp = ctypes.pointer(sm)
        self._ptr = _create(_lib.lib.ntk_predictor_create, ctypes.byref(cfg), km, sp, ym, progress=progress)
        self.n, self.k = ya.shape
        self.law = Law(cfg.law)
        self.has_cov = self.law == Law.NNGP or nngp_train is not None

    def __repr__(self) -> str:
        state = "" if self._ptr else ", closed"
        return f"ntk.PredictiveLaw({self.law.name.lower()}, N={self.n}, k={self.k}{state})"


class PredictiveTestSet(_Handle):
    """The test side of a :class:`PredictiveLaw` on M test points (``ntk_predictor_test_create``).

    Args:
        law: the train side (the test set keeps its data alive).
        kernel_test_train: M x N, Theta_*x (NTK law) or Sigma_*x (NNGP law).
        nngp_test_train: NTK law with covariances: Sigma_*x (M x N); given exactly when
            ``nngp_test_test`` is.
        nngp_test_test: None (means only), Sigma_** as M x M (full covariances) or a vector of
            the M prior variances (variances only).
        progress: as for :class:`PredictiveLaw`.

    Cost: 2 M N^2 flops per test-train kernel. Then :func:`ensemble_law` ``(testset, t)``.
    """

    _free_name = "ntk_predictor_test_free"

    def __init__(
        self,
        law: PredictiveLaw,
        kernel_test_train: Any,
        *,
        nngp_test_train: Any = None,
        nngp_test_test: Any = None,
        progress: Optional[ProgressCallback] = None,
    ):
        self._ptr = ctypes.c_void_p()
        if not isinstance(law, PredictiveLaw):
            raise TypeError(f"law must be an ntk.PredictiveLaw, got {type(law).__name__}")
        km, ka = as_input(kernel_test_train, "kernel_test_train")
        m = ka.shape[0]
        sp = pp = None
        if nngp_test_train is not None:
            sm, _sa = as_input(nngp_test_train, "nngp_test_train")
            sp = ctypes.pointer(sm)
        self.cov = "none"
        if nngp_test_test is not None:
            pm, pa = as_input(nngp_test_test, "nngp_test_test", vector="column")
            pp = ctypes.pointer(pm)
            self.cov = "full" if np.ndim(nngp_test_test) == 2 and pa.shape[1] == m else "diagonal"
        self._ptr = _create(_lib.lib.ntk_predictor_test_create, law._handle, km, sp, pp, progress=progress)
        self._law = law  # documents the dependency; the library shares the data anyway
        self.m, self.k = m, law.k

    def __repr__(self) -> str:
        state = "" if self._ptr else ", closed"
        return f"ntk.PredictiveTestSet(M={self.m}, k={self.k}, cov={self.cov}{state})"


def ensemble_law(*args, **kwargs) -> EnsembleLaw:
    """The predictive law at time ``t`` >= 0 (``float('inf')`` allowed).

    ``ensemble_law(testset, t, *, cov=None, progress=None)``: from a :class:`PredictiveTestSet`
    (``ntk_predictor_law``); ``cov`` is ``"full"`` (M x M), ``"diagonal"`` (the M variances) or
    ``"none"``, by default the richest the test set allows. Cost: mean 2 M N k flops, NTK
    covariance 4 M N^2 + 3 M^2 N (variances 4 M N^2), NNGP covariance M^2 N.

    ``ensemble_law(network, x_train, y, x_test, t, *, law="ntk", cov="full", ridge=0.0,
    ridge_relative=False, progress=None)``: from points in one call (``ntk_ensemble_law``): the
    limit kernels of ``network``'s architecture (n_0, depth, activation, beta) on ``x_train``
    (N x n_0) and ``x_test`` (M x n_0), then the law; ``y`` is N x n_L.

    Returns :class:`EnsembleLaw` ``(mean, cov)``; the 10-90 % band is
    ``mean +- 1.2816 * sqrt(var)``. Raises InvalidArgumentError (t < 0, shapes, a covariance the
    test set cannot give), NonFiniteError (t NaN), AllocationError, CancelledError.
    """
    if args and isinstance(args[0], PredictiveTestSet):
        return _law_testset(*args, **kwargs)
    if args and isinstance(args[0], Network):
        return _law_points(*args, **kwargs)
    raise TypeError("ensemble_law(testset, t, ...) or ensemble_law(network, x_train, y, x_test, t, ...)")


def _law_testset(
    testset: PredictiveTestSet, t: float, *, cov: Optional[str] = None, progress: Optional[ProgressCallback] = None
) -> EnsembleLaw:
    cov = testset.cov if cov is None else cov
    mm, ma = as_output(None, (testset.m, testset.k), "mean")
    cp, ca, _cm = _cov_output(cov, testset.m)
    call(_lib.lib.ntk_predictor_law, testset._handle, float(t), ctypes.pointer(mm), cp, progress=progress)
    return _result(ma, ca, cov)


def _law_points(
    network: Network,
    x_train: Any,
    y: Any,
    x_test: Any,
    t: float,
    *,
    law: Union[str, int, Law] = "ntk",
    cov: str = "full",
    ridge: float = 0.0,
    ridge_relative: bool = False,
    progress: Optional[ProgressCallback] = None,
) -> EnsembleLaw:
    cfg = _config(law, ridge, ridge_relative)
    am, _aa = as_input(x_train, "x_train", vector="row")
    ym, ya = as_input(y, "y", vector="column")
    bm, ba = as_input(x_test, "x_test", vector="row")
    m = ba.shape[0]
    mm, ma = as_output(None, (m, ya.shape[1]), "mean")
    cp, ca, _cm = _cov_output(cov, m)
    network._call(
        _lib.lib.ntk_ensemble_law,
        network._handle,
        ctypes.byref(cfg),
        am,
        ym,
        bm,
        float(t),
        ctypes.pointer(mm),
        cp,
        progress=progress,
    )
    return _result(ma, ca, cov)
