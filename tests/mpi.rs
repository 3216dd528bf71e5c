//! Builds the MPI program `bindings/c/mpi/ntk_mpi.c` (through its Makefile, with mpicc and
//! `-std=c99 -Wall -Wextra -Werror -pedantic`) against the libntk.a of this build and runs it
//! with `mpirun -np 2` (one library thread per rank) in check mode: the row blocks of the limit
//! and empirical NTK computed by the two ranks must equal the single-process kernels bit for bit,
//! and the distributed kernel gradient descent (train and test predictions) must equal the
//! single-process flow to 1e-12. A second run uses 3 ranks and sizes that do not divide evenly.
//! `mpi_solver_matches_single_process` runs the distributed PCG solver (ntk_mpi_solve.c) at
//! -np 2 and 3 against the single-process ntk_solver (alpha and predictions <= 1e-10).
//! Both also run one case with the architecture options (issue #13: `--parameterization
//! standard`, non-unit per-layer `--w-std` / `--b-std`, per-layer `--activation`), checked
//! against the single-process library in the same way.
//!
//! When mpicc or mpirun is missing the test is skipped with a message, except under CI=true,
//! where it fails (CI installs OpenMPI via scripts/install-deps.sh).

mod common;
use common::lib_dir;

use std::path::PathBuf;
use std::process::Command;

fn on_path(tool: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// The directory holding libntk.a of THIS build (cargo puts it next to the test binary).

fn run(cmd: &mut Command, what: &str) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot start: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{what} failed ({}):\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}",
        out.status
    );
    print!("{stdout}");
    stdout
}

#[test]
fn mpi_program_matches_single_process() {
    let ci = std::env::var("CI").map(|v| v == "true").unwrap_or(false);
    if !(on_path("mpicc") && on_path("mpirun")) {
        assert!(
            !ci,
            "CI=true but mpicc/mpirun are not on PATH (install libopenmpi-dev openmpi-bin)"
        );
        eprintln!("SKIPPED: mpicc/mpirun not found (apt-get install libopenmpi-dev openmpi-bin)");
        return;
    }
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("mpi");
    std::fs::create_dir_all(&out).unwrap();
    let _ = std::fs::remove_file(out.join("ntk_mpi"));
    run(
        Command::new("make")
            .current_dir(repo.join("bindings/c/mpi"))
            .arg(format!("NTK_LIB_DIR={}", lib_dir().display()))
            .arg(format!(
                "NTK_INCLUDE_DIR={}",
                repo.join("include").display()
            ))
            .arg(format!("OUT={}", out.display())),
        "building ntk_mpi",
    );
    let exe = out.join("ntk_mpi");
    for (np, args) in [
        ("2", vec!["-c", "-1"]),
        ("3", vec!["-c", "-1", "-N", "301", "-M", "50", "-s", "20"]),
        // Issue #13: standard parameterization, non-unit per-layer sigma_w / sigma_b, per-layer
        // activations (built with ntk_network_create_arch); eta scaled down by the width, as the
        // standard-parameterization kernel grows like n_l.
        (
            "3",
            vec![
                "-c",
                "-1",
                "-N",
                "151",
                "-M",
                "31",
                "-s",
                "20",
                "-e",
                "0.005",
                "--parameterization",
                "standard",
                "--w-std",
                "1.5",
                "--b-std",
                "0.3,0.2,0.1",
                "--activation",
                "erf,relu",
            ],
        ),
    ] {
        let stdout = run(
            Command::new("mpirun")
                .args(["--allow-run-as-root", "--oversubscribe", "-np", np])
                .arg(&exe)
                .args(&args),
            &format!("mpirun -np {np} ntk_mpi {}", args.join(" ")),
        );
        assert!(stdout.trim_end().ends_with("PASS"), "{stdout}");
        if args.contains(&"standard") {
            assert!(
                stdout.contains("architecture: L = 3, standard parameterization, sigma_w = 1.5 1.5 1.5, sigma_b = 0.3 0.2 0.1"),
                "architecture options not applied: {stdout}"
            );
        }
        for kind in ["limit", "empirical"] {
            assert!(
                stdout.contains(&format!(
                    "{kind}: train kernel blocks vs single-process: 0 of"
                )),
                "{kind} kernel not checked: {stdout}"
            );
        }
    }
}

/// The distributed PCG kernel regression (bindings/c/mpi/ntk_mpi_solve.c): -np 2 and -np 3
/// (uneven row blocks, cached blocks, 3 right-hand sides, no preconditioner) give the same alpha
/// and predictions as the single-process ntk_solver_solve / ntk_solver_predict to <= 1e-10
/// relative (the program checks and prints PASS; the differences are parsed here too).
#[test]
fn mpi_solver_matches_single_process() {
    let ci = std::env::var("CI").map(|v| v == "true").unwrap_or(false);
    if !(on_path("mpicc") && on_path("mpirun")) {
        assert!(
            !ci,
            "CI=true but mpicc/mpirun are not on PATH (install libopenmpi-dev openmpi-bin)"
        );
        eprintln!("SKIPPED: mpicc/mpirun not found (apt-get install libopenmpi-dev openmpi-bin)");
        return;
    }
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("mpi-solve");
    std::fs::create_dir_all(&out).unwrap();
    let _ = std::fs::remove_file(out.join("ntk_mpi_solve"));
    run(
        Command::new("make")
            .current_dir(repo.join("bindings/c/mpi"))
            .arg(format!("NTK_LIB_DIR={}", lib_dir().display()))
            .arg(format!(
                "NTK_INCLUDE_DIR={}",
                repo.join("include").display()
            ))
            .arg(format!("OUT={}", out.display()))
            .arg(out.join("ntk_mpi_solve")),
        "building ntk_mpi_solve",
    );
    let exe = out.join("ntk_mpi_solve");
    for (np, args) in [
        ("2", vec!["-c", "-1"]),
        (
            "3",
            vec![
                "-c", "-1", "-N", "1301", "-M", "77", "-k", "3", "-r", "40", "-C",
            ],
        ),
        (
            "3",
            vec![
                "-c", "-1", "-N", "700", "-M", "50", "-k", "1", "-r", "0", "-l", "1e-3",
            ],
        ),
        // Issue #13: standard parameterization, per-layer sigma_w, uniform sigma_b, erf then
        // ReLU, hidden width 32 (the standard limit kernel depends on it).
        (
            "3",
            vec![
                "-c",
                "-1",
                "-N",
                "301",
                "-M",
                "31",
                "-k",
                "2",
                "-r",
                "20",
                "-w",
                "32",
                "--parameterization",
                "standard",
                "--w-std",
                "1.2,1.5,0.8",
                "--b-std",
                "0.5",
                "--activation",
                "erf,relu",
            ],
        ),
    ] {
        let stdout = run(
            Command::new("mpirun")
                .args(["--allow-run-as-root", "--oversubscribe", "-np", np])
                .arg(&exe)
                .args(&args),
            &format!("mpirun -np {np} ntk_mpi_solve {}", args.join(" ")),
        );
        assert!(stdout.trim_end().ends_with("PASS"), "{stdout}");
        for what in ["alpha", "predictions"] {
            let line = stdout
                .lines()
                .find(|l| l.starts_with(&format!("check: {what} vs single-process")))
                .unwrap_or_else(|| panic!("no {what} check: {stdout}"));
            let diff: f64 = line
                .split("relative difference ")
                .nth(1)
                .and_then(|s| s.split_whitespace().next())
                .and_then(|s| s.parse().ok())
                .unwrap_or_else(|| panic!("cannot parse: {line}"));
            assert!(diff <= 1e-10, "{line}");
        }
    }
}
