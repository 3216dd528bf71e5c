"""Loading libntk and the ctypes declarations of include/ntk.h.

The library is looked up once, at import, in this order:

1. ``NTK_LIB`` (environment): a path to ``libntk.so``;
2. the copy bundled in this package (``ntk/libntk.so``, put there by ``pip install``);
3. the system library path: ``libntk.so.MAJOR`` (the SONAME), then ``ctypes.util.find_library``
   (``ldconfig``, ``LD_LIBRARY_PATH``) — e.g. after ``scripts/install.sh /usr/local``.

Otherwise ``import ntk`` raises ``ImportError`` saying what to do. The library's
``MAJOR.MINOR`` must equal the package's: while MAJOR is 0 the ABI may change between minors.

Every call goes through a ``ctypes.CDLL`` function, which releases the GIL for the duration of
the C call; callbacks (progress, custom activations) re-acquire it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from ctypes import (
    CFUNCTYPE,
    POINTER,
    Structure,
    c_char_p,
    c_double,
    c_int,
    c_size_t,
    c_ssize_t,
    c_uint64,
    c_void_p,
)

#: The package version; the library's MAJOR.MINOR must match it.
__version__ = "0.2.0"
_MAJOR = __version__.split(".")[0]


class Matrix(Structure):
    """``ntk_matrix``: element (i, j) is ``data[i*row_stride + j*col_stride]`` (in elements)."""

    _fields_ = [
        ("data", c_void_p),
        ("rows", c_size_t),
        ("cols", c_size_t),
        ("row_stride", c_ssize_t),
        ("col_stride", c_ssize_t),
    ]


class MatrixMut(Structure):
    """``ntk_matrix_mut`` (same layout as :class:`Matrix`, writable)."""

    _fields_ = Matrix._fields_


#: ``int (*)(void *user_data, uint64_t done, uint64_t total)``
ProgressFn = CFUNCTYPE(c_int, c_void_p, c_uint64, c_uint64)
#: ``double (*)(double x, void *user_data)``
ScalarFn = CFUNCTYPE(c_double, c_double, c_void_p)


class Options(Structure):
    _fields_ = [("progress", ProgressFn), ("user_data", c_void_p)]


class FlowOptions(Structure):
    _fields_ = [("method", c_int), ("rtol", c_double), ("atol", c_double), ("krylov_tol", c_double)]


class NetworkConfig(Structure):
    _fields_ = [
        ("widths", POINTER(c_size_t)),
        ("num_widths", c_size_t),
        ("activation", c_int),
        ("activation_param", c_double),
        ("beta", c_double),
        ("seed", c_uint64),
        ("custom_sigma", ScalarFn),
        ("custom_dsigma", ScalarFn),
        ("custom_user_data", c_void_p),
    ]


_P = c_void_p  # opaque handles
_M = Matrix
_MM = MatrixMut
_PM = POINTER(Matrix)
_PMM = POINTER(MatrixMut)
_PO = POINTER(Options)
_PD = POINTER(c_double)
_PS = POINTER(c_size_t)

# name: (restype, argtypes). Statuses are plain ints (ntk_status is a C int enum).
_PROTOTYPES = {
    "ntk_status_str": (c_char_p, [c_int]),
    "ntk_last_error": (c_char_p, []),
    "ntk_version": (c_char_p, []),
    "ntk_set_num_threads": (c_int, [c_size_t]),
    "ntk_get_num_threads": (c_int, [_PS]),
    "ntk_network_create": (c_int, [POINTER(NetworkConfig), POINTER(_P)]),
    "ntk_network_free": (None, [_P]),
    "ntk_network_clone": (c_int, [_P, POINTER(_P)]),
    "ntk_network_shape": (c_int, [_P, _PS, _PS]),
    "ntk_network_get_params": (c_int, [_P, c_void_p, c_size_t]),
    "ntk_network_set_params": (c_int, [_P, c_void_p, c_size_t]),
    "ntk_network_forward": (c_int, [_P, _M, _MM]),
    "ntk_network_jacobian": (c_int, [_P, _M, _MM, _PO]),
    "ntk_network_train": (c_int, [_P, _M, _M, c_int, c_double, c_size_t, c_void_p, _PO]),
    "ntk_kernel_limit": (c_int, [_P, _M, _PM, _PMM, _PMM, _PMM, _PO]),
    "ntk_kernel_empirical": (c_int, [_P, _M, _PM, c_int, c_int, _MM, _PO]),
    "ntk_limit_points_create": (c_int, [_P, _M, _PO, POINTER(_P)]),
    "ntk_limit_points_free": (None, [_P]),
    "ntk_limit_points_len": (c_int, [_P, _PS]),
    "ntk_kernel_limit_tile": (c_int, [_P, c_size_t, c_size_t, _P, c_size_t, c_size_t, _PMM, _PMM, _PMM, _PO]),
    "ntk_empirical_features_create": (c_int, [_P, _M, _PO, POINTER(_P)]),
    "ntk_empirical_features_free": (None, [_P]),
    "ntk_empirical_features_len": (c_int, [_P, _PS]),
    "ntk_kernel_empirical_tile": (c_int, [_P, _P, c_size_t, c_size_t, _P, c_size_t, c_size_t, c_int, _MM, _PO]),
    "ntk_flow_create": (c_int, [_M, _M, _M, _PM, _PM, c_int, POINTER(FlowOptions), POINTER(_P)]),
    "ntk_flow_free": (None, [_P]),
    "ntk_flow_step": (c_int, [_P, c_double, _PO]),
    "ntk_flow_set_time": (c_int, [_P, c_double, _PO]),
    "ntk_flow_time": (c_int, [_P, _PD]),
    "ntk_flow_outputs": (c_int, [_P, _MM]),
    "ntk_flow_predict": (c_int, [_P, _MM]),
    "ntk_flow_loss": (c_int, [_P, _PD]),
    "ntk_kernel_spectrum": (c_int, [_M, c_void_p, c_size_t, c_int]),
    "ntk_kernel_condition": (c_int, [_M, _PD, _PD, _PD]),
}


def _candidates():
    env = os.environ.get("NTK_LIB")
    if env:
        return [("NTK_LIB", env)], True
    out = []
    bundled = os.path.join(os.path.dirname(os.path.abspath(__file__)), "libntk.so")
    if os.path.isfile(bundled):
        out.append(("bundled", bundled))
    out.append(("system", f"libntk.so.{_MAJOR}"))
    found = ctypes.util.find_library("ntk")
    if found:
        out.append(("system", found))
    return out, False


def _load():
    candidates, from_env = _candidates()
    errors = []
    for origin, path in candidates:
        if origin == "NTK_LIB" and not os.path.isfile(path):
            raise ImportError(f"ntk: NTK_LIB={path!r} is not a file; point it at a built libntk.so")
        try:
            return ctypes.CDLL(path), path
        except OSError as e:
            errors.append(f"  {origin} {path}: {e}")
    hint = (
        "ntk: libntk not found.\n"
        + "\n".join(errors)
        + "\nInstall the package from the repository (pip install ./bindings/python builds and bundles it), "
        "install the C library (scripts/install.sh /usr/local, then ldconfig or LD_LIBRARY_PATH), "
        "or set NTK_LIB=/path/to/libntk.so."
    )
    raise ImportError(hint)


lib, library_path = _load()
for _name, (_res, _args) in _PROTOTYPES.items():
    try:
        _f = getattr(lib, _name)
    except AttributeError as e:  # an older library than this package
        raise ImportError(f"ntk: {library_path} lacks {_name}; it is older than the Python package {__version__}") from e
    _f.restype = _res
    _f.argtypes = _args

library_version = lib.ntk_version().decode()
if library_version.split(".")[:2] != __version__.split(".")[:2]:
    raise ImportError(
        f"ntk: {library_path} is version {library_version}, the Python package {__version__} needs "
        f"{'.'.join(__version__.split('.')[:2])}.x (the ABI may change between minor versions)"
    )


def has_symbol(name: str) -> bool:
    """Whether the loaded library exports ``name`` (for functions newer than this package)."""
    return hasattr(lib, name)
