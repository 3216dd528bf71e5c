//! Generates the C header `ntk.h` from the `extern "C"` layer with cbindgen.
//!
//! The header is always written to `$OUT_DIR/ntk.h`; the committed copy in `include/ntk.h` is
//! compared against it by `tests/header.rs`. To refresh the committed copy, build with
//! `NTK_BLESS_HEADER=1 cargo build`.

use std::env;
use std::path::PathBuf;

/// Puts `libntk.so.MAJOR -> libntk.so` in the profile directory (`target/release`, or under
/// `CARGO_TARGET_DIR`), so that a program linked with `-L target/release -lntk` records
/// NEEDED libntk.so.MAJOR (the SONAME) and finds it there at run time. The build script runs
/// before the library is linked: the link dangles until then, which is harmless.
fn soname_link(out_dir: &std::path::Path, major: &str) {
    // OUT_DIR is <profile dir>/build/ntk-<hash>/out.
    let Some(profile_dir) = out_dir.ancestors().nth(3) else {
        return;
    };
    let link = profile_dir.join(format!("libntk.so.{major}"));
    if std::fs::read_link(&link).is_ok_and(|t| t == std::path::Path::new("libntk.so")) {
        return;
    }
    let _ = std::fs::remove_file(&link);
    #[cfg(unix)]
    if let Err(e) = std::os::unix::fs::symlink("libntk.so", &link) {
        println!("cargo:warning=could not create {}: {e}", link.display());
    }
}

fn main() {
    let crate_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let out_dir = PathBuf::from(env::var("OUT_DIR").unwrap());
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-env-changed=NTK_BLESS_HEADER");

    let major = env::var("CARGO_PKG_VERSION_MAJOR").unwrap();
    let minor = env::var("CARGO_PKG_VERSION_MINOR").unwrap();
    let patch = env::var("CARGO_PKG_VERSION_PATCH").unwrap();
    let version = env::var("CARGO_PKG_VERSION").unwrap();

    // The shared library's SONAME carries the major version (ABI compatibility), as a C user
    // expects: libntk.so -> libntk.so.MAJOR -> libntk.so.MAJOR.MINOR.PATCH after install.
    if env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libntk.so.{major}");
        soname_link(&out_dir, &major);
    }

    let mut config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml"))
        .expect("cbindgen.toml is readable and valid");
    config.after_includes = Some(format!(
        "\n#define NTK_VERSION_MAJOR {major}\n#define NTK_VERSION_MINOR {minor}\n#define NTK_VERSION_PATCH {patch}\n#define NTK_VERSION_STRING \"{version}\"\n"
    ));

    let header = out_dir.join("ntk.h");
    match cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config)
        .generate()
    {
        Ok(bindings) => {
            bindings.write_to_file(&header);
        }
        Err(e) => {
            // A syntax error in src/ is reported by rustc with better context; do not fail here.
            println!("cargo:warning=cbindgen could not generate ntk.h: {e}");
            std::fs::write(&header, "/* cbindgen failed; see build warnings */\n").unwrap();
        }
    }
    if env::var_os("NTK_BLESS_HEADER").is_some() {
        std::fs::copy(&header, crate_dir.join("include").join("ntk.h")).unwrap();
    }
}
