//! The Lambda binary: reads the configuration once at cold start, builds the analyzer,
//! and answers each Firehose invocation with [`transform::Transformer`].

use std::time::{Duration, Instant};

use lambda_runtime::{service_fn, Diagnostic, LambdaEvent};
use transform::{emf_category_lines, emf_line, log_report};
use transform::{Analyzer, Backend, Config, FirehoseEvent, FirehoseResponse, Transformer};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    // Plain log lines: CloudWatch shows colour codes raw, and the runtime's subscriber
    // (plain text, or JSON with Lambda's JSON log format) colours unless NO_COLOR is set.
    std::env::set_var("NO_COLOR", "1");
    lambda_runtime::tracing::init_default_subscriber();
    let config = Config::from_env().map_err(|err| format!("invalid configuration: {err}"))?;
    let analyzer = config.analyzer().await;
    let transformer = Transformer::new(config, analyzer);
    let transformer = &transformer;
    lambda_runtime::run(service_fn(move |event| handle(event, transformer))).await
}

async fn handle(
    mut event: LambdaEvent<FirehoseEvent>,
    transformer: &Transformer<Backend>,
) -> Result<FirehoseResponse, Diagnostic> {
    let now = chrono::Utc::now();
    // The invocation's deadline, in ms since the epoch, as an Instant.
    let remaining_ms =
        u64::try_from(event.context.deadline as i128 - i128::from(now.timestamp_millis()))
            .unwrap_or(0);
    let deadline = Instant::now() + Duration::from_millis(remaining_ms);
    let (response, report) = transformer
        .transform_taking_ids(&mut event.payload, now, Some(deadline))
        .await
        .map_err(|err| Diagnostic {
            error_type: "ResponseTooLarge".into(),
            error_message: err.to_string(),
        })?;
    log_report(&report, transformer.analyzer().name());
    if transformer.config().metrics_emf {
        let stream = event
            .payload
            .delivery_stream_arn
            .rsplit('/')
            .next()
            .unwrap_or_default();
        println!("{}", emf_line(&report, stream, now.timestamp_millis()));
        let config = transformer.config();
        for line in emf_category_lines(
            &report,
            config.metrics_categories.as_deref(),
            config.metrics_top_categories,
            stream,
            now.timestamp_millis(),
        ) {
            println!("{line}");
        }
    }
    Ok(response)
}
