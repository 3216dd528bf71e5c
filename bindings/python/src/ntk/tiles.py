"""Kernel tiles: prepare points once, then compute any block of the kernel matrix.

Blocks assembled into the full matrix equal :func:`ntk.kernel_limit` /
:func:`ntk.kernel_empirical` (``method="structured"``) bit for bit, at any thread count; no
memory of size N1 x N2 is used beyond the block. Useful for kernels too large for memory and for
distributing rows across processes (features of a subset of the points equal those of the whole).
"""

from __future__ import annotations

import ctypes
from typing import Any, Optional, Sequence, Union

import numpy as np

from . import _lib
from ._handle import Handle
from ._arrays import as_input, as_output
from ._progress import Progress, ProgressCallback, call
from .errors import check
from .kernels import KernelMode, _get_names, _limit_outputs
from .network import Network, _enum_value


class _Points(Handle):
    _len = None

    def __init__(self, network: Network, x: Any, create, progress):
        self._ptr = ctypes.c_void_p()
        # Keep the network (and its custom activation callbacks) alive as long as the points.
        self._network = network
        xm, _xa = as_input(x, "x", vector="row")
        out = ctypes.c_void_p()
        p = Progress(progress)
        with p:
            status = create(network._handle, xm, p.options, ctypes.byref(out))
        if network._custom is not None and status != 0:
            network._custom.reraise()
        p.finish(status)
        self._ptr = out

    def __len__(self) -> int:
        n = ctypes.c_size_t()
        check(type(self)._len(self._handle, ctypes.byref(n)))
        return int(n.value)


class LimitPoints(_Points):
    """N points prepared for limit-kernel tiles of ``network``'s architecture
    (``ntk_limit_points_create``): a copy of ``x`` and each point's variance chain
    Sigma^(l)(x, x), l = 1..L (and Hermite expansions for activations without a closed form).
    O(N L) work and memory. Cancellable.
    """

    _free_name = "ntk_limit_points_free"
    _len = staticmethod(lambda p, n: _lib.lib.ntk_limit_points_len(p, n))

    def __init__(self, network: Network, x: Any, *, progress: Optional[ProgressCallback] = None):
        super().__init__(network, x, _lib.lib.ntk_limit_points_create, progress)


class EmpiricalFeatures(_Points):
    """Per-point empirical-NTK features of ``network`` at its current parameters
    (``ntk_empirical_features_create``): one forward and n_L backward passes, memory
    ~ N (sum_{l<L} n_l + n_L sum_{1<=l<L} n_l) doubles. A tile of a network whose parameters
    changed since raises InvalidArgumentError. Cancellable.
    """

    _free_name = "ntk_empirical_features_free"
    _len = staticmethod(lambda p, n: _lib.lib.ntk_empirical_features_len(p, n))

    def __init__(self, network: Network, x: Any, *, progress: Optional[ProgressCallback] = None):
        super().__init__(network, x, _lib.lib.ntk_empirical_features_create, progress)


def kernel_limit_tile(
    p1: LimitPoints,
    rows: Union[slice, range, Sequence[int]],
    p2: LimitPoints,
    cols: Union[slice, range, Sequence[int]],
    get: Union[str, Sequence[str]] = "ntk",
    *,
    out: Optional[np.ndarray] = None,
    progress: Optional[ProgressCallback] = None,
):
    """Block ``rows`` x ``cols`` of the limit kernels of ``p1``'s points against ``p2``'s.

    ``rows``/``cols``: half-open ranges ``(start, stop)``, ``range`` or ``slice`` with step 1.
    The same object for ``p1`` and ``p2`` gives the kernel of x2 = x1 (bit-identical to
    :func:`ntk.kernel_limit` with ``x2=None``). ``get`` and the return value as in
    :func:`ntk.kernel_limit`; each output is (i1 - i0) x (j1 - j0).
    """
    names, single = _get_names(get)
    i0, i1 = _range(rows, len(p1), "rows")
    j0, j1 = _range(cols, len(p2), "cols")
    ptrs, arrays, _views = _limit_outputs(names, (i1 - i0, j1 - j0), out)
    call(_lib.lib.ntk_kernel_limit_tile, p1._handle, i0, i1, p2._handle, j0, j1, *ptrs, progress=progress)
    result = tuple(arrays[n] for n in names)
    return result[0] if single else result


def kernel_empirical_tile(
    network: Network,
    f1: EmpiricalFeatures,
    rows: Union[slice, range, Sequence[int]],
    f2: EmpiricalFeatures,
    cols: Union[slice, range, Sequence[int]],
    *,
    mode: Union[str, int, KernelMode] = "trace",
    out: Optional[np.ndarray] = None,
    progress: Optional[ProgressCallback] = None,
) -> np.ndarray:
    """Block ``rows`` x ``cols`` of the empirical NTK from prepared features (structured method,
    bit-identical to the blocks of :func:`ntk.kernel_empirical` with ``method="structured"``).
    ``mode="trace"``: (i1-i0) x (j1-j0); ``"full"``: ((i1-i0) n_L) x ((j1-j0) n_L).
    Cost ~2 (i1-i0)(j1-j0)(sum_l n_l + k sum_hidden n_l) flops.
    """
    i0, i1 = _range(rows, len(f1), "rows")
    j0, j1 = _range(cols, len(f2), "cols")
    md = _enum_value(KernelMode, mode, "mode")
    k = network.output_dim if md == KernelMode.FULL else 1
    om, oa = as_output(out, ((i1 - i0) * k, (j1 - j0) * k))
    network._call(
        _lib.lib.ntk_kernel_empirical_tile,
        network._handle,
        f1._handle,
        i0,
        i1,
        f2._handle,
        j0,
        j1,
        md,
        om,
        progress=progress,
    )
    return oa


def _range(r, n: int, name: str):
    if isinstance(r, slice):
        start, stop, step = r.indices(n)
        if step != 1:
            raise ValueError(f"{name}: only step-1 slices are tiles")
        return start, stop
    if isinstance(r, range):
        if r.step != 1:
            raise ValueError(f"{name}: only step-1 ranges are tiles")
        return r.start, r.stop
    a, b = r
    a, b = int(a), int(b)
    if a < 0 or b < 0:
        raise ValueError(f"{name}: negative bounds ({a}, {b})")
    return a, b
