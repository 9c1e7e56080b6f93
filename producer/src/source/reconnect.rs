//! How the live sources wait before reconnecting: X's documented schedule (network errors
//! back off linearly by 250 ms up to 16 s; HTTP errors exponentially from 5 s up to 320 s;
//! 429 from 60 s doubling, or until `x-rate-limit-reset` when that is later), used by the
//! X stream and Jetstream alike, and a [`Sleeper`] that tests can record instead of sleep.
//! (Reconnecting a stream is not retrying a call: a call goes through the retry helper.)

use std::sync::Arc;
use std::time::Duration;

/// Why a connection ended, deciding the next wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disconnect {
    /// TCP/TLS error, stall, end of stream, operational disconnect.
    Network,
    /// An HTTP error status other than 429.
    Http,
    /// HTTP 429; `reset_in` is how long until `x-rate-limit-reset`.
    RateLimited {
        /// Time until the rate-limit window resets, when X said.
        reset_in: Option<Duration>,
    },
}

/// X's reconnect schedule; reset it once a connection delivers data.
#[derive(Debug, Clone, Default)]
pub struct Reconnect {
    network: u32,
    http: u32,
    rate: u32,
}

impl Reconnect {
    /// The wait before the next attempt after `why`.
    pub fn next(&mut self, why: Disconnect) -> Duration {
        match why {
            Disconnect::Network => {
                self.network += 1;
                Duration::from_millis(250 * u64::from(self.network)).min(Duration::from_secs(16))
            }
            Disconnect::Http => {
                self.http += 1;
                (Duration::from_secs(5) * 2u32.saturating_pow(self.http - 1).min(64))
                    .min(Duration::from_secs(320))
            }
            Disconnect::RateLimited { reset_in } => {
                self.rate += 1;
                let doubling =
                    Duration::from_secs(60) * 2u32.saturating_pow(self.rate - 1).min(1 << 10);
                reset_in.map_or(doubling, |r| r.max(doubling))
            }
        }
    }

    /// Starts the schedules over (after a healthy connection).
    pub fn reset(&mut self) {
        *self = Reconnect::default();
    }
}

/// How the stream waits between attempts; tests record the waits instead of sleeping.
#[derive(Clone)]
pub enum Sleeper {
    /// Really sleep.
    Real,
    /// Record the wait and return at once.
    Recorded(Arc<std::sync::Mutex<Vec<Duration>>>),
}

impl Sleeper {
    /// Waits `d` (or records it).
    pub async fn sleep(&self, d: Duration) {
        match self {
            Sleeper::Real => tokio::time::sleep(d).await,
            Sleeper::Recorded(log) => {
                if let Ok(mut log) = log.lock() {
                    log.push(d);
                }
                tokio::task::yield_now().await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconnect_schedule_follows_x_guidance() {
        let mut r = Reconnect::default();
        let net: Vec<u128> = (0..70)
            .map(|_| r.next(Disconnect::Network).as_millis())
            .collect();
        assert_eq!(&net[..4], [250, 500, 750, 1000]);
        assert_eq!(net[63], 16_000);
        assert_eq!(net[69], 16_000);
        let mut r = Reconnect::default();
        let http: Vec<u64> = (0..9).map(|_| r.next(Disconnect::Http).as_secs()).collect();
        assert_eq!(http, [5, 10, 20, 40, 80, 160, 320, 320, 320]);
        let mut r = Reconnect::default();
        let rl = |reset_in| Disconnect::RateLimited { reset_in };
        assert_eq!(r.next(rl(None)).as_secs(), 60);
        assert_eq!(r.next(rl(Some(Duration::from_secs(10)))).as_secs(), 120);
        assert_eq!(r.next(rl(Some(Duration::from_secs(900)))).as_secs(), 900);
        r.reset();
        assert_eq!(r.next(Disconnect::Network).as_millis(), 250);
    }
}
