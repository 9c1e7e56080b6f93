//! The `Custom::SearchSetup` Lambda: answers each CloudFormation request with
//! [`search_setup::custom_resource::answer`] before the invocation's deadline.

use std::time::{Duration, Instant};

use lambda_runtime::{service_fn, Diagnostic, LambdaEvent};
use search_setup::custom_resource::{answer, Request};
use serde_json::{json, Value};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    // Plain log lines: CloudWatch shows colour codes raw, and the runtime's subscriber
    // (plain text, or JSON with Lambda's JSON log format) colours unless NO_COLOR is set.
    std::env::set_var("NO_COLOR", "1");
    lambda_runtime::tracing::init_default_subscriber();
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let aws = &aws;
    lambda_runtime::run(service_fn(move |event| handle(event, aws))).await
}

async fn handle(
    event: LambdaEvent<Value>,
    aws: &aws_config::SdkConfig,
) -> Result<Value, Diagnostic> {
    let now_ms = i128::from(epoch_ms());
    let left_ms = u64::try_from(i128::from(event.context.deadline) - now_ms).unwrap_or(0);
    let deadline = Instant::now() + Duration::from_millis(left_ms);
    let request: Request = serde_json::from_value(event.payload).map_err(|e| Diagnostic {
        error_type: "InvalidRequest".into(),
        error_message: format!("not a CloudFormation custom resource request: {e}"),
    })?;
    let response = answer(&request, aws, deadline)
        .await
        .map_err(|e| Diagnostic {
            error_type: e.kind().into(),
            error_message: e.to_string(),
        })?;
    Ok(json!({ "Status": response.status, "Reason": response.reason }))
}

/// Milliseconds since the Unix epoch (the clock the deadline is given in).
fn epoch_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
