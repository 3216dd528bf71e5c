//! Dense symmetric linear algebra on `faer`: the symmetry and PSD checks a kernel Gram matrix must
//! pass, the symmetric eigendecomposition, and faer's fixed parallel split.
//!
//! faer runs with a FIXED parallel split (`FAER_PAR` = 2 tasks) inside the library pool: the way
//! faer divides the work depends only on that constant, never on how many threads the pool has, so
//! the bits of every factorization are the same at 1, 2 or 3 threads (checked by
//! `tests/flow_determinism.rs`).

use crate::error::checked_mul;
use crate::linalg::MatRef;
use crate::{Error, Result};
use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::evd::{self_adjoint_evd, self_adjoint_evd_scratch, ComputeEigenvectors};
use faer::{Mat, Par};
use std::num::NonZeroUsize;

/// The parallel split handed to faer (a constant: see the module documentation).
pub(crate) fn faer_par() -> Par {
    Par::Rayon(NonZeroUsize::new(FAER_PAR).unwrap())
}

/// Number of tasks faer splits its parallel loops into (independent of the pool size).
pub(crate) const FAER_PAR: usize = 2;

/// Relative tolerance of the symmetry check: |K_ij − K_ji| ≤ SYMMETRY_RTOL·max(|K_ij|, |K_ji|,
/// max_i |K_ii|·1e-300).
pub const SYMMETRY_RTOL: f64 = 1e-10;

/// PSD tolerance: K is accepted when λ_min(K) ≥ −PSD_RTOL·max_i K_ii (tested by a Cholesky
/// factorization of K + PSD_RTOL·max_i K_ii·I, which exists exactly under that condition up to
/// rounding). Eigenvalues in [−PSD_RTOL·max K_ii, 0) are then treated as 0.
pub const PSD_RTOL: f64 = 1e-9;

/// A zero-filled `nrows × ncols` faer matrix, allocated fallibly: `Error::Allocation` naming
/// `what` when the memory cannot be had (faer's own constructors panic instead). The
/// reservation is O(1); the zero fill runs only once the memory is there.
pub(crate) fn try_mat(nrows: usize, ncols: usize, what: &str) -> Result<Mat<f64>> {
    let len = checked_mul(nrows, ncols, what)?;
    let bytes = checked_mul(len, 8, what)?;
    let mut m: Mat<f64> = Mat::new();
    m.try_reserve(nrows, ncols).map_err(|_| {
        Error::Allocation(format!(
            "{what}: cannot allocate {nrows}x{ncols} doubles ({bytes} bytes)"
        ))
    })?;
    m.resize_with(nrows, ncols, |_, _| 0.0);
    Ok(m)
}

/// Copies a square view into a faer matrix (column-major), allocated fallibly.
///
/// # Errors
/// `Allocation` when the copy cannot be had.
pub fn to_faer(k: MatRef<'_>) -> Result<Mat<f64>> {
    let n = k.rows();
    let mut m = try_mat(n, k.cols(), "kernel copy")?;
    copy_into(k, &mut m);
    Ok(m)
}

/// `dst ← k` (same shape).
fn copy_into(k: MatRef<'_>, dst: &mut Mat<f64>) {
    for j in 0..k.cols() {
        for i in 0..k.rows() {
            dst[(i, j)] = k.at(i, j);
        }
    }
}

/// Validates and copies a symmetric kernel in the order the C contract needs: the shape, then
/// every allocation of the work (the copy, and `extra`, which the caller uses to reserve its own
/// workspaces), and only then the O(N²) scans of the view (finiteness, symmetry). An N × N view
/// that cannot be allocated (even a broadcast one, stride (0, 0)) is therefore rejected with
/// `Error::Allocation` in O(1), without reading its elements.
pub(crate) fn load_symmetric<W>(
    k: MatRef<'_>,
    name: &str,
    extra: impl FnOnce(usize) -> Result<W>,
) -> Result<(Mat<f64>, W)> {
    let n = k.rows();
    if k.cols() != n {
        return crate::invalid!("{name} is {}x{}, must be square", n, k.cols());
    }
    let mut m = try_mat(n, n, &format!("copy of {name}"))?;
    let w = extra(n)?;
    check_symmetric(k, name)?;
    copy_into(k, &mut m);
    Ok((m, w))
}

/// faer's x86 matrix-multiply backend (the `private-gemm-x86` crate, reached from every blocked
/// factorization: Cholesky, tridiagonalization, triangular solves) gives each thread that runs a
/// product larger than 16³ a packing buffer of 2 × (its L3 estimate) bytes — 960 MiB of address
/// space on the build machine — allocated on first use with an *infallible* allocation, which
/// aborts the host process when the address space is limited (RLIMIT_AS). Before any faer
/// factorization of order n > 16, [`ensure_gemm_workspace`] makes sure every thread of the pool
/// that will run it ([`FaerPool`]) already has that buffer: a thread that has not yet got it
/// first reserves the same size fallibly (returning `Error::Allocation` naming the size when it
/// cannot), frees it and at once runs a 17³ product, which makes the backend allocate its buffer
/// while the memory is known to be there. Each thread does this once (the buffer lives as long as
/// the thread).
///
/// A thread waiting inside a parallel product may run another faer task meanwhile; if that task
/// multiplies too, the backend allocates a *second* buffer for the nested product, infallibly.
/// So under a memory limit (`parallel::memory_limited`) faer runs on a pool of one thread
/// (`parallel::faer_pool`), where no product waits for another thread: that thread's one buffer
/// is all the backend ever needs, and it is reserved here. faer's split is the fixed
/// [`FAER_PAR`], so the bits are the same on that pool as on the library pool.
///
/// The size reproduces the backend's own estimate ([`gemm_workspace_bytes`]). Every faer call of
/// the library runs inside the returned pool ([`FaerPool::install`]).
///
/// # Errors
/// `Allocation` when a thread's buffer cannot be reserved or the pool cannot be started.
pub(crate) fn ensure_gemm_workspace(n: usize) -> Result<FaerPool> {
    let pool = FaerPool(crate::parallel::faer_pool()?);
    if n <= 16 {
        // Every product inside a factorization of order n has m·n·k ≤ n³ ≤ 16³: faer runs it on
        // nano-gemm, which uses the stack only.
        return Ok(pool);
    }
    #[cfg(target_arch = "x86_64")]
    {
        // faer's own hardware test (not `NTK_SIMD`'s level: faer does not read it).
        let cpu = crate::simd::cpu();
        if !(cpu.avx512f || (cpu.avx2 && cpu.fma)) {
            return Ok(pool); // faer falls back to the `gemm` crate (2 MiB L2 slab per thread).
        }
        let need = gemm_workspace_bytes();
        let results: Vec<Result<()>> =
            pool.install(|| rayon::broadcast(|_| warm_gemm_thread(need)));
        results.into_iter().collect::<Result<Vec<()>>>()?;
    }
    Ok(pool)
}

/// The pool on which faer's work runs (see [`ensure_gemm_workspace`], which returns it once its
/// threads' GEMM buffers are in place).
#[derive(Clone)]
pub(crate) struct FaerPool(std::sync::Arc<rayon::ThreadPool>);

impl FaerPool {
    /// Runs `f` (faer calls) on this pool.
    pub(crate) fn install<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        self.0.install(f)
    }
}

#[cfg(target_arch = "x86_64")]
thread_local! {
    /// Whether this thread's private-gemm-x86 buffer has been allocated under our check.
    static GEMM_READY: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

#[cfg(target_arch = "x86_64")]
fn warm_gemm_thread(need: usize) -> Result<()> {
    if GEMM_READY.with(|r| r.get()) {
        return Ok(());
    }
    // One thread at a time from probe to allocation: two probes that both fit, followed by two
    // buffers that do not, would abort.
    static WARMING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = WARMING.lock().unwrap_or_else(|p| p.into_inner());
    let mut probe: Vec<u8> = Vec::new();
    probe.try_reserve_exact(need).map_err(|_| {
        Error::Allocation(format!(
            "faer's matrix-multiply workspace: cannot reserve {need} bytes for a library thread \
             (the address space is limited; the backend needs this per thread, see \
             ntk::linalg::symmetric::ensure_gemm_workspace)"
        ))
    })?;
    drop(probe);
    // A 17 × 17 × 17 product (above faer's 16³ nano-gemm threshold) makes the backend allocate
    // its thread-local buffer now.
    let a: Mat<f64> = Mat::zeros(17, 17);
    let mut c: Mat<f64> = Mat::zeros(17, 17);
    faer::linalg::matmul::matmul(
        c.as_mut(),
        faer::Accum::Replace,
        a.as_ref(),
        a.as_ref(),
        1.0,
        Par::Seq,
    );
    GEMM_READY.with(|r| r.set(true));
    Ok(())
}

/// Bytes of the per-thread packing buffer of faer's x86 GEMM backend (private-gemm-x86 0.1.22,
/// `gemm::MEM`: 2·⌈L3/4096⌉ pages of 4096 bytes), with L3 computed as that crate does: from
/// Linux sysfs, the size of the level-3 data/unified cache divided by the number of CPUs sharing
/// it, times the number of CPUs sharing the L1, times the number of physical cores; at least
/// 2 MiB and 4 × L2 (L2 ≥ 256 KiB and 4 × L1, L1 ≥ 32 KiB). Without sysfs, the crate's defaults.
/// Checked against the address space the backend really reserves by
/// tests/reliability_process.rs.
pub fn gemm_workspace_bytes() -> usize {
    static BYTES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *BYTES.get_or_init(|| {
        let mut c = sysfs_cache_bytes().unwrap_or([32 << 10, 256 << 10, 2 << 20]);
        c[0] = c[0].max(32 << 10);
        c[1] = c[1].max(256 << 10).max(c[0].saturating_mul(4));
        c[2] = c[2].max(2 << 20).max(c[1].saturating_mul(4));
        c[2].div_ceil(4096).saturating_mul(2 * 4096)
    })
}

/// The sysfs part of private-gemm-x86's cache detection (see [`gemm_workspace_bytes`]).
fn sysfs_cache_bytes() -> Option<[usize; 3]> {
    use std::fs;
    let mut all = [0usize; 3];
    let mut line = [64usize; 3];
    let mut l1_shared = 1usize;
    for cpu in fs::read_dir("/sys/devices/system/cpu").ok()? {
        let cpu = cpu.ok()?.path();
        let name = cpu.file_name()?.to_str()?.to_string();
        if !name.starts_with("cpu") || !cpu.join("cache").is_dir() {
            continue;
        }
        for idx in fs::read_dir(cpu.join("cache")).ok()? {
            let idx = idx.ok()?.path();
            let iname = idx.file_name()?.to_str()?.to_string();
            if !idx.is_dir() || !iname.starts_with("index") {
                continue;
            }
            let read = |f: &str| {
                fs::read_to_string(idx.join(f))
                    .ok()
                    .map(|s| s.trim().to_string())
            };
            if !matches!(read("type").as_deref(), Some("Data" | "Unified")) {
                continue;
            }
            let Some(level) = read("level").and_then(|s| s.parse::<usize>().ok()) else {
                continue;
            };
            let lb = read("coherency_line_size")
                .and_then(|s| s.parse::<usize>().ok())
                .unwrap_or(64);
            let size = read("size").and_then(|s| {
                let (num, mul) = match s.chars().last()? {
                    'G' => (&s[..s.len() - 1], 1usize << 30),
                    'M' => (&s[..s.len() - 1], 1 << 20),
                    'K' => (&s[..s.len() - 1], 1 << 10),
                    _ => (&s[..], 1),
                };
                num.parse::<usize>().ok().map(|v| v * mul)
            });
            let Some(size) = size else { continue };
            let mut shared = 0usize;
            for item in read("shared_cpu_list").unwrap_or_default().split(',') {
                if let Some((a, b)) = item.split_once('-') {
                    let (Ok(a), Ok(b)) = (a.parse::<usize>(), b.parse::<usize>()) else {
                        continue;
                    };
                    shared += b + 1 - a;
                } else if !item.is_empty() {
                    shared += 1;
                }
            }
            if level == 1 {
                l1_shared = shared;
            }
            if (1..=3).contains(&level) && lb >= line[level - 1] && shared > 0 {
                line[level - 1] = lb;
                all[level - 1] = size / shared;
            }
        }
    }
    for v in &mut all {
        *v *= l1_shared;
    }
    // The backend multiplies by num_cpus::get_physical() (the same crate, so the same count).
    all[2] *= num_cpus::get_physical();
    Some(all)
}

/// Checks that `k` is square, finite and symmetric (relative tolerance [`SYMMETRY_RTOL`]); the
/// error names the first offending entry or pair.
pub(crate) fn check_symmetric(k: MatRef<'_>, name: &str) -> Result<()> {
    let n = k.rows();
    if k.cols() != n {
        return crate::invalid!("{name} is {}x{}, must be square", n, k.cols());
    }
    super::check_finite(k, name)?;
    let maxdiag = (0..n).map(|i| k.at(i, i).abs()).fold(0.0, f64::max);
    for i in 0..n {
        for j in 0..i {
            let (a, b) = (k.at(i, j), k.at(j, i));
            let scale = a.abs().max(b.abs()).max(maxdiag * 1e-300);
            if (a - b).abs() > SYMMETRY_RTOL * scale {
                return crate::invalid!(
                    "{name} is not symmetric: {name}[{i},{j}] = {} but {name}[{j},{i}] = {}",
                    crate::error::g(a),
                    crate::error::g(b)
                );
            }
        }
    }
    Ok(())
}

/// Exponent e of the power of two 2^e that brings the largest |entry| `maxabs` into [1, 2), or
/// 0 when `maxabs` is 0 or already within [2^-200, 2^200]. faer's eigensolver and Cholesky lose
/// convergence on kernels of subnormal scale (1e-310·I did not converge) and risk overflow near
/// the top of the range; scaling by a power of two is exact (no rounding, except for entries that
/// are subnormal relative to the largest, which carry no weight in the spectrum anyway), and
/// eigenvalues scale with it: λ(2^e K) = 2^e λ(K).
pub(crate) fn pow2_scale_exponent(maxabs: f64) -> i32 {
    const LO: f64 = 6.223015277861142e-61; // 2^-200
    const HI: f64 = 1.6069380442589903e60; // 2^200
    if maxabs == 0.0 || !maxabs.is_finite() || (LO..=HI).contains(&maxabs) {
        return 0;
    }
    // log2 rounds near the ends of the range (log2(f64::MAX) = 1024): correct by one step.
    let mut e = -(maxabs.log2().floor() as i32);
    let y = scale_pow2(maxabs, e);
    if y >= 2.0 {
        e -= 1;
    } else if y < 1.0 {
        e += 1;
    }
    e
}

/// x·2^e for any |e| ≤ 2200, exactly when the result is normal (applied in steps of at most
/// 2^±1000 so that no factor over- or underflows).
pub(crate) fn scale_pow2(mut x: f64, mut e: i32) -> f64 {
    while e != 0 {
        let s = e.clamp(-1000, 1000);
        x *= f64::from_bits(((1023 + s) as u64) << 52);
        e -= s;
    }
    x
}

fn max_abs(k: &Mat<f64>) -> f64 {
    let mut m = 0.0f64;
    for j in 0..k.ncols() {
        for i in 0..k.nrows() {
            m = m.max(k[(i, j)].abs());
        }
    }
    m
}

fn scale_in_place(k: &mut Mat<f64>, e: i32) {
    if e == 0 {
        return;
    }
    for j in 0..k.ncols() {
        for i in 0..k.nrows() {
            k[(i, j)] = scale_pow2(k[(i, j)], e);
        }
    }
}

/// The workspace of [`check_psd_with`] (a D × D copy and faer's Cholesky scratch), allocated
/// fallibly up front so that a kernel whose check cannot be afforded is rejected before it is read.
pub(crate) struct PsdWork {
    l: Mat<f64>,
    mem: MemBuffer,
    pool: FaerPool,
}

impl PsdWork {
    /// Reserves the workspace for an n × n kernel (`Error::Allocation` when it cannot), and
    /// faer's per-thread GEMM buffers ([`ensure_gemm_workspace`]).
    pub fn try_new(n: usize, name: &str) -> Result<PsdWork> {
        let l = try_mat(n, n, &format!("{name}: Cholesky workspace"))?;
        let req = faer::linalg::cholesky::llt::factor::cholesky_in_place_scratch::<f64>(
            n,
            faer_par(),
            Default::default(),
        );
        let mem = MemBuffer::try_new(req)
            .map_err(|_| Error::Allocation(format!("{name}: Cholesky scratch")))?;
        let pool = ensure_gemm_workspace(n)?;
        Ok(PsdWork { l, mem, pool })
    }
}

/// Checks λ_min(K) ≥ −PSD_RTOL·max K_ii with one Cholesky factorization (D³/3 flops).
/// Fails with `Numerical` naming the tolerance when K is indefinite beyond it.
pub(crate) fn check_psd(k: &Mat<f64>, name: &str) -> Result<()> {
    let n = k.nrows();
    let work = PsdWork::try_new(n, name)?;
    // SAFETY: faer's Mat is column-major with column stride col_stride() ≥ nrows: element (i, j)
    // at ptr + i + j·col_stride is valid for every i, j < n, and `k` is borrowed (not written)
    // for the view's lifetime.
    let view = unsafe { MatRef::from_raw(k.as_ptr(), n, n, 1, k.col_stride()) };
    check_psd_with(view, work, name)
}

/// [`check_psd`] on a symmetric view, with a workspace reserved beforehand ([`PsdWork`]).
/// The factorization runs on 2^e·K with e from `pow2_scale_exponent` (exact), so kernels of
/// subnormal or huge scale are checked like any other; messages give the unscaled values.
pub(crate) fn check_psd_with(k: MatRef<'_>, work: PsdWork, name: &str) -> Result<()> {
    let n = k.rows();
    let PsdWork {
        mut l,
        mut mem,
        pool,
    } = work;
    let maxdiag = (0..n).map(|i| k.at(i, i)).fold(0.0, f64::max);
    if let Some(i) = (0..n).find(|&i| k.at(i, i) < -PSD_RTOL * maxdiag) {
        return Err(Error::Numerical(format!(
            "{name} is not positive semi-definite: {name}[{i},{i}] = {:e} < 0",
            k.at(i, i)
        )));
    }
    copy_into(k, &mut l);
    let e = pow2_scale_exponent(max_abs(&l));
    scale_in_place(&mut l, e);
    let sdiag = (0..n).map(|i| l[(i, i)]).fold(0.0, f64::max);
    let shift = PSD_RTOL * sdiag + f64::MIN_POSITIVE;
    for i in 0..n {
        l[(i, i)] += shift;
    }
    let par = faer_par();
    let r = pool.install(|| {
        faer::linalg::cholesky::llt::factor::cholesky_in_place(
            l.as_mut(),
            Default::default(),
            par,
            MemStack::new(&mut mem),
            Default::default(),
        )
    });
    match r {
        Ok(_) => Ok(()),
        Err(_) => Err(Error::Numerical(format!(
            "{name} is not positive semi-definite: its smallest eigenvalue is below \
             -{PSD_RTOL:e} x max diagonal ({maxdiag:e}) (Cholesky of K + {:e} I failed)",
            scale_pow2(shift, -e)
        ))),
    }
}

/// Symmetric eigendecomposition K = U·diag(λ)·Uᵀ, eigenvalues ascending.
pub struct SymEigen {
    /// λ ascending.
    pub values: Vec<f64>,
    /// U (column j is the eigenvector of λ_j), column-major in faer.
    pub vectors: Option<Mat<f64>>,
}

/// Everything an n × n symmetric eigendecomposition allocates (faer's scratch, the eigenvalues,
/// the eigenvectors when asked, faer's per-thread GEMM buffers), reserved fallibly up front:
/// `Error::Allocation` naming the part that cannot be had, before any matrix is read.
pub(crate) struct EigWork {
    mem: MemBuffer,
    s: Mat<f64>,
    u: Option<Mat<f64>>,
    pool: FaerPool,
}

impl EigWork {
    /// Reserves the workspace of an n × n decomposition, with eigenvectors when `vectors`.
    pub fn try_new(n: usize, vectors: bool) -> Result<EigWork> {
        let compute = if vectors {
            ComputeEigenvectors::Yes
        } else {
            ComputeEigenvectors::No
        };
        // Sizes first with checked arithmetic (faer's scratch computation assumes they fit).
        let nn = checked_mul(n, n, "eigendecomposition")?;
        checked_mul(nn, 8, "eigendecomposition")?;
        let req = self_adjoint_evd_scratch::<f64>(n, compute, faer_par(), Default::default());
        let mem = MemBuffer::try_new(req)
            .map_err(|_| Error::Allocation("eigendecomposition workspace".into()))?;
        let s = try_mat(n, 1, "eigenvalues")?;
        let u = if vectors {
            Some(try_mat(n, n, "eigenvectors")?)
        } else {
            None
        };
        let pool = ensure_gemm_workspace(n)?;
        Ok(EigWork { mem, s, u, pool })
    }
}

impl SymEigen {
    /// Eigendecomposition of the symmetric `k` (lower triangle read). With `vectors = false` only
    /// the eigenvalues are computed (about 4/3·D³ flops instead of about 9·D³). All memory is
    /// reserved fallibly (`EigWork`); kernels of extreme scale are decomposed as 2^e·K
    /// (`pow2_scale_exponent`; one extra fallible copy of K in that case only).
    ///
    /// # Errors
    /// `Allocation` (workspace or the scaled copy), `Numerical` if the iteration does not converge.
    pub fn new(k: &Mat<f64>, vectors: bool) -> Result<SymEigen> {
        let work = EigWork::try_new(k.nrows(), vectors)?;
        let e = pow2_scale_exponent(max_abs(k));
        if e == 0 {
            Self::run(k, 0, work)
        } else {
            let mut c = try_mat(k.nrows(), k.ncols(), "scaled kernel copy")?;
            copy_into(
                // SAFETY: the column-major layout of faer's Mat (as in check_psd); `k` is only
                // read, and `c` is a different matrix.
                unsafe { MatRef::from_raw(k.as_ptr(), k.nrows(), k.ncols(), 1, k.col_stride()) },
                &mut c,
            );
            scale_in_place(&mut c, e);
            Self::run(&c, e, work)
        }
    }

    /// [`SymEigen::new`] on an owned matrix (scaled in place, no extra copy) with a workspace
    /// reserved beforehand.
    pub(crate) fn from_owned(mut k: Mat<f64>, work: EigWork) -> Result<SymEigen> {
        let e = pow2_scale_exponent(max_abs(&k));
        scale_in_place(&mut k, e);
        Self::run(&k, e, work)
    }

    /// Decomposes `k` = 2^e·K and returns the eigenpairs of K.
    fn run(k: &Mat<f64>, e: i32, work: EigWork) -> Result<SymEigen> {
        let n = k.nrows();
        let par = faer_par();
        let EigWork {
            mut mem,
            mut s,
            mut u,
            pool,
        } = work;
        let r = pool.install(|| {
            self_adjoint_evd(
                k.as_ref(),
                s.as_mut().col_mut(0).as_diagonal_mut(),
                u.as_mut().map(|u| u.as_mut()),
                par,
                MemStack::new(&mut mem),
                Default::default(),
            )
        });
        r.map_err(|e| Error::Numerical(format!("eigendecomposition did not converge: {e:?}")))?;
        let values: Vec<f64> = (0..n).map(|i| scale_pow2(s[(i, 0)], -e)).collect();
        if let Some(i) = values.iter().position(|v| !v.is_finite()) {
            return Err(Error::Numerical(format!(
                "eigenvalue {i} is not finite (the kernel's eigenvalues overflow the double range)"
            )));
        }
        Ok(SymEigen { values, vectors: u })
    }

    /// U as a strided view (column-major).
    pub fn u(&self) -> MatRef<'_> {
        let u = self.vectors.as_ref().expect("eigenvectors were computed");
        // SAFETY: the column-major layout of faer's Mat (as in check_psd), borrowed from &self.
        unsafe { MatRef::from_raw(u.as_ptr(), u.nrows(), u.ncols(), 1, u.col_stride()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pow2_scaling_is_exact_and_covers_the_range() {
        for &x in &[1e-310, 4.9e-324, 1e-250, 3.0, 1e250, f64::MAX] {
            let e = pow2_scale_exponent(x);
            let y = scale_pow2(x, e);
            if (6.2e-61..=1.6e60).contains(&x) {
                assert_eq!(e, 0);
            } else {
                assert!((1.0..2.0).contains(&y), "{x}: 2^{e} x = {y}");
                assert_eq!(scale_pow2(y, -e), x, "{x} round trip");
            }
        }
        assert_eq!(pow2_scale_exponent(0.0), 0);
    }

    #[test]
    fn load_symmetric_allocates_before_reading() {
        // A broadcast 2^31 x 2^31 view of one element: 32 EiB cannot be reserved, and the view
        // is rejected without being scanned (a scan would take minutes).
        let one = [1.0];
        // SAFETY: strides (0, 0): every (i, j) reads one[0], valid for the test's duration.
        let k = unsafe { MatRef::from_raw(one.as_ptr(), 1 << 31, 1 << 31, 0, 0) };
        let t0 = std::time::Instant::now();
        let r = load_symmetric(k, "k", |n| EigWork::try_new(n, false));
        assert!(matches!(r, Err(Error::Allocation(_))));
        assert!(t0.elapsed().as_secs_f64() < 1.0);
    }
}
