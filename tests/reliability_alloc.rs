//! Allocation failure never aborts (issue #20's flake: "probe gemm 200" aborted with "memory
//! allocation of 67108864 bytes failed" under RLIMIT_AS). The C probes `probe_issue20 gemm LIMIT`
//! (flow_create 512 x 512, flow_set_time, spectrum 64 x 64) and `probe_predict_solve` (predictor
//! law, ensemble law, CG solver of 4000 points) run in their own processes, 3 times at each of
//! several address-space limits from 64 MiB to 1 GiB: each must exit 0, i.e. every call returned
//! OK with the checked result or ALLOCATION naming what it could not reserve (the probes check
//! this and that outputs stay untouched) — never a signal (abort) or a hang (killed by
//! `timeout`, exit 124).

#![cfg(target_os = "linux")]

mod common;

use std::path::PathBuf;
use std::process::Command;

/// `bindings/c/tests/NAME.c` compiled against this build's libntk.a (`-Werror`).
fn compile(name: &str) -> PathBuf {
    common::compile_c_test(name, "reliability_alloc")
}

/// Runs `exe args` under `timeout 120`; returns a failure description unless it exited 0.
fn run(exe: &std::path::Path, args: &[&str]) -> Option<String> {
    let out = Command::new("timeout")
        .arg("120")
        .arg(exe)
        .args(args)
        .output()
        .expect("coreutils timeout");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    match out.status.code() {
        Some(0) => None,
        Some(124) => Some(format!("{args:?}: hang (killed after 120 s)\n{text}")),
        Some(c) => Some(format!("{args:?}: exit {c}\n{text}")),
        None => Some(format!(
            "{args:?}: killed by a signal ({})\n{text}",
            out.status
        )),
    }
}

#[test]
fn large_entry_points_never_abort_under_address_space_limits() {
    let gemm = compile("probe_issue20");
    let ps = compile("probe_predict_solve");
    let mut failed = Vec::new();
    for round in 0..3 {
        for lim in ["64", "128", "180", "200", "256", "512", "1024"] {
            failed.extend(run(&gemm, &["gemm", lim]));
        }
        for (case, head) in [
            ("predictor", "1"),
            ("predictor", "64"),
            ("predictor", "1024"),
            ("solver", "40"),
            ("solver", "80"),
            ("solver", "100"),
        ] {
            let want = if head == "1" || head == "40" {
                "alloc"
            } else {
                "any"
            };
            failed.extend(run(&ps, &[case, head, want]));
        }
        eprintln!("round {round}: {} failures so far", failed.len());
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}
