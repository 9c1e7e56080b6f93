//! What a setup run did: one line per step, in order, and on failure the step that failed,
//! why, and what had already been applied (nothing half-applied goes unreported).

use std::fmt;

use crate::SetupError;

/// A step of setup, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The domain answers, authenticated.
    Connect,
    /// Roles and mappings (fine-grained access control).
    Security,
    /// The ISM retention policy (and existing indices attached to it).
    Retention,
    /// The index template.
    Template,
    /// The saved objects, imported and read back.
    Dashboards,
}

impl Step {
    /// Every step, in order.
    pub const ALL: [Step; 5] = [
        Step::Connect,
        Step::Security,
        Step::Retention,
        Step::Template,
        Step::Dashboards,
    ];

    /// The step's name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Step::Connect => "connect",
            Step::Security => "security",
            Step::Retention => "retention",
            Step::Template => "index template",
            Step::Dashboards => "dashboards",
        }
    }
}

/// What a step changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Looked at, nothing to change (the connection check).
    Checked,
    /// Nothing was there; now it is.
    Created,
    /// It was there but different; now it is as wanted.
    Updated,
    /// It was already as wanted.
    Unchanged,
    /// The step does not apply here (why).
    Skipped(String),
}

impl Change {
    /// Whether the step changed the domain.
    pub fn changed(&self) -> bool {
        matches!(self, Change::Created | Change::Updated)
    }
}

/// One step's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepReport {
    /// The step.
    pub step: Step,
    /// What it changed.
    pub change: Change,
    /// What it holds now (`policy social-posts-retention, 30 days`).
    pub detail: String,
}

/// A whole run that succeeded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// Every step, in order.
    pub steps: Vec<StepReport>,
    /// The dashboard's URL.
    pub dashboard_url: String,
}

impl Report {
    /// Whether any step changed the domain.
    pub fn changed(&self) -> bool {
        self.steps.iter().any(|s| s.change.changed())
    }

    /// One line: what changed, or that nothing did.
    pub fn summary(&self) -> String {
        let changed: Vec<String> = self
            .steps
            .iter()
            .filter(|s| s.change.changed())
            .map(|s| format!("{} {}", s.step.name(), change_word(&s.change)))
            .collect();
        if changed.is_empty() {
            "setup: the domain was already set up; nothing changed".into()
        } else {
            format!("setup: {}", changed.join(", "))
        }
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_steps(f, &self.steps)?;
        writeln!(f, "{}", self.summary())?;
        writeln!(f, "dashboard: {}", self.dashboard_url)
    }
}

/// A run that failed at `step`.
#[derive(Debug)]
pub struct Failure {
    /// The step that failed.
    pub step: Step,
    /// Why.
    pub error: SetupError,
    /// The steps finished before it.
    pub done: Vec<StepReport>,
}

impl Failure {
    /// One line for CloudFormation's `Reason` and the command's error: the step, the
    /// cause, what had been applied and what was not run.
    pub fn reason(&self) -> String {
        let applied: Vec<String> = self
            .done
            .iter()
            .filter(|s| s.change.changed())
            .map(|s| format!("{} {}", s.step.name(), change_word(&s.change)))
            .collect();
        let not_run: Vec<&str> = Step::ALL
            .iter()
            .skip_while(|s| **s != self.step)
            .skip(1)
            .map(|s| s.name())
            .collect();
        let mut text = format!("{} failed: {}", self.step.name(), self.error);
        text.push_str(&match applied.is_empty() {
            true => "; nothing was changed before it".to_string(),
            false => format!("; applied before it: {}", applied.join(", ")),
        });
        if !not_run.is_empty() {
            text.push_str(&format!("; not run: {}", not_run.join(", ")));
        }
        text
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_steps(f, &self.done)?;
        writeln!(f, "  {:<15} FAILED", self.step.name())?;
        writeln!(f, "setup: {}", self.reason())
    }
}

fn change_word(change: &Change) -> &'static str {
    match change {
        Change::Checked => "ok",
        Change::Created => "created",
        Change::Updated => "updated",
        Change::Unchanged => "unchanged",
        Change::Skipped(_) => "skipped",
    }
}

fn write_steps(f: &mut fmt::Formatter<'_>, steps: &[StepReport]) -> fmt::Result {
    for s in steps {
        let word = change_word(&s.change);
        match &s.change {
            Change::Skipped(why) => writeln!(f, "  {:<15} {word:<10} {why}", s.step.name())?,
            _ => writeln!(f, "  {:<15} {word:<10} {}", s.step.name(), s.detail)?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(step: Step, change: Change) -> StepReport {
        StepReport {
            step,
            change,
            detail: "d".into(),
        }
    }

    #[test]
    fn a_failure_names_what_was_applied_and_what_was_not_run() {
        let failure = Failure {
            step: Step::Template,
            error: SetupError::Refused {
                what: "put the index template".into(),
                status: 400,
                body: "bad".into(),
            },
            done: vec![
                step(Step::Connect, Change::Checked),
                step(
                    Step::Security,
                    Change::Skipped("no fine-grained access control".into()),
                ),
                step(Step::Retention, Change::Created),
            ],
        };
        assert_eq!(
            failure.reason(),
            "index template failed: put the index template: HTTP 400: bad; applied before it: retention created; not run: dashboards"
        );
        let first = Failure {
            step: Step::Connect,
            error: SetupError::Config("x".into()),
            done: vec![],
        };
        assert_eq!(
            first.reason(),
            "connect failed: x; nothing was changed before it; not run: security, retention, index template, dashboards"
        );
    }

    #[test]
    fn the_summary_says_when_nothing_changed() {
        let mut report = Report {
            steps: vec![
                step(Step::Connect, Change::Unchanged),
                step(Step::Template, Change::Unchanged),
            ],
            dashboard_url: "u".into(),
        };
        assert!(!report.changed());
        assert_eq!(
            report.summary(),
            "setup: the domain was already set up; nothing changed"
        );
        report.steps[1].change = Change::Updated;
        assert!(report.changed());
        assert_eq!(report.summary(), "setup: index template updated");
        let text = report.to_string();
        assert!(text.contains("index template  updated    d"), "{text}");
        assert!(text.ends_with("dashboard: u\n"));
    }
}
