//! Topic spikes, on event time (`created_at`, so a replayed recording shows the spikes it
//! recorded): per tag, posts are counted in 5-minute buckets, and a bucket spikes when its
//! count is improbable under the tag's own recent baseline: a Poisson test against the
//! mean of the 12 buckets before it (the last hour), at p < 10⁻⁶, with at least 10 posts
//! and three times the baseline. The small p keeps a day of steady traffic (about 300
//! buckets per tag) free of false alarms; the two floors keep a quiet tag's 0 → 3 from
//! counting. Consecutive spiking buckets are one spike, and a spiking bucket enters later
//! baselines as what was expected of it, so a long burst is one spike from start to end. The same rule as the stack's
//! CloudWatch anomaly alarm in spirit (relative to each topic's own baseline, not a fixed
//! number), simple enough to state in a summary. The Poisson tail is `statrs`'s.

use std::collections::BTreeMap;

use statrs::distribution::{DiscreteCDF, Poisson};

/// Bucket width, ms.
pub const BUCKET_MS: i64 = 5 * 60 * 1000;
/// Buckets in the baseline.
pub const BASELINE_BUCKETS: usize = 12;
/// The test's level.
pub const P_MAX: f64 = 1e-6;
/// A spiking bucket has at least this many posts.
pub const MIN_POSTS: u64 = 10;
/// And at least this many times its baseline.
pub const MIN_RATIO: f64 = 3.0;

/// One spike: a tag's run of improbable buckets.
#[derive(Debug, Clone, PartialEq)]
pub struct Spike {
    /// The tag.
    pub tag: String,
    /// Start of its first bucket, ms.
    pub start_ms: i64,
    /// End of its last bucket, ms.
    pub end_ms: i64,
    /// Posts in it.
    pub posts: u64,
    /// Posts its baselines expected.
    pub expected: f64,
    /// The smallest p-value among its buckets.
    pub p: f64,
}

impl std::fmt::Display for Spike {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let t = |ms: i64| {
            chrono::DateTime::from_timestamp_millis(ms)
                .map(|d| d.format("%Y-%m-%d %H:%M").to_string())
                .unwrap_or_default()
        };
        write!(
            f,
            "{} from {} to {} UTC: {} posts, {:.0} expected",
            self.tag,
            t(self.start_ms),
            t(self.end_ms).get(11..).unwrap_or_default(),
            self.posts,
            self.expected
        )
    }
}

/// Posts per tag per bucket.
#[derive(Debug, Default, Clone)]
pub struct Spikes {
    counts: BTreeMap<String, BTreeMap<i64, u64>>,
}

impl Spikes {
    /// Counts a post of `tag` written at `created_ms`.
    pub fn add(&mut self, tag: &str, created_ms: i64) {
        let bucket = created_ms.div_euclid(BUCKET_MS);
        *self
            .counts
            .entry(tag.to_string())
            .or_default()
            .entry(bucket)
            .or_default() += 1;
    }

    /// The spikes so far, by tag then time.
    pub fn spikes(&self) -> Vec<Spike> {
        let mut out = Vec::new();
        for (tag, buckets) in &self.counts {
            let (Some(&first), Some(&last)) = (buckets.keys().next(), buckets.keys().next_back())
            else {
                continue;
            };
            let series: Vec<u64> = (first..=last)
                .map(|b| buckets.get(&b).copied().unwrap_or(0))
                .collect();
            // What the baseline sees: a spiking bucket counts as what was expected of it, so
            // a long burst does not become its own baseline.
            let mut seen: Vec<f64> = Vec::with_capacity(series.len());
            let mut open: Option<Spike> = None;
            for (i, &k) in series.iter().enumerate() {
                let spiking = (i >= BASELINE_BUCKETS)
                    .then(|| {
                        let lambda = seen[i - BASELINE_BUCKETS..i].iter().sum::<f64>()
                            / BASELINE_BUCKETS as f64;
                        let p = Poisson::new(lambda.max(0.5))
                            .map(|d| d.sf(k.saturating_sub(1)))
                            .unwrap_or(1.0);
                        (p < P_MAX && k >= MIN_POSTS && k as f64 >= MIN_RATIO * lambda.max(0.5))
                            .then_some((lambda, p))
                    })
                    .flatten();
                let start = (first + i as i64) * BUCKET_MS;
                seen.push(spiking.map_or(k as f64, |(lambda, _)| lambda));
                match (spiking, open.as_mut()) {
                    (Some((lambda, p)), Some(s)) => {
                        s.end_ms = start + BUCKET_MS;
                        s.posts += k;
                        s.expected += lambda;
                        s.p = s.p.min(p);
                    }
                    (Some((lambda, p)), None) => {
                        open = Some(Spike {
                            tag: tag.clone(),
                            start_ms: start,
                            end_ms: start + BUCKET_MS,
                            posts: k,
                            expected: lambda,
                            p,
                        })
                    }
                    (None, _) => out.extend(open.take()),
                }
            }
            out.extend(open);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_far_above_its_own_baseline_spikes_and_steady_noise_does_not() {
        let mut s = Spikes::default();
        // Two hours at 4 posts per bucket (with the usual wobble), then 30 in one bucket.
        for b in 0..24i64 {
            for j in 0..(4 + (b % 3) - 1) {
                s.add("dogs", b * BUCKET_MS + j * 1000);
            }
            s.add("cats", b * BUCKET_MS);
        }
        for j in 0..30 {
            s.add("dogs", 24 * BUCKET_MS + j * 1000);
        }
        let spikes = s.spikes();
        assert_eq!(spikes.len(), 1, "{spikes:?}");
        let spike = &spikes[0];
        assert_eq!(
            (
                spike.tag.as_str(),
                spike.start_ms,
                spike.end_ms,
                spike.posts
            ),
            ("dogs", 24 * BUCKET_MS, 25 * BUCKET_MS, 30)
        );
        assert!(
            (spike.expected - 4.0).abs() < 0.5 && spike.p < 1e-10,
            "{spike:?}"
        );
        assert!(
            spike
                .to_string()
                .starts_with("dogs from 1970-01-01 02:00 to 02:05 UTC: 30 posts"),
            "{spike}"
        );
    }

    #[test]
    fn a_quiet_tag_going_from_nothing_to_a_few_is_not_a_spike() {
        let mut s = Spikes::default();
        for b in 0..20i64 {
            s.add("cats", b * BUCKET_MS);
        }
        for j in 0..6 {
            s.add("cats", 20 * BUCKET_MS + j);
        }
        assert_eq!(s.spikes(), vec![]);
    }
}
