//! Retry timing shared by every client that talks to AWS: capped exponential backoff
//! with full jitter (the schedule AWS's architecture guidance recommends).

use std::time::{Duration, Instant};

/// The delay before retry `attempt` (1-based): `base · 2^(attempt−1)`, at most `cap`,
/// scaled by `jitter` in [0, 1] (full jitter).
pub fn backoff(attempt: u32, base: Duration, cap: Duration, jitter: f64) -> Duration {
    let exp = base.saturating_mul(
        1u32.checked_shl(attempt.saturating_sub(1))
            .unwrap_or(u32::MAX),
    );
    exp.min(cap).mul_f64(jitter.clamp(0.0, 1.0))
}

/// A retry schedule: capped exponential backoff from `base` up to `cap`, full jitter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The first delay (before jitter).
    pub base: Duration,
    /// The largest delay (before jitter).
    pub cap: Duration,
}

impl Backoff {
    /// A schedule from `base` up to `cap`.
    pub const fn new(base: Duration, cap: Duration) -> Self {
        Backoff { base, cap }
    }

    /// The jittered delay before retry `attempt` (1-based).
    pub fn delay(&self, attempt: u32) -> Duration {
        backoff(attempt, self.base, self.cap, jitter())
    }
}

/// A random factor in [0, 1) for jitter, seeded by the standard library's per-process
/// random hasher keys.
pub fn jitter() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(Instant::now().elapsed().as_nanos());
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// Whether a failed AWS call is worth retrying: an error code in `retryable_codes`
/// (throttling, server-side), HTTP 429 or 5xx, or a transport error (neither a code nor
/// a status came back).
pub fn retryable(code: Option<&str>, status: Option<u16>, retryable_codes: &[&str]) -> bool {
    code.is_some_and(|c| retryable_codes.contains(&c))
        || status.is_some_and(|s| s == 429 || s >= 500)
        || (code.is_none() && status.is_none())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_selection() {
        let codes = ["ThrottlingException"];
        assert!(retryable(Some("ThrottlingException"), Some(400), &codes));
        assert!(retryable(Some("Anything"), Some(503), &codes));
        assert!(retryable(None, Some(429), &codes));
        assert!(retryable(None, None, &codes));
        assert!(!retryable(
            Some("InvalidRequestException"),
            Some(400),
            &codes
        ));
        assert!(!retryable(None, Some(404), &codes));
    }

    #[test]
    fn backoff_is_capped_exponential_with_full_jitter() {
        let base = Duration::from_millis(100);
        let cap = Duration::from_secs(5);
        let full: Vec<u128> = (1..=8)
            .map(|a| backoff(a, base, cap, 1.0).as_millis())
            .collect();
        assert_eq!(full, [100, 200, 400, 800, 1600, 3200, 5000, 5000]);
        assert_eq!(backoff(3, base, cap, 0.5), Duration::from_millis(200));
        assert_eq!(backoff(3, base, cap, 0.0), Duration::ZERO);
        assert_eq!(backoff(60, base, cap, 1.0), cap);
        let schedule = Backoff::new(base, cap);
        assert!((1..=10).all(|a| schedule.delay(a) <= backoff(a, base, cap, 1.0)));
        let draws: Vec<f64> = (0..200).map(|_| jitter()).collect();
        assert!(draws.iter().all(|j| (0.0..1.0).contains(j)));
        let distinct: std::collections::BTreeSet<u64> = draws.iter().map(|j| j.to_bits()).collect();
        assert!(
            distinct.len() > 150,
            "jitter is not random: {}",
            distinct.len()
        );
    }
}
