//! Every exported C function (`#[no_mangle]` in src/) states its errors in its doc comment,
//! which cbindgen copies into include/ntk.h: a sentence starting "Errors" ("Errors:",
//! "Errors (`out` untouched): ..." or "Errors: none ..." for a function that cannot fail). For
//! a function returning `ntk_status`, the text from that sentence on must name every status that
//! the function's own body can evidently return (a NULL check names NULL_POINTER, a progress
//! callback CANCELLED, a strided view INVALID_ARGUMENT and ALLOCATION, ...), and every status it
//! names must exist. A source check, so that a new entry point cannot ship without its errors.

mod common;

use common::rust_files;
use std::path::Path;

/// The statuses of `ntk_status` except OK and INTERNAL (any function can return INTERNAL: a
/// caught panic, documented once for the whole C layer).
const STATUSES: [&str; 6] = [
    "NULL_POINTER",
    "INVALID_ARGUMENT",
    "NON_FINITE",
    "ALLOCATION",
    "CANCELLED",
    "NUMERICAL",
];

/// Calls in a function body that can return a given status (the body's own evidence; what the
/// callees return deeper down is the doc writer's business).
const EVIDENCE: [(&str, &[&str]); 6] = [
    (
        "NULL_POINTER",
        &[
            "non_null(",
            "handle_ref(",
            "handle_mut(",
            "network_ref(",
            "network_mut(",
            ".to_ref(",
            ".to_mut(",
            "NullPointer(",
        ],
    ),
    (
        "INVALID_ARGUMENT",
        &[
            "invalid!",
            "from_c(",
            "expect_shape(",
            ".to_ref(",
            ".to_mut(",
            "check_outputs(",
            "check_disjoint(",
            "InvalidArgument(",
        ],
    ),
    (
        "NON_FINITE",
        &["check_finite(", "check_input(", "NonFinite("],
    ),
    (
        "ALLOCATION",
        &[
            ".to_ref(",
            ".to_mut(",
            "checked_mul(",
            "try_zeroed(",
            "Allocation(",
        ],
    ),
    ("CANCELLED", &["with_progress(", "Cancelled"]),
    ("NUMERICAL", &["check_finite_result(", "Numerical("]),
];

/// One exported function: its name, doc comment text, signature and body.
struct Export {
    name: String,
    doc: String,
    signature: String,
    body: String,
}

/// The `#[no_mangle]` functions of one source text.
fn exports(text: &str) -> Vec<Export> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (k, line) in lines.iter().enumerate() {
        if line.trim() != "#[no_mangle]" {
            continue;
        }
        // The doc comment: the `///` lines above, across other attributes.
        let mut doc = Vec::new();
        let mut j = k;
        while j > 0 {
            let l = lines[j - 1].trim();
            if let Some(d) = l.strip_prefix("///") {
                doc.push(d.trim());
            } else if !l.starts_with("#[") {
                break;
            }
            j -= 1;
        }
        doc.reverse();
        // The signature: from the `fn` line to the `{` that opens the body; the body: to the
        // `}` at the function's own indentation.
        let mut s = k + 1;
        while s < lines.len() && lines[s].trim().starts_with("#[") {
            s += 1;
        }
        let indent = lines[s].len() - lines[s].trim_start().len();
        let mut signature = String::new();
        let mut b = s;
        while b < lines.len() {
            signature.push_str(lines[b]);
            signature.push('\n');
            if lines[b].trim_end().ends_with('{') {
                break;
            }
            b += 1;
        }
        let mut body = String::new();
        let mut e = b + 1;
        while e < lines.len() {
            let l = lines[e];
            if l.trim_start() == "}" && l.len() - l.trim_start().len() == indent {
                break;
            }
            body.push_str(l.split("//").next().unwrap_or(""));
            body.push('\n');
            e += 1;
        }
        let name = signature
            .split("fn ")
            .nth(1)
            .and_then(|r| r.split('(').next())
            .unwrap_or("?")
            .trim()
            .to_string();
        out.push(Export {
            name,
            doc: doc.join(" "),
            signature,
            body,
        });
    }
    out
}

/// Whether `text` has `word` with no identifier character on either side.
fn has_word(text: &str, word: &str) -> bool {
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    text.match_indices(word).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + word.len()..].chars().next();
        !before.is_some_and(ident) && !after.is_some_and(ident)
    })
}

/// The problems of the exported functions of one source text (empty when all is documented).
fn problems(text: &str) -> Vec<String> {
    let mut bad = Vec::new();
    for f in exports(text) {
        // "Errors" opening a sentence: at the start of the doc or after a full stop.
        let at = f.doc.match_indices("Errors").map(|(i, _)| i).find(|&i| {
            let before = f.doc[..i].trim_end();
            let rest = &f.doc[i + "Errors".len()..];
            (before.is_empty() || before.ends_with('.'))
                && (rest.starts_with(':') || rest.starts_with(" ("))
        });
        let Some(at) = at else {
            bad.push(format!(
                "{}: no \"Errors\" sentence in its doc comment",
                f.name
            ));
            continue;
        };
        let errors = &f.doc[at..];
        // Status-like words must be real statuses.
        for w in errors.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
            if let Some(s) = w.strip_prefix("NTK_STATUS_") {
                if !STATUSES.contains(&s) && s != "OK" && s != "INTERNAL" {
                    bad.push(format!("{}: names an unknown status {w}", f.name));
                }
            }
        }
        if !f.signature.contains("-> ntk_status") {
            continue;
        }
        if errors.starts_with("Errors: none") {
            bad.push(format!(
                "{}: returns ntk_status but documents no errors",
                f.name
            ));
            continue;
        }
        // "NTK_STATUS_NULL_POINTER" and a bare "NULL_POINTER" both name the status.
        let plain = errors.replace("NTK_STATUS_", " ");
        let named: Vec<&str> = STATUSES
            .iter()
            .copied()
            .filter(|s| has_word(&plain, s))
            .collect();
        if named.is_empty() {
            bad.push(format!("{}: its Errors sentence names no status", f.name));
        }
        for (status, calls) in EVIDENCE {
            if !named.contains(&status) {
                if let Some(call) = calls.iter().find(|c| f.body.contains(*c)) {
                    bad.push(format!(
                        "{}: the body can return {status} (`{call}`), its Errors text does not say when",
                        f.name
                    ));
                }
            }
        }
    }
    bad
}

#[test]
fn the_check_sees_what_it_should() {
    let documented = "/// Does x.\n/// Errors: NULL `p` (NTK_STATUS_NULL_POINTER).\n#[no_mangle]\n\
                      pub unsafe extern \"C\" fn ntk_a(p: *mut f64) -> ntk_status {\n    \
                      ffi_fn!(\"ntk_a\", {\n        non_null(p, \"p\")?;\n        Ok(())\n    })\n}\n";
    assert_eq!(problems(documented), Vec::<String>::new());
    // No Errors sentence at all.
    let missing = documented.replace("/// Errors: NULL `p` (NTK_STATUS_NULL_POINTER).\n", "");
    assert_eq!(
        problems(&missing),
        vec!["ntk_a: no \"Errors\" sentence in its doc comment"]
    );
    // "Errors" inside a sentence does not count.
    let inline = documented.replace("/// Errors:", "/// See the Errors:");
    assert_eq!(problems(&inline).len(), 1, "{:?}", problems(&inline));
    // A status the body can return but the doc does not name.
    let progress = documented.replace(
        "non_null(p, \"p\")?;",
        "non_null(p, \"p\")?;\n        with_progress(None, |_| Ok(()))?;",
    );
    assert_eq!(
        problems(&progress),
        vec![
            "ntk_a: the body can return CANCELLED (`with_progress(`), its Errors text does not say when"
        ]
    );
    // Evidence in a comment is not code.
    let commented = documented.replace("Ok(())\n", "// not with_progress( here\n        Ok(())\n");
    assert_eq!(problems(&commented), Vec::<String>::new());
    // An unknown status name, and "none" for a function that returns a status.
    let unknown = documented.replace(
        "NTK_STATUS_NULL_POINTER",
        "NTK_STATUS_NULL_POINTER, NTK_STATUS_BAD",
    );
    assert_eq!(
        problems(&unknown),
        vec!["ntk_a: names an unknown status NTK_STATUS_BAD"]
    );
    let none = documented.replace("Errors: NULL `p` (NTK_STATUS_NULL_POINTER)", "Errors: none");
    assert_eq!(
        problems(&none),
        vec!["ntk_a: returns ntk_status but documents no errors"]
    );
    // A function returning nothing may say "Errors: none"; across attributes; nested bodies.
    let free = "/// Frees.\n/// Errors: none (returns nothing).\n#[no_mangle]\n#[allow(x)]\n\
                pub unsafe extern \"C\" fn ntk_free(p: *mut f64) {\n    if p.is_null() {\n        \
                return;\n    }\n}\n";
    assert_eq!(problems(free), Vec::<String>::new());
    let e = exports(free);
    assert_eq!((e.len(), e[0].name.as_str()), (1, "ntk_free"));
    assert!(e[0].body.contains("return;"));
    assert_eq!(
        problems(&free.replace("/// Errors: none (returns nothing).\n", "")),
        vec!["ntk_free: no \"Errors\" sentence in its doc comment"]
    );
}

#[test]
fn every_exported_function_documents_its_errors() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    let mut bad = Vec::new();
    let mut count = 0;
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        count += exports(&text).len();
        for p in problems(&text) {
            bad.push(format!("{}: {p}", f.strip_prefix(root).unwrap().display()));
        }
    }
    // The header declares each exported function once: the count is the header's.
    let header = std::fs::read_to_string(root.join("include/ntk.h")).unwrap();
    let declared = header
        .lines()
        .filter(|l| !l.starts_with([' ', '#', '/']) && l.contains("ntk_"))
        .filter(|l| !l.starts_with("typedef") && !l.starts_with("static"))
        .filter(|l| l.contains('('))
        .count();
    assert!(
        count >= 40,
        "found only {count} exported functions: is the walk broken?"
    );
    assert_eq!(
        count, declared,
        "exported functions in src/ vs declarations in ntk.h"
    );
    assert!(
        bad.is_empty(),
        "C functions without complete errors:\n{}",
        bad.join("\n")
    );
}
