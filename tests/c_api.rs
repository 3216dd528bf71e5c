//! Compiles the C programs of `bindings/c/` against the library cargo just built and runs them.
//!
//! - every `bindings/c/tests/test_*.c` is compiled with `cc -std=c99 -Wall -Wextra -Werror
//!   -pedantic` and linked dynamically (rpath on the build directory); `test_network.c` is also
//!   linked statically (`libntk.a -lpthread -ldl -lm`), so both artifacts are exercised;
//! - the example `bindings/c/example.c` is built through its Makefile (dynamic and static) and run;
//! - when `valgrind` is on PATH (CI installs it; under CI=true its absence fails the test), each
//!   test program also runs under
//!   `valgrind --leak-check=full`, failing on any memory error or definite/indirect leak.
//!   (Rayon's worker threads are alive at exit, so their thread-local blocks show as "possibly
//!   lost"; those are not counted.) Set NTK_SKIP_VALGRIND=1 to skip that part.
//!
//! The library is located next to this test binary: cargo builds integration tests and the
//! crate's cdylib/staticlib into `target/<profile>/deps/` in the same invocation, so `cargo test`
//! and `cargo test --release` both test exactly what they built (see [`lib_dir`]).
//! Adding a C test later is mechanical: drop `bindings/c/tests/test_<topic>.c` (include
//! `ntk_test.h`, end `main` with `return ntk_test_summary("test_<topic>");`).

mod common;
use common::{c_checks_passed, lib_dir};

use std::path::{Path, PathBuf};
use std::process::Command;

const CFLAGS: &[&str] = common::C_TEST_CFLAGS;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The directory holding libntk.so and libntk.a of THIS build. `cargo test` compiles the crate's
/// cdylib and staticlib, in the same rustc invocation as the rlib the tests link, into
/// `target/<profile>/deps/` (next to this test binary); only `cargo build` also copies them up to
/// `target/<profile>/`. So the test binary's own directory is searched first, then its parent.
/// SONAME recorded in a shared library (`readelf -d`), if any.
fn soname(lib: &Path) -> Option<String> {
    let out = Command::new("readelf").arg("-d").arg(lib).output().ok()?;
    String::from_utf8_lossy(&out.stdout).lines().find_map(|l| {
        let rest = &l[l.find("(SONAME)")?..];
        Some(rest[rest.find('[')? + 1..rest.find(']')?].to_string())
    })
}

/// A directory holding `libntk.so` and, when the library has a SONAME (e.g. `libntk.so.0`, set
/// by an install build), a link of that name too, so that executables linked with `-lntk` find
/// the library at run time through their rpath whatever the SONAME.
fn dyn_lib_dir() -> PathBuf {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(make_dyn_lib_dir).clone()
}

fn make_dyn_lib_dir() -> PathBuf {
    let real = lib_dir().join("libntk.so");
    let dir = build_dir().join("lib");
    std::fs::create_dir_all(&dir).unwrap();
    let mut names = vec!["libntk.so".to_string()];
    names.extend(soname(&real));
    for name in names {
        // create under a private name, then rename over: atomic for concurrent test runs
        let tmp = dir.join(format!(".{name}.{}", std::process::id()));
        let _ = std::fs::remove_file(&tmp);
        std::os::unix::fs::symlink(&real, &tmp).unwrap();
        std::fs::rename(&tmp, dir.join(name)).unwrap();
    }
    dir
}

fn build_dir() -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("c_api");
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn cc() -> String {
    std::env::var("CC").unwrap_or_else(|_| "cc".into())
}

/// Runs a command, panicking with its output when it fails; returns stdout. LD_LIBRARY_PATH
/// (cargo points it at target/<profile>) is removed, so executables find libntk through their
/// rpath exactly as they would outside cargo.
fn run(cmd: &mut Command, what: &str) -> String {
    let out = cmd
        .env_remove("LD_LIBRARY_PATH")
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot start {cmd:?}: {e}"));
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

enum Link {
    Dynamic,
    Static,
}

fn compile(source: &Path, exe: &Path, link: Link) {
    let lib = lib_dir();
    let mut cmd = Command::new(cc());
    cmd.args(CFLAGS)
        .arg("-I")
        .arg(repo().join("include"))
        .arg("-I")
        .arg(repo().join("bindings/c/tests"))
        .arg(source)
        .arg("-o")
        .arg(exe);
    match link {
        Link::Dynamic => {
            let lib = dyn_lib_dir();
            cmd.arg(format!("-L{}", lib.display()))
                .arg("-lntk")
                .arg(format!("-Wl,-rpath,{}", lib.display()))
                .arg("-lm");
        }
        Link::Static => {
            cmd.arg(lib.join("libntk.a"))
                .args(["-lpthread", "-ldl", "-lm"]);
        }
    }
    run(&mut cmd, &format!("compiling {}", source.display()));
}

fn c_tests() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(repo().join("bindings/c/tests"))
        .expect("bindings/c/tests exists")
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.starts_with("test_") && name.ends_with(".c")
        })
        .collect();
    v.sort();
    assert!(!v.is_empty(), "no C test programs found");
    v
}

fn exe_path(source: &Path, suffix: &str) -> PathBuf {
    build_dir().join(format!(
        "{}{suffix}",
        source.file_stem().unwrap().to_string_lossy()
    ))
}

#[test]
fn c_test_programs_pass_dynamically_linked() {
    for src in c_tests() {
        let exe = exe_path(&src, "-dynamic");
        compile(&src, &exe, Link::Dynamic);
        let out = run(
            &mut Command::new(&exe),
            &format!("running {}", exe.display()),
        );
        c_checks_passed(&out, &src.display().to_string());
    }
}

#[test]
fn c_test_program_passes_statically_linked() {
    let src = repo().join("bindings/c/tests/test_network.c");
    let exe = exe_path(&src, "-static");
    compile(&src, &exe, Link::Static);
    let out = run(&mut Command::new(&exe), "running the static test_network");
    c_checks_passed(&out, "the static test_network");
    // Statically linked: no dependency on libntk.so.
    if let Ok(ldd) = Command::new("ldd").arg(&exe).output() {
        assert!(!String::from_utf8_lossy(&ldd.stdout).contains("libntk"));
    }
}

#[test]
fn c_example_builds_with_its_makefile_and_runs() {
    let dir = build_dir().join("example");
    std::fs::create_dir_all(&dir).unwrap();
    let lib = lib_dir();
    // Remove the executables so that make rebuilds them. Not `make -B`: that would also remake
    // the library prerequisites (`cargo build --release`), which rewrites target/release/deps/
    // libntk.a while other tests of this binary link against it.
    for exe in ["example-dynamic", "example-static"] {
        let _ = std::fs::remove_file(dir.join(exe));
    }
    run(
        Command::new("make")
            .arg("-C")
            .arg(repo().join("bindings/c"))
            .arg(format!("NTK_LIB_DIR={}", lib.display()))
            .arg(format!("OUT={}", dir.display()))
            .arg(format!("CC={}", cc()))
            .arg("all"),
        "make -C bindings/c all",
    );
    for exe in ["example-dynamic", "example-static"] {
        let out = run(&mut Command::new(dir.join(exe)), exe);
        assert!(out.contains(&format!("ntk {}", env!("CARGO_PKG_VERSION"))));
        assert!(out.contains("P = 66817 parameters"), "{out}");
        assert!(out.contains("NTK_STATUS_INVALID_ARGUMENT"), "{out}");
        for line in [
            "Theta_inf[0,7] = ",
            "K_emp[0,7] = ",
            "f_t[7,0] = ",
            "loss[20,0] = ",
        ] {
            assert!(out.contains(line), "the example prints {line:?}: {out}");
        }
    }
}

/// True under CI (`.ci/run` exports `CI=true`). There a missing tool is a failure, not a skip:
/// `scripts/install-deps.sh` installs valgrind and pkg-config, so their absence means the
/// environment is broken and the test would otherwise pass without checking anything.
fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Skips (returns false) when `tool` is missing outside CI; panics when it is missing under CI.
fn require_tool(tool: &str, present: bool, what: &str) -> bool {
    if present {
        return true;
    }
    assert!(
        !in_ci(),
        "CI=true but {tool} is not on PATH, so {what} cannot run \
         (scripts/install-deps.sh installs it: apt-get install {tool})"
    );
    eprintln!("*** {tool} not found: SKIPPING {what} ***");
    false
}

fn have_valgrind() -> bool {
    Command::new("valgrind")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn c_test_programs_are_clean_under_valgrind() {
    if std::env::var_os("NTK_SKIP_VALGRIND").is_some() {
        // an explicit request, not a missing tool; CI never sets it
        eprintln!("NTK_SKIP_VALGRIND set: skipping the valgrind run");
        return;
    }
    if !require_tool(
        "valgrind",
        have_valgrind(),
        "the valgrind run of the C tests",
    ) {
        return;
    }
    for src in c_tests() {
        let exe = exe_path(&src, "-valgrind");
        compile(&src, &exe, Link::Dynamic);
        let out = run(
            Command::new("valgrind")
                .args([
                    "--leak-check=full",
                    "--errors-for-leak-kinds=definite,indirect",
                    "--error-exitcode=1",
                    "--quiet",
                ])
                .arg(&exe),
            &format!("valgrind {}", exe.display()),
        );
        c_checks_passed(&out, &format!("valgrind {}", exe.display()));
    }
}

/// `scripts/install.sh --no-build` of this build into a temporary prefix, then the example and
/// test_network built from the installed copy through `pkg-config --cflags --libs ntk` (dynamic)
/// and `pkg-config --static` (static). The full install build with SONAME is exercised by
/// `scripts/test-all.sh` (it runs `scripts/test-install.sh` without --no-build).
#[test]
fn installed_copy_builds_with_pkg_config() {
    let have_pkg_config = Command::new("pkg-config")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !require_tool("pkg-config", have_pkg_config, "the install test") {
        return;
    }
    let out = run(
        Command::new("bash")
            .arg(repo().join("scripts/test-install.sh"))
            .arg("--no-build")
            .arg("--from")
            .arg(lib_dir()),
        "scripts/test-install.sh --no-build",
    );
    assert!(out.contains("test-install: OK"));
}
