//! The one retry loop of this crate: every call to the domain and the answer to
//! CloudFormation go through [`until`]. An attempt says whether it is done, worth another
//! try, or a failure to give up on; waits follow capped exponential backoff with full
//! jitter; no attempt starts, and none runs, past the deadline.

use std::future::Future;
use std::time::{Duration, Instant};

use crate::SetupError;

/// What one attempt came to.
#[derive(Debug)]
pub enum Verdict<T> {
    /// Finished: the value.
    Done(T),
    /// A transient failure (transport error, 429, 502/503/504): try again.
    Retry(String),
    /// A failure another try will not fix.
    Fail(SetupError),
}

/// The first wait between attempts.
const BASE: Duration = Duration::from_millis(250);
/// The longest wait between attempts.
const CAP: Duration = Duration::from_secs(5);

/// Runs `attempt` until it is done or fails, retrying transient failures until `deadline`.
/// Each attempt gets the time left, to bound its own request. `what` names the call in
/// the error when the deadline passes.
pub async fn until<T, F, Fut>(
    what: &str,
    deadline: Instant,
    mut attempt: F,
) -> Result<T, SetupError>
where
    F: FnMut(Duration) -> Fut,
    Fut: Future<Output = Verdict<T>>,
{
    let started = Instant::now();
    let mut last = String::from("no attempt made");
    for n in 1u32.. {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        match attempt(left).await {
            Verdict::Done(v) => return Ok(v),
            Verdict::Fail(e) => return Err(e),
            Verdict::Retry(why) => {
                tracing::debug!(call = what, attempt = n, reason = %why, "retrying");
                last = why;
            }
        }
        let wait = delay(n, jitter()).min(deadline.saturating_duration_since(Instant::now()));
        tokio::time::sleep(wait).await;
    }
    Err(SetupError::Deadline {
        what: what.to_string(),
        secs: started.elapsed().as_secs(),
        last,
    })
}

/// The wait after attempt `n` (1-based): `BASE · 2^(n−1)`, at most `CAP`, times `jitter`.
fn delay(n: u32, jitter: f64) -> Duration {
    let exp = BASE.saturating_mul(1u32.checked_shl(n - 1).unwrap_or(u32::MAX));
    exp.min(CAP).mul_f64(jitter.clamp(0.0, 1.0))
}

/// A random factor in [0, 1), from the standard library's per-process hasher keys.
fn jitter() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(Instant::now().elapsed().as_nanos());
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_is_capped_exponential() {
        let full: Vec<u128> = (1..=7).map(|n| delay(n, 1.0).as_millis()).collect();
        assert_eq!(full, [250, 500, 1000, 2000, 4000, 5000, 5000]);
        assert_eq!(delay(3, 0.5), Duration::from_millis(500));
        assert_eq!(delay(40, 1.0), CAP);
        assert!((0..100).map(|_| jitter()).all(|j| (0.0..1.0).contains(&j)));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn transient_failures_are_retried_until_done() {
        let mut calls = 0;
        let deadline = Instant::now() + Duration::from_secs(10);
        let v = until("test", deadline, |_| {
            calls += 1;
            let n = calls;
            async move {
                if n < 3 {
                    Verdict::Retry(format!("try {n}"))
                } else {
                    Verdict::Done(n)
                }
            }
        })
        .await
        .unwrap();
        assert_eq!(v, 3);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_failure_stops_at_once_and_the_deadline_bounds_retries() {
        let deadline = Instant::now() + Duration::from_secs(10);
        let e = until::<(), _, _>("test", deadline, |_| async {
            Verdict::Fail(SetupError::Config("bad".into()))
        })
        .await
        .unwrap_err();
        assert!(matches!(e, SetupError::Config(_)));

        let started = Instant::now();
        let deadline = started + Duration::from_millis(600);
        let e = until::<(), _, _>("the probe", deadline, |_| async {
            Verdict::Retry("HTTP 503".into())
        })
        .await
        .unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(2));
        let text = e.to_string();
        assert!(
            text.contains("the probe") && text.contains("HTTP 503"),
            "{text}"
        );
    }
}
