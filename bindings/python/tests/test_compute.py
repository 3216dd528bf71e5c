"""Values against independent computations: a NumPy forward pass from the parameters, the
arc-cosine closed form, finite differences, J J^T, the closed-form MSE flow, eigvalsh."""

import math

import numpy as np
import pytest

import ntk
from conftest import relerr


def numpy_forward(widths, theta, beta, sigma, x):
    h, off = np.asarray(x, float), 0
    for l in range(len(widths) - 1):
        nin, nout = widths[l], widths[l + 1]
        W = theta[off : off + nout * nin].reshape(nout, nin)  # row-major W^(l)
        b = theta[off + nout * nin : off + nout * (nin + 1)]
        off += nout * (nin + 1)
        z = h @ W.T / math.sqrt(nin) + beta * b
        h = sigma(z) if l < len(widths) - 2 else z
    return h


def test_network_shape_params_forward(rng):
    w = [3, 17, 9, 2]
    net = ntk.Network(w, "tanh", beta=0.3, seed=42)
    assert (net.depth, net.num_params, net.input_dim, net.output_dim) == (3, 17 * 4 + 9 * 18 + 2 * 10, 3, 2)
    theta = net.params
    assert theta.shape == (net.num_params,)
    # the seeded stream is N(0, 1) and reproducible
    assert abs(theta.mean()) < 0.2 and abs(theta.std() - 1) < 0.1
    assert np.array_equal(ntk.Network(w, "tanh", beta=0.3, seed=42).params, theta)
    x = rng.normal(size=(6, 3))
    assert relerr(net.forward(x), numpy_forward(w, theta, 0.3, np.tanh, x)) < 1e-13
    theta2 = rng.normal(size=net.num_params)
    net.params = theta2
    assert np.array_equal(net.params, theta2)
    assert relerr(net(x), numpy_forward(w, theta2, 0.3, np.tanh, x)) < 1e-13
    c = net.copy()
    net.set_params(theta)
    assert np.array_equal(c.params, theta2)
    assert net.forward(x[0]).shape == (1, 2)  # a 1-D input is one point


def test_limit_ntk_closed_form_relu(rng):
    # one hidden ReLU layer: Theta = Sigma1 * (pi - t)/(2 pi) + Sigma2, arc-cosine kernel
    beta, n0 = 0.1, 4
    net = ntk.Network([n0, 8, 1], "relu", beta=beta)
    x1, x2 = rng.normal(size=(5, n0)), rng.normal(size=(3, n0))
    nngp, sdot, theta = ntk.kernel_limit(net, x1, x2, get=("nngp", "sigma_dot", "ntk"))
    s11 = (x1 * x1).sum(1)[:, None] / n0 + beta**2
    s22 = (x2 * x2).sum(1)[None, :] / n0 + beta**2
    s12 = x1 @ x2.T / n0 + beta**2
    c = np.clip(s12 / np.sqrt(s11 * s22), -1, 1)
    t = np.arccos(c)
    sigma2 = np.sqrt(s11 * s22) * (np.sin(t) + (math.pi - t) * c) / (2 * math.pi) + beta**2
    sd = (math.pi - t) / (2 * math.pi)
    assert relerr(nngp, sigma2) < 1e-12
    assert relerr(sdot, sd) < 1e-12
    assert relerr(theta, s12 * sd + sigma2) < 1e-12
    sym = ntk.kernel_limit(net, x1)
    assert np.array_equal(sym, sym.T)
    assert relerr(sym, ntk.kernel_limit(net, x1, x1)) < 1e-14


def test_jacobian_finite_differences_and_empirical_kernel(rng):
    w = [3, 6, 5, 2]
    net = ntk.Network(w, "erf", beta=0.5, seed=7)
    x = rng.normal(size=(4, 3))
    J = net.jacobian(x)
    assert J.shape == (4 * 2, net.num_params)
    theta = net.params
    h = 1e-6
    for p in [0, 5, 17, net.num_params - 1]:
        tp, tm = theta.copy(), theta.copy()
        tp[p] += h
        tm[p] -= h
        net.params = tp
        fp = net.forward(x)
        net.params = tm
        fm = net.forward(x)
        fd = ((fp - fm) / (2 * h)).ravel()  # row i*n_L + a
        assert np.max(np.abs(J[:, p] - fd)) < 1e-7
    net.params = theta
    full = ntk.kernel_empirical(net, x, mode="full")
    assert relerr(full, J @ J.T) < 1e-12
    trace = ntk.kernel_empirical(net, x)
    ref = np.array([[np.trace((J @ J.T)[2 * i : 2 * i + 2, 2 * j : 2 * j + 2]) / 2 for j in range(4)] for i in range(4)])
    assert relerr(trace, ref) < 1e-12
    for method in ["structured", "jacobian_contraction"]:
        assert relerr(ntk.kernel_empirical(net, x, mode="full", method=method), full) < 1e-12
    x2 = rng.normal(size=(3, 3))
    J2 = net.jacobian(x2)
    assert relerr(ntk.kernel_empirical(net, x, x2, mode="full"), J @ J2.T) < 1e-12


def test_tiles_assemble_to_the_full_kernels_bitwise(rng):
    net = ntk.Network([3, 40, 40, 2], "relu", beta=0.1, seed=5)
    x = rng.normal(size=(11, 3))
    with ntk.LimitPoints(net, x) as p:
        assert len(p) == 11
        full = np.empty((11, 11))
        for i0, i1 in [(0, 4), (4, 11)]:
            for j0, j1 in [(0, 7), (7, 11)]:
                full[i0:i1, j0:j1] = ntk.kernel_limit_tile(p, (i0, i1), p, range(j0, j1))
        assert np.array_equal(full, ntk.kernel_limit(net, x))
        nngp, th = ntk.kernel_limit_tile(p, slice(2, 5), p, slice(0, 11), get=("nngp", "ntk"))
        assert np.array_equal(nngp, ntk.kernel_limit(net, x, get="nngp")[2:5])
    f = ntk.EmpiricalFeatures(net, x)
    assert len(f) == 11
    ref = ntk.kernel_empirical(net, x, mode="full", method="structured")
    blk = ntk.kernel_empirical_tile(net, f, (3, 9), f, (0, 5), mode="full")
    assert np.array_equal(blk, ref[6:18, 0:10])
    net.params = net.params * 1.01
    with pytest.raises(ntk.InvalidArgumentError):
        ntk.kernel_empirical_tile(net, f, (0, 1), f, (0, 1))
    f.close()
    with pytest.raises(ValueError, match="closed"):
        len(f)


def test_mse_flow_closed_form(rng):
    n, m, k = 8, 3, 2
    A = rng.normal(size=(n + m, n + m))
    Kall = A @ A.T / (n + m) + 0.1 * np.eye(n + m)
    K, Ks = Kall[:n, :n], Kall[n:, :n]
    y, f0, fs0 = rng.normal(size=(n, k)), rng.normal(size=(n, k)), rng.normal(size=(m, k))
    lam, U = np.linalg.eigh(K)
    with ntk.Flow(K, y, f0, Ks, fs0) as flow:
        assert flow.time == 0.0
        for t in [0.5, 3.0]:
            flow.set_time(t)
            E = U @ np.diag(np.exp(-lam * t / n)) @ U.T
            ft = y + E @ (f0 - y)
            fst = fs0 - Ks @ np.linalg.solve(K, (np.eye(n) - E) @ (f0 - y))
            assert relerr(flow.outputs(), ft) < 1e-10
            assert relerr(flow.predict(), fst) < 1e-10
            assert abs(flow.loss() - 0.5 * np.sum((ft - y) ** 2) / n) < 1e-12
        flow.step(1.0)
        assert flow.time == 4.0
        flow.set_time(float("inf"))
        assert relerr(flow.outputs(), y) < 1e-9
    # cross-entropy runs through the ODE integrator; the loss decreases
    yc = np.eye(2)[rng.integers(0, 2, size=n)]
    ce = ntk.Flow(K, yc, np.zeros((n, 2)), cost="cross_entropy")
    l0 = ce.loss()
    ce.set_time(5.0)
    assert ce.loss() < l0 and abs(l0 - math.log(2)) < 1e-14
    with pytest.raises(ntk.InvalidArgumentError):
        ce.predict()  # no test kernel


def test_train_one_step_is_gradient_descent(rng):
    w = [2, 12, 1]
    net = ntk.Network(w, "tanh", beta=0.2, seed=9)
    x, y = rng.normal(size=(5, 2)), rng.normal(size=5)
    theta, f, J = net.params, net.forward(x), net.jacobian(x)
    grad = J.T @ (f[:, 0] - y) / 5
    hist = net.train(x, y, learning_rate=0.3, steps=1)
    assert hist.shape == (2,)
    assert abs(hist[0] - 0.5 * np.sum((f[:, 0] - y) ** 2) / 5) < 1e-14
    assert relerr(net.params, theta - 0.3 * grad) < 1e-12
    hist = net.train(x, y, learning_rate=0.3, steps=30)
    assert hist[-1] < hist[0]


def test_spectrum_and_condition(rng):
    A = rng.normal(size=(9, 9))
    K = A @ A.T
    ev = np.linalg.eigvalsh(K)
    assert relerr(ntk.kernel_spectrum(K), ev) < 1e-10
    assert relerr(ntk.kernel_spectrum(K, "smallest", 2), ev[:2]) < 1e-9
    assert relerr(ntk.kernel_spectrum(K, "largest", 3), ev[::-1][:3]) < 1e-10
    c = ntk.kernel_condition(K)
    assert relerr([c.lambda_min, c.lambda_max, c.condition], [ev[0], ev[-1], ev[-1] / ev[0]]) < 1e-9


def test_custom_activation_python_callable(rng):
    x = rng.normal(size=(6, 2))
    builtin = ntk.Network([2, 30, 30, 1], "tanh", beta=0.1, seed=1)
    custom = ntk.Network([2, 30, 30, 1], "custom", beta=0.1, seed=1, sigma=math.tanh,
                         dsigma=lambda v: 1 - math.tanh(v) ** 2)
    assert relerr(custom.forward(x), builtin.forward(x)) < 1e-14
    assert relerr(ntk.kernel_empirical(custom, x), ntk.kernel_empirical(builtin, x)) < 1e-12
    # the limit kernel's numerical method calls sigma thousands of times per point: keep it small
    c2 = ntk.Network([2, 30, 1], "custom", sigma=math.tanh, dsigma=lambda v: 1 - math.tanh(v) ** 2)
    b2 = ntk.Network([2, 30, 1], "tanh")
    assert relerr(ntk.kernel_limit(c2, x[:2]), ntk.kernel_limit(b2, x[:2])) < 1e-12

    def bad(v):
        raise ZeroDivisionError("boom")

    broken = ntk.Network([2, 5, 1], "custom", sigma=bad, dsigma=bad)
    with pytest.raises(RuntimeError, match="custom activation") as e:
        broken.forward(x)
    assert isinstance(e.value.__cause__, ZeroDivisionError)
