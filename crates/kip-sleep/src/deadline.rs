//! The arithmetic of a long wait: a deadline on the monotonic clock, and how much of what
//! remains the next wait may cover.
//!
//! The binary waits in slices of at most [`MAX_WAIT_SECS`] and recomputes what remains from
//! `CLOCK_MONOTONIC` after every wake-up (a slice that ended, an interruption). So the total is
//! right however long the duration (up to 292 years) and however often the wait is interrupted,
//! and no single timeout comes near the limits of the kernel's 64-bit nanosecond timers.

/// Nanoseconds in a second.
pub const NANOS_PER_SEC: i64 = 1_000_000_000;

/// The longest single wait: one day.
pub const MAX_WAIT_SECS: i64 = 24 * 60 * 60;

/// A point on the monotonic clock or a length of time; laid out as the kernel's 64-bit
/// `struct timespec`, so it can be handed to system calls as it is. `nanos` is in
/// `0..NANOS_PER_SEC`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timespec {
    pub secs: i64,
    pub nanos: i64,
}

impl Timespec {
    pub const ZERO: Timespec = Timespec { secs: 0, nanos: 0 };
}

/// The point `nanos` nanoseconds after `now`.
pub fn deadline_after(now: Timespec, nanos: u64) -> Timespec {
    // At most u64::MAX / 10^9, about 1.8e10: fits i64.
    let whole_secs = (nanos / NANOS_PER_SEC as u64) as i64;
    let mut deadline = Timespec {
        secs: now.secs.saturating_add(whole_secs),
        nanos: now.nanos + (nanos % NANOS_PER_SEC as u64) as i64,
    };
    if deadline.nanos >= NANOS_PER_SEC {
        deadline.secs = deadline.secs.saturating_add(1);
        deadline.nanos -= NANOS_PER_SEC;
    }
    deadline
}

/// How long the next wait should last: what remains until `deadline`, at most
/// [`MAX_WAIT_SECS`]; `None` once the deadline is reached.
pub fn next_wait(now: Timespec, deadline: Timespec) -> Option<Timespec> {
    if now >= deadline {
        return None;
    }
    let mut remaining = Timespec { secs: deadline.secs.saturating_sub(now.secs), nanos: deadline.nanos - now.nanos };
    if remaining.nanos < 0 {
        remaining.secs -= 1;
        remaining.nanos += NANOS_PER_SEC;
    }
    if remaining.secs >= MAX_WAIT_SECS {
        return Some(Timespec { secs: MAX_WAIT_SECS, nanos: 0 });
    }
    Some(remaining)
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn ts(secs: i64, nanos: i64) -> Timespec {
        Timespec { secs, nanos }
    }

    #[test]
    fn deadline_adds_with_carry() {
        let cases = [
            (ts(10, 0), 0, ts(10, 0)),
            (ts(10, 0), 300_000_000, ts(10, 300_000_000)),
            (ts(10, 900_000_000), 300_000_000, ts(11, 200_000_000)),
            (ts(10, 999_999_999), 1, ts(11, 0)),
            (ts(5, 1), 2_592_000_000_000_000, ts(2_592_005, 1)),
            (ts(100, 0), i64::MAX as u64, ts(100 + 9_223_372_036, 854_775_807)),
        ];
        for (now, nanos, want) in cases {
            assert_eq!(deadline_after(now, nanos), want, "{now:?} + {nanos}");
        }
    }

    #[test]
    fn next_wait_is_the_remainder_capped_at_a_day() {
        let cases = [
            (ts(10, 0), ts(10, 0), None),
            (ts(11, 0), ts(10, 0), None),
            (ts(10, 500), ts(10, 400), None),
            (ts(10, 400), ts(10, 500), Some(ts(0, 100))),
            (ts(10, 900_000_000), ts(12, 100_000_000), Some(ts(1, 200_000_000))),
            (ts(0, 0), ts(MAX_WAIT_SECS - 1, 999_999_999), Some(ts(MAX_WAIT_SECS - 1, 999_999_999))),
            (ts(0, 0), ts(MAX_WAIT_SECS, 0), Some(ts(MAX_WAIT_SECS, 0))),
            (ts(0, 0), ts(MAX_WAIT_SECS, 1), Some(ts(MAX_WAIT_SECS, 0))),
            (ts(3, 0), ts(3 + 30 * MAX_WAIT_SECS, 7), Some(ts(MAX_WAIT_SECS, 0))),
        ];
        for (now, deadline, want) in cases {
            assert_eq!(next_wait(now, deadline), want, "{now:?} -> {deadline:?}");
        }
    }

    /// Simulates a wait of 720h in capped slices, some cut short: the slices end exactly at the
    /// deadline.
    #[test]
    fn slices_add_up_to_the_whole_duration() {
        let start = ts(1_000, 123_456_789);
        let total = 720 * 3_600 * NANOS_PER_SEC as u64 + 5;
        let deadline = deadline_after(start, total);
        let mut now = start;
        let mut slices = 0;
        while let Some(wait) = next_wait(now, deadline) {
            assert!(wait.secs <= MAX_WAIT_SECS && (0..NANOS_PER_SEC).contains(&wait.nanos));
            // Every third slice is interrupted halfway, as by a stop and continue.
            let elapsed = if slices % 3 == 2 { ts(wait.secs / 2, wait.nanos / 2) } else { wait };
            now = deadline_after(now, (elapsed.secs * NANOS_PER_SEC + elapsed.nanos) as u64);
            slices += 1;
        }
        assert_eq!(now, deadline);
        assert!(slices > 30, "{slices}");
    }
}
