"""ntk: Neural Tangent Kernels (Jacot, Gabriel & Hongler, NeurIPS 2018) from Python.

Bindings of the ``ntk`` C library through ctypes: infinite-width (limit) NNGP and NTK kernels,
finite-width (empirical) kernels and Jacobians, kernel tiles, kernel gradient flows, gradient
descent training and kernel spectra of fully connected networks in NTK parameterization.

Conventions: points are ROWS (a batch is an N x n_0 array). NumPy float64 arrays, C- or
Fortran-ordered or strided, are passed to the library without copies (see ``ntk._arrays``);
the GIL is released during every library call; failures raise :class:`NTKError` subclasses
carrying the status and the library's message; long calls accept ``progress(done, total)``
(truthy to cancel) and stop promptly on Ctrl-C (``KeyboardInterrupt``).

    >>> import numpy as np, ntk
    >>> net = ntk.Network([2, 512, 512, 1], "relu", beta=0.1, seed=0)
    >>> x = np.random.default_rng(0).normal(size=(10, 2))
    >>> theta_inf = ntk.kernel_limit(net, x)                 # 10 x 10 limit NTK
    >>> nngp, theta = ntk.kernel_limit(net, x, get=("nngp", "ntk"))
    >>> theta_emp = ntk.kernel_empirical(net, x)             # finite-width NTK at init
"""

from ._lib import ScalarFn, __version__, library_path, library_version
from .errors import (
    AllocationError,
    CancelledError,
    InternalError,
    InvalidArgumentError,
    NonFiniteError,
    NTKError,
    NullPointerError,
    NumericalError,
)
from .flow import Flow, FlowMethod
from .kernels import KernelMethod, KernelMode, kernel_empirical, kernel_limit
from .network import Activation, Cost, Network
from .spectrum import Condition, SpectrumWhich, kernel_condition, kernel_spectrum
from .threads import get_num_threads, set_num_threads
from .tiles import EmpiricalFeatures, LimitPoints, kernel_empirical_tile, kernel_limit_tile


def version() -> str:
    """The loaded library's version, "MAJOR.MINOR.PATCH"."""
    return library_version


__all__ = [
    "Activation",
    "AllocationError",
    "CancelledError",
    "Condition",
    "Cost",
    "EmpiricalFeatures",
    "Flow",
    "FlowMethod",
    "InternalError",
    "InvalidArgumentError",
    "KernelMethod",
    "KernelMode",
    "LimitPoints",
    "Network",
    "NonFiniteError",
    "NTKError",
    "NullPointerError",
    "NumericalError",
    "ScalarFn",
    "SpectrumWhich",
    "get_num_threads",
    "kernel_condition",
    "kernel_empirical",
    "kernel_empirical_tile",
    "kernel_limit",
    "kernel_limit_tile",
    "kernel_spectrum",
    "library_path",
    "set_num_threads",
    "version",
]
