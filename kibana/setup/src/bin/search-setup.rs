//! `search-setup`: sets up an existing OpenSearch Service domain for the pipeline (the
//! same steps the stack's custom resource runs), prints what it did and the dashboard URL.

use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use search_setup::domain::region_of_endpoint;
use search_setup::{run, secret, Auth, Domain, DomainOptions, Plan};

/// Puts the index template, the retention policy, the delivery role mapping (fine-grained
/// access control) and the dashboards on an OpenSearch Service domain. Idempotent: a
/// second run changes nothing and says so. Requests are SigV4-signed with the default AWS
/// credential chain, or made as the master user whose secret --master-secret names.
#[derive(Debug, Parser)]
#[command(name = "search-setup", version)]
struct Args {
    /// The domain endpoint (the stack's SearchDomainEndpoint output), e.g.
    /// search-social-sentiment-dev-abc123.eu-west-1.es.amazonaws.com.
    #[arg(long, env = "SEARCH_ENDPOINT")]
    endpoint: String,

    /// The domain's region (default: the one in the endpoint, else AWS_REGION).
    #[arg(long, env = "AWS_REGION")]
    region: Option<String>,

    /// The Secrets Manager secret (ARN or name) holding the master user
    /// ({"username","password"}) of a domain with fine-grained access control
    /// (the stack's MasterUserSecretArn output).
    #[arg(long, env = "MASTER_SECRET")]
    master_secret: Option<String>,

    /// An IAM role ARN to map to the delivery role under fine-grained access control (the
    /// Firehose delivery role, the stack's FirehoseRoleArn output). Repeatable.
    #[arg(long = "map-role", env = "MAP_ROLES", value_delimiter = ',')]
    map_roles: Vec<String>,

    /// The index Firehose writes (daily indices INDEX-YYYY-MM-DD).
    #[arg(long, env = "INDEX_NAME", default_value = "social-posts")]
    index: String,

    /// Days each daily index is kept before ISM deletes it (0: no retention policy).
    #[arg(long, env = "RETENTION_DAYS", default_value_t = 30)]
    retention_days: u32,

    /// OpenSearch Dashboards' base URL (default: ENDPOINT/_dashboards).
    #[arg(long, env = "DASHBOARDS_URL")]
    dashboards_url: Option<String>,

    /// Give up after this many seconds in all.
    #[arg(long, env = "SETUP_TIMEOUT_SECS", default_value_t = 300)]
    timeout_secs: u64,

    /// Secrets Manager endpoint URL (for local servers).
    #[arg(long, env = "SECRETS_ENDPOINT")]
    secrets_endpoint: Option<String>,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    tracing_subscriber_init();
    match setup(Args::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn setup(args: Args) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(args.timeout_secs);
    let region = args
        .region
        .clone()
        .or_else(|| region_of_endpoint(&args.endpoint))
        .context("no region: pass --region (the endpoint does not name one)")?;
    let aws = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(region.clone()))
        .load()
        .await;
    let auth = match &args.master_secret {
        Some(arn) => secret::master_user(&aws, arn, args.secrets_endpoint.as_deref()).await?,
        None => Auth::Iam,
    };
    let mut options = DomainOptions::new(&args.endpoint, &region);
    options.dashboards_url = args.dashboards_url.clone();
    let domain = Domain::new(&options, auth, aws.credentials_provider())?;
    let plan = Plan {
        index: args.index.clone(),
        retention_days: args.retention_days,
        map_roles: args.map_roles.clone(),
        own_role: None,
    };
    eprintln!("setting up {} ({region})", domain.endpoint());
    match run(&domain, &plan, deadline).await {
        Ok(report) => {
            print!("{report}");
            Ok(())
        }
        Err(failure) => {
            print!("{failure}");
            Err(anyhow::anyhow!(failure.reason()))
        }
    }
}

/// Progress lines (one per step) on stderr; `RUST_LOG` sets the level.
fn tracing_subscriber_init() {
    let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into());
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .init();
}
