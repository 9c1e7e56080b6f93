//! Buffering as Firehose buffers: by a size hint and an interval hint, whichever is hit
//! first, measured from the first item of the buffer.

use std::time::{Duration, Instant};

use tokio::sync::mpsc;

/// Fills one buffer: waits for the first item, then takes items until `max_bytes` (by
/// `size`) or until `interval` has passed since the first one. Returns the buffer and
/// whether the input is still open.
pub async fn fill<T>(
    rx: &mut mpsc::Receiver<T>,
    max_bytes: usize,
    interval: Duration,
    size: impl Fn(&T) -> usize,
) -> (Vec<T>, bool) {
    let mut buf = Vec::new();
    let mut bytes = 0;
    let Some(first) = rx.recv().await else {
        return (buf, false);
    };
    bytes += size(&first);
    buf.push(first);
    let deadline = Instant::now() + interval;
    while bytes < max_bytes {
        match tokio::time::timeout(
            deadline.saturating_duration_since(Instant::now()),
            rx.recv(),
        )
        .await
        {
            Ok(Some(item)) => {
                bytes += size(&item);
                buf.push(item);
            }
            Ok(None) => return (buf, false),
            Err(_) => break,
        }
    }
    (buf, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn a_buffer_ends_at_its_size_its_interval_or_the_input() {
        let (tx, mut rx) = mpsc::channel(16);
        for n in [3usize, 3, 3, 3] {
            tx.send(n).await.unwrap();
        }
        let (buf, open) = fill(&mut rx, 7, Duration::from_secs(60), |n| *n).await;
        assert_eq!((buf, open), (vec![3, 3, 3], true));
        let started = Instant::now();
        let (buf, open) = fill(&mut rx, 100, Duration::from_millis(50), |n| *n).await;
        assert_eq!((buf, open), (vec![3], true));
        assert!(started.elapsed() >= Duration::from_millis(50));
        drop(tx);
        let (buf, open) = fill(&mut rx, 100, Duration::from_secs(60), |n| *n).await;
        assert_eq!((buf, open), (vec![], false));
    }
}
