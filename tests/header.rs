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

// ---------------------------------------------------------------------------------------------
// The bindings' copies of the C enum codes must equal include/ntk.h.

use std::collections::BTreeMap;

fn read(rel: &str) -> String {
    let p = format!("{}/{rel}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

/// `typedef enum ntk_x { NTK_X_A = 0, ... } ntk_x;` blocks of the header: enum -> (C name -> value).
fn header_enums(h: &str) -> BTreeMap<String, BTreeMap<String, i64>> {
    let mut out = BTreeMap::new();
    let mut cur: Option<(String, BTreeMap<String, i64>)> = None;
    for line in h.lines() {
        let l = line.trim();
        if let Some(rest) = l.strip_prefix("typedef enum ") {
            let name = rest.trim_end_matches('{').trim().to_string();
            cur = Some((name, BTreeMap::new()));
        } else if l.starts_with('}') {
            if let Some((n, m)) = cur.take() {
                out.insert(n, m);
            }
        } else if let Some((_, m)) = cur.as_mut().filter(|_| !l.starts_with("//")) {
            if let Some((k, v)) = l.trim_end_matches(',').split_once(" = ") {
                m.insert(
                    k.trim().to_string(),
                    v.trim().parse().expect("integer enum value"),
                );
            }
        }
    }
    out
}

/// The text from `start` to the first `)` after it (a Julia `Dict(...)` or R `c(...)` literal).
fn literal_after<'a>(src: &'a str, start: &str, file: &str) -> &'a str {
    let i = src
        .find(start)
        .unwrap_or_else(|| panic!("{file}: no `{start}`"));
    let body = &src[i + start.len()..];
    &body[..body.find(')').expect("closing parenthesis")]
}

/// `key => 3` (Julia, keys `:sym`), `key = 3L` (R) or `KEY = 3` lines of a Python IntEnum.
fn pairs(body: &str, sep: &str) -> BTreeMap<String, i64> {
    body.split([',', '\n'])
        .filter_map(|p| {
            let (k, v) = p.split_once(sep)?;
            let v = v.split('#').next()?.trim().trim_end_matches('L');
            Some((
                k.trim().trim_start_matches(':').to_string(),
                v.parse().ok()?,
            ))
        })
        .collect()
}

fn python_enum(src: &str, class: &str, file: &str) -> BTreeMap<String, i64> {
    let head = format!("class {class}(enum.IntEnum):");
    let i = src
        .find(&head)
        .unwrap_or_else(|| panic!("{file}: no `{head}`"));
    let body: String = src[i + head.len()..]
        .lines()
        .skip(1)
        .take_while(|l| l.is_empty() || l.starts_with("    "))
        .filter(|l| !l.trim_start().starts_with("\"\"\""))
        .collect::<Vec<_>>()
        .join("\n");
    pairs(&body, " = ")
}

/// Checks one binding table: every key names a variant of `c_enum` (its C name is
/// NTK_<ENUM>_<KEY upper-cased>, or the alias given for the key in any case) with the header's
/// value.
fn check_table(
    enums: &BTreeMap<String, BTreeMap<String, i64>>,
    what: &str,
    table: &BTreeMap<String, i64>,
    c_enum: &str,
    aliases: &[(&str, &str)],
    errors: &mut Vec<String>,
) {
    let Some(variants) = enums.get(c_enum) else {
        errors.push(format!("{what}: include/ntk.h has no enum {c_enum}"));
        return;
    };
    if table.is_empty() {
        errors.push(format!("{what}: no codes parsed"));
    }
    let prefix = c_enum.to_uppercase();
    for (key, &v) in table {
        let variant = aliases
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map_or(key.to_uppercase(), |(_, c)| c.to_string());
        let c_name = format!("{prefix}_{variant}");
        match variants.get(&c_name) {
            None => errors.push(format!("{what}: `{key}` = {v}, but ntk.h has no {c_name}")),
            Some(&h) if h != v => errors.push(format!(
                "{what}: `{key}` = {v}, but ntk.h has {c_name} = {h}"
            )),
            _ => {}
        }
    }
}

#[test]
fn binding_enum_codes_match_the_header() {
    let enums = header_enums(&read("include/ntk.h"));
    assert!(
        enums.len() >= 10,
        "parsed only {:?} from include/ntk.h",
        enums.keys()
    );
    let mut errors = Vec::new();
    // (Julia constant, R variable, Python class, C enum, binding key -> C variant aliases).
    let method_alias: &[(&str, &str)] = &[("jacobian", "JACOBIAN_CONTRACTION")];
    let solver_alias: &[(&str, &str)] = &[
        ("ntk", "LIMIT_NTK"),
        ("nngp", "LIMIT_NNGP"),
        ("empirical", "EMPIRICAL_TRACE"),
    ];
    let tables: &[(&str, &str, Option<&str>, &str, &str, &[(&str, &str)])] = &[
        (
            "NTK.jl",
            "ACTIVATIONS",
            Some("network.py:Activation"),
            "ntk.R:.activations",
            "ntk_activation",
            &[],
        ),
        (
            "NTK.jl",
            "KERNEL_MODES",
            Some("kernels.py:KernelMode"),
            "ntk.R:.kernel_modes",
            "ntk_kernel_mode",
            &[],
        ),
        (
            "NTK.jl",
            "KERNEL_METHODS",
            Some("kernels.py:KernelMethod"),
            "ntk.R:.kernel_methods",
            "ntk_kernel_method",
            method_alias,
        ),
        (
            "NTK.jl",
            "COSTS",
            Some("network.py:Cost"),
            "ntk.R:.costs",
            "ntk_cost",
            &[],
        ),
        (
            "NTK.jl",
            "FLOW_METHODS",
            Some("flow.py:FlowMethod"),
            "ntk.R:.flow_methods",
            "ntk_flow_method",
            &[],
        ),
        (
            "NTK.jl",
            "SPECTRUM_WHICH",
            Some("spectrum.py:SpectrumWhich"),
            "ntk.R:.spectrum_which",
            "ntk_spectrum_which",
            &[],
        ),
        (
            "arch.jl",
            "PARAMETERIZATIONS",
            None,
            "",
            "ntk_parameterization",
            &[],
        ),
        (
            "predict.jl",
            "LAWS",
            Some("predict.py:Law"),
            "predict.R:.laws",
            "ntk_law",
            &[],
        ),
        (
            "solve.jl",
            "SOLVER_KERNELS",
            Some("solve.py:SolverKernel"),
            "solve.R:.solver_kernels",
            "ntk_solver_kernel",
            solver_alias,
        ),
    ];
    let mut julia_seen = Vec::new();
    let mut r_seen = Vec::new();
    let mut py_seen = Vec::new();
    for &(jl_file, jl_const, py, r, c_enum, aliases) in tables {
        let f = format!("bindings/julia/src/{jl_file}");
        let src = read(&f);
        let start = format!("const {jl_const} = Dict{{Symbol,Cint}}(");
        let t = pairs(literal_after(&src, &start, &f), " => ");
        check_table(
            &enums,
            &format!("{f} {jl_const}"),
            &t,
            c_enum,
            aliases,
            &mut errors,
        );
        julia_seen.push(jl_const.to_string());
        if let Some(py) = py {
            let (file, class) = py.split_once(':').unwrap();
            let f = format!("bindings/python/src/ntk/{file}");
            let t = python_enum(&read(&f), class, &f);
            check_table(
                &enums,
                &format!("{f} {class}"),
                &t,
                c_enum,
                aliases,
                &mut errors,
            );
            py_seen.push(class.to_string());
        }
        if let Some((file, var)) = r.split_once(':') {
            let f = format!("bindings/r/R/{file}");
            let src = read(&f);
            let t = pairs(literal_after(&src, &format!("{var} <- c("), &f), " = ");
            check_table(
                &enums,
                &format!("{f} {var}"),
                &t,
                c_enum,
                aliases,
                &mut errors,
            );
            r_seen.push(var.to_string());
        }
    }
    // Every enum table of the bindings is checked (a new one must be added above), except the
    // R glue's own codes, which are not C enums.
    let r_own = [".limit_kernels", ".cov_kinds"];
    for dir in [
        "bindings/julia/src",
        "bindings/r/R",
        "bindings/python/src/ntk",
    ] {
        let mut files: Vec<_> = std::fs::read_dir(format!("{}/{dir}", env!("CARGO_MANIFEST_DIR")))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        for p in files {
            let src = std::fs::read_to_string(&p).unwrap_or_default();
            for line in src.lines() {
                let l = line.trim();
                let name = if let Some(r) = l.strip_prefix("const ") {
                    r.split_once(" = Dict{Symbol,Cint}(")
                        .map(|(n, _)| (n, &julia_seen))
                } else if let Some(r) = l.strip_prefix("class ") {
                    r.split_once("(enum.IntEnum)").map(|(n, _)| (n, &py_seen))
                } else if l.starts_with('.') {
                    l.split_once(" <- c(")
                        .filter(|(n, rest)| !r_own.contains(n) && rest.contains("0L"))
                        .map(|(n, _)| (n, &r_seen))
                } else {
                    None
                };
                if let Some((n, seen)) = name {
                    if !seen.iter().any(|s| s == n) {
                        errors.push(format!("{}: enum table `{n}` is not checked", p.display()));
                    }
                }
            }
        }
    }
    assert!(
        errors.is_empty(),
        "binding enum codes disagree with include/ntk.h:\n{}",
        errors.join("\n")
    );
}
