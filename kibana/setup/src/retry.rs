//! The setup's calls on the workspace's retry helper (crate `retry`): an attempt says
//! whether it is done, worth another try, or a [`SetupError`] to give up on; waits follow
//! capped exponential backoff (250 ms to 5 s, full jitter) until the deadline, and no
//! attempt runs past it. Each attempt is told the time left, to bound its own request.

use std::fmt;
use std::future::Future;
use std::time::{Duration, Instant};

use retry::{GaveUp, Policy, Schedule, Stop};

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

/// The waits between attempts.
const SCHEDULE: Schedule = Schedule::new(Duration::from_millis(250), Duration::from_secs(5));

enum Failed {
    Transient(String),
    Fatal(SetupError),
}

impl fmt::Display for Failed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failed::Transient(why) => f.write_str(why),
            Failed::Fatal(e) => write!(f, "{e}"),
        }
    }
}

/// Runs `attempt` until it is done or fails, retrying transient failures until `deadline`.
/// `what` names the call in the error when the deadline passes.
pub async fn until<T, F, Fut>(
    what: &str,
    deadline: Instant,
    mut attempt: F,
) -> Result<T, SetupError>
where
    F: FnMut(Duration) -> Fut,
    Fut: Future<Output = Verdict<T>>,
{
    let left = deadline.saturating_duration_since(Instant::now());
    let policy = Policy::for_duration(SCHEDULE, left, left).until(Some(deadline));
    let outcome = retry::run(policy, what, &Stop::never(), |_| {
        let attempt = attempt(deadline.saturating_duration_since(Instant::now()));
        async move {
            match attempt.await {
                Verdict::Done(v) => retry::Verdict::Done(v),
                Verdict::Retry(why) => retry::Verdict::Retry(Failed::Transient(why)),
                Verdict::Fail(e) => retry::Verdict::Reject(Failed::Fatal(e)),
            }
        }
    })
    .await;
    match outcome {
        Ok(success) => Ok(success.value),
        Err(failure) => match (failure.gave_up, failure.last) {
            (GaveUp::Rejected, Some(Failed::Fatal(e))) => Err(e),
            (_, last) => Err(SetupError::Deadline {
                what: what.to_string(),
                secs: failure.elapsed.as_secs(),
                last: match last {
                    Some(f) => f.to_string(),
                    None if failure.timed_out => "no answer before the deadline".into(),
                    None => "no attempt made".into(),
                },
            }),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
