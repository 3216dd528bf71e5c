//! The committed header must equal what cbindgen generates from the current sources, and the
//! version macros must match Cargo.toml.

use std::ffi::CStr;

#[test]
fn committed_header_is_current() {
    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/include/ntk.h"))
        .expect("include/ntk.h exists");
    assert!(
        committed == ntk::GENERATED_HEADER,
        "include/ntk.h is stale: regenerate it with `NTK_BLESS_HEADER=1 cargo build` and commit it"
    );
}

#[test]
fn version_macros_match_cargo_toml() {
    let manifest =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml")).unwrap();
    let version = manifest
        .lines()
        .find_map(|l| l.strip_prefix("version = \""))
        .and_then(|l| l.strip_suffix('"'))
        .expect("Cargo.toml has a version line");
    let parts: Vec<&str> = version.split('.').collect();
    let header = ntk::GENERATED_HEADER;
    for (name, value) in ["MAJOR", "MINOR", "PATCH"].iter().zip(&parts) {
        let line = format!("#define NTK_VERSION_{name} {value}\n");
        assert!(header.contains(&line), "header lacks `{}`", line.trim());
    }
    assert!(header.contains(&format!("#define NTK_VERSION_STRING \"{version}\"")));
    let from_lib = unsafe { CStr::from_ptr(ntk::ffi::ntk_version()) }
        .to_str()
        .unwrap();
    assert_eq!(from_lib, version);
}
