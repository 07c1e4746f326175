//! The kubelet's exponential back-off per key (an image for pulls, a container for restarts):
//! the delay starts at an initial value and doubles on each failure up to a maximum, and starts
//! over once no failure happened for twice the maximum.

use std::collections::HashMap;
use std::time::Duration;

#[derive(Debug)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    /// Current delay and the (simulated) time of the last failure, by key.
    entries: HashMap<String, (Duration, jiff::Timestamp)>,
}

fn elapsed(since: jiff::Timestamp, now: jiff::Timestamp) -> Duration {
    Duration::try_from(now.duration_since(since)).unwrap_or(Duration::ZERO)
}

impl Backoff {
    pub fn new(initial: Duration, max: Duration) -> Self {
        Backoff { initial, max: max.max(initial), entries: HashMap::new() }
    }

    /// Records a failure at `now`: the delay starts or doubles.
    pub fn next(&mut self, key: &str, now: jiff::Timestamp) {
        let delay = match self.entries.get(key) {
            Some((delay, last)) if elapsed(*last, now) <= 2 * self.max => (*delay * 2).min(self.max),
            _ => self.initial,
        };
        self.entries.insert(key.to_string(), (delay, now));
    }

    /// How much of the delay since the last failure is left.
    pub fn remaining(&self, key: &str, now: jiff::Timestamp) -> Option<Duration> {
        let (delay, last) = self.entries.get(key)?;
        delay.checked_sub(elapsed(*last, now)).filter(|d| !d.is_zero())
    }

    /// How much of the delay since `event` (say, a container's exit) is left.
    pub fn remaining_since(&self, key: &str, event: jiff::Timestamp, now: jiff::Timestamp) -> Option<Duration> {
        let (delay, _) = self.entries.get(key)?;
        delay.checked_sub(elapsed(event, now)).filter(|d| !d.is_zero())
    }

    /// The current delay, if the key failed before.
    pub fn delay(&self, key: &str) -> Option<Duration> {
        self.entries.get(key).map(|(d, _)| *d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> jiff::Timestamp {
        jiff::Timestamp::from_second(1_700_000_000 + seconds).unwrap()
    }

    #[test]
    fn delays_double_up_to_the_maximum() {
        let mut b = Backoff::new(Duration::from_secs(10), Duration::from_secs(300));
        let mut delays = Vec::new();
        for i in 0..7 {
            b.next("image", at(i));
            delays.push(b.delay("image").unwrap().as_secs());
        }
        assert_eq!(delays, [10, 20, 40, 80, 160, 300, 300]);
    }

    #[test]
    fn remaining_counts_down_and_resets_after_quiet() {
        let mut b = Backoff::new(Duration::from_secs(10), Duration::from_secs(300));
        assert_eq!(b.remaining("k", at(0)), None);
        b.next("k", at(0));
        assert_eq!(b.remaining("k", at(4)), Some(Duration::from_secs(6)));
        assert_eq!(b.remaining("k", at(10)), None);
        assert_eq!(b.remaining_since("k", at(5), at(6)), Some(Duration::from_secs(9)));
        b.next("k", at(700));
        assert_eq!(b.delay("k"), Some(Duration::from_secs(10)), "a long quiet period starts over");
    }
}
