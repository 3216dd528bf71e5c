//! Compiles the C reliability programs `bindings/c/tests/reliability_*.c` and `probe_*.c`
//! against the static library this `cargo test` built and runs them. They use the one harness bindings/c/tests/ntk_test.h: each
//! exits non-zero on any failed check, and each run must also print `all N checks passed` with
//! N > 0 (so a program or case that silently checks nothing fails too):
//! - `reliability_contract.c`: the bad-input contract from C (statuses, messages naming the
//!   argument, outputs untouched);
//! - `reliability_threads.c`: 4 pthreads on one shared network get the serial bits; per-thread
//!   last error; 1/2/8 library threads bit-identical; cancel at every progress call leaves the
//!   handle usable with unchanged results.
//!
//! - `reliability_issue20.c`: the in-process regressions of issue #20 (broadcast kernels that
//!   cannot be allocated, NaN in the limit chain for every output subset, subnormal kernels, flow
//!   options, the argument blamed, one monotone progress sequence);
//! - `probe_predict_solve.c`: the predictive law and the solver under an address-space limit
//!   (ALLOCATION, never an abort): see [`probe_predict_solve_under_address_space_limits`];
//! - `probe_issue20.c`: the process-level cases of issue #20, each run in its own process
//!   under a time limit (and an RLIMIT_AS limit where the case is about memory): see
//!   [`probe_cases_in_their_own_processes`].
//!
//! The same programs run under valgrind and AddressSanitizer in scripts/sanitizers.sh.

mod common;
use common::{c_checks_count, c_checks_passed};

use std::path::PathBuf;
use std::process::Command;

/// `bindings/c/tests/NAME.c` compiled against this build's libntk.a (`-Werror`).
fn compile(name: &str) -> PathBuf {
    common::compile_c_test(name, "c_reliability")
}

/// Compiles and runs `name`: it must exit 0 and print its `all N checks passed` line, N > 0.
fn compile_and_run(name: &str) {
    let exe = compile(name);
    let run = Command::new(&exe).output().unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{name} failed ({}):\n{stdout}\n{}",
        run.status,
        String::from_utf8_lossy(&run.stderr)
    );
    print!("{stdout}");
    c_checks_passed(&stdout, name);
}

#[test]
fn the_summary_line_is_required() {
    assert_eq!(c_checks_count("x\nprog: all 12 checks passed\n"), Some(12));
    for bad in [
        "prog: all 0 checks passed\n",
        "prog: ok\n",
        "prog: 1 of 3 checks FAILED\n",
        "",
    ] {
        assert_eq!(c_checks_count(bad), None, "{bad:?}");
    }
}

#[test]
fn c_bad_input_contract() {
    compile_and_run("reliability_contract");
}

#[test]
fn c_threads_determinism_and_cancel() {
    compile_and_run("reliability_threads");
}

#[test]
fn c_issue20_regressions() {
    compile_and_run("reliability_issue20");
}

/// Runs `exe args` in its own process, killed after `limit` seconds; returns (exit code or None
/// for a signal, elapsed seconds, stdout + stderr).
fn run_limited(exe: &std::path::Path, args: &[&str], limit: f64) -> (Option<i32>, f64, String) {
    use std::io::Read;
    let t0 = std::time::Instant::now();
    let mut child = Command::new(exe)
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut text = String::new();
            child
                .stdout
                .take()
                .unwrap()
                .read_to_string(&mut text)
                .unwrap();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut text)
                .unwrap();
            return (status.code(), t0.elapsed().as_secs_f64(), text);
        }
        if t0.elapsed().as_secs_f64() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return (None, limit, format!("killed after {limit} s (a hang)"));
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// Issue #20, the process-level properties, each case in its own process with a time limit:
/// - `broadcast` (1 GiB address space): spectrum, condition and flow_create on broadcast N x N
///   kernels, N = 2^14 .. SIZE_MAX/2, return ALLOCATION, each call within 1 s (it hung for N =
///   2^20 and took 10 s at 2^16);
/// - `property` (1 GiB): 200 random unallocatable sizes through every kernel-taking function
///   (and flow_create's test_kernel): ALLOCATION, slowest call under 0.2 s (O(1): scanning the smallest takes seconds);
/// - `gemm` at 180, 200 and 1500 MB: flow_create 512 x 512 and spectrum 64 x 64 return OK or
///   ALLOCATION, never abort (SIGABRT in 3 of 3 runs before, faer's GEMM buffer); `gemm_ok`
///   without a limit is OK (the control);
/// - `budget`: custom sigma = sin(1000 x), 3 points (it ran for more than 60 s without a progress
///   call before): NUMERICAL naming the per-point bound of quadrature panels, with progress calls
///   at most 0.5 s apart and monotone; `pair_budget`: sigma = sin(100 x), whose per-point
///   expansions converge: NUMERICAL naming PAIR_EVAL_BUDGET (about 1 s); `cancel`: sin(100 x)
///   cancelled after 0.3 s returns CANCELLED within 1 s.
#[test]
fn probe_cases_in_their_own_processes() {
    let exe = compile("probe_issue20");
    let cases: [(&[&str], f64); 9] = [
        (&["broadcast", "1024"], 20.0),
        (&["property", "1024"], 20.0),
        (&["gemm", "180"], 30.0),
        (&["gemm", "200"], 30.0),
        (&["gemm", "1500"], 30.0),
        (&["gemm_ok"], 60.0),
        (&["budget"], 60.0),
        (&["pair_budget"], 60.0),
        (&["cancel"], 20.0),
    ];
    let mut failed = Vec::new();
    for (args, limit) in cases {
        let (code, secs, text) = run_limited(&exe, args, limit);
        println!("probe {args:?}: exit {code:?} in {secs:.2} s\n{text}");
        if code != Some(0) || c_checks_count(&text).is_none() {
            failed.push(format!("{args:?}: exit {code:?} after {secs:.2} s\n{text}"));
        }
    }
    assert!(
        failed.is_empty(),
        "probe cases failed:\n{}",
        failed.join("\n")
    );
}

/// The predictive law and the CG solver under an address-space limit (`probe_predict_solve.c`),
/// each case in its own process: the limit is what the process uses after its setup plus a
/// headroom in MB.
/// - `predictor` (+1, +16, +64, +1500 MB): after ntk_set_num_threads made a new pool (whose
///   threads have no faer GEMM buffer yet), ntk_predictor_test_create, ntk_predictor_law,
///   ntk_predictor_create and ntk_ensemble_law return OK or ALLOCATION naming faer's workspace
///   (ALLOCATION required at +1 MB; here all four headrooms give it, the buffer being ~1 GB per
///   thread on this machine), never abort (without ensure_gemm_workspace in src/predict
///   test_create aborted with "memory allocation of 1006632960 bytes failed", 3 of 3 headrooms);
///   without a limit all OK (the control);
/// - `solver` (+1, +8, +40 MB): ntk_solver_create of 4000 points, rank 200, a 64 MiB row cache
///   returns ALLOCATION (the cache, a tile or the factor); +80, +100 MB: OK or ALLOCATION; without
///   a limit create, solve and predict are OK.
#[test]
fn probe_predict_solve_under_address_space_limits() {
    let exe = compile("probe_predict_solve");
    let cases: [&[&str]; 11] = [
        &["predictor", "1", "alloc"],
        &["predictor", "64", "any"],
        &["predictor", "1500", "any"],
        &["predictor", "0", "ok"],
        &["solver", "1", "alloc"],
        &["solver", "8", "alloc"],
        &["solver", "40", "alloc"],
        &["solver", "80", "any"],
        &["solver", "100", "any"],
        &["solver", "0", "ok"],
        &["predictor", "16", "any"],
    ];
    let mut failed = Vec::new();
    for args in cases {
        let (code, secs, text) = run_limited(&exe, args, 60.0);
        println!("probe {args:?}: exit {code:?} in {secs:.2} s\n{text}");
        if code != Some(0) || c_checks_count(&text).is_none() {
            failed.push(format!("{args:?}: exit {code:?} after {secs:.2} s\n{text}"));
        }
    }
    assert!(
        failed.is_empty(),
        "probe cases failed:\n{}",
        failed.join("\n")
    );
}
