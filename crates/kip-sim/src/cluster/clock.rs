//! Simulated time. The cluster runs `scale` simulated seconds per real second, so benchmarks
//! can cover hours of pulls, back-offs and readiness delays in minutes. Every duration the
//! simulation waits for is given in simulated time and converted here; every timestamp the
//! simulation writes (container start times, condition transitions) is read from this clock, so
//! comparisons such as `minReadySeconds` stay consistent at any scale.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

/// The longest real wait the clock hands to tokio; longer sleeps are as good as forever and
/// must not overflow `Instant` arithmetic.
const LONGEST_REAL_WAIT: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

#[derive(Clone, Debug)]
pub struct SimClock {
    inner: Arc<ClockInner>,
}

#[derive(Debug)]
struct ClockInner {
    scale: f64,
    origin: Instant,
    origin_wall: jiff::Timestamp,
}

impl SimClock {
    /// A clock running `scale` simulated seconds per real second. A scale that is not a
    /// positive finite number is taken as 1.0.
    pub fn new(scale: f64) -> Self {
        let scale = if scale.is_finite() && scale > 0.0 { scale } else { 1.0 };
        SimClock { inner: Arc::new(ClockInner { scale, origin: Instant::now(), origin_wall: jiff::Timestamp::now() }) }
    }

    pub fn scale(&self) -> f64 {
        self.inner.scale
    }

    /// Simulated time elapsed since the clock started.
    pub fn elapsed(&self) -> Duration {
        self.to_sim(self.inner.origin.elapsed())
    }

    /// The simulated wall-clock time: real time at start plus simulated time since.
    pub fn now(&self) -> jiff::Timestamp {
        let elapsed = jiff::SignedDuration::try_from(self.elapsed()).unwrap_or(jiff::SignedDuration::MAX);
        self.inner.origin_wall.checked_add(elapsed).unwrap_or(jiff::Timestamp::MAX)
    }

    /// Now, as Kubernetes writes timestamps (RFC 3339, whole seconds, UTC).
    pub fn timestamp(&self) -> String {
        format_timestamp(self.now())
    }

    /// The real duration that `sim` simulated time takes.
    pub fn to_real(&self, sim: Duration) -> Duration {
        Duration::try_from_secs_f64(sim.as_secs_f64() / self.inner.scale)
            .unwrap_or(LONGEST_REAL_WAIT)
            .min(LONGEST_REAL_WAIT)
    }

    /// The simulated duration that `real` time represents.
    pub fn to_sim(&self, real: Duration) -> Duration {
        Duration::try_from_secs_f64(real.as_secs_f64() * self.inner.scale).unwrap_or(Duration::MAX)
    }

    /// The real instant at which `sim` simulated time from now has passed.
    pub fn deadline(&self, sim: Duration) -> Instant {
        let now = Instant::now();
        now.checked_add(self.to_real(sim)).unwrap_or(now + LONGEST_REAL_WAIT)
    }

    pub async fn sleep(&self, sim: Duration) {
        tokio::time::sleep(self.to_real(sim)).await;
    }
}

/// A timestamp as Kubernetes writes it.
pub fn format_timestamp(t: jiff::Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Parses a Kubernetes timestamp (RFC 3339); `None` when absent or malformed.
pub fn parse_timestamp(s: &str) -> Option<jiff::Timestamp> {
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_scale_both_ways() {
        let clock = SimClock::new(100.0);
        assert_eq!(clock.to_real(Duration::from_secs(10)), Duration::from_millis(100));
        assert_eq!(clock.to_sim(Duration::from_millis(100)), Duration::from_secs(10));
    }

    #[test]
    fn invalid_scale_means_real_time() {
        for scale in [0.0, -3.0, f64::NAN, f64::INFINITY] {
            assert_eq!(SimClock::new(scale).scale(), 1.0, "scale {scale}");
        }
    }

    #[test]
    fn huge_waits_do_not_overflow() {
        let clock = SimClock::new(1e-9);
        assert_eq!(clock.to_real(Duration::from_secs(720 * 3600)), LONGEST_REAL_WAIT);
        assert!(clock.deadline(Duration::MAX) > Instant::now());
    }

    #[test]
    fn timestamps_round_trip_at_second_precision() {
        let clock = SimClock::new(1.0);
        let text = clock.timestamp();
        assert!(text.ends_with('Z') && text.len() == 20, "{text}");
        assert!(parse_timestamp(&text).is_some());
        assert!(parse_timestamp("yesterday").is_none());
    }
}
