//! The CloudFormation custom resource `Custom::SearchSetup`: a request (Create, Update or
//! Delete, with the resource's properties) in, setup run, and the answer PUT to the
//! request's pre-signed `ResponseURL` before the function's own deadline, SUCCESS or
//! FAILED with the reason, so a stack never waits on it.
//!
//! Properties (CloudFormation passes every value as a string): `Endpoint` (required),
//! `Region`, `IndexName`, `RetentionDays`, `MasterSecretArn` (fine-grained access
//! control), `DeliveryRoleArn`, `SetupRoleArn` (this function's role, mapped like the
//! delivery role and used to check the mapping), `DashboardsUrl`. Any other property
//! (`ServiceToken`, `ServiceTimeout`, `ContentHash`, which changes when the installed files do and so
//! makes CloudFormation send an Update) is ignored.
//!
//! Delete leaves the domain as it is: what setup installed lives in the domain and goes
//! with it.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use tracing::{info, warn};

use crate::domain::{region_of_endpoint, Auth, Domain, DomainOptions};
use crate::retry::{until, Verdict};
use crate::steps::{run, Plan};
use crate::{secret, SetupError};

/// The largest answer CloudFormation accepts, in bytes.
pub const RESPONSE_LIMIT: usize = 4096;

/// Time kept back from the function's deadline to send the answer.
pub const ANSWER_RESERVE: Duration = Duration::from_secs(10);

/// A custom resource request, as CloudFormation sends it to the function.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    /// `Create`, `Update` or `Delete`.
    pub request_type: String,
    /// Where the answer goes (a pre-signed S3 URL).
    #[serde(rename = "ResponseURL")]
    pub response_url: String,
    /// The stack's id.
    pub stack_id: String,
    /// This request's id.
    pub request_id: String,
    /// The resource's name in the template.
    pub logical_resource_id: String,
    /// The id given on Create (Update and Delete).
    #[serde(default)]
    pub physical_resource_id: Option<String>,
    /// The resource's properties.
    #[serde(default)]
    pub resource_properties: Map<String, Value>,
}

/// The answer to CloudFormation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Response {
    /// `SUCCESS` or `FAILED`.
    pub status: String,
    /// Why (shown in the stack's events).
    pub reason: String,
    /// The resource's id.
    pub physical_resource_id: String,
    /// From the request.
    pub stack_id: String,
    /// From the request.
    pub request_id: String,
    /// From the request.
    pub logical_resource_id: String,
    /// Whether `Data` is hidden from `Fn::GetAtt` output (it holds no secret).
    pub no_echo: bool,
    /// `DashboardsUrl`, `Changed`; read with `Fn::GetAtt`.
    pub data: Map<String, Value>,
}

/// The settings a request's properties give.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Properties {
    /// `Endpoint`.
    pub endpoint: String,
    /// `Region`, else the endpoint's.
    pub region: String,
    /// `MasterSecretArn`.
    pub master_secret: Option<String>,
    /// `DashboardsUrl`.
    pub dashboards_url: Option<String>,
    /// The rest: `IndexName`, `RetentionDays`, `DeliveryRoleArn`, `SetupRoleArn`.
    pub plan: Plan,
}

impl Properties {
    /// Reads the properties of a request.
    pub fn parse(props: &Map<String, Value>) -> Result<Self, SetupError> {
        let text = |name: &str| -> Option<String> {
            match props.get(name)? {
                Value::String(s) if s.trim().is_empty() => None,
                Value::String(s) => Some(s.trim().to_string()),
                Value::Null => None,
                other => Some(other.to_string()),
            }
        };
        let endpoint = text("Endpoint").ok_or_else(|| {
            SetupError::Config("property Endpoint is required: the domain endpoint".into())
        })?;
        let region = text("Region")
            .or_else(|| region_of_endpoint(&endpoint))
            .ok_or_else(|| {
                SetupError::Config(format!(
                    "property Region is required: {endpoint} does not name its region"
                ))
            })?;
        let mut plan = Plan::new();
        if let Some(index) = text("IndexName") {
            plan.index = index;
        }
        if let Some(days) = text("RetentionDays") {
            plan.retention_days = days.parse().map_err(|_| {
                SetupError::Config(format!(
                    "property RetentionDays must be a whole number of days (0: keep forever), got {days:?}"
                ))
            })?;
        }
        plan.map_roles.extend(text("DeliveryRoleArn"));
        plan.own_role = text("SetupRoleArn");
        Ok(Properties {
            endpoint,
            region,
            master_secret: text("MasterSecretArn"),
            dashboards_url: text("DashboardsUrl"),
            plan,
        })
    }
}

/// Decides the answer to `request` (runs setup for Create and Update) by `deadline`,
/// then sends it. Errors only when the answer itself could not be delivered.
pub async fn answer(
    request: &Request,
    aws: &aws_config::SdkConfig,
    deadline: Instant,
) -> Result<Response, SetupError> {
    let setup_deadline = deadline.checked_sub(ANSWER_RESERVE).unwrap_or(deadline);
    let response = decide(request, aws, setup_deadline).await;
    info!(
        request = %request.request_type,
        status = %response.status,
        reason = %response.reason,
        "answering CloudFormation"
    );
    send(&request.response_url, &response, deadline).await?;
    Ok(response)
}

/// The answer to `request`, never an error: a failure is a FAILED answer with the reason.
pub async fn decide(request: &Request, aws: &aws_config::SdkConfig, deadline: Instant) -> Response {
    let mut data = Map::new();
    let result: Result<(String, String), String> = match request.request_type.as_str() {
        "Delete" => Ok((
            physical_id(request, None),
            "nothing removed: the template, retention policy, role mapping and dashboards live in the domain and go with it".into(),
        )),
        "Create" | "Update" => match Properties::parse(&request.resource_properties) {
            Err(e) => Err(e.to_string()),
            Ok(props) => {
                let id = physical_id(request, Some(&props));
                match setup(&props, aws, deadline).await {
                    Ok(report) => {
                        data.insert("DashboardsUrl".into(), json!(report.dashboard_url));
                        data.insert("Changed".into(), json!(report.changed().to_string()));
                        Ok((id, report.summary()))
                    }
                    Err(reason) => Err(reason),
                }
            }
        },
        other => Err(format!(
            "unknown RequestType {other:?}: expected Create, Update or Delete"
        )),
    };
    let (status, id, reason) = match result {
        Ok((id, reason)) => ("SUCCESS", id, reason),
        Err(reason) => {
            warn!(reason = %reason, "setup failed");
            ("FAILED", physical_id(request, None), reason)
        }
    };
    let mut response = Response {
        status: status.into(),
        reason,
        physical_resource_id: id,
        stack_id: request.stack_id.clone(),
        request_id: request.request_id.clone(),
        logical_resource_id: request.logical_resource_id.clone(),
        no_echo: false,
        data,
    };
    fit(&mut response);
    response
}

async fn setup(
    props: &Properties,
    aws: &aws_config::SdkConfig,
    deadline: Instant,
) -> Result<crate::Report, String> {
    let auth = match &props.master_secret {
        Some(arn) => secret::master_user(aws, arn, None)
            .await
            .map_err(|e| format!("connect failed: {e}"))?,
        None => Auth::Iam,
    };
    let mut options = DomainOptions::new(&props.endpoint, &props.region);
    options.dashboards_url = props.dashboards_url.clone();
    let domain = Domain::new(&options, auth, aws.credentials_provider())
        .map_err(|e| format!("connect failed: {e}"))?;
    run(&domain, &props.plan, deadline)
        .await
        .map_err(|f| f.reason())
}

/// The resource's id: the one CloudFormation already has, else one per endpoint and index.
fn physical_id(request: &Request, props: Option<&Properties>) -> String {
    if let Some(id) = &request.physical_resource_id {
        return id.clone();
    }
    match props {
        Some(p) => {
            let host = p.endpoint.split("://").last().unwrap_or(&p.endpoint);
            format!(
                "search-setup:{}:{}",
                host.trim_end_matches('/'),
                p.plan.index
            )
        }
        None => format!("search-setup:{}", request.logical_resource_id),
    }
}

/// Shortens the reason until the answer fits CloudFormation's 4,096 bytes.
fn fit(response: &mut Response) {
    let size = |r: &Response| serde_json::to_vec(r).map_or(usize::MAX, |v| v.len());
    while size(response) > RESPONSE_LIMIT && !response.reason.is_empty() {
        let over = size(response) - RESPONSE_LIMIT;
        let keep = response.reason.len().saturating_sub(over + 3);
        let mut cut = keep.min(response.reason.len());
        while !response.reason.is_char_boundary(cut) {
            cut -= 1;
        }
        response.reason.truncate(cut);
        response.reason.push('…');
    }
}

/// PUTs the answer to the pre-signed URL, retried until `deadline`. The URL is signed
/// without a content type, so none is sent.
pub async fn send(url: &str, response: &Response, deadline: Instant) -> Result<(), SetupError> {
    let body = serde_json::to_vec(response).map_err(|e| SetupError::Config(e.to_string()))?;
    let http = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .build()
        .map_err(|e| SetupError::Config(format!("cannot build an HTTP client: {e}")))?;
    let what = "send the answer to CloudFormation";
    until(what, deadline, |left| {
        let request = http
            .put(url)
            .timeout(left.min(Duration::from_secs(20)))
            .body(body.clone());
        async move {
            match request.send().await {
                Err(e) => Verdict::Retry(crate::domain::error_chain(&e)),
                Ok(r) if r.status().is_success() => Verdict::Done(()),
                Ok(r) if r.status().is_server_error() => {
                    Verdict::Retry(format!("HTTP {}", r.status()))
                }
                Ok(r) => {
                    let status = r.status().as_u16();
                    let body = r.text().await.unwrap_or_default();
                    Verdict::Fail(SetupError::Refused {
                        what: what.into(),
                        status,
                        body: body.chars().take(300).collect(),
                    })
                }
            }
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(kind: &str, props: Value) -> Request {
        serde_json::from_value(json!({
            "RequestType": kind,
            "ResponseURL": "http://127.0.0.1:1/response",
            "StackId": "arn:aws:cloudformation:eu-west-1:123456789012:stack/s/1",
            "RequestId": "r-1",
            "LogicalResourceId": "SearchSetup",
            "ResourceType": "Custom::SearchSetup",
            "ResourceProperties": props,
        }))
        .unwrap()
    }

    #[test]
    fn properties_are_strings_and_checked() {
        let props = json!({
            "ServiceToken": "arn:aws:lambda:eu-west-1:1:function:f",
            "Endpoint": "search-d-abc.eu-west-1.es.amazonaws.com",
            "RetentionDays": "7",
            "DeliveryRoleArn": "arn:aws:iam::1:role/firehose",
            "SetupRoleArn": "arn:aws:iam::1:role/setup",
            "MasterSecretArn": ""
        });
        let p = Properties::parse(props.as_object().unwrap()).unwrap();
        assert_eq!(p.region, "eu-west-1");
        assert_eq!(p.plan.retention_days, 7);
        assert_eq!(p.plan.index, "social-posts");
        assert_eq!(p.plan.map_roles, ["arn:aws:iam::1:role/firehose"]);
        assert_eq!(
            p.plan.own_role.as_deref(),
            Some("arn:aws:iam::1:role/setup")
        );
        assert_eq!(p.master_secret, None);

        let bad = json!({"Endpoint": "search-d-abc.eu-west-1.es.amazonaws.com", "RetentionDays": "a month"});
        let e = Properties::parse(bad.as_object().unwrap()).unwrap_err();
        assert!(e.to_string().contains("RetentionDays"), "{e}");
        let e = Properties::parse(json!({}).as_object().unwrap()).unwrap_err();
        assert!(e.to_string().contains("Endpoint"), "{e}");
        let e = Properties::parse(
            json!({"Endpoint": "http://127.0.0.1:9"})
                .as_object()
                .unwrap(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("Region"), "{e}");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn delete_and_bad_requests_are_answered_without_touching_anything() {
        let aws = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .build();
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut delete = request("Delete", json!({}));
        delete.physical_resource_id = Some("search-setup:x:social-posts".into());
        let r = decide(&delete, &aws, deadline).await;
        assert_eq!(r.status, "SUCCESS");
        assert_eq!(r.physical_resource_id, "search-setup:x:social-posts");
        assert!(r.reason.contains("nothing removed"));

        let r = decide(&request("Create", json!({})), &aws, deadline).await;
        assert_eq!(r.status, "FAILED");
        assert!(r.reason.contains("Endpoint"), "{}", r.reason);
        assert_eq!(r.physical_resource_id, "search-setup:SearchSetup");
        assert_eq!(
            (r.request_id.as_str(), r.logical_resource_id.as_str()),
            ("r-1", "SearchSetup")
        );

        let r = decide(&request("Replace", json!({})), &aws, deadline).await;
        assert_eq!(r.status, "FAILED");
        assert!(r.reason.contains("unknown RequestType"));
    }

    #[test]
    fn a_long_reason_is_cut_to_fit_4096_bytes() {
        let mut r = Response {
            status: "FAILED".into(),
            reason: "é".repeat(5000),
            physical_resource_id: "p".into(),
            stack_id: "s".into(),
            request_id: "r".into(),
            logical_resource_id: "l".into(),
            no_echo: false,
            data: Map::new(),
        };
        fit(&mut r);
        let size = serde_json::to_vec(&r).unwrap().len();
        assert!(
            size <= RESPONSE_LIMIT && size > RESPONSE_LIMIT - 16,
            "{size}"
        );
        assert!(r.reason.ends_with('…'));
    }
}
