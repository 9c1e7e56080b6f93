//! Why setup failed: one variant per cause, each a one-line message naming what to fix.

/// A setup failure.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// A setting is missing or unusable.
    #[error("{0}")]
    Config(String),
    /// The default credential chain found no credentials.
    #[error("no AWS credentials to sign requests with ({0}): set AWS_PROFILE or AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, or run where a role is attached")]
    Credentials(String),
    /// The master user's secret could not be read.
    #[error("master user secret {arn}: {reason}")]
    Secret {
        /// The secret's ARN or name.
        arn: String,
        /// What went wrong.
        reason: String,
    },
    /// The endpoint could not be reached at all.
    #[error("{what}: cannot reach {url}: {reason} (is the endpoint right? it is the domain endpoint from the stack outputs)")]
    Unreachable {
        /// The call.
        what: String,
        /// The URL.
        url: String,
        /// The transport error.
        reason: String,
    },
    /// The deadline passed while the domain kept failing or did not answer.
    #[error("{what}: no usable answer before the deadline ({secs} s); last: {last}")]
    Deadline {
        /// The call.
        what: String,
        /// The time allowed, in seconds.
        secs: u64,
        /// The last failure seen.
        last: String,
    },
    /// The domain refused the signed request (access policy) or the credentials.
    #[error("{what}: the domain refused the request (HTTP {status}): {reason}")]
    Denied {
        /// The call.
        what: String,
        /// 401 or 403.
        status: u16,
        /// The domain's message and what to do.
        reason: String,
    },
    /// The domain has fine-grained access control but no master user was given.
    #[error("the domain has fine-grained access control (it answered {status} with a security exception): pass the master user's secret (--master-secret ARN) so setup can map the delivery role")]
    NeedsMasterUser {
        /// The status it answered.
        status: u16,
    },
    /// The domain serves no OpenSearch Dashboards where it was looked for.
    #[error("no OpenSearch Dashboards at {url} (HTTP {status}): the domain must be OpenSearch 1.x/2.x with Dashboards, or pass --dashboards-url")]
    NoDashboards {
        /// Where it was looked for.
        url: String,
        /// The status it answered.
        status: u16,
    },
    /// The cluster has no Index State Management plugin.
    #[error("the cluster has no Index State Management plugin (_plugins/_ism answered HTTP {status}): retention cannot be set; pass --retention-days 0 to skip it")]
    NoIsm {
        /// The status it answered.
        status: u16,
    },
    /// The domain answered a request with an error.
    #[error("{what}: HTTP {status}: {body}")]
    Refused {
        /// The call.
        what: String,
        /// The HTTP status.
        status: u16,
        /// The start of the answer's body.
        body: String,
    },
    /// The answer was not what the API returns.
    #[error("{what}: unexpected answer: {reason}")]
    BadAnswer {
        /// The call.
        what: String,
        /// What was wrong with it.
        reason: String,
    },
    /// The import reported errors.
    #[error("saved objects import failed: {0}")]
    ImportFailed(String),
    /// The import claimed success but objects are not there when read back.
    #[error("saved objects import reported success, but {count} of {total} objects are missing or different when read back: {names}")]
    ImportIncomplete {
        /// How many are missing or differ.
        count: usize,
        /// How many were imported.
        total: usize,
        /// `type/id` of each.
        names: String,
    },
}

impl SetupError {
    /// A short name for logs and `errorType` (`Denied`, `Deadline`, ...).
    pub fn kind(&self) -> &'static str {
        match self {
            SetupError::Config(_) => "Config",
            SetupError::Credentials(_) => "Credentials",
            SetupError::Secret { .. } => "Secret",
            SetupError::Unreachable { .. } => "Unreachable",
            SetupError::Deadline { .. } => "Deadline",
            SetupError::Denied { .. } => "Denied",
            SetupError::NeedsMasterUser { .. } => "NeedsMasterUser",
            SetupError::NoDashboards { .. } => "NoDashboards",
            SetupError::NoIsm { .. } => "NoIsm",
            SetupError::Refused { .. } => "Refused",
            SetupError::BadAnswer { .. } => "BadAnswer",
            SetupError::ImportFailed(_) => "ImportFailed",
            SetupError::ImportIncomplete { .. } => "ImportIncomplete",
        }
    }
}
