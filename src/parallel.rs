//! Threads, progress and cancellation.
//!
//! All parallel work runs on one library-owned rayon pool whose size [`set_num_threads`] controls
//! (0 = one thread per available core). Work is always split into pieces whose boundaries do not
//! depend on the thread count, and every piece is computed by the same sequence of floating-point
//! operations whichever thread runs it, so results are bit-identical at any thread count.
//!
//! Progress callbacks are invoked on the *calling* thread only, between waves of tiles, so a
//! callback may safely call back into a single-threaded host (R, Julia, Python).

use crate::{Error, Result};
use rayon::prelude::*;
use std::sync::{Arc, Mutex};

static POOL: Mutex<Option<(usize, Arc<rayon::ThreadPool>)>> = Mutex::new(None);

fn default_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// Largest thread count accepted by [`set_num_threads`].
pub const MAX_THREADS: usize = 1024;

/// Builds a pool of `n` threads and returns only once every thread runs: rayon's `build` spawns
/// the threads but does not wait for them, so a broadcast (which completes when each thread has
/// executed it) follows. Each thread also allocates once at its start (its `start_handler`), so
/// that the allocator's per-thread state (glibc reserves a 64 MiB arena on a thread's first
/// `malloc`) is set up before any computation: under an address-space limit that reservation
/// cannot then come between a fallible size check and the allocation it checked (see
/// `linalg::symmetric::ensure_gemm_workspace`).
///
/// # Errors
/// `Allocation` naming the thread count when a thread cannot be started (never a panic).
fn build_pool(n: usize, name: &'static str) -> Result<rayon::ThreadPool> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .thread_name(move |i| format!("{name}-{i}"))
        .start_handler(|_| {
            std::hint::black_box(Box::new(0u64));
        })
        .build()
        .map_err(|e| Error::Allocation(format!("cannot start {n} threads: {e}")))?;
    pool.broadcast(|_| ());
    Ok(pool)
}

/// Sets the number of worker threads used by later computations (0 = one per core).
///
/// When it returns `Ok`, the new pool's threads are all running (started, named `ntk-worker-i`,
/// allocator state set up), so the next computation does not wait for thread start and cannot
/// fail to start threads; the previous pool is released (its threads exit once the computations
/// still using it finish). On any error the previous pool stays in use.
///
/// # Errors
/// `InvalidArgument` for n > [`MAX_THREADS`], `Allocation` when the pool cannot be built.
pub fn set_num_threads(n: usize) -> Result<()> {
    if n > MAX_THREADS {
        return crate::invalid!("num_threads = {n} exceeds the maximum {MAX_THREADS}");
    }
    let n = if n == 0 { default_threads() } else { n };
    let pool = build_pool(n, "ntk-worker")?;
    *POOL.lock().unwrap_or_else(|p| p.into_inner()) = Some((n, Arc::new(pool)));
    Ok(())
}

/// The number of worker threads computations use (the default, one per core, while no pool has
/// been started yet; asking does not start one).
pub fn num_threads() -> usize {
    let guard = POOL.lock().unwrap_or_else(|p| p.into_inner());
    guard.as_ref().map_or_else(default_threads, |(n, _)| *n)
}

/// The library pool, started with the default size on first use.
///
/// # Errors
/// `Allocation` when the default pool cannot be started (threads refused by the system).
fn pool() -> Result<(usize, Arc<rayon::ThreadPool>)> {
    let mut guard = POOL.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((n, p)) = guard.as_ref() {
        return Ok((*n, Arc::clone(p)));
    }
    let n = default_threads();
    let p = Arc::new(build_pool(n, "ntk-worker")?);
    *guard = Some((n, Arc::clone(&p)));
    Ok((n, p))
}

/// Runs `f` inside the library's pool (so that rayon calls in `f` use it).
///
/// # Errors
/// `Allocation` when the pool cannot be started.
pub fn install<R: Send>(f: impl FnOnce() -> R + Send) -> Result<R> {
    let (_, p) = pool()?;
    Ok(p.install(f))
}

/// Runs `par(data)` inside the library's pool when the pool can be had, else `seq(data)` on the
/// calling thread without any rayon call: `seq` must compute exactly what `par` does (bit for
/// bit), as the fixed blocking of the callers guarantees. For kernels without an error path
/// (`linalg::matvec`, the mirror of a symmetric tile).
pub(crate) fn install_or<T: Send, R: Send>(
    data: T,
    par: impl FnOnce(T) -> R + Send,
    seq: impl FnOnce(T) -> R,
) -> R {
    match pool() {
        Ok((_, p)) => p.install(|| par(data)),
        Err(_) => seq(data),
    }
}

/// Whether the process runs under a memory limit that can make a large allocation fail although
/// the machine has the memory: a finite RLIMIT_AS or RLIMIT_DATA (Linux counts private mappings
/// in both), or strict overcommit (`vm.overcommit_memory = 2`). Read at each call (a host may
/// change its limits at any time); without any of them an untouched reservation does not fail.
pub(crate) fn memory_limited() -> bool {
    #[cfg(unix)]
    {
        for res in [libc::RLIMIT_AS, libc::RLIMIT_DATA] {
            let mut r = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            // SAFETY: getrlimit writes one rlimit through a valid pointer.
            let rc = unsafe { libc::getrlimit(res, &mut r) };
            if rc != 0 || r.rlim_cur != libc::RLIM_INFINITY {
                return true;
            }
        }
        #[cfg(target_os = "linux")]
        {
            static STRICT: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
            if *STRICT.get_or_init(|| {
                std::fs::read_to_string("/proc/sys/vm/overcommit_memory")
                    .is_ok_and(|s| s.trim() == "2")
            }) {
                return true;
            }
        }
    }
    false
}

/// The pool on which faer's factorizations and products run. Without a memory limit
/// ([`memory_limited`]), the library pool. Under one, a pool of ONE thread (the library pool
/// itself when it has one thread, else a dedicated one started on first use): faer's x86 GEMM
/// backend gives every thread that multiplies a buffer of about twice the L3 size, allocated
/// *infallibly*, and a thread that is waiting inside a parallel product can pick up another
/// faer task and multiply again, which allocates a second such buffer, infallibly too; in a pool
/// of one thread no product waits for another thread, so only the one buffer of that thread is
/// ever needed, and `ensure_gemm_workspace` reserves it fallibly first. faer keeps its fixed
/// split (`FAER_PAR` tasks), so the bits are those of any other pool size.
///
/// # Errors
/// `Allocation` when the pool cannot be started.
pub(crate) fn faer_pool() -> Result<Arc<rayon::ThreadPool>> {
    let (n, p) = pool()?;
    if n == 1 || !memory_limited() {
        return Ok(p);
    }
    static ONE: Mutex<Option<Arc<rayon::ThreadPool>>> = Mutex::new(None);
    let mut guard = ONE.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(p) = guard.as_ref() {
        return Ok(Arc::clone(p));
    }
    let p = Arc::new(build_pool(1, "ntk-faer")?);
    *guard = Some(Arc::clone(&p));
    Ok(p)
}

/// Runs `f` on the calling thread inside a rayon scope of the library's pool: jobs spawned on
/// the scope run on the pool while `f` continues (used to poll progress on the calling thread
/// while the pool works, see `kernel::limit::watch`).
///
/// # Errors
/// `Allocation` when the pool cannot be started.
pub(crate) fn in_place_scope<'s, R>(f: impl FnOnce(&rayon::Scope<'s>) -> R) -> Result<R> {
    let (_, p) = pool()?;
    Ok(p.in_place_scope(f))
}

/// A progress callback: receives (done, total) and returns `true` to continue, `false` to cancel.
pub type ProgressFn<'a> = dyn FnMut(u64, u64) -> bool + 'a;

/// Progress reporting for one computation: an optional callback plus the running count.
pub struct Progress<'a> {
    callback: Option<&'a mut ProgressFn<'a>>,
}

impl<'a> Progress<'a> {
    /// No reporting, no cancellation.
    pub fn none() -> Self {
        Progress { callback: None }
    }

    /// Reports to `callback` (called on the calling thread; return `false` to cancel).
    pub fn new(callback: &'a mut ProgressFn<'a>) -> Self {
        Progress {
            callback: Some(callback),
        }
    }

    /// Whether a callback is installed (computations may then split work into waves to report).
    pub fn has_callback(&self) -> bool {
        self.callback.is_some()
    }

    /// Reports (done, total); returns `Err(Cancelled)` when the callback asks to stop.
    ///
    /// # Errors
    /// `Cancelled` when the callback returned false.
    pub fn report(&mut self, done: u64, total: u64) -> Result<()> {
        if let Some(cb) = self.callback.as_mut() {
            if !cb(done, total) {
                return Err(Error::Cancelled);
            }
        }
        Ok(())
    }
}

/// Runs `work(i)` for every `i < n` in parallel on the library pool. Without a callback all
/// items form one parallel wave; with one, items run in waves of about 4 per thread and the
/// callback is called on the calling thread after each wave with (items done, n). A cancel stops
/// before the next wave; items already done stay done.
///
/// `work` must write only to data owned by item `i`, so that the order of items does not matter.
pub(crate) fn for_each_item<F>(n: usize, progress: &mut Progress<'_>, work: F) -> Result<()>
where
    F: Fn(usize) + Sync + Send,
{
    for_each_item_init(n, progress, || (), |_, i| work(i))
}

/// [`for_each_item`] with per-worker state: `init()` builds a state (scratch buffers) that a
/// worker reuses for the items it runs (rayon's `for_each_init`: `init` runs once per split of
/// the item range, far fewer times than once per item). Results must not depend on which state
/// ran an item.
pub(crate) fn for_each_item_init<S, I, F>(
    n: usize,
    progress: &mut Progress<'_>,
    init: I,
    work: F,
) -> Result<()>
where
    I: Fn() -> S + Sync + Send,
    F: Fn(&mut S, usize) + Sync + Send,
{
    let (threads, p) = pool()?;
    if !progress.has_callback() {
        p.install(|| (0..n).into_par_iter().for_each_init(&init, &work));
        return Ok(());
    }
    progress.report(0, n as u64)?;
    let wave = (4 * threads).max(1);
    let mut start = 0;
    while start < n {
        let end = (start + wave).min(n);
        p.install(|| (start..end).into_par_iter().for_each_init(&init, &work));
        start = end;
        progress.report(end as u64, n as u64)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn cancel_stops_between_waves() {
        let count = AtomicUsize::new(0);
        let mut calls = 0;
        let mut cb = |_done: u64, _total: u64| {
            calls += 1;
            calls < 3
        };
        let mut progress = Progress::new(&mut cb);
        let r = for_each_item(100_000, &mut progress, |_| {
            count.fetch_add(1, Ordering::Relaxed);
        });
        assert_eq!(r, Err(Error::Cancelled));
        let done = count.load(Ordering::Relaxed);
        assert!(done > 0 && done < 100_000, "done = {done}");
    }
}
