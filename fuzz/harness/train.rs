//! Target `train`: ntk_network_train.

use super::*;
use ntk::ffi::ntk_status;
use std::ffi::c_int;
use std::ptr::null_mut;

/// Target: ntk_network_train (random network, data, cost, learning rate, steps, cancel). On
/// failure before training (bad arguments) the parameters are unchanged; on success they and the
/// loss history are finite.
pub fn fuzz_train(data: &[u8]) -> Option<ntk_status> {
    use ntk::ffi::network::ntk_network_get_params;
    use ntk::ffi::train::ntk_network_train;
    let mut b = Bytes::new(data);
    let m = make_model(&mut b)?;
    let n = 1 + b.below(4);
    // Absurd row counts that a (lazy, ASan) allocator would still grant become 2^40, which
    // none grants: the library must answer ALLOCATION at once (see `points_buffer`).
    let absurd = |r: usize| {
        if r > MAX_BUF && r < 1 << 40 {
            1 << 40
        } else {
            r
        }
    };
    let (xr, xc) = shape_near(&mut b, n, m.n0);
    let mut x = Buffer::new(&mut b, absurd(xr), xc, false);
    x.fill(&mut b);
    let (yr, yc) = shape_near(&mut b, n, m.nl);
    let mut y = Buffer::new(&mut b, absurd(yr), yc, false);
    y.fill(&mut b);
    let cost: c_int = match b.u8() % 8 {
        7 => 5,
        v => (v % 2) as c_int,
    };
    let lr = match b.u8() % 4 {
        0 => b.value(),
        _ => b.u8() as f64 / 256.0,
    };
    let steps = if b.u8() == 255 {
        usize::MAX
    } else {
        b.below(5)
    };
    // steps = usize::MAX only with a history buffer, which the library must reject (steps + 1
    // overflows); without one it would (correctly) train for 2^64 steps.
    let with_history =
        (b.u8() % 2 == 0 || steps == usize::MAX) && (steps < 100 || steps == usize::MAX);
    let mut history = vec![
        SENTINEL;
        if with_history && steps < 100 {
            steps + 2
        } else {
            1
        }
    ];
    let cancel_at = if b.u8() % 4 == 0 {
        1 + b.below(4) as u64
    } else {
        0
    };
    let cancel = CancelOpts::new(cancel_at);
    let mut before = vec![0.0; m.p];
    unsafe { ntk_network_get_params(m.net.0, before.as_mut_ptr(), m.p) };
    let nulls = b.u8();
    let st = unsafe {
        ntk_network_train(
            if nulls == 1 { null_mut() } else { m.net.0 },
            x.as_input(nulls == 2),
            y.as_input(nulls == 3),
            cost,
            lr,
            steps,
            if with_history {
                history.as_mut_ptr()
            } else {
                null_mut()
            },
            cancel.ptr(false),
        )
    };
    check_status(st, "ntk_network_train");
    let mut after = vec![0.0; m.p];
    unsafe { ntk_network_get_params(m.net.0, after.as_mut_ptr(), m.p) };
    if std::env::var_os("NTK_FUZZ_DEBUG").is_some() {
        eprintln!(
            "train st {st:?} cost {cost} lr {lr} steps {steps} hist {with_history} cancel {cancel_at} x {:?} y {:?} before {before:?} after {after:?} err {}",
            x.data, y.data, last_error()
        );
    }
    assert!(
        after.iter().all(|v| v.is_finite()),
        "non-finite parameters after train"
    );
    match st {
        ntk_status::Ok => {
            assert!(
                steps < 100,
                "train accepted steps = {steps} with a 1-element history"
            );
            if with_history {
                assert!(history[..=steps].iter().all(|v| v.is_finite()));
                assert_eq!(history[steps + 1].to_bits(), SENTINEL.to_bits());
            }
        }
        ntk_status::Cancelled | ntk_status::Numerical => {}
        _ => {
            assert_eq!(
                bits(&after),
                bits(&before),
                "failed train changed the network"
            );
            assert!(history.iter().all(|v| v.to_bits() == SENTINEL.to_bits()));
        }
    }
    Some(st)
}
