//! Parallel phases of the limit kernels with progress and cancellation at a bounded interval.
//!
//! Every phase of one call (per-point chains of X1, of X2, the tiles) reports into one monotone
//! (done, total) sequence: `total` is the sum of the units of all phases (a point, or an entry of
//! a tile), `done` the units finished so far. With a progress callback the work runs as one job on
//! the library pool while the *calling* thread waits for it, waking at least every
//! [`REPORT_INTERVAL`] to report; a cancel (or a work budget exceeded, see
//! [`super::numerical::PAIR_EVAL_BUDGET`]) sets a stop flag that the workers read between items,
//! between rows of a tile and between the outer nodes of a pair quadrature, so the call returns
//! within about one outer node's work (≤ 30·[`super::quadrature::MAX_PANELS`] activation
//! evaluations) after the callback asked to stop.
//!
//! Called from a worker thread of a rayon pool (nested use), there is no thread left to poll: the
//! phase then runs as one wave with reports at its two ends.

use crate::parallel::Progress;
use crate::{Error, Result};
use rayon::prelude::*;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

/// Longest wait of the calling thread between two progress reports.
pub const REPORT_INTERVAL: Duration = Duration::from_millis(20);

/// Where one phase sits in the call's (done, total) sequence.
#[derive(Clone, Copy, Debug)]
pub struct Phase {
    /// Units finished by the earlier phases.
    pub base: u64,
    /// Units of the whole call.
    pub total: u64,
}

impl Phase {
    /// A call with a single phase of `units` units.
    pub fn whole(units: u64) -> Phase {
        Phase {
            base: 0,
            total: units,
        }
    }
}

/// Runs `work(state, i)` for every i < n on the library pool (`init` builds per-worker state, as
/// rayon's `for_each_init`), reporting `phase.base + (units of the items done)` out of
/// `phase.total` on the calling thread at least every [`REPORT_INTERVAL`], and at the end.
/// `stop` is set on cancel; `work` should return early when it is set. Items skipped after a stop
/// are not counted. Returns `Err(Cancelled)` when the callback asked to stop.
pub fn run<S, I, F, U>(
    n: usize,
    units: U,
    phase: Phase,
    stop: &AtomicBool,
    progress: &mut Progress<'_>,
    init: I,
    work: F,
) -> Result<()>
where
    I: Fn() -> S + Sync + Send,
    F: Fn(&mut S, usize) + Sync + Send,
    U: Fn(usize) -> u64 + Sync + Send,
{
    let done = AtomicU64::new(0);
    let body = || {
        (0..n).into_par_iter().for_each_init(&init, |s, i| {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            work(s, i);
            done.fetch_add(units(i), Ordering::Relaxed);
        })
    };
    if !progress.has_callback() {
        crate::parallel::install(body)?;
        return Ok(());
    }
    let all: u64 = (0..n).map(&units).sum();
    progress.report(phase.base, phase.total)?;
    if rayon::current_thread_index().is_some() {
        crate::parallel::install(body)?;
    } else {
        let finished = AtomicBool::new(false);
        let caller = std::thread::current();
        let mut cancelled = false;
        crate::parallel::in_place_scope(|scope| {
            scope.spawn(|_| {
                body();
                finished.store(true, Ordering::Release);
                caller.unpark();
            });
            while !finished.load(Ordering::Acquire) {
                std::thread::park_timeout(REPORT_INTERVAL);
                if finished.load(Ordering::Acquire) {
                    break;
                }
                let d = phase.base + done.load(Ordering::Relaxed).min(all);
                if progress.report(d, phase.total).is_err() {
                    stop.store(true, Ordering::Relaxed);
                    cancelled = true;
                    break;
                }
            }
        })?;
        if cancelled {
            return Err(Error::Cancelled);
        }
    }
    progress.report(phase.base + all, phase.total)
}
