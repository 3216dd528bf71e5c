//! Out-of-core streaming of a kernel in row blocks: peak memory is the block plus the per-point
//! data, independent of N² (the full matrix is never held).
//!
//! Each measurement runs in a child process (this binary re-executed with `--child`), so its
//! VmHWM (peak resident set, from /proc/self/status) belongs to that one computation. A child
//! prepares the per-point data of N points once, then computes the kernel 256 rows at a time
//! (`*_tile` into one reused 256 × N buffer) and appends each block to a file in the target
//! directory (deleted afterwards).
//!
//! Kernels: `empirical` = trace-mode empirical NTK of a ReLU network 100 → 64 → 64 → 1 (β = 0.1);
//! `limit` = limit NTK, ReLU, L = 5, d = 100, β = 0.1.
//!
//! Output: for each kernel, the median time of 5 children at N = 4000 and 8000, then one child at
//! N = 16000 (N = 20000 for the limit kernel); every line reports VmHWM and what the full N × N
//! matrix would take. `cargo bench --bench tiles -- empirical` or `-- limit` runs one kernel.

use ntk::activation::Activation;
use ntk::kernel::empirical::prepared::{empirical_tile, EmpiricalFeatures};
use ntk::kernel::empirical::KernelMode;
use ntk::kernel::limit::prepared::{limit_tile, LimitPoints};
use ntk::kernel::limit::{BlockOutputs, LimitSpec};
use ntk::linalg::{MatMut, MatRef};
use ntk::network::{Network, NetworkConfig};
use ntk::parallel::Progress;
use std::io::Write;
use std::process::Command;
use std::time::Instant;

const BLOCK_ROWS: usize = 256;
const D: usize = 100;

fn points(n: usize, d: usize) -> Vec<f64> {
    (0..n * d)
        .map(|k| (k as f64 * 0.377).sin() * 1.1 + 0.05 * (k % 7) as f64)
        .collect()
}

fn vmhwm_mib() -> f64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<f64>().ok())
        .map_or(-1.0, |kb| kb / 1024.0)
}

fn as_bytes(v: &[f64]) -> &[u8] {
    // SAFETY: f64 has no padding; any byte view of it is valid.
    unsafe { std::slice::from_raw_parts(v.as_ptr() as *const u8, std::mem::size_of_val(v)) }
}

fn network(depth_widths: Vec<usize>) -> Network {
    Network::new(NetworkConfig {
        widths: depth_widths,
        activation: Activation::Relu,
        beta: 0.1,
        seed: 1,
    })
    .unwrap()
}

/// Streams the N × N kernel to `path`; prints "time <s> hwm <MiB> checksum <x>".
fn child(kind: &str, n: usize, path: &std::path::Path) {
    let x = points(n, D);
    let xv = MatRef::from_row_major(&x, n, D);
    let mut file = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path).unwrap());
    let mut buf = vec![0.0; BLOCK_ROWS * n];
    let mut checksum = 0.0;
    let mut write_secs = 0.0;
    let t0 = Instant::now();
    let mut emit = |rows: usize, buf: &[f64]| {
        let tw = Instant::now();
        checksum += buf[..rows * n].iter().sum::<f64>();
        file.write_all(as_bytes(&buf[..rows * n])).unwrap();
        write_secs += tw.elapsed().as_secs_f64();
    };
    match kind {
        "empirical" => {
            let net = network(vec![D, 64, 64, 1]);
            let f = EmpiricalFeatures::new(&net, xv).unwrap();
            for r0 in (0..n).step_by(BLOCK_ROWS) {
                let r1 = (r0 + BLOCK_ROWS).min(n);
                let out = MatMut::from_row_major(&mut buf[..(r1 - r0) * n], r1 - r0, n);
                empirical_tile(
                    &net,
                    &f,
                    (r0, r1),
                    &f,
                    (0, n),
                    KernelMode::Trace,
                    out,
                    &mut Progress::none(),
                )
                .unwrap();
                emit(r1 - r0, &buf);
            }
        }
        "limit" => {
            let spec = LimitSpec::new(5, Activation::Relu, 0.1);
            let p = LimitPoints::new(&spec, xv, &mut Progress::none()).unwrap();
            for r0 in (0..n).step_by(BLOCK_ROWS) {
                let r1 = (r0 + BLOCK_ROWS).min(n);
                let out = BlockOutputs {
                    nngp: None,
                    sigma_dot: None,
                    ntk: Some(MatMut::from_row_major(
                        &mut buf[..(r1 - r0) * n],
                        r1 - r0,
                        n,
                    )),
                };
                limit_tile(&p, (r0, r1), &p, (0, n), out, &mut Progress::none()).unwrap();
                emit(r1 - r0, &buf);
            }
        }
        other => panic!("unknown kernel {other}"),
    }
    let tw = Instant::now();
    file.into_inner().unwrap().sync_all().unwrap();
    write_secs += tw.elapsed().as_secs_f64();
    let secs = t0.elapsed().as_secs_f64();
    let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let _ = std::fs::remove_file(path);
    assert_eq!(size, (n * n * 8) as u64, "file size");
    println!(
        "time {:.4} hwm {:.1} write {write_secs:.4} checksum {checksum:.6e}",
        secs - write_secs,
        vmhwm_mib()
    );
}

/// (compute seconds, VmHWM MiB, write seconds) of one child.
fn run_child(kind: &str, n: usize) -> (f64, f64, f64) {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--child", kind, &n.to_string()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = String::from_utf8_lossy(&out.stdout);
    let line = s
        .lines()
        .find(|l| l.starts_with("time "))
        .expect("child output");
    let w: Vec<&str> = line.split_whitespace().collect();
    (
        w[1].parse().unwrap(),
        w[3].parse().unwrap(),
        w[5].parse().unwrap(),
    )
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(p) = args.iter().position(|a| a == "--child") {
        let kind = &args[p + 1];
        let n: usize = args[p + 2].parse().unwrap();
        let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("target")
            .join(format!("tiles-stream-{}.bin", std::process::id()));
        child(kind, n, &path);
        return;
    }
    let wanted: Vec<&str> = ["empirical", "limit"]
        .into_iter()
        .filter(|k| args.iter().skip(1).all(|a| a.starts_with('-')) || args.iter().any(|a| a == k))
        .collect();
    for kind in wanted {
        let big = if kind == "limit" { 20000 } else { 16000 };
        println!("{kind}: streaming the N x N kernel in blocks of {BLOCK_ROWS} rows to a file");
        for n in [2000, 4000] {
            let mut times = Vec::new();
            let mut writes = Vec::new();
            let mut hwm: f64 = 0.0;
            for _ in 0..5 {
                let (t, h, w) = run_child(kind, n);
                times.push(t);
                writes.push(w);
                hwm = hwm.max(h);
            }
            times.sort_by(|a, b| a.partial_cmp(b).unwrap());
            writes.sort_by(|a, b| a.partial_cmp(b).unwrap());
            println!(
                "  N = {n:6}: kernel median {:.3} s of 5 (min {:.3}, max {:.3}), file writes median {:.3} s; \
                 VmHWM {hwm:.0} MiB; the full matrix would be {:.0} MiB",
                times[2],
                times[0],
                times[4],
                writes[2],
                (n * n * 8) as f64 / 1048576.0
            );
        }
        let (t, h, w) = run_child(kind, big);
        println!(
            "  N = {big:6} (one run): kernel {t:.3} s, file writes {w:.3} s; VmHWM {h:.0} MiB; \
             the full matrix would be {:.0} MiB",
            (big * big * 8) as f64 / 1048576.0
        );
    }
}
