"""Limit (infinite-width) and empirical (finite-width) kernels of a network.

Limit kernels (Jacot et al. 2018), for the rows of x1 against the rows of x2:

    Sigma^(1)(x, x') = x.x'/n_0 + beta^2,          Theta^(1) = Sigma^(1),
    Sigma^(l+1) = E[s(u) s(v)] + beta^2,           Sigma-dot^(l+1) = E[s'(u) s'(v)],
    Theta^(l+1) = Theta^(l) Sigma-dot^(l+1) + Sigma^(l+1),

(u, v) centred Gaussian with covariance Sigma^(l). Only n_0, L, the activation and beta of the
network are used. The empirical NTK is Theta_ab(x, x') = sum_p df_a(x)/dtheta_p df_b(x')/dtheta_p.
"""

from __future__ import annotations

import ctypes
import enum
from typing import Any, Optional, Sequence, Tuple, Union

import numpy as np

from . import _lib
from ._arrays import as_input, as_output
from ._progress import ProgressCallback
from .network import Network, _enum_value

#: Names accepted by ``get``, in the order of the C arguments.
LIMIT_KERNELS = ("nngp", "sigma_dot", "ntk")


class KernelMode(enum.IntEnum):
    """Values of ``ntk_kernel_mode``."""

    TRACE = 0  #: N1 x N2: (1/n_L) sum_a Theta_aa (converges to Theta_inf)
    FULL = 1  #: (N1 n_L) x (N2 n_L): entry (i n_L + a, j n_L + b) = Theta_ab(x1_i, x2_j)


class KernelMethod(enum.IntEnum):
    """Values of ``ntk_kernel_method``."""

    AUTO = 0
    JACOBIAN_CONTRACTION = 1  #: J1 J2^T, ~2 N1 N2 n_L P flops
    STRUCTURED = 2  #: per layer (a.a'/n_l + beta^2)(d.d'), ~2 N1 N2 n_L sum_l n_l flops


def _get_names(get: Union[str, Sequence[str]]) -> Tuple[Tuple[str, ...], bool]:
    single = isinstance(get, str)
    names = (get,) if single else tuple(get)
    for n in names:
        if n not in LIMIT_KERNELS:
            raise ValueError(f"unknown kernel {n!r}; choose from {LIMIT_KERNELS}")
    if not names or len(set(names)) != len(names):
        raise ValueError(f"get must name one or more distinct kernels of {LIMIT_KERNELS}")
    return names, single


def _limit_outputs(names, shape, out):
    """The three ``ntk_matrix_mut*`` arguments (NULL where not requested) and the arrays."""
    if out is not None and len(names) != 1:
        raise ValueError("out= is only accepted with a single kernel in get")
    ptrs, arrays = [], {}
    views = []  # keep the Structures alive
    for n in LIMIT_KERNELS:
        if n in names:
            m, a = as_output(out, shape, "out")
            views.append(m)
            ptrs.append(ctypes.pointer(m))
            arrays[n] = a
        else:
            ptrs.append(None)
    return ptrs, arrays, views


def kernel_limit(
    network: Network,
    x1: Any,
    x2: Any = None,
    get: Union[str, Sequence[str]] = "ntk",
    *,
    out: Optional[np.ndarray] = None,
    progress: Optional[ProgressCallback] = None,
):
    """Infinite-width kernels Sigma^(L) (``"nngp"``), Sigma-dot^(L) and Theta^(L) (``"ntk"``).

    Args:
        network: gives n_0, the depth L, the activation and beta (widths play no role).
        x1: N1 x n_0 points (rows). x2: N2 x n_0, or None for x2 = x1 (one triangle is computed
            and mirrored: the result is exactly symmetric).
        get: one name (returns one N1 x N2 array) or a sequence of names (returns a tuple in
            that order), from ``"nngp"``, ``"sigma_dot"``, ``"ntk"``.
        out: an N1 x N2 float64 array to fill (single ``get`` only; any strides).
        progress: ``progress(done, total)``, truthy to cancel.

    ReLU, leaky ReLU, erf, identity, sin and cos use closed forms; the others an adaptive
    numerical method (relative error ~1e-12). Cost O(N1 N2 (n_0 + L)). Bit-identical at any
    thread count. Raises InvalidArgumentError, NonFiniteError, NumericalError (overflow),
    CancelledError / KeyboardInterrupt.
    """
    names, single = _get_names(get)
    m1, a1 = as_input(x1, "x1", vector="row")
    if x2 is None:
        m2p, n2 = None, a1.shape[0]
    else:
        m2, a2 = as_input(x2, "x2", vector="row")
        m2p, n2 = ctypes.pointer(m2), a2.shape[0]
    ptrs, arrays, _views = _limit_outputs(names, (a1.shape[0], n2), out)
    network._call(_lib.lib.ntk_kernel_limit, network._handle, m1, m2p, *ptrs, progress=progress)
    result = tuple(arrays[n] for n in names)
    return result[0] if single else result


def kernel_empirical(
    network: Network,
    x1: Any,
    x2: Any = None,
    *,
    mode: Union[str, int, KernelMode] = "trace",
    method: Union[str, int, KernelMethod] = "auto",
    out: Optional[np.ndarray] = None,
    progress: Optional[ProgressCallback] = None,
) -> np.ndarray:
    """Empirical NTK of the network at its current parameters.

    ``mode="trace"``: N1 x N2, (1/n_L) sum_a Theta_aa(x1_i, x2_j) (what tends to Theta_inf);
    ``mode="full"``: (N1 n_L) x (N2 n_L), entry (i n_L + a, j n_L + b) = Theta_ab(x1_i, x2_j).
    ``x2=None``: x2 = x1, exactly symmetric. ``method``: ``"auto"``, ``"structured"`` or
    ``"jacobian_contraction"`` (agree to rounding). Cost ~2 N1 N2 n_L sum_l n_l (structured).
    Raises InvalidArgumentError, NonFiniteError, NumericalError, CancelledError.
    """
    m1, a1 = as_input(x1, "x1", vector="row")
    if x2 is None:
        m2p, n2 = None, a1.shape[0]
    else:
        m2, a2 = as_input(x2, "x2", vector="row")
        m2p, n2 = ctypes.pointer(m2), a2.shape[0]
    md = _enum_value(KernelMode, mode, "mode")
    k = network.output_dim if md == KernelMode.FULL else 1
    om, oa = as_output(out, (a1.shape[0] * k, n2 * k))
    network._call(
        _lib.lib.ntk_kernel_empirical,
        network._handle,
        m1,
        m2p,
        md,
        _enum_value(KernelMethod, method, "method"),
        om,
        progress=progress,
    )
    return oa
