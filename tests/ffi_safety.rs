//! Every `unsafe` block and `unsafe impl` in src/ffi carries a `// SAFETY:` comment: on its own
//! line, or in the run of comment lines just above the line that opens it (blank lines and the
//! first lines of the same statement, such as `let x =` or `Some(`, may stand between). And
//! src/ffi/mod.rs keeps `#![deny(unsafe_op_in_unsafe_fn)]` (with `#![deny(missing_docs)]`), so
//! that every unsafe operation in an `unsafe fn` sits in such a block.

use std::path::PathBuf;

fn ffi_sources() -> Vec<(PathBuf, String)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src/ffi");
    let mut v: Vec<(PathBuf, String)> = std::fs::read_dir(&dir)
        .expect("src/ffi exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            (p, text)
        })
        .collect();
    v.sort();
    assert!(v.len() >= 10, "expected the ffi modules, found {}", v.len());
    v
}

/// The code part of a line (before a `//` comment; string literals in src/ffi contain no `//`
/// before an `unsafe`, which is all this needs).
fn code(line: &str) -> &str {
    line.split("//").next().unwrap_or("")
}

/// Opens an unsafe block (`unsafe {`) or is an `unsafe impl`.
fn opens_unsafe(line: &str) -> bool {
    let c = code(line);
    let mut rest = c;
    while let Some(i) = rest.find("unsafe") {
        let before = rest[..i].chars().last();
        let after = rest[i + "unsafe".len()..].trim_start();
        let word_start = !matches!(before, Some(b) if b.is_alphanumeric() || b == '_');
        if word_start && (after.starts_with('{') || after.starts_with("impl")) {
            return true;
        }
        rest = &rest[i + "unsafe".len()..];
    }
    false
}

/// Lines of unsafe blocks without a SAFETY comment, as "path:line: text".
fn missing_safety(path: &std::path::Path, text: &str) -> (usize, Vec<String>) {
    let lines: Vec<&str> = text.lines().collect();
    let mut count = 0;
    let mut missing = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if !opens_unsafe(line) {
            continue;
        }
        count += 1;
        if line.contains("SAFETY:") {
            continue;
        }
        let mut ok = false;
        let mut j = i;
        let mut statement_lines = 0;
        while j > 0 {
            j -= 1;
            let t = lines[j].trim();
            if t.starts_with("//") {
                if t.contains("SAFETY:") {
                    ok = true;
                    break;
                }
                continue;
            }
            // The opening lines of the statement the block is part of.
            let continues = t.ends_with('=') || t.ends_with('(') || t.ends_with(',');
            if continues && statement_lines < 2 {
                statement_lines += 1;
                continue;
            }
            break;
        }
        if !ok {
            missing.push(format!("{}:{}: {}", path.display(), i + 1, line.trim()));
        }
    }
    (count, missing)
}

#[test]
fn every_unsafe_block_in_ffi_has_a_safety_comment() {
    let mut total = 0;
    let mut missing = Vec::new();
    for (path, text) in ffi_sources() {
        let (n, m) = missing_safety(&path, &text);
        total += n;
        missing.extend(m);
    }
    println!("{total} unsafe blocks/impls in src/ffi");
    assert!(total > 50, "the scan found only {total} unsafe blocks");
    assert!(
        missing.is_empty(),
        "unsafe blocks without a `// SAFETY:` comment:\n{}",
        missing.join("\n")
    );
}

#[test]
fn the_scan_flags_an_unsafe_block_without_a_comment() {
    let p = std::path::Path::new("x.rs");
    let bad = "fn f(p: *const u8) -> u8 {\n    let v = 1;\n    unsafe { *p }\n}\n";
    assert_eq!(missing_safety(p, bad).1.len(), 1);
    let good = "fn f(p: *const u8) -> u8 {\n    // SAFETY: p is valid.\n    unsafe { *p }\n}\n";
    assert_eq!(missing_safety(p, good), (1, vec![]));
    let stmt = "    // SAFETY: ok.\n    let x =\n        unsafe { *p };\n";
    assert_eq!(missing_safety(p, stmt), (1, vec![]));
    let fn_only = "pub unsafe extern \"C\" fn g() {}\nunsafe fn h() {}\n";
    assert_eq!(missing_safety(p, fn_only).0, 0);
    let no_impl = "struct A;\nunsafe impl Send for A {}\n";
    assert_eq!(missing_safety(p, no_impl).1.len(), 1);
}

#[test]
fn ffi_denies_unsafe_op_in_unsafe_fn_and_missing_docs() {
    let sources = ffi_sources();
    let (_, m) = sources
        .iter()
        .find(|(p, _)| p.ends_with("mod.rs"))
        .expect("src/ffi/mod.rs");
    for lint in ["#![deny(unsafe_op_in_unsafe_fn)]", "#![deny(missing_docs)]"] {
        assert!(
            m.lines().any(|l| l.trim() == lint),
            "src/ffi/mod.rs lacks {lint}"
        );
    }
}
