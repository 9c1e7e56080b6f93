//! The one retry helper: every call to another service (Firehose, OpenSearch, S3, Lambda,
//! Comprehend, the domain setup, a write to disk) goes through [`run`].
//!
//! In: a [`Policy`] (the backoff [`Schedule`], a deadline, a bound on each attempt, at most
//! so many attempts), a [`Stop`] signal, and the attempt itself, which classifies its
//! answer as a [`Verdict`]: done, retry (transient), or reject (another try will not
//! help). Out: the value and how many attempts it took, or a [`Failure`] saying why it
//! gave up (rejected, out of time, out of attempts, stopped) with the last error. No
//! attempt runs past the deadline: each is cut at the time left, and a wait that would end
//! past it gives up instead. [`Timeouts`] carries the connect and read timeouts clients
//! are built with, [`classify`] the common classification of HTTP and AWS answers, and
//! (feature `aws`) `aws::config` the one way AWS SDK clients are configured.

use std::fmt;
use std::future::Future;
use std::time::{Duration, Instant};

/// Capped exponential backoff with full jitter (AWS's recommended schedule).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    /// The first wait (before jitter).
    pub base: Duration,
    /// The longest wait (before jitter).
    pub cap: Duration,
}

impl Schedule {
    /// A schedule from `base` doubling up to `cap`.
    pub const fn new(base: Duration, cap: Duration) -> Self {
        Schedule { base, cap }
    }

    /// The wait after attempt `n` (1-based) before jitter: `base · 2^(n−1)`, at most `cap`.
    pub fn ceiling(&self, n: u32) -> Duration {
        let factor = 1u32.checked_shl(n.saturating_sub(1)).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.cap)
    }

    /// The jittered wait after attempt `n`: uniform in [0, `ceiling(n)`).
    pub fn delay(&self, n: u32) -> Duration {
        self.ceiling(n).mul_f64(jitter())
    }
}

/// A random factor in [0, 1), from the standard library's per-process random hasher keys
/// (jitter needs spread, not cryptographic randomness).
pub fn jitter() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(Instant::now().elapsed().as_nanos());
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// How long and how often to try.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Waits between attempts.
    pub schedule: Schedule,
    /// Time for all attempts and waits together, from the first attempt (`None`: no limit
    /// but `max_attempts`).
    pub total: Option<Duration>,
    /// Time for one attempt (sending and the whole answer).
    pub attempt_timeout: Duration,
    /// Most attempts, the first included (`None`: until the time is up).
    pub max_attempts: Option<u32>,
}

impl Policy {
    /// Retries for `total` in all, each attempt bounded by `attempt_timeout`.
    pub const fn for_duration(
        schedule: Schedule,
        total: Duration,
        attempt_timeout: Duration,
    ) -> Self {
        Policy {
            schedule,
            total: Some(total),
            attempt_timeout,
            max_attempts: None,
        }
    }

    /// At most `attempts` attempts, each bounded by `attempt_timeout`.
    pub const fn attempts(schedule: Schedule, attempts: u32, attempt_timeout: Duration) -> Self {
        Policy {
            schedule,
            total: None,
            attempt_timeout,
            max_attempts: Some(attempts),
        }
    }

    /// The same policy, ending no later than `deadline` (a Lambda's, a shutdown's).
    pub fn until(self, deadline: Option<Instant>) -> Bounded {
        Bounded {
            policy: self,
            deadline,
        }
    }
}

/// A policy with an absolute deadline besides its own total.
#[derive(Debug, Clone, Copy)]
pub struct Bounded {
    policy: Policy,
    deadline: Option<Instant>,
}

impl From<Policy> for Bounded {
    fn from(policy: Policy) -> Self {
        Bounded {
            policy,
            deadline: None,
        }
    }
}

/// Connect and read timeouts for clients, and the bound on a whole attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Time to open a connection.
    pub connect: Duration,
    /// Time without a byte of the answer.
    pub read: Duration,
    /// Time for a whole attempt.
    pub attempt: Duration,
}

impl Timeouts {
    /// 5 s to connect, 30 s of silence, 60 s per attempt.
    pub const DEFAULT: Timeouts = Timeouts {
        connect: Duration::from_secs(5),
        read: Duration::from_secs(30),
        attempt: Duration::from_secs(60),
    };

    /// The same bounds as an AWS SDK client's timeout configuration.
    #[cfg(feature = "aws")]
    pub fn sdk(&self) -> aws_smithy_types::timeout::TimeoutConfig {
        aws_smithy_types::timeout::TimeoutConfig::builder()
            .connect_timeout(self.connect)
            .read_timeout(self.read)
            .operation_attempt_timeout(self.attempt)
            .build()
    }
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts::DEFAULT
    }
}

/// What one attempt came to.
#[derive(Debug)]
pub enum Verdict<T, E> {
    /// Finished.
    Done(T),
    /// A transient failure: try again.
    Retry(E),
    /// A failure another try will not fix.
    Reject(E),
}

/// A request to stop retrying (a second Ctrl-C, a shutdown's grace period ending).
#[derive(Debug, Clone, Default)]
pub struct Stop(Option<tokio::sync::watch::Receiver<bool>>);

impl Stop {
    /// Never stops.
    pub fn never() -> Self {
        Stop(None)
    }

    /// Stops when `rx` holds `true`.
    pub fn on(rx: tokio::sync::watch::Receiver<bool>) -> Self {
        Stop(Some(rx))
    }

    /// Whether it has stopped.
    pub fn stopped(&self) -> bool {
        self.0.as_ref().is_some_and(|rx| *rx.borrow())
    }

    async fn wait(&self) {
        match &self.0 {
            Some(rx) => {
                let mut rx = rx.clone();
                let _ = rx.wait_for(|s| *s).await;
            }
            None => std::future::pending::<()>().await,
        }
    }
}

/// A call that succeeded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Success<T> {
    /// What it returned.
    pub value: T,
    /// Attempts made (1: no retry).
    pub attempts: u32,
}

/// Why [`run`] gave up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GaveUp {
    /// The attempt rejected the answer.
    Rejected,
    /// The time ran out (the policy's total or the deadline).
    OutOfTime,
    /// The attempts ran out.
    OutOfAttempts,
    /// [`Stop`] fired.
    Stopped,
}

/// A call that failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure<E> {
    /// Why it gave up.
    pub gave_up: GaveUp,
    /// The last failure (`None` when the last attempt timed out, or none ran).
    pub last: Option<E>,
    /// Whether the last attempt ran out of time (it was cut at its bound).
    pub timed_out: bool,
    /// Attempts made.
    pub attempts: u32,
    /// Time spent.
    pub elapsed: Duration,
}

impl<E> Failure<E> {
    /// Why it gave up, in words.
    pub fn gave_up_reason(&self) -> &'static str {
        match self.gave_up {
            GaveUp::Rejected => "refused",
            GaveUp::OutOfTime => "still failing when the time was up",
            GaveUp::OutOfAttempts => "still failing after the last attempt",
            GaveUp::Stopped => "stopped",
        }
    }
}

impl<E: fmt::Display> fmt::Display for Failure<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let why = self.gave_up_reason();
        write!(
            f,
            "{why} after {} attempt{} in {:.1} s",
            self.attempts,
            if self.attempts == 1 { "" } else { "s" },
            self.elapsed.as_secs_f64()
        )?;
        match (&self.last, self.timed_out) {
            (_, true) => write!(f, ": no answer within the attempt's time"),
            (Some(e), false) => write!(f, ": {e}"),
            (None, false) => Ok(()),
        }
    }
}

/// Runs `attempt` under `policy` until it is done, rejected, or the time, the attempts or
/// `stop` end it. `attempt` gets the attempt number (1-based). `what` names the call in
/// the logs.
pub async fn run<T, E, F, Fut>(
    policy: impl Into<Bounded>,
    what: &str,
    stop: &Stop,
    mut attempt: F,
) -> Result<Success<T>, Failure<E>>
where
    E: fmt::Display,
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Verdict<T, E>>,
{
    let Bounded { policy, deadline } = policy.into();
    // tokio's clock, so paused-time tests see waits pass.
    use tokio::time::Instant;
    let started = Instant::now();
    let deadline = deadline.map(Instant::from_std);
    let deadline = match (policy.total.map(|t| started + t), deadline) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let mut last: Option<E> = None;
    let mut timed_out = false;
    let fail = |gave_up, last, timed_out, attempts| Failure {
        gave_up,
        last,
        timed_out,
        attempts,
        elapsed: started.elapsed(),
    };
    let mut n = 0u32;
    loop {
        if stop.stopped() {
            return Err(fail(GaveUp::Stopped, last, timed_out, n));
        }
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        if left.is_some_and(|l| l.is_zero()) {
            return Err(fail(GaveUp::OutOfTime, last, timed_out, n));
        }
        n += 1;
        let bound = left.map_or(policy.attempt_timeout, |l| l.min(policy.attempt_timeout));
        let verdict = tokio::select! {
            v = tokio::time::timeout(bound, attempt(n)) => v,
            _ = stop.wait() => return Err(fail(GaveUp::Stopped, last, timed_out, n)),
        };
        match verdict {
            Ok(Verdict::Done(value)) => return Ok(Success { value, attempts: n }),
            Ok(Verdict::Reject(e)) => return Err(fail(GaveUp::Rejected, Some(e), false, n)),
            Ok(Verdict::Retry(e)) => {
                tracing::debug!(call = what, attempt = n, error = %e, "retrying");
                last = Some(e);
                timed_out = false;
            }
            Err(_) => {
                tracing::debug!(
                    call = what,
                    attempt = n,
                    bound_ms = bound.as_millis() as u64,
                    "attempt timed out; retrying"
                );
                timed_out = true;
            }
        }
        if policy.max_attempts.is_some_and(|m| n >= m) {
            return Err(fail(GaveUp::OutOfAttempts, last, timed_out, n));
        }
        let wait = policy.schedule.delay(n);
        if deadline.is_some_and(|d| Instant::now() + wait >= d) {
            return Err(fail(GaveUp::OutOfTime, last, timed_out, n));
        }
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.wait() => return Err(fail(GaveUp::Stopped, last, timed_out, n)),
        }
    }
}

/// The common classification of answers.
pub mod classify {
    /// Whether an HTTP status is worth another try: 408, 429 and 5xx.
    pub fn transient_status(status: u16) -> bool {
        matches!(status, 408 | 429) || status >= 500
    }

    /// Whether a failed AWS call is worth another try: a transport error (no answer), a
    /// malformed answer (a success status the SDK could not read), HTTP 408/429/5xx, or
    /// one of `transient_codes` (throttling and the service's server-side errors).
    pub fn transient_aws(
        code: Option<&str>,
        status: Option<u16>,
        transient_codes: &[&str],
    ) -> bool {
        code.is_some_and(|c| transient_codes.contains(&c))
            || match status {
                None => code.is_none(),
                Some(s) => transient_status(s) || ((200..300).contains(&s) && code.is_none()),
            }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    const FAST: Schedule = Schedule::new(Duration::from_millis(1), Duration::from_millis(4));

    #[test]
    fn the_schedule_is_capped_exponential_with_full_jitter() {
        let s = Schedule::new(Duration::from_millis(100), Duration::from_secs(5));
        let ceilings: Vec<u128> = (1..=8).map(|n| s.ceiling(n).as_millis()).collect();
        assert_eq!(ceilings, [100, 200, 400, 800, 1600, 3200, 5000, 5000]);
        assert_eq!(s.ceiling(60), s.cap);
        assert!((1..=10).all(|n| s.delay(n) <= s.ceiling(n)));
        let draws: Vec<f64> = (0..200).map(|_| jitter()).collect();
        assert!(draws.iter().all(|j| (0.0..1.0).contains(j)));
        let distinct: std::collections::BTreeSet<u64> = draws.iter().map(|j| j.to_bits()).collect();
        assert!(
            distinct.len() > 150,
            "jitter is not random: {}",
            distinct.len()
        );
    }

    #[test]
    fn classification() {
        let codes = ["ThrottlingException"];
        assert!(classify::transient_aws(
            Some("ThrottlingException"),
            Some(400),
            &codes
        ));
        assert!(classify::transient_aws(Some("Anything"), Some(503), &codes));
        assert!(classify::transient_aws(None, Some(429), &codes));
        assert!(
            classify::transient_aws(None, None, &codes),
            "transport error"
        );
        assert!(
            classify::transient_aws(None, Some(200), &codes),
            "malformed answer"
        );
        assert!(!classify::transient_aws(
            Some("InvalidArgumentException"),
            Some(400),
            &codes
        ));
        assert!(!classify::transient_aws(None, Some(404), &codes));
        assert!(classify::transient_status(408) && classify::transient_status(502));
        assert!(!classify::transient_status(400));
    }

    #[tokio::test(flavor = "current_thread", start_paused = true)]
    async fn transient_failures_are_retried_until_done() {
        let calls = Cell::new(0);
        let policy = Policy::attempts(FAST, 5, Duration::from_secs(1));
        let out = run(policy, "t", &Stop::never(), |n| {
            calls.set(n);
            async move {
                if n < 3 {
                    Verdict::Retry(format!("try {n}"))
                } else {
                    Verdict::Done(n * 10)
                }
            }
        })
        .await
        .unwrap();
        assert_eq!(
            out,
            Success {
                value: 30,
                attempts: 3
            }
        );
        assert_eq!(calls.get(), 3);
    }

    #[tokio::test(flavor = "current_thread", start_paused = true)]
    async fn rejection_attempts_and_time_each_end_it() {
        let policy = Policy::attempts(FAST, 3, Duration::from_secs(1));
        let e = run::<(), _, _, _>(policy, "t", &Stop::never(), |_| async {
            Verdict::Reject("bad")
        })
        .await
        .unwrap_err();
        assert_eq!(
            (e.gave_up, e.attempts, e.last),
            (GaveUp::Rejected, 1, Some("bad"))
        );
        assert_eq!(e.to_string(), "refused after 1 attempt in 0.0 s: bad");

        let e = run::<(), _, _, _>(
            policy,
            "t",
            &Stop::never(),
            |n| async move { Verdict::Retry(n) },
        )
        .await
        .unwrap_err();
        assert_eq!(
            (e.gave_up, e.attempts, e.last),
            (GaveUp::OutOfAttempts, 3, Some(3))
        );

        let long = Schedule::new(Duration::from_secs(1), Duration::from_secs(1));
        let policy = Policy::for_duration(long, Duration::from_secs(10), Duration::from_secs(1));
        let started = tokio::time::Instant::now();
        let e = run::<(), _, _, _>(
            policy,
            "t",
            &Stop::never(),
            |n| async move { Verdict::Retry(n) },
        )
        .await
        .unwrap_err();
        assert_eq!(e.gave_up, GaveUp::OutOfTime);
        assert!(started.elapsed() <= Duration::from_secs(10));
        assert!(e.attempts >= 2, "{e:?}");
    }

    #[tokio::test(flavor = "current_thread", start_paused = true)]
    async fn an_attempt_that_never_answers_is_cut_at_its_bound_and_at_the_deadline() {
        let policy = Policy::attempts(FAST, 2, Duration::from_secs(3));
        let started = tokio::time::Instant::now();
        let e = run::<(), String, _, _>(policy, "t", &Stop::never(), |_| std::future::pending())
            .await
            .unwrap_err();
        assert_eq!(
            (e.gave_up, e.attempts, e.timed_out),
            (GaveUp::OutOfAttempts, 2, true)
        );
        assert!(
            started.elapsed() >= Duration::from_secs(6)
                && started.elapsed() < Duration::from_secs(7)
        );
        assert!(
            e.to_string()
                .ends_with("no answer within the attempt's time"),
            "{e}"
        );

        // A deadline shorter than the attempt's bound cuts the attempt at the deadline.
        let started = tokio::time::Instant::now();
        let deadline = std::time::Instant::now() + Duration::from_secs(1);
        let e = run::<(), String, _, _>(
            Policy::attempts(FAST, 5, Duration::from_secs(60)).until(Some(deadline)),
            "t",
            &Stop::never(),
            |_| std::future::pending(),
        )
        .await
        .unwrap_err();
        assert_eq!(e.gave_up, GaveUp::OutOfTime);
        assert!(
            started.elapsed() <= Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
    }

    #[tokio::test(flavor = "current_thread", start_paused = true)]
    async fn stop_ends_waits_and_attempts_at_once() {
        let (tx, rx) = tokio::sync::watch::channel(false);
        let stop = Stop::on(rx);
        let slow = Schedule::new(Duration::from_secs(100), Duration::from_secs(100));
        let policy = Policy::attempts(slow, 10, Duration::from_secs(1000));
        let started = tokio::time::Instant::now();
        let task =
            async { run::<(), String, _, _>(policy, "t", &stop, |_| std::future::pending()).await };
        let stopper = async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            tx.send(true).unwrap();
        };
        let (e, ()) = tokio::join!(task, stopper);
        let e = e.unwrap_err();
        assert_eq!(e.gave_up, GaveUp::Stopped);
        assert!(started.elapsed() < Duration::from_secs(6));
        // Already stopped: nothing runs.
        let e = run::<(), String, _, _>(policy, "t", &stop, |_| async { Verdict::Done(()) })
            .await
            .unwrap_err();
        assert_eq!((e.gave_up, e.attempts), (GaveUp::Stopped, 0));
    }
}

/// AWS SDK clients made the one way: the default provider chain, an endpoint when given,
/// the SDK's own retries off ([`run`] retries) and [`Timeouts`].
#[cfg(feature = "aws")]
pub mod aws {
    use super::Timeouts;

    /// Whether an endpoint is on this machine (local servers do not check signatures).
    pub fn on_this_machine(endpoint: &str) -> bool {
        ["http://127.0.0.1", "http://localhost", "http://[::1]"]
            .iter()
            .any(|p| endpoint.starts_with(p))
    }

    /// The configuration for a client. For an endpoint on this machine, the region
    /// defaults to `us-east-1` (no instance metadata is asked) and, when the environment
    /// has no credentials, static ones are used, so local runs need no account.
    pub async fn config(endpoint: Option<&str>, timeouts: &Timeouts) -> aws_config::SdkConfig {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .retry_config(aws_config::retry::RetryConfig::disabled())
            .timeout_config(timeouts.sdk());
        if let Some(url) = endpoint {
            loader = loader.endpoint_url(url);
            if on_this_machine(url) {
                let region = std::env::var("AWS_REGION")
                    .or_else(|_| std::env::var("AWS_DEFAULT_REGION"))
                    .unwrap_or_else(|_| "us-east-1".into());
                loader = loader.region(aws_config::Region::new(region));
                if std::env::var_os("AWS_ACCESS_KEY_ID").is_none() {
                    loader = loader.credentials_provider(aws_credential_types::Credentials::new(
                        "local",
                        "local",
                        None,
                        None,
                        "local-endpoint",
                    ));
                }
            }
        }
        loader.load().await
    }
}
