"""The predictive law (ntk.predict) and the CG solver (ntk.solve) against NumPy references:
the law's closed form through numpy.linalg.eigh, the GP posterior through numpy.linalg.solve,
kernel regression through numpy.linalg.solve on kernels from ntk.kernel_limit/kernel_empirical
(checked against neural-tangents in test_neural_tangents.py); errors, progress and cancel."""

import numpy as np
import pytest

import ntk
from conftest import relerr


def _problem(rng, n=24, m=7, n0=3, k=2):
    x = rng.normal(size=(n, n0))
    xt = rng.normal(size=(m, n0))
    y = np.column_stack([np.sin(x[:, 0]), np.cos(x[:, 1] + x[:, 2])])[:, :k]
    return x, y, xt


def _kernels(net, x, xt):
    z = np.vstack([x, xt])
    sigma, theta = ntk.kernel_limit(net, z, get=("nngp", "ntk"))
    n = x.shape[0]
    blocks = lambda a: (a[:n, :n], a[n:, :n], a[n:, n:])  # noqa: E731
    return blocks(sigma), blocks(theta)


def _law_reference(theta, sigma, y, t, ridge=0.0, nngp=False):
    """mean, cov of the law by the formulas of docs/predict.md with numpy.linalg.eigh."""
    txx, ttx, _ = sigma if nngp else theta
    sxx, stx, stt = sigma
    n = txx.shape[0]
    lam, u = np.linalg.eigh(txx + ridge * np.eye(n))
    decay = -np.expm1(-lam * t / n) if np.isfinite(t) else np.ones_like(lam)
    psi = (u * (decay / lam)) @ u.T
    mean = ttx @ psi @ y
    if nngp:
        d2 = -np.expm1(-2 * lam * t / n) if np.isfinite(t) else np.ones_like(lam)
        cov = stt - stx @ ((u * (d2 / lam)) @ u.T) @ stx.T
    else:
        a = ttx @ psi @ stx.T
        cov = stt + ttx @ psi @ sxx @ psi @ ttx.T - (a + a.T)
    return mean, cov


@pytest.mark.parametrize("act", ["relu", "erf"])
def test_ntk_law_matches_eigh_formula(rng, act):
    net = ntk.Network([3, 16, 16, 2], act, beta=0.1)
    x, y, xt = _problem(rng)
    sigma, theta = _kernels(net, x, xt)
    for t in [0.0, 3.0, 50.0, np.inf]:
        ridge = 1e-3 if t == np.inf else 0.0
        law = ntk.PredictiveLaw(theta[0], y, nngp_train=sigma[0], ridge=ridge)
        ts = ntk.PredictiveTestSet(law, theta[1], nngp_test_train=sigma[1], nngp_test_test=sigma[2])
        assert ts.cov == "full" and (law.n, law.k, ts.m) == (24, 2, 7)
        mean, cov = ntk.ensemble_law(ts, t)
        rmean, rcov = _law_reference(theta, sigma, y, t, ridge)
        scale = np.max(np.abs(rcov))
        assert mean.shape == (7, 2) and cov.shape == (7, 7)
        assert np.max(np.abs(mean - rmean)) <= 1e-9 * max(np.max(np.abs(rmean)), 1.0)
        assert np.max(np.abs(cov - rcov)) <= 1e-9 * scale
        assert np.array_equal(cov, cov.T)
        if t == 0.0:
            assert np.all(mean == 0.0) and relerr(cov, sigma[2]) <= 1e-12
        # variances only: from the full test set, and from a test set given the prior diagonal
        _, var = ntk.ensemble_law(ts, t, cov="diagonal")
        assert var.shape == (7,) and np.max(np.abs(var - np.diag(rcov))) <= 1e-9 * scale
        tsd = ntk.PredictiveTestSet(law, theta[1], nngp_test_train=sigma[1], nngp_test_test=np.diag(sigma[2]))
        assert tsd.cov == "diagonal"
        m2, var2 = ntk.ensemble_law(tsd, t)
        assert np.array_equal(m2, mean) and np.max(np.abs(var2 - var)) <= 1e-12 * scale
        # the one-call form from points: same kernels, same law
        pm, pc = ntk.ensemble_law(net, x, y, xt, t, ridge=ridge)
        assert np.max(np.abs(pm - rmean)) <= 1e-9 * max(np.max(np.abs(rmean)), 1.0)
        assert np.max(np.abs(pc - rcov)) <= 1e-9 * scale
        # means only (no Sigma): the test set allows no covariance
        lm = ntk.PredictiveLaw(theta[0], y, ridge=ridge)
        tm = ntk.PredictiveTestSet(lm, theta[1])
        mo, co = ntk.ensemble_law(tm, t)
        assert co is None and np.max(np.abs(mo - mean)) <= 1e-12 * max(np.max(np.abs(mean)), 1.0)
        with pytest.raises(ntk.InvalidArgumentError):
            ntk.ensemble_law(tm, t, cov="diagonal")


def test_nngp_law_at_infinity_is_the_gp_posterior(rng):
    net = ntk.Network([3, 8, 1], "relu", beta=0.2)
    x, y, xt = _problem(rng, k=1)
    sigma, _theta = _kernels(net, x, xt)
    sxx, stx, stt = sigma
    lam = 1e-2
    relative = lam * np.trace(sxx) / sxx.shape[0]
    mean, cov = ntk.ensemble_law(net, x, y[:, 0], xt, np.inf, law="nngp", ridge=lam, ridge_relative=True)
    a = sxx + relative * np.eye(sxx.shape[0])
    rmean = stx @ np.linalg.solve(a, y)
    rcov = stt - stx @ np.linalg.solve(a, stx.T)
    assert relerr(mean, rmean) <= 1e-9
    assert np.max(np.abs(cov - rcov)) <= 1e-9 * np.max(np.abs(stt))
    law = ntk.PredictiveLaw(sxx, y, law="nngp", ridge=lam, ridge_relative=True)
    m2, c2 = ntk.ensemble_law(ntk.PredictiveTestSet(law, stx, nngp_test_test=stt), np.inf)
    assert relerr(m2, rmean) <= 1e-9 and np.max(np.abs(c2 - rcov)) <= 1e-9 * np.max(np.abs(stt))
    # finite time: the eigh formula
    rm, rc = _law_reference(None, sigma, y, 7.0, nngp=True)
    m3, c3 = ntk.ensemble_law(ntk.PredictiveTestSet(ntk.PredictiveLaw(sxx, y, law="nngp"), stx, nngp_test_test=stt), 7.0)
    assert np.max(np.abs(m3 - rm)) <= 1e-9 * np.max(np.abs(rm)) and np.max(np.abs(c3 - rc)) <= 1e-9 * np.max(np.abs(stt))


def test_predict_errors_and_handles(rng):
    net = ntk.Network([3, 8, 1], "relu")
    x, y, xt = _problem(rng, k=1)
    sigma, theta = _kernels(net, x, xt)
    with pytest.raises(ntk.NumericalError):  # not PSD
        ntk.PredictiveLaw(-theta[0], y)
    bad = theta[0].copy()
    bad[3, 4] = np.nan
    with pytest.raises(ntk.NonFiniteError, match="kernel_train"):
        ntk.PredictiveLaw(bad, y)
    with pytest.raises(ntk.InvalidArgumentError):  # the NNGP law takes no separate Sigma
        ntk.PredictiveLaw(sigma[0], y, nngp_train=sigma[0], law="nngp")
    with pytest.raises(ntk.InvalidArgumentError):  # y has the wrong number of rows
        ntk.PredictiveLaw(theta[0], y[:-1])
    with pytest.raises(ntk.InvalidArgumentError, match="ridge"):
        ntk.PredictiveLaw(theta[0], y, ridge=-1.0)
    with pytest.raises(ValueError, match="unknown law"):
        ntk.PredictiveLaw(theta[0], y, law="bayes")
    law = ntk.PredictiveLaw(theta[0], y, nngp_train=sigma[0])
    with pytest.raises(ntk.InvalidArgumentError):  # M x N expected
        ntk.PredictiveTestSet(law, theta[1][:, :-1])
    ts = ntk.PredictiveTestSet(law, theta[1], nngp_test_train=sigma[1], nngp_test_test=np.diag(sigma[2]))
    with pytest.raises(ntk.InvalidArgumentError):  # a full covariance needs Sigma_** as M x M
        ntk.ensemble_law(ts, 1.0, cov="full")
    with pytest.raises(ntk.InvalidArgumentError):
        ntk.ensemble_law(ts, -1.0)
    with pytest.raises(ntk.NonFiniteError):
        ntk.ensemble_law(ts, np.nan)
    with pytest.raises(ValueError, match="unknown cov"):
        ntk.ensemble_law(ts, 1.0, cov="banded")
    with pytest.raises(TypeError):
        ntk.ensemble_law(theta[1], 1.0)
    with pytest.raises(ntk.InvalidArgumentError):  # x_test has the wrong width
        ntk.ensemble_law(net, x, y, xt[:, :2], 1.0)
    # the test set stays valid after its law is closed (they share the data)
    law.close()
    law.close()
    assert "closed" in repr(law)
    mean, var = ntk.ensemble_law(ts, 1.0)
    assert mean.shape == (7, 1) and var.shape == (7,)
    with pytest.raises(ValueError, match="closed"):
        ntk.PredictiveTestSet(law, theta[1])
    with ts:
        pass
    with pytest.raises(ValueError, match="closed"):
        ntk.ensemble_law(ts, 1.0)


def test_predict_progress_and_cancel(rng):
    net = ntk.Network([3, 8, 1], "relu")
    x, y, xt = _problem(rng, k=1)
    sigma, theta = _kernels(net, x, xt)
    seen = []
    law = ntk.PredictiveLaw(theta[0], y, nngp_train=sigma[0], progress=lambda d, t: seen.append((d, t)) and False)
    assert seen and seen[-1][0] == seen[-1][1] == 4
    with pytest.raises(ntk.CancelledError):
        ntk.PredictiveLaw(theta[0], y, progress=lambda d, t: True)
    ts = ntk.PredictiveTestSet(law, theta[1], nngp_test_train=sigma[1], nngp_test_test=sigma[2])
    with pytest.raises(ntk.CancelledError):
        ntk.ensemble_law(ts, 1.0, progress=lambda d, t: True)
    with pytest.raises(ntk.CancelledError):
        ntk.ensemble_law(net, x, y, xt, 1.0, progress=lambda d, t: True)

    def boom(d, t):
        raise RuntimeError("from the callback")

    with pytest.raises(RuntimeError, match="from the callback"):
        ntk.PredictiveTestSet(law, theta[1], progress=boom)


@pytest.mark.parametrize("kernel", ["ntk", "nngp", "empirical"])
def test_kernel_regression_matches_numpy_solve(rng, kernel):
    net = ntk.Network([3, 32, 32, 1], "relu", beta=0.1, seed=3)
    x = rng.normal(size=(300, 3))
    xt = rng.normal(size=(40, 3))
    y = np.column_stack([np.sin(x[:, 0]), x[:, 1] * x[:, 2], np.zeros(300)])
    if kernel == "empirical":
        k_xx, k_tx = ntk.kernel_empirical(net, x), ntk.kernel_empirical(net, xt, x)
    else:
        k_xx, k_tx = ntk.kernel_limit(net, x, get=kernel), ntk.kernel_limit(net, xt, x, get=kernel)
    lam = 1e-3
    ref = np.linalg.solve(k_xx + lam * np.eye(300), y)
    s = ntk.KernelSolver(net, x, kernel=kernel, rank=40)
    info = s.info()
    assert info.num_points == 300 and 0 < info.rank <= 40 and info.cached_rows == 0
    assert relerr(info.trace, np.trace(k_xx)) <= 1e-10 and 0 <= info.trace_residual < info.trace
    r = ntk.kernel_regression(s, y, lam=lam, rtol=1e-11)
    assert r.iterations > 0 and r.kernel_passes >= r.iterations and r.residual <= 1e-11
    # the true residual, independently
    res = np.linalg.norm(y[:, :2] - (k_xx + lam * np.eye(300)) @ r.alpha[:, :2], axis=0) / np.linalg.norm(y[:, :2], axis=0)
    assert np.all(res <= 1e-10)
    cond = np.linalg.cond(k_xx + lam * np.eye(300))
    assert np.max(np.abs(r.alpha - ref)) <= 1e-10 * cond * np.max(np.abs(ref))
    assert np.all(r.alpha[:, 2] == 0.0)  # a zero column gives alpha = 0
    f = ntk.kernel_predict(s, xt, r.alpha)
    assert f.shape == (40, 3) and relerr(f[:, :2], k_tx @ r.alpha[:, :2]) <= 1e-10
    # vectors in, vectors out; strided out= arrays; plain CG and a row cache give the same bits
    r1 = ntk.kernel_regression(s, y[:, 0], lam=lam, rtol=1e-11)
    assert r1.alpha.shape == (300,) and ntk.kernel_predict(s, xt, r1.alpha).shape == (40,)
    out = np.zeros((3, 300)).T
    r2 = ntk.kernel_regression(s, y, lam=lam, rtol=1e-11, out=out)
    assert r2.alpha is out and np.array_equal(out, r.alpha)
    cached = ntk.KernelSolver(net, x, kernel=kernel, rank=40, cache_bytes=8 * 300 * 300)
    assert cached.info().cached_rows == 300
    assert np.array_equal(ntk.kernel_regression(cached, y, lam=lam, rtol=1e-11).alpha, r.alpha)
    plain = ntk.KernelSolver(net, x, kernel=kernel, rank=0)
    assert plain.info().rank == 0
    rp = ntk.kernel_regression(plain, y, lam=lam, rtol=1e-9, max_iterations=5000)
    assert rp.iterations >= r.iterations and np.max(np.abs(rp.alpha - ref)) <= 1e-8 * cond * np.max(np.abs(ref))


def test_solver_errors_progress_cancel(rng):
    net = ntk.Network([3, 16, 1], "relu", beta=0.1)
    x = rng.normal(size=(200, 3))
    y = np.sin(x[:, 0])
    with pytest.raises(ntk.InvalidArgumentError):
        ntk.KernelSolver(net, x[:, :2])
    bad = x.copy()
    bad[5, 1] = np.inf
    with pytest.raises(ntk.NonFiniteError, match="x"):
        ntk.KernelSolver(net, bad)
    with pytest.raises(ValueError, match="unknown solver kernel"):
        ntk.KernelSolver(net, x, kernel="rbf")
    with pytest.raises(ValueError, match="rank"):
        ntk.KernelSolver(net, x, rank=-1)
    with pytest.raises(ntk.CancelledError):
        ntk.KernelSolver(net, x, progress=lambda d, t: True)
    s = ntk.KernelSolver(net, x, rank=5)
    with pytest.raises(ntk.InvalidArgumentError, match="lambda"):
        ntk.kernel_regression(s, y, lam=-1.0)
    with pytest.raises(ntk.InvalidArgumentError):
        ntk.kernel_regression(s, y[:-1])
    with pytest.raises(ntk.InvalidArgumentError, match="rtol"):
        ntk.kernel_regression(s, y, rtol=2.0)
    yn = y.copy()
    yn[7] = np.nan
    with pytest.raises(ntk.NonFiniteError, match="y"):
        ntk.kernel_regression(s, yn)
    out = np.full(200, 5.0)
    with pytest.raises(ntk.NumericalError, match="residual"):  # rtol not reached in 2 iterations
        ntk.kernel_regression(s, y, lam=1e-6, rtol=1e-14, max_iterations=2, out=out[:, None])
    assert np.all(out == 5.0)  # written only on success
    # progress: (iteration, max_iterations); the solver's own progress gives the residual
    seen = []

    def watch(done, total):
        it, res = s.progress()
        seen.append((done, total, it, res))
        return False

    r = ntk.kernel_regression(s, y, lam=1e-3, max_iterations=500, progress=watch)
    assert seen and all(t == 500 for _, t, _, _ in seen)
    assert max(d for d, _, _, _ in seen) <= r.iterations
    residuals = [res for _, _, it, res in seen if it > 0]
    assert residuals and all(np.isfinite(residuals)) and min(residuals) < residuals[0]
    assert ntk.solver_progress(s).iteration == r.iterations
    assert ntk.solver_info(s) == s.info()
    calls = []
    with pytest.raises(ntk.CancelledError):
        ntk.kernel_regression(s, y, lam=1e-3, progress=lambda d, t: calls.append(d) or len(calls) > 2)
    with pytest.raises(ntk.CancelledError):
        ntk.kernel_predict(s, x, r.alpha, progress=lambda d, t: True)
    with pytest.raises(ntk.InvalidArgumentError):  # alpha has the wrong number of rows
        ntk.kernel_predict(s, x, r.alpha[:-1])
    s.close()
    s.close()
    assert repr(s) == "ntk.KernelSolver(closed)"
    with pytest.raises(ValueError, match="closed"):
        ntk.kernel_regression(s, y)


def test_ctrl_c_cancels_solver_and_law_calls():
    import os
    import signal
    import threading
    import time

    net = ntk.Network([3, 8, 1], "relu", beta=0.1)
    x = np.sin(np.arange(3 * 3000) * 1.3).reshape(3000, 3)
    s = ntk.KernelSolver(net, x, rank=0)
    # rtol 1e-15 is out of reach: CG would run 2000 passes of ~4.5e6 kernel entries (minutes)
    timer = threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGINT))
    t0 = time.perf_counter()
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        ntk.kernel_regression(s, np.cos(x[:, 0]), lam=1e-3, rtol=1e-15, max_iterations=2000)
    timer.join()
    assert time.perf_counter() - t0 < 30
    assert s.info().num_points == 3000  # usable afterwards
    # tanh limit kernels (numerical integration) of 2600 points in ensemble_law: seconds of work
    tnet = ntk.Network([3, 8, 1], "tanh")
    timer = threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGINT))
    t0 = time.perf_counter()
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        ntk.ensemble_law(tnet, x[:2000], np.cos(x[:2000, 0]), x[2000:2600], 1.0, cov="diagonal")
    timer.join()
    assert time.perf_counter() - t0 < 30
