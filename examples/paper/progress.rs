//! Live progress for the paper job: one line per phase with what runs, done/total, elapsed time
//! and an estimate of the remaining time, redrawn in place every 0.5 s on a terminal and printed
//! as plain lines every 2 s otherwise (CI logs); silent with `--quiet`. Ctrl-C sets a flag that the
//! work loops see through their progress callbacks (the library's `Progress`), so the phase stops
//! at the next training step and the figures already written stay.

use crate::core::Monitor;
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Set by the SIGINT handler.
pub static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_sigint(_: libc::c_int) {
    // A second Ctrl-C exits at once (only async-signal-safe calls here).
    if INTERRUPTED.swap(true, Ordering::SeqCst) {
        unsafe { libc::_exit(130) };
    }
}

/// Installs the SIGINT handler that sets [`INTERRUPTED`], and restores the default SIGPIPE
/// action (Rust ignores it), so that `paper | head` ends quietly like any Unix tool instead of
/// panicking on a closed stdout.
pub fn install_sigint() {
    let handler = on_sigint as extern "C" fn(libc::c_int);
    unsafe {
        libc::signal(libc::SIGINT, handler as libc::sighandler_t);
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Columns of the terminal on stdout (80 when unknown).
fn terminal_columns() -> usize {
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: TIOCGWINSZ writes one winsize into the pointed-to struct.
    let ok = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut ws) } == 0;
    if ok && ws.ws_col > 0 {
        ws.ws_col as usize
    } else {
        80
    }
}

struct State {
    phase: String,
    unit: String,
    total: u64,
    started: Instant,
}

/// The progress display: a background thread prints the current phase's state.
pub struct Live {
    quiet: bool,
    tty: bool,
    state: Mutex<Option<State>>,
    done: AtomicU64,
    stop: AtomicBool,
    /// Whether the in-place line is on screen (to be cleared before a message).
    dirty: AtomicBool,
    run_start: Instant,
}

fn fmt_secs(s: f64) -> String {
    if s < 60.0 {
        format!("{s:.0} s")
    } else if s < 3600.0 {
        format!("{}m{:02.0}s", (s / 60.0).floor(), s % 60.0)
    } else {
        format!("{}h{:02.0}m", (s / 3600.0).floor(), (s % 3600.0) / 60.0)
    }
}

impl Live {
    pub fn new(quiet: bool) -> Arc<Live> {
        let live = Arc::new(Live {
            quiet,
            tty: std::io::stdout().is_terminal(),
            state: Mutex::new(None),
            done: AtomicU64::new(0),
            stop: AtomicBool::new(false),
            dirty: AtomicBool::new(false),
            run_start: Instant::now(),
        });
        if !quiet {
            let l = Arc::clone(&live);
            std::thread::spawn(move || l.ticker());
        }
        live
    }

    fn line(&self) -> Option<String> {
        let st = self.state.lock().unwrap();
        let st = st.as_ref()?;
        let done = self.done.load(Ordering::Relaxed).min(st.total);
        let frac = done as f64 / st.total.max(1) as f64;
        let el = st.started.elapsed().as_secs_f64();
        let eta = if frac > 0.0 && el > 0.5 {
            fmt_secs(el * (1.0 - frac) / frac)
        } else {
            "…".into()
        };
        Some(format!(
            "[{:>6}] {}: {done}/{} {} ({:.0} %) · {} elapsed · ETA {}",
            fmt_secs(self.run_start.elapsed().as_secs_f64()),
            st.phase,
            st.total,
            st.unit,
            100.0 * frac,
            fmt_secs(el),
            eta
        ))
    }

    fn ticker(&self) {
        let period = if self.tty {
            Duration::from_millis(500)
        } else {
            Duration::from_secs(2)
        };
        let mut last = Instant::now();
        while !self.stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(100));
            if last.elapsed() < period {
                continue;
            }
            last = Instant::now();
            if let Some(l) = self.line() {
                let mut out = std::io::stdout().lock();
                if self.tty {
                    // Cut to the terminal's width: a wrapped line cannot be redrawn with \r.
                    let l: String = l
                        .chars()
                        .take(terminal_columns().saturating_sub(1))
                        .collect();
                    let _ = write!(out, "\r\x1b[2K{l}");
                    self.dirty.store(true, Ordering::Relaxed);
                } else {
                    let _ = writeln!(out, "{l}");
                }
                let _ = out.flush();
            }
        }
    }

    /// Prints a finished result (clearing the in-place line first).
    pub fn say(&self, msg: &str) {
        if self.quiet {
            return;
        }
        let mut out = std::io::stdout().lock();
        if self.dirty.swap(false, Ordering::Relaxed) {
            let _ = write!(out, "\r\x1b[2K");
        }
        let _ = writeln!(
            out,
            "[{:>6}] {msg}",
            fmt_secs(self.run_start.elapsed().as_secs_f64())
        );
        let _ = out.flush();
    }

    /// Ends the display (clears the line and stops the thread).
    pub fn finish(&self) {
        *self.state.lock().unwrap() = None;
        self.stop.store(true, Ordering::Relaxed);
        if self.dirty.swap(false, Ordering::Relaxed) && !self.quiet {
            print!("\r\x1b[2K");
            let _ = std::io::stdout().flush();
        }
    }
}

impl Monitor for Live {
    fn phase(&self, name: &str, unit: &str, total: u64) {
        self.done.store(0, Ordering::Relaxed);
        *self.state.lock().unwrap() = Some(State {
            phase: name.into(),
            unit: unit.into(),
            total,
            started: Instant::now(),
        });
    }
    fn work(&self, amount: u64) -> bool {
        self.done.fetch_add(amount, Ordering::Relaxed);
        !INTERRUPTED.load(Ordering::Relaxed)
    }
    fn note(&self, msg: &str) {
        self.say(msg);
    }
}
