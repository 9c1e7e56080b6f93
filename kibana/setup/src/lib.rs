//! Setup of an OpenSearch Service domain for the social-sentiment pipeline, as code.
//!
//! In: a domain endpoint, how to authenticate (SigV4 with the default AWS credential chain,
//! or the fine-grained access control master user from Secrets Manager) and a [`Plan`]
//! (index name, retention days, IAM roles to map). Out: the domain holding the index
//! template `kibana/index-template.json`, an ISM retention policy attached to the pipeline's
//! indices through its ISM template, the roles mapped (fine-grained access control only),
//! and the saved objects `kibana/dashboards.ndjson` imported and read back; plus a
//! [`Report`] of what each step changed. A second run changes nothing and says so.
//!
//! It runs as a CloudFormation custom resource ([`custom_resource`], the `setup` Lambda)
//! and as the `search-setup` command.
//!
//! Modules: [`assets`] (what is installed), [`domain`] (signed, bounded, retried calls to
//! the domain), [`steps`] (each step, idempotent), [`report`] (what happened),
//! [`custom_resource`] (the CloudFormation contract), [`secret`] (the master user),
//! [`error`].

pub mod assets;
pub mod custom_resource;
pub mod domain;
pub mod error;
mod multipart;
pub mod report;
mod retry;
pub mod secret;
pub mod steps;

pub use domain::{Auth, Domain, DomainOptions};
pub use error::SetupError;
pub use report::{Change, Failure, Report, Step};
pub use steps::{run, Plan};
