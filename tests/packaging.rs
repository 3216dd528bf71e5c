//! Packaging checks that need only a C/C++ compiler (issue #15):
//!
//! - `include/ntk.h` compiles as C++ (`c++ -std=c++11 -Wall -Wextra -Werror -pedantic`), and the
//!   C++ example `bindings/c/example.cpp` builds with those flags against the library this test
//!   run built and passes its own check (limit NTK of a ReLU network against the arc-cosine
//!   closed form to 1e-10, gradient descent lowers the loss, a bad shape throws);
//! - build.rs leaves the SONAME link `libntk.so.MAJOR -> libntk.so` in the profile directory
//!   (`target/release`, or under CARGO_TARGET_DIR), so a program linked with
//!   `-L target/release -lntk`, which records NEEDED libntk.so.MAJOR, finds the library there.

use std::path::{Path, PathBuf};
use std::process::Command;

const CXXFLAGS: &[&str] = &[
    "-std=c++11",
    "-Wall",
    "-Wextra",
    "-Werror",
    "-pedantic",
    "-O1",
];

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn cxx() -> String {
    std::env::var("CXX").unwrap_or_else(|_| "c++".into())
}

fn work_dir() -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("packaging");
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// `target/<profile>`: the test binary lives in `target/<profile>/deps`.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().to_path_buf()
}

/// The libntk.so this run built: `deps/` (cargo test) or the profile directory (cargo build).
fn shared_lib() -> PathBuf {
    let deps = profile_dir().join("deps");
    [deps.join("libntk.so"), profile_dir().join("libntk.so")]
        .into_iter()
        .find(|p| p.is_file())
        .expect("libntk.so built by cargo in target/<profile>/deps or target/<profile>")
}

fn run(cmd: &mut Command, what: &str) -> String {
    let out = cmd
        .env_remove("LD_LIBRARY_PATH")
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot start {cmd:?}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{what} failed ({}):\n--- stdout ---\n{stdout}\n--- stderr ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn major() -> &'static str {
    env!("CARGO_PKG_VERSION_MAJOR")
}

/// A directory with `libntk.so` and `libntk.so.MAJOR` pointing at `lib`.
fn lib_dir_for(lib: &Path, name: &str) -> PathBuf {
    let dir = work_dir().join(name);
    std::fs::create_dir_all(&dir).unwrap();
    for link in ["libntk.so".to_string(), format!("libntk.so.{}", major())] {
        let tmp = dir.join(format!(".{link}.{}", std::process::id()));
        let _ = std::fs::remove_file(&tmp);
        std::os::unix::fs::symlink(lib, &tmp).unwrap();
        std::fs::rename(&tmp, dir.join(link)).unwrap();
    }
    dir
}

#[test]
fn header_compiles_as_cxx11() {
    let src = work_dir().join("header_only.cpp");
    // Every declaration used from C++: enums, structs, function pointers, the extern "C" block.
    std::fs::write(
        &src,
        "#include \"ntk.h\"\n#include <cstddef>\n\
         static int cb(void *u, uint64_t d, uint64_t t) { (void)u; return d > t; }\n\
         int main() {\n  ntk_options o = {cb, NULL};\n  ntk_matrix m = {NULL, 0, 0, 1, 1};\n\
           ntk_status s = ntk_kernel_spectrum(m, NULL, 0, NTK_SPECTRUM_WHICH_ALL);\n\
           return (o.progress != NULL && s == NTK_STATUS_OK) ? 1 : 0;\n}\n",
    )
    .unwrap();
    run(
        Command::new(cxx())
            .args(CXXFLAGS)
            .arg("-fsyntax-only")
            .arg("-I")
            .arg(repo().join("include"))
            .arg(&src),
        "ntk.h as C++11",
    );
}

#[test]
fn cxx_example_builds_and_checks_itself() {
    let dir = lib_dir_for(&shared_lib(), "lib_cxx");
    let exe = work_dir().join("example_cpp");
    run(
        Command::new(cxx())
            .args(CXXFLAGS)
            .arg("-I")
            .arg(repo().join("include"))
            .arg(repo().join("bindings/c/example.cpp"))
            .arg("-o")
            .arg(&exe)
            .arg(format!("-L{}", dir.display()))
            .arg("-lntk")
            .arg(format!("-Wl,-rpath,{}", dir.display())),
        "building bindings/c/example.cpp",
    );
    let out = run(&mut Command::new(&exe), "example_cpp");
    assert!(
        out.contains(&format!("ntk {}", env!("CARGO_PKG_VERSION"))),
        "{out}"
    );
    assert!(
        out.contains("largest relative difference from the closed form"),
        "{out}"
    );
    assert!(
        out.contains("expected error: NTK_STATUS_INVALID_ARGUMENT"),
        "{out}"
    );
}

#[test]
fn profile_dir_has_the_soname_link() {
    let link = profile_dir().join(format!("libntk.so.{}", major()));
    let target = std::fs::read_link(&link)
        .unwrap_or_else(|e| panic!("{}: {e} (build.rs should create it)", link.display()));
    assert_eq!(
        target,
        Path::new("libntk.so"),
        "{} points elsewhere",
        link.display()
    );
    // With `cargo build` the link resolves: a program linked against the profile directory,
    // recording NEEDED libntk.so.MAJOR, runs from its rpath alone. (`cargo test` alone puts the
    // library only in deps/, where the link is not needed.)
    if profile_dir().join("libntk.so").is_file() {
        let exe = work_dir().join("needs_soname");
        let src = work_dir().join("needs_soname.c");
        std::fs::write(
            &src,
            "#include \"ntk.h\"\n#include <stdio.h>\n#include <string.h>\n\
             int main(void) { puts(ntk_version()); return strcmp(ntk_version(), NTK_VERSION_STRING) != 0; }\n",
        )
        .unwrap();
        let pd = profile_dir();
        run(
            Command::new("cc")
                .args(["-std=c99", "-Wall", "-Werror"])
                .arg("-I")
                .arg(repo().join("include"))
                .arg(&src)
                .arg("-o")
                .arg(&exe)
                .arg(format!("-L{}", pd.display()))
                .arg("-lntk")
                .arg(format!("-Wl,-rpath,{}", pd.display())),
            "linking against the profile directory",
        );
        let needed = run(Command::new("readelf").arg("-d").arg(&exe), "readelf");
        assert!(
            needed.contains(&format!("[libntk.so.{}]", major())),
            "{needed}"
        );
        let out = run(
            &mut Command::new(&exe),
            "program linked against target/<profile>",
        );
        assert_eq!(out.trim(), env!("CARGO_PKG_VERSION"));
    }
}

/// The `NAME[i,j] = VALUE` lines of an output of bindings/c/example.c.
fn example_numbers(out: &str) -> Vec<String> {
    out.lines()
        .filter(|l| l.contains("] = ") && l.contains('['))
        .map(|l| l.trim().to_string())
        .collect()
}

/// The Julia and R suites compare their results bitwise with the C example's printed numbers,
/// committed as `bindings/{julia,r}/tests/c_example_output.txt` so that the installed packages'
/// suites need no repository paths; this checks those copies are the example's current output.
#[test]
fn committed_c_example_outputs_are_current() {
    let dir = lib_dir_for(&shared_lib(), "lib_example");
    let exe = work_dir().join("example_c");
    run(
        Command::new("cc")
            .args(["-std=c99", "-O2"])
            .arg("-I")
            .arg(repo().join("include"))
            .arg(repo().join("bindings/c/example.c"))
            .arg("-o")
            .arg(&exe)
            .arg(format!("-L{}", dir.display()))
            .arg("-lntk")
            .arg(format!("-Wl,-rpath,{}", dir.display()))
            .arg("-lm"),
        "building bindings/c/example.c",
    );
    let now = example_numbers(&run(&mut Command::new(&exe), "example"));
    assert!(now.len() >= 20, "{now:?}");
    for copy in [
        "bindings/julia/test/c_example_output.txt",
        "bindings/r/tests/c_example_output.txt",
    ] {
        let committed = std::fs::read_to_string(repo().join(copy)).unwrap();
        assert_eq!(
            example_numbers(&committed),
            now,
            "{copy} is stale: regenerate it with the output of bindings/c/example.c"
        );
    }
}

/// The Julia and R suites check 36 architectures against neural-tangents from a copy of
/// tests/data/arch_nt.txt without its Jacobian and empirical-NTK lines (the packages' suites need
/// no repository paths); this checks the copies are current.
#[test]
fn committed_architecture_references_are_current() {
    let full = std::fs::read_to_string(repo().join("tests/data/arch_nt.txt")).unwrap();
    let want: String = full
        .lines()
        .filter(|l| !l.starts_with("mat jac ") && !l.starts_with("mat entk "))
        .map(|l| format!("{l}\n"))
        .collect();
    for copy in [
        "bindings/julia/test/arch_nt.txt",
        "bindings/r/tests/sourced/arch_nt.txt",
    ] {
        let committed = std::fs::read_to_string(repo().join(copy)).unwrap();
        assert!(
            committed == want,
            "{copy} is stale: regenerate it with grep -v -E '^mat (jac|entk) ' tests/data/arch_nt.txt"
        );
    }
}
