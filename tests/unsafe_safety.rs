//! Every `unsafe` block and `unsafe impl` in src/ (src/ffi included) carries a `// SAFETY:` comment on one
//! of the 3 lines before it (or on its own line), and the crate denies unsafe operations in
//! `unsafe fn` bodies that are not inside such a block. A source check, so that neither can
//! regress unnoticed; src/ffi/mod.rs also repeats the deny (and denies missing_docs) so that
//! both hold for the C layer whatever the crate root says.

mod common;

use common::rust_files;
use std::path::Path;

/// The lines (1-based) of `text` that open an `unsafe` block or an `unsafe impl` without a
/// `SAFETY:` comment on that line or one of the 3 before it. Comment lines and the contents of
/// string literals on one line are not code; `unsafe fn` and `unsafe extern` are not blocks.
fn unjustified(text: &str) -> Vec<usize> {
    let lines: Vec<&str> = text.lines().collect();
    let mut bad = Vec::new();
    for (k, line) in lines.iter().enumerate() {
        let code = line.split("//").next().unwrap_or("");
        if !opens_unsafe(code) {
            continue;
        }
        let from = k.saturating_sub(3);
        if !lines[from..=k].iter().any(|l| l.contains("// SAFETY:")) {
            bad.push(k + 1);
        }
    }
    bad
}

/// Whether `code` (one line, comments stripped) has `unsafe {` or `unsafe impl` outside a
/// string literal.
fn opens_unsafe(code: &str) -> bool {
    let mut in_str = false;
    let mut outside = String::new();
    let mut prev = ' ';
    for c in code.chars() {
        if c == '"' && prev != '\\' {
            in_str = !in_str;
        } else if !in_str {
            outside.push(c);
        }
        prev = c;
    }
    let words: Vec<&str> = outside
        .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '{'))
        .filter(|w| !w.is_empty())
        .collect();
    words
        .windows(2)
        .any(|w| w[0] == "unsafe" && (w[1].starts_with('{') || w[1] == "impl"))
        || words.iter().any(|w| *w == "unsafe{")
}

#[test]
fn the_check_sees_what_it_should() {
    assert_eq!(unjustified("let x = unsafe { f() };"), vec![1]);
    assert_eq!(
        unjustified("a\nb\nc\nd\n// SAFETY: no\ne\nf\ng\nunsafe {\n"),
        vec![9]
    );
    assert_eq!(
        unjustified("// SAFETY: p is valid\nlet x = unsafe { *p };"),
        Vec::<usize>::new()
    );
    assert_eq!(unjustified("unsafe impl Send for X {}"), vec![1]);
    assert_eq!(
        unjustified("// SAFETY: plain data\nunsafe impl Send for X {}"),
        Vec::<usize>::new()
    );
    assert_eq!(
        unjustified("unsafe fn f() {}\n/// unsafe { doc }\nlet s = \"unsafe {\";"),
        Vec::<usize>::new()
    );
    assert_eq!(
        unjustified("f(); // then unsafe { g() } in a comment"),
        Vec::<usize>::new()
    );
}

#[test]
fn every_unsafe_block_has_a_safety_comment() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    let mut missing = Vec::new();
    let mut blocks = 0;
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        blocks += text
            .lines()
            .filter(|l| opens_unsafe(l.split("//").next().unwrap()))
            .count();
        for line in unjustified(&text) {
            missing.push(format!(
                "{}:{line}",
                f.strip_prefix(root).unwrap().display()
            ));
        }
    }
    assert!(
        blocks > 20,
        "found only {blocks} unsafe blocks: is the walk broken?"
    );
    assert!(
        missing.is_empty(),
        "`unsafe` without a `// SAFETY:` comment within the 3 lines before it:\n{}",
        missing.join("\n")
    );
}

#[test]
fn the_crate_denies_unsafe_operations_outside_unsafe_blocks() {
    let lib = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/lib.rs")).unwrap();
    assert!(lib
        .lines()
        .any(|l| l.trim() == "#![deny(unsafe_op_in_unsafe_fn)]"));
}

#[test]
fn the_c_layer_denies_unsafe_operations_and_missing_docs() {
    let m =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/ffi/mod.rs")).unwrap();
    for lint in ["#![deny(unsafe_op_in_unsafe_fn)]", "#![deny(missing_docs)]"] {
        assert!(
            m.lines().any(|l| l.trim() == lint),
            "src/ffi/mod.rs lacks {lint}"
        );
    }
}
