"""The benchmark workloads in ntk, called through its C ABI with ctypes (the same entry points a
C, Julia or R user calls). Mirrors nt_workloads.py: each function returns (callable, result_fn).
"""
import ctypes as C
import os

import numpy as np

BETA = 0.1
ACT = {"identity": 0, "relu": 1, "erf": 3, "tanh": 4, "sigmoid": 5, "softplus": 6, "gelu": 7, "custom": 10}


class Matrix(C.Structure):
    _fields_ = [("data", C.c_void_p), ("rows", C.c_size_t), ("cols", C.c_size_t),
                ("row_stride", C.c_ssize_t), ("col_stride", C.c_ssize_t)]


class NetworkConfig(C.Structure):
    _fields_ = [("widths", C.POINTER(C.c_size_t)), ("num_widths", C.c_size_t),
                ("activation", C.c_int), ("activation_param", C.c_double),
                ("beta", C.c_double), ("seed", C.c_uint64),
                ("custom_sigma", C.c_void_p), ("custom_dsigma", C.c_void_p),
                ("custom_user_data", C.c_void_p)]


class FlowOptions(C.Structure):
    _fields_ = [("method", C.c_int), ("rtol", C.c_double), ("atol", C.c_double),
                ("krylov_tol", C.c_double)]


def load(path=None):
    path = path or os.environ.get("NTK_LIB") or os.path.join(
        os.path.dirname(__file__), "..", "..", "target", "release", "libntk.so")
    lib = C.CDLL(os.path.abspath(path))
    lib.ntk_last_error.restype = C.c_char_p
    return lib


LIB = None


def lib():
    global LIB
    if LIB is None:
        LIB = load()
    return LIB


def check(status):
    if status != 0:
        raise RuntimeError(lib().ntk_last_error().decode())


def view(a):
    """A strided view of a numpy float64 array (no copy)."""
    assert a.dtype == np.float64
    a2 = a if a.ndim == 2 else a.reshape(-1, 1)
    m = Matrix(a2.ctypes.data, a2.shape[0], a2.shape[1], a2.strides[0] // 8, a2.strides[1] // 8)
    m._keep = a2  # the view must keep its array alive for as long as the view is used
    return m


def set_threads(n):
    check(lib().ntk_set_num_threads(C.c_size_t(n)))


_CUSTOM = None


def custom_fns():
    """(sigma, sigma') of custom_sigma.c as C function pointers (compiled once with cc)."""
    global _CUSTOM
    if _CUSTOM is None:
        import subprocess
        import tempfile
        here = os.path.dirname(os.path.abspath(__file__))
        so = os.path.join(tempfile.mkdtemp(prefix="ntk-bench-"), "custom_sigma.so")
        subprocess.run(["cc", "-O2", "-shared", "-fPIC", "-o", so,
                        os.path.join(here, "custom_sigma.c"), "-lm"], check=True)
        cl = C.CDLL(so)
        _CUSTOM = (cl, C.cast(cl.ntk_bench_sigma, C.c_void_p), C.cast(cl.ntk_bench_dsigma, C.c_void_p))
    return _CUSTOM[1], _CUSTOM[2]


def network(widths, act, seed=0):
    w = (C.c_size_t * len(widths))(*widths)
    fs, fd = custom_fns() if act == "custom" else (None, None)
    cfg = NetworkConfig(w, len(widths), ACT[act], 0.0, BETA, seed, fs, fd, None)
    handle = C.c_void_p()
    check(lib().ntk_network_create(C.byref(cfg), C.byref(handle)))
    return handle


def params(net):
    p = C.c_size_t()
    check(lib().ntk_network_shape(net, None, C.byref(p)))
    theta = np.empty(p.value)
    check(lib().ntk_network_get_params(net, theta.ctypes.data_as(C.POINTER(C.c_double)),
                                       C.c_size_t(p.value)))
    return theta


def limit_into(net, x, nngp, ntk):
    outs = [view(nngp), view(ntk)]
    check(lib().ntk_kernel_limit(net, view(x), None, C.byref(outs[0]), None,
                                 C.byref(outs[1]), None))


def limit(act, x):
    net = network([x.shape[1], 1, 1, 1, 1, 1], act)
    n = x.shape[0]
    nngp, ntk = np.empty((n, n)), np.empty((n, n))

    def run():
        limit_into(net, x, nngp, ntk)
        return nngp, ntk

    return run, lambda r: {"nngp": r[0], "ntk": r[1]}


class Layer(C.Structure):  # ntk_layer
    _fields_ = [("sigma_w", C.c_double), ("sigma_b", C.c_double), ("activation", C.c_int),
                ("activation_param", C.c_double), ("custom_sigma", C.c_void_p),
                ("custom_dsigma", C.c_void_p), ("custom_user_data", C.c_void_p)]


class Architecture(C.Structure):  # ntk_architecture
    _fields_ = [("struct_size", C.c_size_t), ("version", C.c_uint32),
                ("parameterization", C.c_int), ("widths", C.POINTER(C.c_size_t)),
                ("num_widths", C.c_size_t), ("layers", C.POINTER(Layer)),
                ("num_layers", C.c_size_t), ("layer_size", C.c_size_t), ("seed", C.c_uint64)]


ARCH_WIDTHS = [100, 512, 512, 512, 512, 1]


def limit_arch(x):
    """ReLU, L = 5, sigma_w^2 = 2, sigma_b^2 = 0.01, standard parameterization (issue #13)."""
    widths = (C.c_size_t * len(ARCH_WIDTHS))(*ARCH_WIDTHS)
    L = len(ARCH_WIDTHS) - 1
    layers = (Layer * L)()
    for l in range(L):
        check(lib().ntk_layer_init(C.byref(layers[l]), C.c_size_t(C.sizeof(Layer))))
        layers[l].sigma_w = 2.0 ** 0.5
        layers[l].sigma_b = 0.1
        if l + 1 < L:
            layers[l].activation = ACT["relu"]
    arch = Architecture()
    check(lib().ntk_architecture_init(C.byref(arch), C.c_size_t(C.sizeof(Architecture))))
    arch.parameterization = 1
    arch.widths, arch.num_widths = widths, len(ARCH_WIDTHS)
    arch.layers, arch.num_layers = layers, L
    net = C.c_void_p()
    check(lib().ntk_network_create_arch(C.byref(arch), C.byref(net)))
    n = x.shape[0]
    nngp, ntk = np.empty((n, n)), np.empty((n, n))

    def run():
        limit_into(net, x, nngp, ntk)
        return nngp, ntk

    return run, lambda r: {"nngp": r[0], "ntk": r[1]}


EMPIRICAL_WIDTHS = [100, 512, 512, 512]


def empirical_network(outputs):
    return network(EMPIRICAL_WIDTHS + [outputs], "relu", seed=42)


def empirical(x, outputs):
    net = empirical_network(outputs)
    n = x.shape[0]
    mode = 0 if outputs == 1 else 1  # trace for one output, full otherwise
    out = np.empty((n * (1 if mode == 0 else outputs),) * 2)

    def run():
        check(lib().ntk_kernel_empirical(net, view(x), None, mode, 0, view(out), None))
        return out

    return run, lambda r: r


def flow(k_train, k_test_train, y, times):
    n, m = k_train.shape[0], k_test_train.shape[0]
    f0, ft0 = np.zeros_like(y), np.zeros((m, y.shape[1]))
    opts = FlowOptions(0, 1e-10, 1e-12, 1e-13)
    kt, ktt, yv = view(k_train), view(k_test_train), view(y)
    f0v, ft0v = view(f0), view(ft0)

    def run():
        handle = C.c_void_p()
        check(lib().ntk_flow_create(kt, yv, f0v, C.byref(ktt), C.byref(ft0v), 0,
                                    C.byref(opts), C.byref(handle)))
        train, test = [], []
        try:
            for t in times:
                check(lib().ntk_flow_set_time(handle, C.c_double(t), None))
                a, b = np.empty((n, y.shape[1])), np.empty((m, y.shape[1]))
                check(lib().ntk_flow_outputs(handle, view(a)))
                check(lib().ntk_flow_predict(handle, view(b)))
                train.append(a)
                test.append(b)
        finally:
            lib().ntk_flow_free(handle)
        return np.stack(train), np.stack(test)

    return run, lambda r: {"train": r[0], "test": r[1]}


class PredictConfig(C.Structure):
    _fields_ = [("law", C.c_int), ("ridge", C.c_double), ("ridge_relative", C.c_int)]


def ensemble(x, n, y, times):
    """The trained ensemble's NTK law from points: the limit kernels (Theta and Sigma of train,
    test-train and test-test), one predictor (eigendecomposition), the test set, then mean and
    full covariance at each time."""
    net = network([x.shape[1], 1, 1, 1, 1, 1], "relu")
    xtr, xte = np.ascontiguousarray(x[:n]), np.ascontiguousarray(x[n:])
    m = xte.shape[0]
    cfg = PredictConfig(0, 0.0, 0)

    def run():
        sxx, txx = np.empty((n, n)), np.empty((n, n))
        stx, ttx = np.empty((m, n)), np.empty((m, n))
        stt = np.empty((m, m))
        xv = view(xtr)
        o = [view(sxx), view(txx), view(stx), view(ttx), view(stt)]
        check(lib().ntk_kernel_limit(net, xv, None, C.byref(o[0]), None, C.byref(o[1]), None))
        check(lib().ntk_kernel_limit(net, view(xte), C.byref(xv), C.byref(o[2]), None,
                                     C.byref(o[3]), None))
        check(lib().ntk_kernel_limit(net, view(xte), None, C.byref(o[4]), None, None, None))
        pred, test = C.c_void_p(), C.c_void_p()
        i = [view(sxx), view(stx), view(stt)]
        check(lib().ntk_predictor_create(C.byref(cfg), view(txx), C.byref(i[0]), view(y), None,
                                         C.byref(pred)))
        means, covs = np.empty((len(times), m, y.shape[1])), np.empty((len(times), m, m))
        try:
            check(lib().ntk_predictor_test_create(pred, view(ttx), C.byref(i[1]), C.byref(i[2]),
                                                  None, C.byref(test)))
            for j, t in enumerate(times):
                mv, cv = view(means[j]), view(covs[j])
                check(lib().ntk_predictor_law(test, C.c_double(t), C.byref(mv), C.byref(cv), None))
        finally:
            lib().ntk_predictor_test_free(test)
            lib().ntk_predictor_free(pred)
        return means, covs

    return run, lambda r: {"mean": r[0], "cov": r[1]}
