//! Which tag people feel best about, and how sure that is. Each tag's mean sentiment comes
//! with its 95 % confidence interval (Student's t with n − 1 degrees of freedom); the
//! leader is called the winner only when Welch's t-test (unequal variances, the
//! Welch–Satterthwaite degrees of freedom) finds its mean above the runner-up's at the
//! 5 % level, two-sided. Otherwise the verdict says no clear winner, with the p-value.
//! A post matching two tags counts in both samples (as on the dashboard), which makes a
//! real difference slightly harder to find, never easier. The t distribution is
//! `statrs`'s.

use statrs::distribution::{ContinuousCDF, StudentsT};

/// The significance level.
pub const ALPHA: f64 = 0.05;

/// One tag's sentiment scores, summarised.
#[derive(Debug, Clone, PartialEq)]
pub struct TagStats {
    /// The tag.
    pub tag: String,
    /// Posts.
    pub n: u64,
    /// Sum of scores.
    pub sum: f64,
    /// Sum of squared scores.
    pub sum_of_squares: f64,
}

impl TagStats {
    /// The mean score.
    pub fn mean(&self) -> f64 {
        if self.n == 0 {
            return f64::NAN;
        }
        self.sum / self.n as f64
    }

    /// The sample variance (n − 1), 0 for fewer than two posts.
    pub fn variance(&self) -> f64 {
        if self.n < 2 {
            return 0.0;
        }
        let n = self.n as f64;
        ((self.sum_of_squares - self.sum * self.sum / n) / (n - 1.0)).max(0.0)
    }

    /// The 95 % confidence interval of the mean, `None` for fewer than two posts.
    pub fn interval(&self) -> Option<(f64, f64)> {
        if self.n < 2 {
            return None;
        }
        let t = StudentsT::new(0.0, 1.0, (self.n - 1) as f64)
            .ok()?
            .inverse_cdf(1.0 - ALPHA / 2.0);
        let half = t * (self.variance() / self.n as f64).sqrt();
        Some((self.mean() - half, self.mean() + half))
    }

    /// `+0.240 ± 0.019 (n = 850)`.
    pub fn describe(&self) -> String {
        match self.interval() {
            Some((lo, hi)) => format!(
                "{:+.3} ± {:.3} (n = {})",
                self.mean(),
                (hi - lo) / 2.0,
                self.n
            ),
            None => format!("{:+.3} (n = {})", self.mean(), self.n),
        }
    }
}

/// The verdict.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Fewer than two tags with at least two posts each.
    NotEnough,
    /// The leader's mean is significantly above the runner-up's.
    Winner {
        /// The leader.
        tag: String,
        /// The runner-up.
        over: String,
        /// Welch's p-value.
        p: f64,
    },
    /// The difference is within the noise.
    NoClearWinner {
        /// The leader.
        leader: String,
        /// The runner-up.
        runner_up: String,
        /// Welch's p-value.
        p: f64,
    },
}

/// Welch's two-sided p-value for the difference of two means.
pub fn welch_p(a: &TagStats, b: &TagStats) -> Option<f64> {
    if a.n < 2 || b.n < 2 {
        return None;
    }
    let (va, vb) = (a.variance() / a.n as f64, b.variance() / b.n as f64);
    let se2 = va + vb;
    let diff = a.mean() - b.mean();
    if se2 == 0.0 {
        return Some(if diff == 0.0 { 1.0 } else { 0.0 });
    }
    let df = se2 * se2 / (va * va / (a.n - 1) as f64 + vb * vb / (b.n - 1) as f64);
    let t = diff.abs() / se2.sqrt();
    let dist = StudentsT::new(0.0, 1.0, df).ok()?;
    Some((2.0 * (1.0 - dist.cdf(t))).clamp(0.0, 1.0))
}

/// The verdict over the tags (any order).
pub fn verdict(tags: &[TagStats]) -> Verdict {
    let mut ranked: Vec<&TagStats> = tags.iter().filter(|t| t.n >= 2).collect();
    ranked.sort_by(|a, b| {
        b.mean()
            .total_cmp(&a.mean())
            .then_with(|| a.tag.cmp(&b.tag))
    });
    let [leader, runner_up, ..] = ranked[..] else {
        return Verdict::NotEnough;
    };
    let Some(p) = welch_p(leader, runner_up) else {
        return Verdict::NotEnough;
    };
    if p < ALPHA {
        Verdict::Winner {
            tag: leader.tag.clone(),
            over: runner_up.tag.clone(),
            p,
        }
    } else {
        Verdict::NoClearWinner {
            leader: leader.tag.clone(),
            runner_up: runner_up.tag.clone(),
            p,
        }
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Verdict::NotEnough => write!(f, "not enough posts in two tags for a verdict"),
            Verdict::Winner { tag, over, p } => write!(
                f,
                "{tag} win: a higher mean sentiment than {over} (Welch's t-test, p {})",
                p_text(*p)
            ),
            Verdict::NoClearWinner { leader, runner_up, p } => write!(
                f,
                "no clear winner: {leader} lead {runner_up} by less than the noise (Welch's t-test, p {})",
                p_text(*p)
            ),
        }
    }
}

fn p_text(p: f64) -> String {
    if p < 0.001 {
        "< 0.001".into()
    } else {
        format!("= {p:.3}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(tag: &str, scores: &[f64]) -> TagStats {
        TagStats {
            tag: tag.into(),
            n: scores.len() as u64,
            sum: scores.iter().sum(),
            sum_of_squares: scores.iter().map(|s| s * s).sum(),
        }
    }

    #[test]
    fn the_interval_and_p_value_match_values_computed_by_hand() {
        // a: mean 2, sample variance 2.5 (n = 5); t(0.975, 4) = 2.776445:
        // half width 2.776445 * sqrt(2.5 / 5) = 1.963243.
        let a = stats("a", &[0.0, 1.0, 2.0, 3.0, 4.0]);
        let (lo, hi) = a.interval().expect("interval");
        assert!(
            (lo - 0.036757).abs() < 1e-5 && (hi - 3.963243).abs() < 1e-5,
            "{lo} {hi}"
        );
        // b: mean 5, variance 2.5 (n = 5): t = 3 / sqrt(1) = 3, df = 8; two-sided
        // p = 0.017071 (scipy.stats.ttest_ind(equal_var=False)).
        let b = stats("b", &[3.0, 4.0, 5.0, 6.0, 7.0]);
        let p = welch_p(&a, &b).expect("p");
        assert!((p - 0.017071).abs() < 1e-5, "{p}");
        assert_eq!(
            verdict(&[a.clone(), b.clone()]),
            Verdict::Winner {
                tag: "b".into(),
                over: "a".into(),
                p
            }
        );
    }

    #[test]
    fn a_gap_within_the_noise_has_no_winner() {
        // The seed's "cats win: +0.240 vs +0.228" on ~850 posts each, sd ~0.45.
        let cats = TagStats {
            tag: "cats".into(),
            n: 850,
            sum: 0.240 * 850.0,
            sum_of_squares: 850.0 * (0.45f64.powi(2) + 0.240f64.powi(2)),
        };
        let dogs = TagStats {
            tag: "dogs".into(),
            n: 850,
            sum: 0.228 * 850.0,
            sum_of_squares: 850.0 * (0.45f64.powi(2) + 0.228f64.powi(2)),
        };
        let v = verdict(&[cats, dogs]);
        let Verdict::NoClearWinner { leader, p, .. } = &v else {
            panic!("{v:?}")
        };
        assert_eq!(leader, "cats");
        assert!(*p > 0.5, "{p}");
        assert!(
            v.to_string().starts_with("no clear winner: cats lead dogs"),
            "{v}"
        );
    }

    #[test]
    fn one_tag_or_one_post_is_not_enough() {
        assert_eq!(verdict(&[stats("a", &[0.1, 0.2])]), Verdict::NotEnough);
        assert_eq!(
            verdict(&[stats("a", &[0.1, 0.2]), stats("b", &[0.9])]),
            Verdict::NotEnough
        );
        assert_eq!(stats("a", &[0.5]).describe(), "+0.500 (n = 1)");
    }
}
