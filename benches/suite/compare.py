#!/usr/bin/env python3
"""Before/after comparison of ntk's benchmark rows, in one sitting. Usually started by
scripts/bench-compare.sh, which builds the two libraries.

For each workload of run.py (filtered by --only), for each of --rounds rounds, the row runs once
with the BEFORE library and once with the AFTER library (alternating, so that a drift in the
machine's load hits both alike), each time in a fresh subprocess with one warm-up and --runs timed
runs. Reported per row:
- the median over all timed runs of each library;
- ratio = median(after) / median(before);
- noise: the spread of the per-round ratios (min–max), which is what the machine's variation does
  to a ratio of two identical programs;
- max rel. diff: the largest |after − before| / max|before| over the row's outputs (0 means the
  same bits).
A row "slows down beyond noise" when its ratio is above 1 and above every per-round ratio's
spread: the verdict column says `slower`, `faster` or `same` (within noise).
"""
import argparse
import os
import statistics
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import run  # noqa: E402  (the suite's workloads and its worker launcher)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--before", required=True, help="libntk.so of the BEFORE revision")
    ap.add_argument("--after", required=True, help="libntk.so of the AFTER revision")
    ap.add_argument("--labels", default="before,after")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--only", default="", help="comma-separated substrings of workload names")
    ap.add_argument("--timeout", type=int, default=900)
    args = ap.parse_args()
    libs = {"before": os.path.abspath(args.before), "after": os.path.abspath(args.after)}
    labels = dict(zip(("before", "after"), args.labels.split(",")))
    filters = [s for s in args.only.split(",") if s]
    tmp = tempfile.mkdtemp(prefix="ntk-compare-")
    print(f"bench-compare: {labels['before']} = {libs['before']}\n"
          f"               {labels['after']} = {libs['after']}\n"
          f"               {args.rounds} rounds x {args.runs} runs, {args.threads} threads, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}", flush=True)
    head = ["workload", labels["before"], labels["after"], "ratio", "per-round ratios", "max rel. diff", "verdict"]
    print(" | ".join(head), flush=True)
    failed = False
    for name in run.WORKLOADS:
        if filters and not any(f in name for f in filters):
            continue
        times = {"before": [], "after": []}
        per_round = []
        saves = {}
        for r in range(args.rounds):
            med = {}
            for which in ("before", "after"):
                os.environ["NTK_LIB"] = libs[which]
                save = os.path.join(tmp, f"{which}-{len(saves)}.npz")
                res = run.run_worker(sys.executable, "ntk", name, args.threads, args.runs, save, args.timeout)
                if "times" not in res:
                    print(f"{name} | {which}: {res.get('error', '?')}", flush=True)
                    failed = True
                    break
                saves[which] = save
                times[which] += res["times"]
                med[which] = statistics.median(res["times"])
            else:
                per_round.append(med["after"] / med["before"])
                continue
            break
        if len(per_round) < args.rounds:
            continue
        mb, ma = statistics.median(times["before"]), statistics.median(times["after"])
        ratio = ma / mb
        lo, hi = min(per_round), max(per_round)
        # Beyond noise: the pooled ratio leaves the band that the round-to-round spread spans
        # around 1 (|ratio − 1| larger than the spread's half-width plus 2 %).
        half = (hi - lo) / 2 + 0.02
        verdict = "slower" if ratio > 1 + half else "faster" if ratio < 1 - half else "same"
        diff = run.max_rel_diff(saves["after"], saves["before"])
        print(f"{name} | {run.fmt_t(mb)} | {run.fmt_t(ma)} | {ratio:.3f} | {lo:.3f}–{hi:.3f} | "
              f"{diff:.1e} | {verdict}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
