#!/usr/bin/env python3
"""Benchmark suite: every workload of the performance issue, for ntk and (with --peer) for
neural-tangents, side by side. Usually started by scripts/bench.sh, which builds the library and
prepares the Python environment.

Each (library, workload, threads) runs in a fresh subprocess so that peak RSS is its own; inside
it the workload runs once untimed (JIT compilation for JAX, page faults for both) and then
`--runs` timed times. The table reports the median and min–max, peak RSS (VmHWM) and, with the
peer, the ratio peer/ntk and the largest relative difference between the two results.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

# name: (kind, parameters)
WORKLOADS = {
    "limit relu N=2000": ("limit", {"act": "relu", "n": 2000}),
    "limit relu N=4000": ("limit", {"act": "relu", "n": 4000}),
    "limit erf N=2000": ("limit", {"act": "erf", "n": 2000}),
    "limit tanh N=400": ("limit", {"act": "tanh", "n": 400}),
    "limit tanh N=2000": ("limit", {"act": "tanh", "n": 2000}),
    # Issue #13: standard parameterization, σ_w² = 2, σ_b² = 0.01, widths 100-512⁴-1.
    "limit relu standard N=2000": ("limit_arch", {"act": "relu", "n": 2000}),
    "empirical trace N=256": ("empirical", {"n": 256, "outputs": 1}),
    "empirical trace N=1024": ("empirical", {"n": 1024, "outputs": 1}),
    "empirical full k=10 N=256": ("empirical", {"n": 256, "outputs": 10}),
    "MSE flow N=2000": ("flow", {"n": 2000}),
    "MSE flow N=4000": ("flow", {"n": 4000}),
    "ensemble law N=2000 M=500": ("ensemble", {"n": 2000, "m": 500}),
}
# neural-tangents' quadrature needs O(N²·deg²) memory: 80 GB at N = 2000 (out of memory here).
PEER_SKIP = {"limit tanh N=2000": "ElementwiseNumerical needs ~80 GB (N²·deg² doubles)"}
TIMES = [1.0, 10.0, 100.0]
ENSEMBLE_TIMES = [10.0, 100.0, float("inf")]


def vmhwm_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def make_inputs(kind, p):
    import numpy as np
    rng = np.random.default_rng(20181)
    if kind in ("limit", "limit_arch"):
        return {"x": rng.standard_normal((p["n"], 100))}
    if kind == "empirical":
        return {"x": rng.standard_normal((p["n"], 100))}
    n, m = p["n"], p.get("m", p["n"] // 4)
    x = rng.standard_normal((n + m, 100))
    y = rng.standard_normal((n, 1))
    return {"x": x, "y": y, "n": n}


def flow_kernels(inputs):
    """The ReLU limit NTK of train and test points, from ntk (not timed)."""
    import numpy as np
    import ntk_workloads as K
    x, n = inputs["x"], inputs["n"]
    net = K.network([100, 1, 1, 1, 1, 1], "relu")
    tot = x.shape[0]
    nngp, ntk = np.empty((tot, tot)), np.empty((tot, tot))
    K.limit_into(net, x, nngp, ntk)
    return np.ascontiguousarray(ntk[:n, :n]), np.ascontiguousarray(ntk[n:, :n])


def worker(args):
    import numpy as np
    kind, p = WORKLOADS[args.workload]
    inputs = make_inputs(kind, p)
    if args.worker == "ntk":
        import ntk_workloads as W
        W.set_threads(args.threads)
    else:
        import nt_workloads as W
    if kind == "limit":
        run, result = W.limit(p["act"], inputs["x"])
    elif kind == "limit_arch":
        run, result = W.limit_arch(inputs["x"])
    elif kind == "empirical":
        if args.worker == "ntk":
            run, result = W.empirical(inputs["x"], p["outputs"])
        else:
            import ntk_workloads as K
            net = K.empirical_network(p["outputs"])
            theta = K.params(net)
            run, result = W.empirical(inputs["x"], p["outputs"], theta,
                                      K.EMPIRICAL_WIDTHS + [p["outputs"]])
    elif kind == "ensemble":
        run, result = W.ensemble(inputs["x"], inputs["n"], inputs["y"], ENSEMBLE_TIMES)
    else:
        kt, ktt = flow_kernels(inputs)
        run, result = W.flow(kt, ktt, inputs["y"], TIMES)
    base = vmhwm_mb()
    out = run()  # warm-up (JIT compilation, first-touch page faults)
    times = []
    for _ in range(args.runs):
        t0 = time.perf_counter()
        out = run()
        times.append(time.perf_counter() - t0)
    res = result(out)
    if args.save:
        if isinstance(res, dict):
            np.savez(args.save, **res)
        else:
            np.savez(args.save, k=res)
    print(json.dumps({"times": times, "rss_mb": vmhwm_mb(), "base_rss_mb": base}))


def run_worker(python, lib, workload, threads, runs, save, timeout):
    cmd = [python, os.path.abspath(__file__), "--worker", lib, "--workload", workload,
           "--threads", str(threads), "--runs", str(runs), "--save", save]
    # neural-tangents runs with XLA's default threading (all cores).
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout} s"}
    if p.returncode != 0:
        tail = (p.stderr or p.stdout).strip().splitlines()[-1:] or ["?"]
        return {"error": f"exit {p.returncode}: {tail[0][:120]}"}
    return json.loads(p.stdout.strip().splitlines()[-1])


def max_rel_diff(a_file, b_file):
    import numpy as np
    a, b = np.load(a_file), np.load(b_file)
    worst = 0.0
    for key in a.files:
        x, y = a[key], b[key]
        worst = max(worst, float(np.max(np.abs(x - y)) / np.max(np.abs(y))))
    return worst


def fmt_t(t):
    return f"{t:.3f}" if t >= 0.01 else f"{t * 1e3:.2f}ms"


def cpu_description():
    """Model name and the vector extensions ntk dispatches on (from /proc/cpuinfo)."""
    try:
        text = open("/proc/cpuinfo").read()
    except OSError:
        return "unknown CPU"
    model = next((l.split(":", 1)[1].strip() for l in text.splitlines()
                  if l.startswith("model name")), "unknown CPU")
    flags = set(next((l.split(":", 1)[1].split() for l in text.splitlines()
                      if l.startswith("flags")), []))
    isa = "AVX-512F" if "avx512f" in flags else "AVX2+FMA" if {"avx2", "fma"} <= flags else "SSE2"
    return f"{model}, {isa}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--peer", action="store_true", help="also run neural-tangents (needs it installed)")
    ap.add_argument("--peer-python", default=sys.executable, help="python with neural-tangents")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--threads", default="1,2", help="thread counts for ntk, e.g. 1,2,16")
    ap.add_argument("--only", default="", help="substring filter on workload names")
    ap.add_argument("--json", default="", help="write all measurements to this file")
    ap.add_argument("--timeout", type=int, default=900)
    ap.add_argument("--worker", choices=["ntk", "nt"], help=argparse.SUPPRESS)
    ap.add_argument("--workload", help=argparse.SUPPRESS)
    ap.add_argument("--save", default="", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        args.threads = int(args.threads.split(",")[0])
        return worker(args)

    threads = [int(t) for t in args.threads.split(",")]
    tmp = tempfile.mkdtemp(prefix="ntk-bench-")
    rows = []
    print(f"ntk benchmark suite — {time.strftime('%Y-%m-%d %H:%M')} — {os.cpu_count()} CPUs "
          f"({cpu_description()}) — median of {args.runs} runs (after one warm-up), "
          f"load average {os.getloadavg()[0]:.1f}", flush=True)
    for name, (kind, _) in WORKLOADS.items():
        if args.only and args.only not in name:
            continue
        row = {"workload": name, "ntk": {}}
        for th in threads:
            runs = args.runs if not (kind == "limit" and "tanh N=2000" in name) else max(3, args.runs // 2)
            r = run_worker(sys.executable, "ntk", name, th, runs, os.path.join(tmp, f"ntk-{len(rows)}-{th}.npz"),
                           args.timeout)
            row["ntk"][th] = r
        if args.peer:
            if name in PEER_SKIP:
                row["nt"] = {"error": "not run: " + PEER_SKIP[name]}
            else:
                save = os.path.join(tmp, f"nt-{len(rows)}.npz")
                row["nt"] = run_worker(args.peer_python, "nt", name, max(threads), args.runs, save, args.timeout)
                mine = os.path.join(tmp, f"ntk-{len(rows)}-{max(threads)}.npz")
                if "times" in row["nt"] and "times" in row["ntk"][max(threads)]:
                    row["max_rel_diff"] = max_rel_diff(mine, save)
        rows.append(row)
        print_row(row, threads, args.peer)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    return 0


HEADER_DONE = []


def print_row(row, threads, peer):
    if not HEADER_DONE:
        cols = [f"{'workload':28}"]
        for th in threads:
            cols.append(f"{'ntk ' + str(th) + 'T median (min–max) s':30}")
        cols.append(f"{'peak RSS MB':>11}")
        if len(threads) > 1:
            cols.append(f"{'par.eff':>7}")
        if peer:
            cols += [f"{'neural-tangents s':>18}", f"{'ratio':>7}", f"{'max rel diff':>12}"]
        print("  ".join(cols))
        HEADER_DONE.append(1)
    cols = [f"{row['workload']:28}"]
    med = {}
    for th in threads:
        r = row["ntk"][th]
        if "times" in r:
            med[th] = statistics.median(r["times"])
            cols.append(f"{fmt_t(med[th]) + ' (' + fmt_t(min(r['times'])) + '–' + fmt_t(max(r['times'])) + ')':30}")
        else:
            cols.append(f"{r['error'][:30]:30}")
    top = row["ntk"][threads[-1]]
    cols.append(f"{top.get('rss_mb', float('nan')):11.0f}")
    if len(threads) > 1:
        if threads[0] in med and threads[-1] in med:
            eff = med[threads[0]] * threads[0] / (med[threads[-1]] * threads[-1])
            cols.append(f"{eff:7.2f}")
        else:
            cols.append(f"{'':7}")
    if peer:
        nt = row.get("nt", {})
        if "times" in nt:
            m = statistics.median(nt["times"])
            ratio = m / med[threads[-1]] if threads[-1] in med else float("nan")
            cols += [f"{fmt_t(m):>18}", f"{ratio:6.1f}x", f"{row.get('max_rel_diff', float('nan')):12.1e}"]
        else:
            cols += [f"{nt.get('error', '')[:60]}"]
    print("  ".join(cols), flush=True)


if __name__ == "__main__":
    sys.exit(main())
