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

/// Sets the number of worker threads used by later computations (0 = one per core).
///
/// # Errors
/// `InvalidArgument` for n > [`MAX_THREADS`], `Allocation` when the pool cannot be built.
pub fn set_num_threads(n: usize) -> Result<()> {
    if n > MAX_THREADS {
        return crate::invalid!("num_threads = {n} exceeds the maximum {MAX_THREADS}");
    }
    let n = if n == 0 { default_threads() } else { n };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .thread_name(|i| format!("ntk-worker-{i}"))
        .build()
        .map_err(|e| Error::Allocation(format!("cannot start {n} threads: {e}")))?;
    *POOL.lock().unwrap_or_else(|p| p.into_inner()) = Some((n, Arc::new(pool)));
    Ok(())
}

/// The number of worker threads computations use.
pub fn num_threads() -> usize {
    pool().0
}

fn pool() -> (usize, Arc<rayon::ThreadPool>) {
    let mut guard = POOL.lock().unwrap_or_else(|p| p.into_inner());
    if guard.is_none() {
        let n = default_threads();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .thread_name(|i| format!("ntk-worker-{i}"))
            .build()
            .expect("the default thread pool starts");
        *guard = Some((n, Arc::new(pool)));
    }
    let (n, p) = guard.as_ref().unwrap();
    (*n, Arc::clone(p))
}

/// Runs `f` inside the library's pool (so that rayon calls in `f` use it).
pub fn install<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    let (_, p) = pool();
    p.install(f)
}

/// Runs `f` on the calling thread inside a rayon scope of the library's pool: jobs spawned on
/// the scope run on the pool while `f` continues (used to poll progress on the calling thread
/// while the pool works, see `kernel::limit::watch`).
pub(crate) fn in_place_scope<'s, R>(f: impl FnOnce(&rayon::Scope<'s>) -> R) -> R {
    let (_, p) = pool();
    p.in_place_scope(f)
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
    let (threads, p) = pool();
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
